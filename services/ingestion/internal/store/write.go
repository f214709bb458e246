package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/jackc/pgx/v5"
)

// binWrite is one run of a bin, ready to replace the bin's rows.
type binWrite struct {
	d       *events.Dataset
	bc      *events.BinComplete
	rows    reflect.Value
	ids     binIDs
	derived table
	links   *links
}

func (w *binWrite) commit(ctx context.Context, tx pgx.Tx) (ingest.Commit, error) {
	bc := w.bc
	// Serialise commits of one bin across workers and replicas, and with
	// the bin of the dataset whose table the derived rows replace.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", bc.Key()); err != nil {
		return ingest.Commit{}, err
	}
	if o := w.derived.owner; o != "" {
		derived := events.Bin{Dataset: o, AF: bc.AF, Timebin: bc.Timebin}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", derived.Key()); err != nil {
			return ingest.Commit{}, err
		}
	}
	prevRun, stored, err := ledger(ctx, tx, bc.Bin)
	if err != nil {
		return ingest.Commit{}, err
	}
	if stored != nil {
		return ingest.Commit{Result: *stored, Duplicate: true}, nil
	}
	keys := w.keys()
	res := events.Result{Schema: events.SchemaResults, Bin: bc.Bin, RowCount: w.rows.Len()}
	if prevRun != "" {
		// The replaced run's keys are affected too: their rows disappear.
		res.Replaced, res.PreviousRunID = true, prevRun
		if err := w.oldKeys(ctx, tx, keys); err != nil {
			return ingest.Commit{}, err
		}
	}
	if err := w.replace(ctx, tx); err != nil {
		return ingest.Commit{}, err
	}
	setKeys(&res, keys)
	if err := tx.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&res.CommittedAt); err != nil {
		return ingest.Commit{}, err
	}
	res.CommittedAt = res.CommittedAt.UTC()
	resJSON, _ := json.Marshal(res)
	_, err = tx.Exec(ctx, `INSERT INTO ingest_runs (dataset, part, af, timebin, run_id, batch_count, row_count, producer, committed_at, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		append(runArgs(bc.Bin), bc.BatchCount, w.rows.Len(), bc.Producer.Name, res.CommittedAt, resJSON)...)
	if err != nil {
		return ingest.Commit{}, fmt.Errorf("ledger: %w", err)
	}
	_, err = tx.Exec(ctx, `DELETE FROM ingest_staging WHERE `+runWhere, runArgs(bc.Bin)...)
	return ingest.Commit{Result: res}, err
}

// ledger returns the bin's latest committed run, and this run's stored
// result if it was committed already.
func ledger(ctx context.Context, tx pgx.Tx, bin events.Bin) (prevRun string, stored *events.Result, err error) {
	rows, err := tx.Query(ctx, `SELECT run_id, result FROM ingest_runs WHERE dataset = $1 AND part = $2 AND af = $3 AND timebin = $4
		ORDER BY committed_at DESC`, bin.Dataset, bin.Part, bin.AF, bin.Timebin)
	if err != nil {
		return "", nil, fmt.Errorf("ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var run string
		var res events.Result
		if err := rows.Scan(&run, &res); err != nil {
			return "", nil, err
		}
		if prevRun == "" {
			prevRun = run
		}
		if run == bin.RunID {
			return prevRun, &res, nil
		}
	}
	return prevRun, nil, rows.Err()
}

// scope is the WHERE clause (on alias t) selecting the bin's rows in the
// dataset's table, with its arguments.
func (w *binWrite) scope() (string, []any) {
	where, args := "t.timebin = $1", []any{w.bc.Timebin}
	switch w.d.AF {
	case events.AFColumn:
		where, args = where+" AND t.af = $2", append(args, w.bc.AF)
	case events.AFStartpoint:
		where, args = where+" AND t.startpoint_id IN (SELECT id FROM ihr_atlas_location WHERE af = $2)", append(args, w.bc.AF)
	}
	if f := w.d.PartField(); f != nil {
		args = append(args, w.bc.Part)
		where += " AND t." + pgx.Identifier{f.Column}.Sanitize() + " = $" + strconv.Itoa(len(args))
	}
	return where, args
}

// replace deletes the bin's rows and derived rows and copies the run's.
func (w *binWrite) replace(ctx context.Context, tx pgx.Tx) error {
	where, args := w.scope()
	table := pgx.Identifier{w.d.Table}.Sanitize()
	var rowIDs []int64
	if w.links != nil {
		if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{w.links.table}.Sanitize()+" WHERE alarm_id IN (SELECT t.id FROM "+table+" t WHERE "+where+")", args...); err != nil {
			return fmt.Errorf("replace links: %w", err)
		}
		ids, _ := tx.Query(ctx, "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", w.d.Table, w.rows.Len())
		var err error
		if rowIDs, err = pgx.CollectRows(ids, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("allocate ids: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+table+" t WHERE "+where, args...); err != nil {
		return fmt.Errorf("replace bin: %w", err)
	}
	if w.derived.name != "" {
		if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{w.derived.name}.Sanitize()+" t WHERE t.timebin = $1 AND t.af = $2",
			w.bc.Timebin, w.bc.AF); err != nil {
			return fmt.Errorf("replace derived rows: %w", err)
		}
	}
	fields := w.d.Fields()
	columns := w.d.Columns()
	if rowIDs != nil {
		columns = append([]string{"id"}, columns...)
	}
	i, n := 0, w.rows.Len()
	_, err := tx.CopyFrom(ctx, pgx.Identifier{w.d.Table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		row := w.rows.Index(i)
		vals := make([]any, 0, len(fields)+3)
		if rowIDs != nil {
			vals = append(vals, rowIDs[i])
		}
		i++
		vals = append(vals, w.bc.Timebin)
		if w.d.AF == events.AFColumn {
			vals = append(vals, w.bc.AF)
		}
		for j := range fields {
			if f := &fields[j]; f.Column != "" {
				vals = append(vals, w.ids.value(f.Value(row)))
			}
		}
		return vals, nil
	}))
	if err != nil {
		return fmt.Errorf("copy %s: %w", w.d.Table, err)
	}
	if w.derived.name != "" {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{w.derived.name}, w.derived.columns, pgx.CopyFromRows(w.derived.rows)); err != nil {
			return fmt.Errorf("copy %s: %w", w.derived.name, err)
		}
	}
	if w.links != nil {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{w.links.table}, w.links.columns, pgx.CopyFromRows(w.links.rows(w.rows, rowIDs))); err != nil {
			return fmt.Errorf("copy %s: %w", w.links.table, err)
		}
	}
	return nil
}

// keySet is the affected values of one reported field.
type keySet struct {
	field  *events.Field
	ints   map[int64]bool
	texts  map[string]bool
	column string // the SQL expression (on alias t) of the stored value
}

// keys collects the reported fields' values of the run's rows.
func (w *binWrite) keys() []*keySet {
	var out []*keySet
	fields := w.d.Fields()
	for j := range fields {
		f := &fields[j]
		if !f.Report {
			continue
		}
		k := &keySet{field: f, ints: map[int64]bool{}, texts: map[string]bool{}, column: "t." + pgx.Identifier{f.Column}.Sanitize()}
		switch f.Kind {
		case events.KindLocation:
			k.column = "(SELECT l.type || l.af || l.name FROM ihr_atlas_location l WHERE l.id = " + k.column + ")"
		case events.KindIdentifier:
			k.column = "(SELECT i.type || '|' || i.name FROM ihr_tr_hegemony_identifier i WHERE i.id = " + k.column + ")"
		}
		for i := range w.rows.Len() {
			switch v := f.Value(w.rows.Index(i)).(type) {
			case int64:
				k.ints[v] = true
			case string:
				k.texts[v] = true
			case events.Location:
				k.texts[v.Key()] = true
			case events.Identifier:
				k.texts[v.Key()] = true
			}
		}
		out = append(out, k)
	}
	return out
}

// oldKeys adds the reported values of the rows about to be replaced.
func (w *binWrite) oldKeys(ctx context.Context, tx pgx.Tx, keys []*keySet) error {
	where, args := w.scope()
	table := pgx.Identifier{w.d.Table}.Sanitize()
	for _, k := range keys {
		q := "SELECT DISTINCT " + k.column + " FROM " + table + " t WHERE " + where
		if k.field.Kind == events.KindASN || k.field.Kind == events.KindInt {
			vals, err := distinct[int64](ctx, tx, q, args)
			for _, v := range vals {
				k.ints[v] = true
			}
			if err != nil {
				return err
			}
			continue
		}
		vals, err := distinct[string](ctx, tx, q, args)
		for _, v := range vals {
			k.texts[v] = true
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func distinct[T any](ctx context.Context, tx pgx.Tx, q string, args []any) ([]T, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("replaced keys: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[T])
}

// setKeys lists the keys in the results event, or all_keys when a field
// has too many to list.
func setKeys(r *events.Result, keys []*keySet) {
	for _, k := range keys {
		if len(k.ints) > events.MaxResultKeys || len(k.texts) > events.MaxResultKeys {
			r.AllKeys, r.Keys, r.TextKeys = true, nil, nil
			return
		}
	}
	for _, k := range keys {
		if len(k.ints) > 0 {
			if r.Keys == nil {
				r.Keys = map[string][]int64{}
			}
			r.Keys[k.field.JSON] = slices.Sorted(maps.Keys(k.ints))
		}
		if len(k.texts) > 0 {
			if r.TextKeys == nil {
				r.TextKeys = map[string][]string{}
			}
			r.TextKeys[k.field.JSON] = slices.Sorted(maps.Keys(k.texts))
		}
	}
}
