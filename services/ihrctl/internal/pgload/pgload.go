// Package pgload bulk-loads generated tables into PostgreSQL with COPY, in
// one transaction, so a load is either complete or invisible.
package pgload

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/jackc/pgx/v5"
)

// progressEvery is how many rows are copied between two progress reports.
const progressEvery = 10000

// Count returns how many rows the tables hold in all, by generating them
// once without keeping them: use it only to size a progress bar.
func Count(tables []demodata.Table) int64 {
	var n int64
	for _, t := range tables {
		for range t.Rows {
			n++
		}
	}
	return n
}

// Empty reports whether none of the tables holds a row.
func Empty(ctx context.Context, conn *pgx.Conn, tables []demodata.Table) (bool, error) {
	for _, t := range tables {
		var found bool
		q := "SELECT EXISTS (SELECT 1 FROM " + pgx.Identifier{t.Name}.Sanitize() + ")"
		if err := conn.QueryRow(ctx, q).Scan(&found); err != nil {
			return false, fmt.Errorf("look into %s: %w", t.Name, err)
		}
		if found {
			return false, nil
		}
	}
	return true, nil
}

// Load copies every table into the database in one transaction, after
// emptying them when replace is set, and returns the number of rows
// copied into each. progress, if not nil, is called with the number of
// rows copied since its last call.
func Load(ctx context.Context, conn *pgx.Conn, tables []demodata.Table, replace bool, progress func(int)) ([]int64, error) {
	if progress == nil {
		progress = func(int) {}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if replace {
		if err := empty(ctx, tx, tables); err != nil {
			return nil, err
		}
	}
	counts := make([]int64, len(tables))
	for i, t := range tables {
		if counts[i], err = copyTable(ctx, tx, t, progress); err != nil {
			return nil, fmt.Errorf("load %s: %w", t.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return counts, nil
}

// empty removes every row of the tables. A table that a table outside the
// set refers to (ihr_asn, by the legacy users' monitored networks) is not
// truncated, which would need CASCADE and empty that other table too: its
// rows are deleted instead, so the foreign key decides at commit whether
// the reloaded rows still satisfy the references.
func empty(ctx context.Context, tx pgx.Tx, tables []demodata.Table) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Name
	}
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT c.confrelid::regclass::text
		FROM pg_constraint c
		WHERE c.contype = 'f'
		  AND c.confrelid::regclass::text = ANY ($1)
		  AND NOT c.conrelid::regclass::text = ANY ($1)`, names)
	if err != nil {
		return fmt.Errorf("find references to the tables: %w", err)
	}
	referenced, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find references to the tables: %w", err)
	}
	var truncate []string
	for _, n := range names {
		if !slices.Contains(referenced, n) {
			truncate = append(truncate, pgx.Identifier{n}.Sanitize())
		}
	}
	if len(truncate) > 0 {
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(truncate, ", ")); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	// tables come referenced first: delete in reverse order
	for _, n := range slices.Backward(names) {
		if slices.Contains(referenced, n) {
			if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{n}.Sanitize()); err != nil {
				return fmt.Errorf("empty %s: %w", n, err)
			}
		}
	}
	return nil
}

func copyTable(ctx context.Context, tx pgx.Tx, t demodata.Table, progress func(int)) (int64, error) {
	next, stop := iter.Pull(t.Rows)
	defer stop()
	pending := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := next()
		if !ok {
			return nil, nil
		}
		if pending++; pending == progressEvery {
			progress(pending)
			pending = 0
		}
		return row, nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, src)
	if err != nil {
		return 0, err
	}
	progress(pending)
	if t.Serial == "" {
		return n, nil
	}
	// Explicit ids were written: move the sequence past them so later inserts do not collide.
	q := fmt.Sprintf("SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(%s) FROM %s), 0) + 1, false)",
		pgx.Identifier{t.Serial}.Sanitize(), pgx.Identifier{t.Name}.Sanitize())
	if _, err := tx.Exec(ctx, q, t.Name, t.Serial); err != nil {
		return 0, fmt.Errorf("move the %s sequence: %w", t.Serial, err)
	}
	return n, nil
}
