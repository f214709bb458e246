// Package pgload bulk-loads generated tables into PostgreSQL with COPY, in
// one transaction, so a load is either complete or invisible.
package pgload

import (
	"context"
	"fmt"
	"iter"

	"github.com/ihr-go/ihr/services/ihrctl/internal/demodata"
	"github.com/jackc/pgx/v5"
)

// Count returns how many rows tables hold (by generating them once).
func Count(tables []demodata.Table) map[string]int64 {
	n := make(map[string]int64, len(tables))
	for _, t := range tables {
		for range t.Rows {
			n[t.Name]++
		}
	}
	return n
}

// Load copies every table into the database in one transaction, after
// truncating them when replace is set. progress is called with the number
// of rows written since its last call.
func Load(ctx context.Context, conn *pgx.Conn, tables []demodata.Table, replace bool, progress func(int)) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if replace {
		if _, err := tx.Exec(ctx, "TRUNCATE "+joinIdents(tables)+" RESTART IDENTITY CASCADE"); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}
	for _, t := range tables {
		if err := copyTable(ctx, tx, t, progress); err != nil {
			return fmt.Errorf("load %s: %w", t.Name, err)
		}
	}
	return tx.Commit(ctx)
}

func joinIdents(tables []demodata.Table) string {
	s := ""
	for i, t := range tables {
		if i > 0 {
			s += ", "
		}
		s += pgx.Identifier{t.Name}.Sanitize()
	}
	return s
}

func copyTable(ctx context.Context, tx pgx.Tx, t demodata.Table, progress func(int)) error {
	next, stop := iter.Pull(t.Rows)
	defer stop()
	pending := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := next()
		if !ok {
			return nil, nil
		}
		if pending++; pending == 10000 {
			progress(pending)
			pending = 0
		}
		return row, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.Name}, t.Columns, src); err != nil {
		return err
	}
	progress(pending)
	if t.Serial == "" {
		return nil
	}
	// Explicit ids were written: move the sequence past them so later inserts do not collide.
	table := pgx.Identifier{t.Name}.Sanitize()
	col := pgx.Identifier{t.Serial}.Sanitize()
	_, err := tx.Exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(%s) FROM %s), 0) + 1, false)", col, table), t.Name, t.Serial)
	return err
}
