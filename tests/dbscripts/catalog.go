// Package dbscripts tests the bash database scripts (scripts/db) against the
// machine's PostgreSQL, and that the migrations reproduce the production schema.
package dbscripts

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// catalogQuery lists, one line per fact, what defines every ihr_* table:
// columns (order, type, nullability, default), constraints, indexes (but
// ours, named ihrx_*) and the sequences behind serial columns.
const catalogQuery = `
SELECT format('table %s', c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE 'ihr\_%'
UNION ALL
SELECT format('table %s column %s: #%s %s%s%s', c.relname, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END,
              coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''))
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE 'ihr\_%' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT format('table %s constraint %s: %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname LIKE 'ihr\_%'
UNION ALL
SELECT format('table %s index %s: %s', tablename, indexname, indexdef)
FROM pg_indexes
WHERE schemaname = 'public' AND tablename LIKE 'ihr\_%' AND indexname NOT LIKE 'ihrx\_%'
UNION ALL
SELECT format('table %s sequence %s: %s', t.relname, s.relname, format_type(q.seqtypid, NULL))
FROM pg_depend dep
JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
JOIN pg_class t ON t.oid = dep.refobjid
JOIN pg_sequence q ON q.seqrelid = s.oid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND t.relname LIKE 'ihr\_%' AND dep.deptype = 'a'`

// catalog returns the sorted facts of the database at url.
func catalog(ctx context.Context, url string) ([]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, catalogQuery)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	facts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	slices.Sort(facts)
	return facts, nil
}

// diff describes the facts found on one side only, or "" when both agree.
func diff(want, got []string) string {
	var b strings.Builder
	for _, f := range want {
		if _, found := slices.BinarySearch(got, f); !found {
			fmt.Fprintf(&b, "- reference only:  %s\n", f)
		}
	}
	for _, f := range got {
		if _, found := slices.BinarySearch(want, f); !found {
			fmt.Fprintf(&b, "+ migrations only: %s\n", f)
		}
	}
	return b.String()
}
