package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/publish"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
)

// Two popular queries of the hour 06:00-07:00 on 2 December 2026, in their
// canonical form (as the query service ranks them).
const (
	window = "timebin__gte=2026-12-02T06%3A00%3A00Z&timebin__lte=2026-12-02T07%3A00%3A00Z"
	keyA   = "hegemony/?originasn=2497&" + window
	keyB   = "hegemony/?asn=3356&" + window
)

// TestWarmsPopularQueriesAfterResults runs the real query and ingestion
// binaries and the warmer in-process: a bin that changes the popular
// answers gets them read again and cached, a bin that does not finds them
// fresh (304), and a restarted warmer finds them fresh on schedule.
func TestWarmsPopularQueriesAfterResults(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true), (3356, 'LEVEL3', false, false, true);
		INSERT INTO ihr_hegemony (timebin, hege, af, asn_id, originasn_id) VALUES
		('2026-12-02T06:00:00Z', 1.0, 4, 2497, 2497), ('2026-12-02T06:00:00Z', 0.5, 4, 3356, 2497)`)
	env := testkit.ServiceEnv(t, db)
	query := testkit.StartBinary(t, "query", env)
	testkit.StartBinary(t, "ingestion", env)
	seedPopularity(t, env, map[string]int{keyA: 3, keyB: 1})

	warmEnv := testkit.With(env, map[string]string{"IHR_QUERY_URL": query, "IHR_WARM_INTERVAL": "1h", "IHR_WARM_DEBOUNCE": "100ms"})
	warmer := testkit.StartService(t, "cachewarmer", service.Runner(spec()), warmEnv)
	testkit.WaitStatus(t, warmer.URL+"/readyz", http.StatusOK)

	pub := publisher(t, env)
	rows := []events.HegemonyRow{{OriginASN: 2497, ASN: 2497, Hege: 1}, {OriginASN: 2497, ASN: 3356, Hege: 0.25}}

	// 1. A bin in the popular hour: both answers read and cached.
	seq := pub.bin(time.Date(2026, 12, 2, 6, 15, 0, 0, time.UTC), "warm-1", rows)
	run := runAfter(t, warmer.URL, seq)
	assertKeys(t, "after a bin of the popular hour", run, warm.Warmed, http.StatusOK)
	if !run.FromRedis || run.Ranked != 2 || run.Keys[0].Key != keyA {
		t.Errorf("ranking: from Redis %v, %d keys, first %s; want both from Redis, %s first", run.FromRedis, run.Ranked, run.Keys[0].Key, keyA)
	}

	// 2. A bin of another day: nothing they depend on changed.
	seq = pub.bin(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), "warm-2", rows)
	assertKeys(t, "after a bin of another day", runAfter(t, warmer.URL, seq), warm.Fresh, http.StatusNotModified)

	// 3. Another bin in the popular hour: read again, and they changed.
	seq = pub.bin(time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC), "warm-3", rows)
	assertKeys(t, "after a second bin of the popular hour", runAfter(t, warmer.URL, seq), warm.Warmed, http.StatusOK)

	// A client now gets the new bin from memory.
	req, _ := http.NewRequest(http.MethodGet, query+"/ihr/api/"+keyA, nil)
	req.Header.Set(cache.HeaderCounted, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if x := resp.Header.Get(cache.HeaderCache); x != "l1" || !strings.Contains(string(body), "2026-12-02T06:30:00Z") {
		t.Errorf("after warming, X-Cache %q, body %s; want l1 with the 06:30 bin", x, body)
	}
	if k := resp.Header.Get(cache.HeaderKey); k != keyA {
		t.Errorf("the test's key %s is not canonical: the query service keys it %s", keyA, k)
	}

	_, metrics := testkit.Get(t, warmer.URL+"/metrics")
	for _, want := range []string{`ihr_warm_runs_total{outcome="done",trigger="event"}`, `ihr_warm_requests_total{outcome="warmed"} 4`,
		`ihr_warm_requests_total{outcome="fresh"} 2`, `ihr_warm_run_seconds_bucket{trigger="event"`, "ihr_warm_last_run_timestamp_seconds "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A second warmer with a short interval: its start warms once (on the
	// last event replayed), then the schedule does; everything is fresh,
	// and once its tags are known, a 304.
	second := testkit.StartService(t, "cachewarmer", service.Runner(spec()), testkit.With(warmEnv, map[string]string{"IHR_WARM_INTERVAL": "1s"}))
	var scheduled warm.Run
	testkit.Eventually(t, "a scheduled run of the second warmer", func() bool {
		for _, r := range debugRuns(t, second.URL) {
			if r.Trigger == warm.TriggerSchedule {
				scheduled = r
				return true
			}
		}
		return false
	})
	assertKeys(t, "on schedule", scheduled, warm.Fresh, http.StatusNotModified)
	runs := debugRuns(t, second.URL)
	if first := runs[len(runs)-1]; first.Trigger != warm.TriggerEvent {
		t.Errorf("the second warmer's first run was triggered by %s, want the last event replayed", first.Trigger)
	} else {
		assertKeys(t, "at the second warmer's start", first, warm.Fresh, http.StatusOK) // no tag yet
	}
}

// seedPopularity ranks keys as the query service would after counting them.
func seedPopularity(t *testing.T, env map[string]string, hits map[string]int) {
	t.Helper()
	opts, err := redis.ParseURL(env["IHR_REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	prefix := env["IHR_CACHE_PREFIX"]
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"pop:*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	rec := &popularity.Recorder{Redis: rdb, Prefix: prefix}
	for k, n := range hits {
		for range n {
			rec.Hit(k)
		}
	}
	if err := rec.Flush(context.Background(), time.Now()); err != nil {
		t.Fatalf("seed the popularity ranking: %v", err)
	}
}

type testPublisher struct {
	t   *testing.T
	pub *publish.Publisher
	bus *natsx.Bus
}

func publisher(t *testing.T, env map[string]string) *testPublisher {
	t.Helper()
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: env["IHR_NATS_URL"], Prefix: env["IHR_NATS_PREFIX"]}, false,
		"cachewarmer-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	return &testPublisher{t: t, bus: bus,
		pub: &publish.Publisher{Bus: bus, Propagator: propagation.TraceContext{}, Producer: events.Producer{Name: "cachewarmer-test"}}}
}

// bin publishes a hegemony bin and returns the sequence of the results
// event ingestion publishes once it committed it.
func (p *testPublisher) bin(timebin time.Time, runID string, rows []events.HegemonyRow) uint64 {
	p.t.Helper()
	ctx := context.Background()
	stream, err := p.bus.JS.Stream(ctx, p.bus.StreamName(natsx.StreamResults))
	if err != nil {
		p.t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	before := info.State.LastSeq
	if _, err := p.pub.Bin(ctx, events.Hegemony.NewBin(4, timebin, runID), rows); err != nil {
		p.t.Fatal(err)
	}
	var seq uint64
	testkit.Eventually(p.t, "the results event of bin "+runID, func() bool {
		info, err := stream.Info(ctx)
		seq = info.State.LastSeq
		return err == nil && seq > before
	})
	return seq
}

func debugRuns(t *testing.T, base string) []warm.Run {
	t.Helper()
	code, body := testkit.Get(t, base+"/debug/warm")
	var out struct{ Runs []warm.Run }
	if code != http.StatusOK {
		t.Fatalf("/debug/warm: %d %s", code, body)
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/debug/warm: %v\n%s", err, body)
	}
	return out.Runs
}

// runAfter waits for the first event-triggered run that asked for answers
// holding the results event seq.
func runAfter(t *testing.T, base string, seq uint64) warm.Run {
	t.Helper()
	var found warm.Run
	testkit.Eventually(t, "a warm run after results event "+strconv.FormatUint(seq, 10), func() bool {
		runs := debugRuns(t, base)
		for i := len(runs) - 1; i >= 0; i-- { // oldest first
			if runs[i].Trigger == warm.TriggerEvent && runs[i].Position >= seq {
				found = runs[i]
				return true
			}
		}
		return false
	})
	return found
}

func assertKeys(t *testing.T, when string, run warm.Run, want warm.Outcome, status int) {
	t.Helper()
	if run.Outcome != warm.RunDone || len(run.Keys) != 2 {
		t.Fatalf("%s: run %+v, want done with both keys", when, run)
	}
	for _, k := range run.Keys {
		if k.Outcome != want || k.Status != status {
			t.Errorf("%s: %s was %s (status %d, X-Cache %q), want %s (%d)", when, k.Key, k.Outcome, k.Status, k.Cache, want, status)
		}
	}
}
