package store

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// dims are the dimension rows a bin refers to: networks, countries, Atlas
// locations and traceroute identifiers. Fact tables keep these rows' keys,
// so they must exist before the facts are copied.
type dims struct {
	asns        map[int64]bool
	countries   map[string]bool
	locations   map[events.Location]bool
	identifiers map[events.Identifier]bool
}

// collectDims gathers the dimension values of rows, a slice of d's row type.
func collectDims(d *events.Dataset, rows reflect.Value) dims {
	x := dims{asns: map[int64]bool{}, countries: map[string]bool{}, locations: map[events.Location]bool{}, identifiers: map[events.Identifier]bool{}}
	for _, f := range d.Fields() {
		for i := range rows.Len() {
			switch v := f.Value(rows.Index(i)).(type) {
			case int64:
				if f.Kind == events.KindASN {
					x.asns[v] = true
				}
			case string:
				if f.Kind == events.KindCountry && v != "" {
					x.countries[v] = true
				}
			case events.Location:
				x.locations[v] = true
			case events.Identifier:
				x.identifiers[v] = true
			}
		}
	}
	return x
}

// addDims inserts the networks and countries not known yet, each set in one
// short statement outside the bin's transaction, so bins committed in
// parallel never wait for each other's new rows. Names come from the names
// datasets; new rows start with an empty name, as IHR's sinks did.
func addDims(ctx context.Context, pool *pgxpool.Pool, x dims) error {
	if len(x.asns) > 0 {
		_, err := pool.Exec(ctx, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash)
			SELECT n, '', false, false, true FROM unnest($1::bigint[]) AS n
			WHERE NOT EXISTS (SELECT 1 FROM ihr_asn WHERE number = n)
			ON CONFLICT (number) DO NOTHING`, slices.Sorted(maps.Keys(x.asns))) // the same lock order everywhere
		if err != nil {
			return fmt.Errorf("add networks: %w", err)
		}
	}
	if len(x.countries) > 0 {
		_, err := pool.Exec(ctx, `INSERT INTO ihr_country (code, name, tartiflette, disco)
			SELECT c, '', false, false FROM unnest($1::text[]) AS c
			WHERE NOT EXISTS (SELECT 1 FROM ihr_country WHERE code = c)
			ON CONFLICT (code) DO NOTHING`, slices.Sorted(maps.Keys(x.countries)))
		if err != nil {
			return fmt.Errorf("add countries: %w", err)
		}
	}
	return nil
}

// ids maps Atlas locations and traceroute identifiers to their row ids.
// Those rows are never deleted, so ids are cached for the process's life.
type ids struct {
	mu          sync.Mutex
	locations   map[events.Location]int32
	identifiers map[identKey]int32
}

type identKey struct {
	events.Identifier
	af int
}

func newIDs() *ids {
	return &ids{locations: map[events.Location]int32{}, identifiers: map[identKey]int32{}}
}

// resolve makes sure every location and identifier of x has a row (af: the
// bin's, for identifiers) and caches their ids.
func (c *ids) resolve(ctx context.Context, pool *pgxpool.Pool, x dims, af int) error {
	var locs []events.Location
	var idents []identKey
	c.mu.Lock()
	for l := range x.locations {
		if _, ok := c.locations[l]; !ok {
			locs = append(locs, l)
		}
	}
	for i := range x.identifiers {
		if _, ok := c.identifiers[identKey{i, af}]; !ok {
			idents = append(idents, identKey{i, af})
		}
	}
	c.mu.Unlock()
	if len(locs) > 0 {
		if err := resolveTable(ctx, pool, "ihr_atlas_location", locs, func(l events.Location) (string, string, int) { return l.Type, l.Name, l.AF },
			func(l events.Location, id int32) { c.locations[l] = id }, &c.mu); err != nil {
			return fmt.Errorf("atlas locations: %w", err)
		}
	}
	if len(idents) > 0 {
		if err := resolveTable(ctx, pool, "ihr_tr_hegemony_identifier", idents, func(k identKey) (string, string, int) { return k.Type, k.Name, k.af },
			func(k identKey, id int32) { c.identifiers[k] = id }, &c.mu); err != nil {
			return fmt.Errorf("traceroute identifiers: %w", err)
		}
	}
	return nil
}

// resolveTable finds or adds rows (type, name, af) of table, which has no
// unique constraint on them (legacy schema): an advisory lock per table
// serialises the writers that add rows, and the oldest row of a key wins.
func resolveTable[K comparable](ctx context.Context, pool *pgxpool.Pool, table string, keys []K,
	parts func(K) (string, string, int), set func(K, int32), mu *sync.Mutex) error {
	types, names, afs := make([]string, len(keys)), make([]string, len(keys)), make([]int32, len(keys))
	for i, k := range keys {
		t, n, af := parts(k)
		types[i], names[i], afs[i] = t, n, int32(af)
	}
	ident := pgx.Identifier{table}.Sanitize()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "dims:"+table); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) AS k(type, name, af)),
			added AS (INSERT INTO `+ident+` (type, name, af)
				SELECT type, name, af FROM k WHERE NOT EXISTS
					(SELECT 1 FROM `+ident+` t WHERE (t.type, t.name, t.af) = (k.type, k.name, k.af))
				RETURNING id, type, name, af)
			SELECT min(id), type, name, af FROM (
				SELECT t.id, t.type, t.name, t.af FROM `+ident+` t JOIN k USING (type, name, af)
				UNION ALL SELECT * FROM added) r GROUP BY type, name, af`, types, names, afs)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := make(map[[3]any]K, len(keys))
		for _, k := range keys {
			t, n, af := parts(k)
			index[[3]any{t, n, int32(af)}] = k
		}
		mu.Lock()
		defer mu.Unlock()
		for rows.Next() {
			var id, af int32
			var t, n string
			if err := rows.Scan(&id, &t, &n, &af); err != nil {
				return err
			}
			if k, ok := index[[3]any{t, n, af}]; ok {
				set(k, id)
			}
		}
		return rows.Err()
	})
}

// binIDs are the ids a bin's rows refer to, copied from the cache once.
type binIDs struct {
	af          int
	locations   map[events.Location]int32
	identifiers map[events.Identifier]int32
}

func (c *ids) forBin(x dims, af int) binIDs {
	b := binIDs{af: af, locations: map[events.Location]int32{}, identifiers: map[events.Identifier]int32{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for l := range x.locations {
		b.locations[l] = c.locations[l]
	}
	for i := range x.identifiers {
		b.identifiers[i] = c.identifiers[identKey{i, af}]
	}
	return b
}

// value is what a field's value is stored as: locations and identifiers by id.
func (b binIDs) value(v any) any {
	switch x := v.(type) {
	case events.Location:
		return b.locations[x]
	case events.Identifier:
		return b.identifiers[x]
	}
	return v
}
