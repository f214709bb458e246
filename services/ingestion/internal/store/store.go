// Package store is ingestion's PostgreSQL side: staging batches, committing
// bins of any dataset in one transaction with the ledger, and finding bins
// left incomplete.
package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres implements ingest.Store.
type Postgres struct {
	pool *pgxpool.Pool
	ids  *ids
}

// New returns the store on pool.
func New(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool, ids: newIDs()} }

// runWhere selects a run's rows of ingest_runs or ingest_staging.
const runWhere = "dataset = $1 AND part = $2 AND af = $3 AND timebin = $4 AND run_id = $5"

func runArgs(b events.Bin) []any { return []any{b.Dataset, b.Part, b.AF, b.Timebin, b.RunID} }

// Committed reports whether the run of bin is in the ledger.
func (p *Postgres) Committed(ctx context.Context, bin events.Bin) (bool, error) {
	_, done, err := p.committed(ctx, bin)
	return done, err
}

// Stage stores a batch; the same batch staged again is ignored.
func (p *Postgres) Stage(ctx context.Context, b *events.Batch) error {
	packed, err := pack(b.Rows)
	if err != nil {
		return err
	}
	_, err = p.pool.Exec(ctx, `INSERT INTO ingest_staging (dataset, part, af, timebin, run_id, batch_seq, row_count, rows)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		append(runArgs(b.Bin), b.BatchSeq, b.Len, packed)...)
	if err != nil {
		return fmt.Errorf("stage batch %d: %w", b.BatchSeq, err)
	}
	return nil
}

// Commit replaces the bin's rows with the staged run in one transaction:
// the rows, derived rows, ledger entry. Dimension rows seen for the first
// time are added just before, in their own short transactions.
func (p *Postgres) Commit(ctx context.Context, d *events.Dataset, bc *events.BinComplete) (ingest.Commit, error) {
	if c, done, err := p.committed(ctx, bc.Bin); err != nil || done {
		return c, err
	}
	rows, err := p.staged(ctx, d, bc)
	if err != nil {
		return ingest.Commit{}, err
	}
	return p.commitRows(ctx, d, bc, rows)
}

// CommitRows commits a run whose batches are in hand (never staged): the
// same transaction as Commit.
func (p *Postgres) CommitRows(ctx context.Context, d *events.Dataset, bc *events.BinComplete, batches []*events.Batch) (ingest.Commit, error) {
	if c, done, err := p.committed(ctx, bc.Bin); err != nil || done {
		return c, err
	}
	rows := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, 0)
	for _, b := range batches {
		rows = reflect.AppendSlice(rows, reflect.ValueOf(b.Rows))
	}
	if bc.RowCount >= 0 && rows.Len() != bc.RowCount {
		return ingest.Commit{}, &events.Invalid{Reason: fmt.Sprintf("bin announces %d rows, its batches hold %d", bc.RowCount, rows.Len())}
	}
	if err := d.CheckKeys(bc.Bin, rows.Interface()); err != nil {
		return ingest.Commit{}, err
	}
	return p.commitRows(ctx, d, bc, rows)
}

func (p *Postgres) commitRows(ctx context.Context, d *events.Dataset, bc *events.BinComplete, rows reflect.Value) (ingest.Commit, error) {
	dv := derivations[d.Name]
	if dv.fill != nil {
		if err := dv.fill(rows.Interface()); err != nil {
			return ingest.Commit{}, err
		}
	}
	x := collectDims(d, rows)
	if err := addDims(ctx, p.pool, x); err != nil {
		return ingest.Commit{}, err
	}
	if err := p.ids.resolve(ctx, p.pool, x, bc.AF); err != nil {
		return ingest.Commit{}, err
	}
	w := &binWrite{d: d, bc: bc, rows: rows, ids: p.ids.forBin(x, bc.AF), links: dv.links}
	if dv.derived != nil {
		w.derived = dv.derived(bc.Bin, rows.Interface())
	}
	var c ingest.Commit
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var err error
		c, err = w.commit(ctx, tx)
		return err
	})
	return c, err
}

// committed returns the stored result when this run was committed already.
func (p *Postgres) committed(ctx context.Context, bin events.Bin) (ingest.Commit, bool, error) {
	var res events.Result
	err := p.pool.QueryRow(ctx, `SELECT result FROM ingest_runs WHERE `+runWhere, runArgs(bin)...).Scan(&res)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ingest.Commit{}, false, nil
	case err != nil:
		return ingest.Commit{}, false, fmt.Errorf("ledger: %w", err)
	}
	return ingest.Commit{Result: res, Duplicate: true}, true, nil
}

// staged loads the run's staged rows, checking the batch and row counts,
// as a slice of the dataset's row type.
func (p *Postgres) staged(ctx context.Context, d *events.Dataset, bc *events.BinComplete) (reflect.Value, error) {
	out := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, 0)
	rows, err := p.pool.Query(ctx, `SELECT batch_seq, rows FROM ingest_staging WHERE `+runWhere+` ORDER BY batch_seq`, runArgs(bc.Bin)...)
	if err != nil {
		return out, fmt.Errorf("read staged batches: %w", err)
	}
	defer rows.Close()
	have := 0
	for rows.Next() {
		var seq int
		var packed []byte
		if err := rows.Scan(&seq, &packed); err != nil {
			return out, err
		}
		if seq >= bc.BatchCount {
			return out, &events.Invalid{Reason: fmt.Sprintf("batch %d staged, but the bin has %d batches", seq, bc.BatchCount)}
		}
		have++
		if out, err = unpack(d, packed, out); err != nil {
			return out, err
		}
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	if have < bc.BatchCount {
		return out, &ingest.Incomplete{Have: have, Want: bc.BatchCount}
	}
	if bc.RowCount >= 0 && out.Len() != bc.RowCount {
		return out, &events.Invalid{Reason: fmt.Sprintf("bin announces %d rows, its batches hold %d", bc.RowCount, out.Len())}
	}
	// Each batch was checked alone; a key may still repeat across batches.
	return out, d.CheckKeys(bc.Bin, out.Interface())
}

// IncompleteRun is a run whose batches wait longer than allowed.
type IncompleteRun struct {
	events.Bin
	Batches int
	Since   time.Time
}

// ReportIncomplete marks and returns the runs with batches staged before
// olderThan that were not reported yet, and drops staged batches older than
// dropBefore.
func (p *Postgres) ReportIncomplete(ctx context.Context, olderThan, dropBefore time.Time) ([]IncompleteRun, error) {
	if _, err := p.pool.Exec(ctx, "DELETE FROM ingest_staging WHERE staged_at < $1", dropBefore); err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, `UPDATE ingest_staging s SET reported = true
		FROM (SELECT dataset, part, af, timebin, run_id FROM ingest_staging WHERE NOT reported
		      GROUP BY 1, 2, 3, 4, 5 HAVING max(staged_at) < $1) g
		WHERE (s.dataset, s.part, s.af, s.timebin, s.run_id) = (g.dataset, g.part, g.af, g.timebin, g.run_id)
		RETURNING s.dataset, s.part, s.af, s.timebin, s.run_id, s.staged_at`, olderThan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	index := map[string]int{}
	var out []IncompleteRun
	for rows.Next() {
		var r IncompleteRun
		if err := rows.Scan(&r.Dataset, &r.Part, &r.AF, &r.Timebin, &r.RunID, &r.Since); err != nil {
			return nil, err
		}
		k := r.Key() + ":" + r.RunID
		i, seen := index[k]
		if !seen {
			i, index[k] = len(out), len(out)
			out = append(out, r)
		}
		out[i].Batches++
		if r.Since.Before(out[i].Since) {
			out[i].Since = r.Since
		}
	}
	return out, rows.Err()
}

// NewestBins returns the newest committed time bin of each dataset and af.
func (p *Postgres) NewestBins(ctx context.Context) ([]events.Bin, error) {
	rows, _ := p.pool.Query(ctx, "SELECT dataset, af, max(timebin) FROM ingest_runs GROUP BY dataset, af")
	bins, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (events.Bin, error) {
		var b events.Bin
		return b, r.Scan(&b.Dataset, &b.AF, &b.Timebin)
	})
	if err != nil {
		return nil, fmt.Errorf("newest bins: %w", err)
	}
	return bins, nil
}
