package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/jackc/pgx/v5"
)

// noneID is the mongoid of events that never lived in MongoDB (the legacy default).
const noneID = "000000000000000000000000"

// ApplyDisco applies a disco event change in one transaction. Every op is
// idempotent: an open sets the event's measures and probes, a close its end
// times, a drop removes it (and is a no-op once done). A close that comes
// before its open waits for it (*ingest.Incomplete).
func (p *Postgres) ApplyDisco(ctx context.Context, e *events.DiscoEvent) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		// The table has no unique key on the event: serialise its writers.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", e.Key()); err != nil {
			return err
		}
		var id int32
		err := tx.QueryRow(ctx, `SELECT id FROM ihr_disco_events WHERE streamtype = $1 AND streamname = $2 AND starttime = $3
			ORDER BY id LIMIT 1`, e.StreamType, e.StreamName, e.StartTime).Scan(&id)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("find disco event: %w", err)
		}
		switch {
		case e.Op == events.DiscoDrop && !found:
			return nil
		case e.Op == events.DiscoDrop:
			_, err = tx.Exec(ctx, "DELETE FROM ihr_disco_events WHERE id = $1", id) // probes cascade
			return err
		case e.Op == events.DiscoClose && !found:
			return &ingest.Incomplete{Want: 1}
		case e.Op == events.DiscoClose:
			return closeDisco(ctx, tx, id, e)
		}
		return openDisco(ctx, tx, id, found, e)
	})
}

func openDisco(ctx context.Context, tx pgx.Tx, id int32, found bool, e *events.DiscoEvent) error {
	nb := int64(len(e.Probes))
	if e.NbDiscoProbes != nil {
		nb = *e.NbDiscoProbes
	}
	var err error
	if found {
		_, err = tx.Exec(ctx, "UPDATE ihr_disco_events SET avglevel = $2, nbdiscoprobes = $3, totalprobes = $4 WHERE id = $1",
			id, *e.AvgLevel, nb, *e.TotalProbes)
	} else {
		err = tx.QueryRow(ctx, `INSERT INTO ihr_disco_events (mongoid, streamtype, streamname, starttime, endtime, avglevel, nbdiscoprobes, totalprobes, ongoing)
			VALUES ($1, $2, $3, $4, $4, $5, $6, $7, true) RETURNING id`,
			noneID, e.StreamType, e.StreamName, e.StartTime, *e.AvgLevel, nb, *e.TotalProbes).Scan(&id)
	}
	if err != nil {
		return fmt.Errorf("open disco event: %w", err)
	}
	ids := make([]int64, len(e.Probes))
	rows := make([][]any, len(e.Probes))
	for i, pr := range e.Probes {
		end := pr.StartTime // still disconnected
		if pr.EndTime != nil {
			end = *pr.EndTime
		}
		ids[i] = pr.ProbeID
		rows[i] = []any{pr.ProbeID, pr.StartTime, end, pr.Level, orNone(pr.IPv4), orNone(pr.PrefixV4), pr.Lat, pr.Lon, id}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM ihr_disco_probes WHERE event_id = $1 AND probe_id = ANY($2)", id, ids); err != nil {
		return err
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"ihr_disco_probes"},
		[]string{"probe_id", "starttime", "endtime", "level", "ipv4", "prefixv4", "lat", "lon", "event_id"}, pgx.CopyFromRows(rows))
	return err
}

// orNone is the legacy placeholder of an unknown address.
func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func closeDisco(ctx context.Context, tx pgx.Tx, id int32, e *events.DiscoEvent) error {
	if _, err := tx.Exec(ctx, "UPDATE ihr_disco_events SET endtime = $2, ongoing = false WHERE id = $1", id, *e.EndTime); err != nil {
		return fmt.Errorf("close disco event: %w", err)
	}
	var ids []int64
	var ends []time.Time
	for _, pr := range e.Probes {
		if pr.EndTime != nil {
			ids, ends = append(ids, pr.ProbeID), append(ends, *pr.EndTime)
		}
	}
	_, err := tx.Exec(ctx, `UPDATE ihr_disco_probes p SET endtime = v.endtime
		FROM unnest($2::int[], $3::timestamptz[]) AS v(probe_id, endtime)
		WHERE p.event_id = $1 AND p.probe_id = v.probe_id`, id, ids, ends)
	return err
}

// ApplyNames sets the names and flags of networks and countries (a flag
// left out keeps its value), and returns those whose row changed.
func (p *Postgres) ApplyNames(ctx context.Context, u *events.NamesUpdate) (asns []int64, countries []string, err error) {
	var numbers []int64
	var names []string
	var ashash, tartiflette, disco []*bool
	for _, n := range u.Networks {
		numbers, names = append(numbers, n.Number), append(names, n.Name)
		ashash, tartiflette, disco = append(ashash, n.ASHash), append(tartiflette, n.Tartiflette), append(disco, n.Disco)
	}
	if len(numbers) > 0 {
		// A row added meanwhile by a bin (empty name) takes the name on conflict.
		rows, _ := p.pool.Query(ctx, `WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::bool[], $5::bool[]) AS v(n, name, h, t, d)),
			upd AS (UPDATE ihr_asn a SET name = v.name, ashash = coalesce(v.h, a.ashash), tartiflette = coalesce(v.t, a.tartiflette), disco = coalesce(v.d, a.disco)
				FROM v WHERE a.number = v.n
				AND (a.name, a.ashash, a.tartiflette, a.disco) IS DISTINCT FROM (v.name, coalesce(v.h, a.ashash), coalesce(v.t, a.tartiflette), coalesce(v.d, a.disco))
				RETURNING a.number),
			ins AS (INSERT INTO ihr_asn (number, name, ashash, tartiflette, disco)
				SELECT n, name, coalesce(h, false), coalesce(t, false), coalesce(d, false) FROM v
				WHERE NOT EXISTS (SELECT 1 FROM ihr_asn WHERE number = v.n) ORDER BY n
				ON CONFLICT (number) DO UPDATE SET name = EXCLUDED.name RETURNING number)
			SELECT number FROM upd UNION ALL SELECT number FROM ins`, numbers, names, ashash, tartiflette, disco)
		if asns, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return nil, nil, fmt.Errorf("network names: %w", err)
		}
	}
	var codes []string
	names = names[:0]
	tartiflette, disco = tartiflette[:0], disco[:0]
	for _, c := range u.Countries {
		codes, names = append(codes, c.Code), append(names, c.Name)
		tartiflette, disco = append(tartiflette, c.Tartiflette), append(disco, c.Disco)
	}
	if len(codes) > 0 {
		rows, _ := p.pool.Query(ctx, `WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::bool[]) AS v(code, name, t, d)),
			upd AS (UPDATE ihr_country c SET name = v.name, tartiflette = coalesce(v.t, c.tartiflette), disco = coalesce(v.d, c.disco)
				FROM v WHERE c.code = v.code
				AND (c.name, c.tartiflette, c.disco) IS DISTINCT FROM (v.name, coalesce(v.t, c.tartiflette), coalesce(v.d, c.disco))
				RETURNING c.code),
			ins AS (INSERT INTO ihr_country (code, name, tartiflette, disco)
				SELECT code, name, coalesce(t, false), coalesce(d, false) FROM v
				WHERE NOT EXISTS (SELECT 1 FROM ihr_country WHERE code = v.code) ORDER BY code
				ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING code)
			SELECT code FROM upd UNION ALL SELECT code FROM ins`, codes, names, tartiflette, disco)
		if countries, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, nil, fmt.Errorf("country names: %w", err)
		}
	}
	return asns, countries, nil
}
