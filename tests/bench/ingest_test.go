//go:build bench

// Package bench measures end-to-end figures; run by `make bench-ingest`,
// never by `make test` (tests do not assert on speed).
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/propagation"
)

// The workload: bins of AS hegemony shaped like production's (every origin
// depends on itself and a few transits; the same origins in every bin),
// IHR_BENCH_ROWS rows in all.
func workload(total int) [][]events.HegemonyRow {
	const perBin = 20000
	transits := []int64{174, 1299, 2914, 3257, 3356, 6453, 6939}
	var bins [][]events.HegemonyRow
	for done := 0; done < total; {
		// The same origins in every bin, as in production.
		origin := int64(100000)
		var rows []events.HegemonyRow
		for len(rows) < perBin && done+len(rows) < total {
			rows = append(rows, events.HegemonyRow{OriginASN: origin, ASN: origin, Hege: 1})
			for i, t := range transits[origin%4 : origin%4+3] {
				rows = append(rows, events.HegemonyRow{OriginASN: origin, ASN: t, Hege: 0.1 * float64(i+1)})
			}
			origin++
		}
		bins = append(bins, rows)
		done += len(rows)
	}
	return bins
}

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func binTime(i int) time.Time { return t0.Add(time.Duration(i) * 15 * time.Minute) }

func TestBenchIngest(t *testing.T) {
	total := 2_000_000
	if v, err := strconv.Atoi(os.Getenv("IHR_BENCH_ROWS")); err == nil && v > 0 {
		total = v
	}
	bins := workload(total)
	ctx := context.Background()

	// 1. The floor: one plain COPY of the same rows into the same indexed table.
	db := testkit.NewDB(t)
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i, rows := range bins {
		j := 0
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"ihr_hegemony"}, []string{"timebin", "hege", "af", "asn_id", "originasn_id"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if j == len(rows) {
					return nil, nil
				}
				r := rows[j]
				j++
				return []any{binTime(i), r.Hege, 4, r.ASN, r.OriginASN}, nil
			}))
		if err != nil {
			t.Fatal(err)
		}
	}
	copyRate := float64(total) / time.Since(start).Seconds()
	conn.Close(ctx)

	// 2. End to end: publish through JetStream, ingestion stages, commits
	// each bin (with cones and ledger) and announces it.
	db2 := testkit.NewDB(t)
	env := testkit.ServiceEnv(t, db2)
	bin := filepath.Join(t.TempDir(), "ingestion")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ihr-go/ihr/services/ingestion/cmd/ingestion").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := testkit.FreeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "IHR_INGESTION_ADDR="+addr, "IHR_LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	testkit.WaitStatus(t, "http://"+addr+"/readyz", http.StatusOK)

	bus, err := natsx.Connect(ctx, config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false, "bench", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "bench"}}
	start = time.Now()
	for i, rows := range bins {
		if _, err := pub.Bin(ctx, events.Hegemony.NewBin(4, binTime(i), "bench"), rows); err != nil {
			t.Fatal(err)
		}
	}
	published := time.Since(start)
	for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if testkit.Scalar[int](t, db2, "SELECT count(*)::int FROM ingest_runs") == len(bins) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ingestion did not finish in 30 minutes")
		}
	}
	e2e := time.Since(start)
	e2eRate := float64(total) / e2e.Seconds()
	if n := testkit.Scalar[int](t, db2, "SELECT count(*)::int FROM ihr_hegemony"); n != total {
		t.Fatalf("%d rows ingested, want %d", n, total)
	}
	fmt.Printf("\nbench-ingest: %d hegemony rows in %d bins\n", total, len(bins))
	fmt.Printf("  plain COPY into indexed ihr_hegemony: %8.0f rows/s\n", copyRate)
	fmt.Printf("  end to end (publish → commit):        %8.0f rows/s  (%.2f× COPY; published in %s, committed in %s)\n",
		e2eRate, e2eRate/copyRate, published.Round(time.Millisecond), e2e.Round(time.Millisecond))
}
