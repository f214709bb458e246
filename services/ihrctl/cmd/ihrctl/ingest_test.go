package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/ihrctl/internal/ingeststatus"
)

// status returns what ingest status --json reports.
func (d *deployment) status(t *testing.T) ingeststatus.Report {
	t.Helper()
	var r ingeststatus.Report
	if out := d.ok(t, "ingest", "status", "--json", "--database-url", d.db); json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("ingest status --json is not one JSON object:\n%s", out)
	}
	return r
}

// caughtUp reports whether the hegemony consumer exists and every ingest
// consumer has consumed and acknowledged everything.
func caughtUp(r ingeststatus.Report) bool {
	for _, c := range r.Consumers {
		if c.Pending != 0 || c.AckPending != 0 {
			return false
		}
	}
	return slices.ContainsFunc(r.Consumers, func(c ingeststatus.Consumer) bool { return c.Dataset == "hegemony" })
}

// TestIngestStatus commits bins through the real ingestion service (one
// of them twice, by two runs), stages a batch that never completes, and
// checks what ingest status reports.
func TestIngestStatus(t *testing.T) {
	t.Parallel()
	d := newDeployment(t)
	if r := d.status(t); len(r.Bins) != 0 || r.DLQMessages != 0 {
		t.Errorf("status of an empty deployment: %+v", r)
	}
	d.ok(t, "publish", "hegemony", "--demo", "--bins", "2", "--origins", "5", "--start", "2026-12-01T00:00:00Z", "--run-id", "a")
	d.ok(t, "publish", "hegemony", "--demo", "--bins", "1", "--origins", "5", "--start", "2026-12-01T00:00:00Z", "--run-id", "b")
	testkit.Exec(t, d.db, `INSERT INTO ingest_staging (dataset, af, timebin, run_id, batch_seq, row_count, rows)
		VALUES ('hegemony', 6, '2026-12-01T00:00:00Z', 'partial', 0, 3, '\x00')`)

	var r ingeststatus.Report
	testkit.Eventually(t, "three runs committed and every message acknowledged", func() bool {
		r = d.status(t)
		return len(r.Bins) == 2 && r.Bins[0].Bins24h == 2 && r.Bins[0].RunsReplaced == 1 && caughtUp(r)
	})
	v4, v6 := r.Bins[0], r.Bins[1]
	newest := time.Date(2026, 12, 1, 0, 15, 0, 0, time.UTC)
	// 20 rows a bin (5 origins, each with itself and three transits), three runs.
	if v4.Dataset != "hegemony" || v4.AF != 4 || v4.NewestTimebin == nil || !v4.NewestTimebin.Equal(newest) ||
		v4.Bins1h != 2 || v4.Rows1h != 60 || math.Abs(v4.RowsPerSecond5m-0.2) > 1e-9 || v4.StagedRuns != 0 || v4.OldestStagedAt != nil {
		t.Errorf("af 4: %+v", v4)
	}
	if v6.AF != 6 || v6.NewestTimebin != nil || v6.Bins24h != 0 || v6.StagedRuns != 1 || v6.OldestStagedAt == nil || time.Since(*v6.OldestStagedAt) > time.Minute {
		t.Errorf("af 6 (one staged batch): %+v", v6)
	}
	if !slices.ContainsFunc(r.Consumers, func(c ingeststatus.Consumer) bool { return c.Name == "ingestion-hegemony" && c.Dataset == "hegemony" }) {
		t.Errorf("no hegemony consumer in %+v", r.Consumers)
	}
	if r.DLQMessages != 0 || time.Since(r.Time) > time.Minute {
		t.Errorf("report %+v", r)
	}

	table := d.ok(t, "ingest", "status", "--database-url", d.db)
	for _, want := range []string{"NEWEST BIN", "2026-12-01T00:15:00Z", "0.2", "ingestion-hegemony", "LAG", "dead letters: 0"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
