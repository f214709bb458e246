package ingeststatus

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
)

// ledgerRows fill a ledger: hegemony af 4 has bin 00:00 committed twice
// (run b replaced run a) and bin 00:15 two hours ago; af 6 only one run
// staged, in two batches.
const ledgerRows = `
INSERT INTO ingest_runs (dataset, af, timebin, run_id, batch_count, row_count, producer, committed_at, result) VALUES
	('hegemony', 4, '2026-12-01T00:00:00Z', 'a', 1, 30, 't', now() - interval '10 minutes', '{}'),
	('hegemony', 4, '2026-12-01T00:00:00Z', 'b', 1, 60, 't', now() - interval '1 minute', '{}'),
	('hegemony', 4, '2026-12-01T00:15:00Z', 'a', 1, 10, 't', now() - interval '2 hours', '{}');
INSERT INTO ingest_staging (dataset, af, timebin, run_id, batch_seq, row_count, rows, staged_at) VALUES
	('hegemony', 6, '2026-12-01T00:00:00Z', 'c', 0, 5, '\x00', now() - interval '3 minutes'),
	('hegemony', 6, '2026-12-01T00:00:00Z', 'c', 1, 5, '\x00', now());`

func TestLedger(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	testkit.Exec(t, db, ledgerRows)
	bins := ledger(t, db)
	if len(bins) != 2 {
		t.Fatalf("ledger %+v, want af 4 and af 6", bins)
	}
	v4, v6 := bins[0], bins[1]
	if v4.Dataset != "hegemony" || v4.AF != 4 || !v4.NewestTimebin.Equal(time.Date(2026, 12, 1, 0, 15, 0, 0, time.UTC)) ||
		v4.Bins1h != 1 || v4.Bins24h != 2 || v4.Rows1h != 90 || math.Abs(v4.RowsPerSecond5m-0.2) > 1e-9 ||
		v4.RunsReplaced != 1 || v4.StagedRuns != 0 || v4.OldestStagedAt != nil {
		t.Errorf("af 4: %+v", v4)
	}
	if v6.AF != 6 || v6.NewestTimebin != nil || v6.Bins24h != 0 || v6.StagedRuns != 1 ||
		v6.OldestStagedAt == nil || time.Since(*v6.OldestStagedAt) < 2*time.Minute {
		t.Errorf("af 6: %+v", v6)
	}
}

// TestLedgerParts: the parts of one time bin are bins of their own, not
// re-runs of each other.
func TestLedgerParts(t *testing.T) {
	t.Parallel()
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `
INSERT INTO ingest_runs (dataset, part, af, timebin, run_id, batch_count, row_count, producer, result) VALUES
	('metis_selection', 'rtt', 4, '2026-12-01T00:00:00Z', 'a', 1, 5, 't', '{}'),
	('metis_selection', 'hops', 4, '2026-12-01T00:00:00Z', 'a', 1, 5, 't', '{}');
INSERT INTO ingest_staging (dataset, part, af, timebin, run_id, batch_seq, row_count, rows) VALUES
	('metis_selection', 'rtt', 4, '2026-12-08T00:00:00Z', 'b', 0, 5, '\x00'),
	('metis_selection', 'hops', 4, '2026-12-08T00:00:00Z', 'b', 0, 5, '\x00');`)
	bins := ledger(t, db)
	if len(bins) != 1 || bins[0].Bins1h != 2 || bins[0].RunsReplaced != 0 || bins[0].StagedRuns != 2 {
		t.Errorf("ledger %+v: want 2 bins committed, none replaced, 2 runs staged", bins)
	}
}

func ledger(t *testing.T, db string) []Bins {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	bins, err := Ledger(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return bins
}
