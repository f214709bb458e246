package warm

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"go.opentelemetry.io/otel/trace"
)

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		op   string // event, start, end
		at   time.Duration
		want Trigger // for start: "" means no run is due
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a burst makes one run, a debounce after its last event", []step{
			{"event", 0, ""}, {"event", 300 * time.Millisecond, ""}, {"event", 600 * time.Millisecond, ""},
			{"start", time.Second, ""},
			{"start", 1600 * time.Millisecond, TriggerEvent}, {"end", 2 * time.Second, ""},
			{"start", 3 * time.Second, ""},
		}},
		{"events during a run make one more run after it", []step{
			{"event", 0, ""}, {"start", time.Second, TriggerEvent},
			{"event", 1100 * time.Millisecond, ""}, {"event", 1200 * time.Millisecond, ""}, {"event", 1300 * time.Millisecond, ""},
			{"end", 5 * time.Second, ""},
			{"start", 5 * time.Second, TriggerEvent}, {"end", 6 * time.Second, ""},
			{"start", 7 * time.Second, ""},
		}},
		{"a run after a long burst waits its debounce", []step{
			{"event", 0, ""}, {"start", time.Second, TriggerEvent},
			{"event", 1900 * time.Millisecond, ""}, {"end", 2 * time.Second, ""},
			{"start", 2 * time.Second, ""}, {"start", 2900 * time.Millisecond, TriggerEvent},
		}},
		{"quiet: a run every interval", []step{
			{"start", 4 * time.Minute, ""}, {"start", 5 * time.Minute, TriggerSchedule}, {"end", 5*time.Minute + time.Second, ""},
			{"start", 10 * time.Minute, ""}, {"start", 10*time.Minute + time.Second, TriggerSchedule},
		}},
		{"the interval counts from the last run, whatever started it", []step{
			{"event", time.Minute, ""}, {"start", time.Minute + time.Second, TriggerEvent}, {"end", 2 * time.Minute, ""},
			{"start", 5 * time.Minute, ""}, {"start", 7 * time.Minute, TriggerSchedule},
		}},
		{"a scheduled run covers the events before it", []step{
			{"event", 5*time.Minute - 500*time.Millisecond, ""},
			{"start", 5 * time.Minute, TriggerSchedule}, {"end", 5*time.Minute + time.Second, ""},
			{"start", 5*time.Minute + 2*time.Second, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan{debounce: time.Second, interval: 5 * time.Minute}
			p.ended(t0)
			var pending []trace.SpanContext // the spans of the events no run covered yet
			for i, s := range tc.steps {
				switch s.op {
				case "event":
					sc := spanContext(i)
					pending = append(pending, sc)
					p.event(at(s.at), sc)
				case "end":
					p.ended(at(s.at))
				case "start":
					if due := p.due(); s.want != "" && due.After(at(s.at)) {
						t.Errorf("step %d: due at +%s, after the run expected at +%s", i, due.Sub(t0), s.at)
					}
					got, causes, ok := p.start(at(s.at))
					if got != s.want || ok != (s.want != "") {
						t.Fatalf("step %d: at +%s start gave %q %v, want %q", i, s.at, got, ok, s.want)
					}
					if ok {
						if !slices.EqualFunc(causes, pending, trace.SpanContext.Equal) {
							t.Errorf("step %d: the run is caused by %d events' spans, want the %d since the last run", i, len(causes), len(pending))
						}
						pending = nil
					}
				}
			}
		})
	}
}

func spanContext(i int) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{byte(i + 1)}, TraceFlags: trace.FlagsSampled})
}

func TestPlanKeepsTheNewestCauses(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	p := plan{debounce: time.Second, interval: time.Hour}
	p.ended(t0)
	var want []trace.SpanContext
	for i := range maxCauses + 5 {
		p.event(t0, spanContext(i))
		want = append(want, spanContext(i))
	}
	p.event(t0, trace.SpanContext{}) // an event nobody traced
	_, causes, ok := p.start(t0.Add(time.Second))
	if !ok || !slices.EqualFunc(causes, want[5:], trace.SpanContext.Equal) {
		t.Fatalf("run %v caused by %d spans; want the newest %d", ok, len(causes), maxCauses)
	}
}

// TestSchedulerDebouncesAndRunsOneAtATime drives the real loop: a burst of
// events makes one run, events during it one more, and nothing else is due.
func TestSchedulerDebouncesAndRunsOneAtATime(t *testing.T) {
	const debounce = 30 * time.Millisecond
	started := make(chan Trigger)
	release := make(chan struct{})
	var inFlight, overlap atomic.Int32
	var lastEnd atomic.Int64
	s := NewScheduler(debounce, time.Hour, func(ctx context.Context, tr Trigger, _ ...trace.SpanContext) {
		if inFlight.Add(1) > 1 {
			overlap.Add(1)
		}
		started <- tr
		<-release
		inFlight.Add(-1)
		lastEnd.Store(time.Now().UnixNano())
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	var last time.Time
	for range 5 {
		last = time.Now() // before the event, so the wait measured is no longer than the real one
		s.Notify(context.Background())
	}
	if tr := <-started; tr != TriggerEvent {
		t.Fatalf("first run triggered by %s", tr)
	}
	if waited := time.Since(last); waited < debounce {
		t.Errorf("the run started %s after the last event, before the %s debounce", waited, debounce)
	}
	for range 3 {
		s.Notify(context.Background()) // during the run
	}
	release <- struct{}{}
	if tr := <-started; tr != TriggerEvent {
		t.Fatalf("second run triggered by %s", tr)
	}
	release <- struct{}{}
	testkit.Eventually(t, "the loop to take the second run's end", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return lastEnd.Load() > 0 && s.plan.next.UnixNano() >= lastEnd.Load()+int64(time.Hour)
	})
	s.mu.Lock()
	pending, due := !s.plan.lastEvent.IsZero(), s.plan.due()
	s.mu.Unlock()
	if pending || time.Until(due) < 30*time.Minute {
		t.Errorf("after two runs: event pending %v, next run in %s; want nothing before the schedule", pending, time.Until(due))
	}
	if overlap.Load() > 0 {
		t.Error("two runs at once")
	}
}

func TestSchedulerRunsOnSchedule(t *testing.T) {
	started := make(chan Trigger, 1)
	s := NewScheduler(time.Second, 20*time.Millisecond, func(ctx context.Context, tr Trigger, _ ...trace.SpanContext) {
		select {
		case started <- tr:
		case <-ctx.Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range 2 {
		if tr := <-started; tr != TriggerSchedule {
			t.Fatalf("run triggered by %s with no event", tr)
		}
	}
}
