package warm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/popularity"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// ranking is a fixed ranking.
type ranking struct {
	keys      []string
	fromRedis bool
}

func (r ranking) Top(_ context.Context, n int, _ time.Time) ([]popularity.Query, bool) {
	var qs []popularity.Query
	for i, k := range r.keys[:min(n, len(r.keys))] {
		qs = append(qs, popularity.Query{Key: k, Weight: float64(len(r.keys) - i)})
	}
	return qs, r.fromRedis
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("hegemony/?originasn=%d", i+1)
	}
	return out
}

// fetcher answers with answer, recording the requests and how many were in flight at most.
type fetcher struct {
	answer func(ctx context.Context, r Request) (Response, error)

	mu       sync.Mutex
	requests []Request
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (f *fetcher) Fetch(ctx context.Context, r Request) (Response, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.mu.Unlock()
	return f.answer(ctx, r)
}

func (f *fetcher) made() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

func miss(context.Context, Request) (Response, error) {
	return Response{Outcome: Warmed, Status: 200, Cache: "miss", ETag: `"v1"`}, nil
}

// slowFor answers the first key only after d (a query service under load), the others at once.
func slowFor(d time.Duration, first string) func(context.Context, Request) (Response, error) {
	return func(ctx context.Context, r Request) (Response, error) {
		if r.Key == first {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return Response{}, ctx.Err()
			}
		}
		return miss(ctx, r)
	}
}

func config() Config {
	return Config{Top: 100, Budget: 100, Concurrency: 2, Deadline: time.Minute, Slow: time.Minute}
}

func TestRunJoinsTheTraceOfItsNewestCause(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	w := &Warmer{Config: config(), Ranking: ranking{}, Fetcher: &fetcher{answer: miss},
		Tracer: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("test")}
	causes := []trace.SpanContext{spanContext(1), spanContext(2), spanContext(3)}
	w.Warm(context.Background(), TriggerEvent, causes...)
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans", len(ended))
	}
	s := ended[0]
	if s.Parent().SpanID() != causes[2].SpanID() || len(s.Links()) != 2 || !s.Links()[0].SpanContext.Equal(causes[0]) || !s.Links()[1].SpanContext.Equal(causes[1]) {
		t.Errorf("the run's span has parent %v and %d links; want the newest cause as parent, linked to the others", s.Parent().SpanID(), len(s.Links()))
	}
}

func TestRunAsksForEveryRankedKey(t *testing.T) {
	f := &fetcher{answer: miss}
	w := &Warmer{Config: config(), Ranking: ranking{keys: keys(7), fromRedis: true}, Fetcher: f}
	run := w.Warm(context.Background(), TriggerEvent)
	if run.Outcome != RunDone || run.Counts[Warmed] != 7 || len(run.Keys) != 7 || run.Skipped != 0 || !run.FromRedis || run.Trigger != TriggerEvent {
		t.Fatalf("run %+v", run)
	}
	for i, k := range run.Keys {
		if k.Key != keys(7)[i] || k.Status != 200 || k.Cache != "miss" {
			t.Errorf("key %d reported %+v (rank order expected)", i, k)
		}
	}
	if p := f.peak.Load(); p > 2 {
		t.Errorf("%d requests in flight at once, concurrency is 2", p)
	}
}

func TestBudgetBoundsTheRequests(t *testing.T) {
	f := &fetcher{answer: miss}
	cfg := config()
	cfg.Budget = 3
	w := &Warmer{Config: cfg, Ranking: ranking{keys: keys(10)}, Fetcher: f}
	run := w.Warm(context.Background(), TriggerSchedule)
	if len(f.made()) != 3 || run.Outcome != RunBudget || run.Skipped != 7 || run.Ranked != 10 {
		t.Fatalf("%d requests, run %+v; want the 3 most asked and outcome budget", len(f.made()), run)
	}
	asked := map[string]bool{}
	for _, r := range f.made() {
		asked[r.Key] = true
	}
	for _, k := range keys(3) {
		if !asked[k] {
			t.Errorf("%s, one of the 3 most asked, was not warmed", k)
		}
	}
}

func TestDeadlineCutsTheRun(t *testing.T) {
	// The query service never answers: only the deadline ends the run.
	f := &fetcher{answer: func(ctx context.Context, r Request) (Response, error) {
		<-ctx.Done()
		return Response{}, ctx.Err()
	}}
	cfg := config()
	cfg.Deadline = 50 * time.Millisecond
	w := &Warmer{Config: cfg, Ranking: ranking{keys: keys(5)}, Fetcher: f}
	run := w.Warm(context.Background(), TriggerEvent)
	if run.Outcome != RunDeadline || run.Counts[Canceled] != 2 || run.Skipped != 3 || run.Counts[Failed] != 0 {
		t.Fatalf("run %+v; want deadline, the 2 in flight canceled, 3 skipped", run)
	}
}

func TestSlowAnswerBacksOff(t *testing.T) {
	cfg := config()
	cfg.Concurrency, cfg.Slow = 1, 20*time.Millisecond
	f := &fetcher{answer: slowFor(100*time.Millisecond, keys(1)[0])}
	w := &Warmer{Config: cfg, Ranking: ranking{keys: keys(5)}, Fetcher: f}
	run := w.Warm(context.Background(), TriggerEvent)
	if run.Outcome != RunBackedOff || len(run.Keys) != 1 || run.Skipped != 4 {
		t.Fatalf("run %+v; want backed_off after the first key", run)
	}
	if k := run.Keys[0]; !k.Slow || k.Outcome != Warmed || k.Millis < 20 {
		t.Errorf("the slow request %+v: it must finish (warmed) and be marked slow", k)
	}
}

func TestSlowAnswerStopsTheOtherWorkersAtOnce(t *testing.T) {
	// The first key answers only when the run's deadline cuts it; the
	// others take 5 ms each, so the second worker alone needs 45 ms for
	// them. It must stop taking keys once the first is late (20 ms), not
	// when it answers.
	cfg := config()
	cfg.Slow, cfg.Deadline = 20*time.Millisecond, 300*time.Millisecond
	f := &fetcher{answer: func(ctx context.Context, r Request) (Response, error) {
		d := 5 * time.Millisecond
		if r.Key == keys(1)[0] {
			d = time.Hour
		}
		select {
		case <-time.After(d):
			return miss(ctx, r)
		case <-ctx.Done():
			return Response{}, ctx.Err()
		}
	}}
	w := &Warmer{Config: cfg, Ranking: ranking{keys: keys(10)}, Fetcher: f}
	run := w.Warm(context.Background(), TriggerEvent)
	if run.Outcome != RunBackedOff || run.Skipped == 0 || run.Keys[0].Outcome != Canceled || !run.Keys[0].Slow {
		t.Fatalf("run %+v; want backed_off with keys left, the first canceled and slow", run)
	}
}

func TestFailuresBackOffButClientErrorsDoNot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  func(context.Context, Request) (Response, error)
		outcome RunOutcome
	}{
		{"unreachable", func(context.Context, Request) (Response, error) { return Response{}, errors.New("connection refused") }, RunBackedOff},
		{"overloaded", func(context.Context, Request) (Response, error) {
			return Response{Outcome: Failed, Status: 503, Overloaded: true}, nil
		}, RunBackedOff},
		{"bad key", func(context.Context, Request) (Response, error) { return Response{Outcome: Failed, Status: 400}, nil }, RunDone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config()
			cfg.Concurrency = 1
			w := &Warmer{Config: cfg, Ranking: ranking{keys: keys(4)}, Fetcher: &fetcher{answer: tc.answer}}
			run := w.Warm(context.Background(), TriggerEvent)
			if run.Outcome != tc.outcome || run.Counts[Failed] == 0 {
				t.Fatalf("run %+v, want %s", run, tc.outcome)
			}
			if tc.name == "unreachable" && run.Keys[0].Error == "" {
				t.Error("the error is not reported")
			}
		})
	}
}

func TestTagsAndPositionAreSent(t *testing.T) {
	tags := map[string]string{}
	var mu sync.Mutex
	f := &fetcher{answer: func(_ context.Context, r Request) (Response, error) {
		mu.Lock()
		defer mu.Unlock()
		if r.ETag != "" && r.ETag == tags[r.Key] {
			return Response{Outcome: Fresh, Status: 304, Cache: "l1", ETag: r.ETag}, nil
		}
		tags[r.Key] = `"` + r.Key + `"`
		return Response{Outcome: Warmed, Status: 200, Cache: "miss", ETag: tags[r.Key]}, nil
	}}
	w := &Warmer{Config: config(), Ranking: ranking{keys: keys(3)}, Fetcher: f, Position: position{"S@1", 42}}
	if run := w.Warm(context.Background(), TriggerEvent); run.Counts[Warmed] != 3 || run.Position != 42 || run.Stream != "S@1" {
		t.Fatalf("first run %+v", run)
	}
	if run := w.Warm(context.Background(), TriggerEvent); run.Counts[Fresh] != 3 {
		t.Fatalf("second run %+v: the tags seen first were not sent", run)
	}
	for _, r := range f.made() {
		if r.Stream != "S@1" || r.MinSeq != 42 {
			t.Errorf("request %+v does not ask for the followed position", r)
		}
	}
	// A key that leaves the ranking is forgotten: the memory holds the ranking only.
	w.Ranking = ranking{keys: keys(1)}
	w.Warm(context.Background(), TriggerSchedule)
	if len(w.tags) != 1 {
		t.Errorf("%d tags kept for a ranking of 1", len(w.tags))
	}
}

type position struct {
	id  string
	seq uint64
}

func (p position) Identity() string { return p.id }
func (p position) Position() uint64 { return p.seq }

func TestEmptyRankingAndHistory(t *testing.T) {
	w := &Warmer{Config: config(), Ranking: ranking{}, Fetcher: &fetcher{answer: miss}}
	for range historySize + 5 {
		if run := w.Warm(context.Background(), TriggerSchedule); run.Outcome != RunEmpty || run.Keys == nil {
			t.Fatalf("run %+v; want empty, with an empty list of keys", run)
		}
	}
	runs := w.Runs()
	if len(runs) != historySize || !runs[0].Start.After(runs[len(runs)-1].Start) {
		t.Errorf("%d runs kept, want %d, newest first", len(runs), historySize)
	}
}

func TestShutdownCancelsTheRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{answer: func(c context.Context, r Request) (Response, error) {
		cancel()
		<-c.Done()
		return Response{}, c.Err()
	}}
	w := &Warmer{Config: config(), Ranking: ranking{keys: keys(3)}, Fetcher: f}
	if run := w.Warm(ctx, TriggerEvent); run.Outcome != RunCanceled || run.Counts[Failed] != 0 {
		t.Fatalf("run %+v", run)
	}
}
