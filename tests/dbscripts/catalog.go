// Package dbscripts tests the bash database scripts (scripts/db) against the
// machine's PostgreSQL, and that the migrations reproduce the production
// schema of ../shared/reference/legacy-schema.sql.
package dbscripts

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// catalogQuery lists, one line per fact, what defines every ihr_* table of
// the public schema: the table (kind, persistence, options), its columns
// (position, type, nullability, default, identity, generation, collation),
// constraints (name and definition), indexes (name and definition, but ours,
// named ihrx_*) and the sequences owned by its columns. Tables whose name
// does not start with ihr_ are ignored.
const catalogQuery = `
WITH tables AS (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence, c.reloptions
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND starts_with(c.relname, 'ihr_')
)
SELECT format('table %s: kind %s persistence %s options %s', relname, relkind, relpersistence, coalesce(reloptions::text, '{}'))
FROM tables
UNION ALL
SELECT format('table %s column %s: #%s %s%s%s%s%s%s', t.relname, a.attname, a.attnum,
              format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END,
              coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''),
              CASE a.attidentity WHEN 'a' THEN ' identity always' WHEN 'd' THEN ' identity by default' ELSE '' END,
              CASE a.attgenerated WHEN 's' THEN ' generated stored' ELSE '' END,
              CASE WHEN a.attcollation <> ty.typcollation THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END)
FROM tables t
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type ty ON ty.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
UNION ALL
SELECT format('table %s constraint %s: %s', t.relname, k.conname, pg_get_constraintdef(k.oid))
FROM tables t JOIN pg_constraint k ON k.conrelid = t.oid
UNION ALL
SELECT format('table %s index %s: %s', t.relname, i.relname, pg_get_indexdef(i.oid))
FROM tables t
JOIN pg_index x ON x.indrelid = t.oid
JOIN pg_class i ON i.oid = x.indexrelid
WHERE NOT starts_with(i.relname, 'ihrx_')
UNION ALL
SELECT format('table %s sequence %s: owned by %s, %s start %s increment %s min %s max %s cache %s%s',
              t.relname, s.relname, a.attname, format_type(q.seqtypid, NULL), q.seqstart, q.seqincrement,
              q.seqmin, q.seqmax, q.seqcache, CASE WHEN q.seqcycle THEN ' cycle' ELSE '' END)
FROM tables t
JOIN pg_depend dep ON dep.refobjid = t.oid AND dep.classid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = dep.refobjsubid`

// catalog returns the sorted facts of the database at url, with the schema
// name taken out so databases and schemas compare.
func catalog(ctx context.Context, url string) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, catalogQuery)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	facts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	for i, f := range facts {
		facts[i] = strings.NewReplacer(" ON public.", " ON ", "REFERENCES public.", "REFERENCES ").Replace(f)
	}
	slices.Sort(facts)
	return facts, nil
}

// diff returns the facts found on one side only as a unified-style listing
// (- reference only, + migrations only), sorted so that the two versions of
// one column, constraint or index sit next to each other; "" when both
// sides agree. want and got must be sorted.
func diff(want, got []string) string {
	type line struct {
		sign byte
		fact string
	}
	var lines []line
	for _, f := range want {
		if _, found := slices.BinarySearch(got, f); !found {
			lines = append(lines, line{'-', f})
		}
	}
	for _, f := range got {
		if _, found := slices.BinarySearch(want, f); !found {
			lines = append(lines, line{'+', f})
		}
	}
	if len(lines) == 0 {
		return ""
	}
	// "table t column c: ..." sorts by its subject (before the colon) first,
	// then the reference's version ('-') before ours ('+').
	subject := func(f string) string { s, _, _ := strings.Cut(f, ": "); return s }
	slices.SortStableFunc(lines, func(a, b line) int {
		return cmp.Or(cmp.Compare(subject(a.fact), subject(b.fact)), -cmp.Compare(a.sign, b.sign), cmp.Compare(a.fact, b.fact))
	})
	var b strings.Builder
	fmt.Fprintf(&b, "--- reference (legacy-schema.sql)\n+++ migrations\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "%c %s\n", l.sign, l.fact)
	}
	fmt.Fprintf(&b, "(%d difference(s))\n", len(lines))
	return b.String()
}
