// Package store is ingestion's PostgreSQL side: staging batches, committing
// bins in one transaction with the ledger, and finding bins left incomplete.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres implements ingest.Store.
type Postgres struct {
	pool *pgxpool.Pool
}

// New returns the store on pool.
func New(pool *pgxpool.Pool) *Postgres { return &Postgres{pool: pool} }

// Committed reports whether the run of bin is in the ledger.
func (p *Postgres) Committed(ctx context.Context, bin events.Bin) (bool, error) {
	_, done, err := p.committed(ctx, bin)
	return done, err
}

// StageHegemony stores a batch; the same batch staged again is ignored.
func (p *Postgres) StageHegemony(ctx context.Context, bin events.Bin, seq int, rows []events.HegemonyRow) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO ingest_staging (dataset, af, timebin, run_id, batch_seq, row_count, rows)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		bin.Dataset, bin.AF, bin.Timebin, bin.RunID, seq, len(rows), packHegemony(rows))
	if err != nil {
		return fmt.Errorf("stage batch %d: %w", seq, err)
	}
	return nil
}

// CommitHegemony replaces the bin's rows with the staged run in one
// transaction: hegemony rows, cones, ledger entry. Networks seen for the
// first time are added just before, in their own short transaction, so
// bins committed in parallel never wait for each other's new networks.
func (p *Postgres) CommitHegemony(ctx context.Context, bc *events.BinComplete) (ingest.Commit, error) {
	if c, done, err := p.committed(ctx, bc.Bin); err != nil || done {
		return c, err
	}
	rows, err := p.stagedHegemony(ctx, bc)
	if err != nil {
		return ingest.Commit{}, err
	}
	origins, asns := map[int64]bool{}, map[int64]bool{}
	for _, r := range rows {
		origins[r.OriginASN], asns[r.ASN] = true, true
	}
	if err := p.addNetworks(ctx, asns); err != nil {
		return ingest.Commit{}, err
	}
	var c ingest.Commit
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var err error
		c, err = commitHegemony(ctx, tx, bc, rows, origins, asns)
		return err
	})
	return c, err
}

// committed returns the stored result when this run was committed already.
func (p *Postgres) committed(ctx context.Context, bin events.Bin) (ingest.Commit, bool, error) {
	var res events.Result
	err := p.pool.QueryRow(ctx, `SELECT result FROM ingest_runs WHERE dataset = $1 AND af = $2 AND timebin = $3 AND run_id = $4`,
		bin.Dataset, bin.AF, bin.Timebin, bin.RunID).Scan(&res)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return ingest.Commit{}, false, nil
	case err != nil:
		return ingest.Commit{}, false, fmt.Errorf("ledger: %w", err)
	}
	return ingest.Commit{Result: res, Duplicate: true}, true, nil
}

// addNetworks inserts the networks ihr_asn does not know yet (names come
// from the ASN names dataset).
func (p *Postgres) addNetworks(ctx context.Context, asns map[int64]bool) error {
	numbers := make([]int64, 0, len(asns))
	for n := range asns {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers) // the same lock order in every transaction
	_, err := p.pool.Exec(ctx, `INSERT INTO ihr_asn (number, name, tartiflette, disco, ashash)
		SELECT n, '', false, false, true FROM unnest($1::bigint[]) AS n
		WHERE NOT EXISTS (SELECT 1 FROM ihr_asn WHERE number = n)
		ON CONFLICT (number) DO NOTHING`, numbers)
	if err != nil {
		return fmt.Errorf("add networks: %w", err)
	}
	return nil
}

func commitHegemony(ctx context.Context, tx pgx.Tx, bc *events.BinComplete, rows []events.HegemonyRow, origins, asns map[int64]bool) (ingest.Commit, error) {
	// Serialise commits of one bin across workers and replicas.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", bc.Key()); err != nil {
		return ingest.Commit{}, err
	}
	prevRun, stored, err := ledger(ctx, tx, bc.Bin)
	if err != nil {
		return ingest.Commit{}, err
	}
	if stored != nil {
		return ingest.Commit{Result: *stored, Duplicate: true}, nil
	}
	res := events.Result{Schema: events.SchemaResults, Bin: bc.Bin, RowCount: len(rows), Keys: map[string][]int64{}}
	if prevRun != "" {
		// The replaced run's keys are affected too: their rows disappear.
		res.Replaced, res.PreviousRunID = true, prevRun
		if err := oldKeys(ctx, tx, bc.Bin, origins, asns); err != nil {
			return ingest.Commit{}, err
		}
	}
	if err := writeHegemony(ctx, tx, bc.Bin, rows); err != nil {
		return ingest.Commit{}, err
	}
	setKeys(&res, "originasn", origins)
	setKeys(&res, "asn", asns)
	if err := tx.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&res.CommittedAt); err != nil {
		return ingest.Commit{}, err
	}
	res.CommittedAt = res.CommittedAt.UTC()
	resJSON, _ := json.Marshal(res)
	_, err = tx.Exec(ctx, `INSERT INTO ingest_runs (dataset, af, timebin, run_id, batch_count, row_count, producer, committed_at, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		bc.Dataset, bc.AF, bc.Timebin, bc.RunID, bc.BatchCount, len(rows), bc.Producer.Name, res.CommittedAt, resJSON)
	if err != nil {
		return ingest.Commit{}, fmt.Errorf("ledger: %w", err)
	}
	_, err = tx.Exec(ctx, `DELETE FROM ingest_staging WHERE dataset = $1 AND af = $2 AND timebin = $3 AND run_id = $4`,
		bc.Dataset, bc.AF, bc.Timebin, bc.RunID)
	return ingest.Commit{Result: res}, err
}

// ledger returns the bin's latest committed run, and this run's stored
// result if it was committed already.
func ledger(ctx context.Context, tx pgx.Tx, bin events.Bin) (prevRun string, stored *events.Result, err error) {
	rows, err := tx.Query(ctx, `SELECT run_id, result FROM ingest_runs WHERE dataset = $1 AND af = $2 AND timebin = $3
		ORDER BY committed_at DESC`, bin.Dataset, bin.AF, bin.Timebin)
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

// stagedHegemony loads the run's staged rows, checking the batch and row counts.
func (p *Postgres) stagedHegemony(ctx context.Context, bc *events.BinComplete) ([]events.HegemonyRow, error) {
	rows, err := p.pool.Query(ctx, `SELECT batch_seq, rows FROM ingest_staging
		WHERE dataset = $1 AND af = $2 AND timebin = $3 AND run_id = $4 ORDER BY batch_seq`,
		bc.Dataset, bc.AF, bc.Timebin, bc.RunID)
	if err != nil {
		return nil, fmt.Errorf("read staged batches: %w", err)
	}
	defer rows.Close()
	var out []events.HegemonyRow
	have := 0
	for rows.Next() {
		var seq int
		var packed []byte
		if err := rows.Scan(&seq, &packed); err != nil {
			return nil, err
		}
		if seq >= bc.BatchCount {
			return nil, &events.Invalid{Reason: fmt.Sprintf("batch %d staged, but the bin has %d batches", seq, bc.BatchCount)}
		}
		have++
		if out, err = unpackHegemony(packed, out); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if have < bc.BatchCount {
		return nil, &ingest.Incomplete{Have: have, Want: bc.BatchCount}
	}
	if bc.RowCount >= 0 && len(out) != bc.RowCount {
		return nil, &events.Invalid{Reason: fmt.Sprintf("bin announces %d rows, its batches hold %d", bc.RowCount, len(out))}
	}
	// Each batch was checked alone; a pair may still repeat across batches.
	if err := events.CheckHegemonyRows(out); err != nil {
		return nil, err
	}
	return out, nil
}

func oldKeys(ctx context.Context, tx pgx.Tx, bin events.Bin, origins, asns map[int64]bool) error {
	var o, a []int64
	err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT originasn_id), '{}'), coalesce(array_agg(DISTINCT asn_id), '{}')
		FROM ihr_hegemony WHERE timebin = $1 AND af = $2`, bin.Timebin, bin.AF).Scan(&o, &a)
	for _, v := range o {
		origins[v] = true
	}
	for _, v := range a {
		asns[v] = true
	}
	return err
}

// writeHegemony replaces the bin's hegemony and cone rows.
func writeHegemony(ctx context.Context, tx pgx.Tx, bin events.Bin, rows []events.HegemonyRow) error {
	for _, q := range []string{
		"DELETE FROM ihr_hegemony WHERE timebin = $1 AND af = $2",
		"DELETE FROM ihr_hegemonycone WHERE timebin = $1 AND af = $2",
	} {
		if _, err := tx.Exec(ctx, q, bin.Timebin, bin.AF); err != nil {
			return fmt.Errorf("replace bin: %w", err)
		}
	}
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"ihr_hegemony"}, []string{"timebin", "hege", "af", "asn_id", "originasn_id"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(rows) {
				return nil, nil
			}
			r := rows[i]
			i++
			return []any{bin.Timebin, r.Hege, bin.AF, r.ASN, r.OriginASN}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy hegemony: %w", err)
	}
	// The cone of a network: the origins (global graph aside) that depend on
	// it. Rows are unique per (origin, network), so counting rows suffices.
	cones := map[int64]int32{}
	for _, r := range rows {
		if r.OriginASN != 0 && r.Hege > 0 {
			cones[r.ASN]++
		}
	}
	coneRows := make([][]any, 0, len(cones))
	for asn, size := range cones {
		coneRows = append(coneRows, []any{bin.Timebin, size, bin.AF, asn})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"ihr_hegemonycone"}, []string{"timebin", "conesize", "af", "asn_id"},
		pgx.CopyFromRows(coneRows)); err != nil {
		return fmt.Errorf("cones: %w", err)
	}
	return nil
}

func setKeys(r *events.Result, kind string, set map[int64]bool) {
	if len(set) > events.MaxResultKeys {
		r.AllKeys = true
		r.Keys = nil
		return
	}
	if r.AllKeys {
		return
	}
	keys := make([]int64, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r.Keys[kind] = keys
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
		FROM (SELECT dataset, af, timebin, run_id FROM ingest_staging WHERE NOT reported
		      GROUP BY 1, 2, 3, 4 HAVING max(staged_at) < $1) g
		WHERE (s.dataset, s.af, s.timebin, s.run_id) = (g.dataset, g.af, g.timebin, g.run_id)
		RETURNING s.dataset, s.af, s.timebin, s.run_id, s.staged_at`, olderThan)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	index := map[string]int{}
	var out []IncompleteRun
	for rows.Next() {
		var r IncompleteRun
		if err := rows.Scan(&r.Dataset, &r.AF, &r.Timebin, &r.RunID, &r.Since); err != nil {
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
