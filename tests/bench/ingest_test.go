//go:build bench

// Package bench measures end-to-end figures; run by `make bench-ingest`,
// never by `make test` (tests do not assert on speed).
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

const perBin = 20000

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// workload is a dataset's bins and how to COPY them plainly (the floor).
type workload struct {
	d    *events.Dataset
	bins []any // slices of the row type
	n    int
	// copy writes bin i with one plain COPY, as IHR's sinks do.
	copy func(ctx context.Context, conn *pgx.Conn, i int) error
}

func (w workload) binTime(i int) time.Time {
	return t0.Add(time.Duration(i*w.d.BinSeconds) * time.Second)
}

// hegemony: every origin depends on itself and three transits; the same
// origins in every bin, as in production.
func hegemony(total int) workload {
	transits := []int64{174, 1299, 2914, 3257, 3356, 6453, 6939}
	w := workload{d: events.Hegemony, n: total}
	var bins [][]events.HegemonyRow
	for done := 0; done < total; {
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
		w.bins = append(w.bins, rows)
		done += len(rows)
	}
	w.copy = func(ctx context.Context, conn *pgx.Conn, i int) error {
		rows := bins[i]
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"ihr_hegemony"}, []string{"timebin", "hege", "af", "asn_id", "originasn_id"},
			pgx.CopyFromSlice(len(rows), func(j int) ([]any, error) {
				return []any{w.binTime(i), rows[j].Hege, 4, rows[j].ASN, rows[j].OriginASN}, nil
			}))
		return err
	}
	return w
}

// atlasDelay: 200 AS startpoints times 100 city endpoints per bin; the
// floor knows the locations' ids already, as IHR's sink caches them.
func atlasDelay(total int) workload {
	w := workload{d: events.AtlasDelay, n: total}
	ids := map[events.Location]int32{}
	var bins [][]events.AtlasDelayRow
	for done := 0; done < total; {
		var rows []events.AtlasDelayRow
		for k := 0; len(rows) < perBin && done+len(rows) < total; k++ {
			s := events.Location{Type: "AS", Name: strconv.Itoa(64512 + k/100), AF: 4}
			e := events.Location{Type: "CT", Name: "City " + strconv.Itoa(k%100) + ", Region, CC", AF: 4}
			for _, l := range []events.Location{s, e} {
				if _, ok := ids[l]; !ok {
					ids[l] = int32(len(ids) + 1)
				}
			}
			rows = append(rows, events.AtlasDelayRow{Startpoint: s, Endpoint: e, Median: 10 + float64(k%50), NbTracks: 30,
				NbProbes: 5, Entropy: 0.7, Hop: int64(k % 12), NbRealRTTs: 400})
		}
		bins = append(bins, rows)
		w.bins = append(w.bins, rows)
		done += len(rows)
	}
	w.copy = func(ctx context.Context, conn *pgx.Conn, i int) error {
		if i == 0 {
			var locs [][]any
			for l, id := range ids {
				locs = append(locs, []any{id, l.Name, l.Type, l.AF})
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"ihr_atlas_location"}, []string{"id", "name", "type", "af"}, pgx.CopyFromRows(locs)); err != nil {
				return err
			}
		}
		rows := bins[i]
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"ihr_atlas_delay"}, events.AtlasDelay.Columns(),
			pgx.CopyFromSlice(len(rows), func(j int) ([]any, error) {
				r := rows[j]
				return []any{w.binTime(i), ids[r.Startpoint], ids[r.Endpoint], r.Median, r.NbTracks, r.NbProbes, r.Entropy, r.Hop, r.NbRealRTTs}, nil
			}))
		return err
	}
	return w
}

func TestBenchIngest(t *testing.T) {
	total := 2_000_000
	if v, err := strconv.Atoi(os.Getenv("IHR_BENCH_ROWS")); err == nil && v > 0 {
		total = v
	}
	fmt.Printf("\nbench-ingest: %d rows per dataset, bins of %d rows\n", total, perBin)
	fmt.Println("| dataset | plain COPY | end to end | ratio | publish → results event p50 / p99 |")
	fmt.Println("|---|---|---|---|---|")
	for _, w := range []workload{hegemony(total), atlasDelay(total)} {
		// A subtest each, so each ingestion service stops before the next load.
		t.Run(w.d.Name, func(t *testing.T) {
			copyRate := floor(t, w)
			e2e, lat := endToEnd(t, w)
			fmt.Printf("| %s | %.0f rows/s | %.0f rows/s | %.2f× | %s / %s |\n", w.d.Name, copyRate, e2e, e2e/copyRate,
				percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond))
		})
	}
}

// floor is the rate of one plain COPY per bin into the same indexed table.
func floor(t *testing.T, w workload) float64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	start := time.Now()
	for i := range w.bins {
		if err := w.copy(ctx, conn, i); err != nil {
			t.Fatal(err)
		}
	}
	return float64(w.n) / time.Since(start).Seconds()
}

// endToEnd publishes the bins through JetStream as a producer does, and
// measures until the ledger holds them all; and, per bin, the time from its
// bin message's acknowledgement to its results event.
func endToEnd(t *testing.T, w workload) (float64, []time.Duration) {
	ctx := context.Background()
	db := testkit.NewDB(t)
	env := testkit.ServiceEnv(t, db)
	env["IHR_LOG_LEVEL"] = "warn"
	testkit.StartBinary(t, "ingestion", env)

	bus, err := natsx.Connect(ctx, config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false, "bench", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	var mu sync.Mutex
	published, announced := map[int64]time.Time{}, map[int64]time.Time{}
	sub, err := bus.Conn.Subscribe(bus.Subject(events.ResultsSubject(w.d.Name)), func(m *nats.Msg) {
		now := time.Now()
		if res, err := events.DecodeResult(m.Data); err == nil {
			mu.Lock()
			announced[res.Timebin.Unix()] = now
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	pub := &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "bench"}}
	start := time.Now()
	for i, rows := range w.bins {
		if _, err := pub.Bin(ctx, w.d.NewBin(4, w.binTime(i), "bench"), rows); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		published[w.binTime(i).Unix()] = time.Now()
		mu.Unlock()
	}
	for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if testkit.Scalar[int](t, db, "SELECT count(*)::int FROM ingest_runs") == len(w.bins) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ingestion did not finish in 30 minutes")
		}
	}
	rate := float64(w.n) / time.Since(start).Seconds()
	if n := testkit.Scalar[int](t, db, "SELECT count(*)::int FROM "+w.d.Table); n != w.n {
		t.Fatalf("%d rows ingested, want %d", n, w.n)
	}
	time.Sleep(time.Second) // the last results events
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for tb, p := range published {
		if a, ok := announced[tb]; ok {
			lat = append(lat, max(0, a.Sub(p)))
		}
	}
	if len(lat) != len(w.bins) {
		t.Fatalf("%d results events for %d bins", len(lat), len(w.bins))
	}
	return rate, lat
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(p*float64(len(d))))]
}
