package warm

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Scheduler starts warm runs one at a time: Debounce after the last
// results event of a burst (ingestion commits bins in bursts, and one run
// after the burst does the work of one run per bin), and Interval after
// the last run ended, whatever started it, so a quiet period still gets
// its answers checked. Events that come during a run cause one more run
// after it: the run in progress may have asked before they were applied.
type Scheduler struct {
	// Warm runs one warm run (Warmer.Warm) caused by the events whose spans
	// are given (none for a scheduled run).
	Warm func(context.Context, Trigger, ...trace.SpanContext)

	mu   sync.Mutex
	plan plan
	wake chan struct{} // the plan changed: look at it again
}

// NewScheduler returns a scheduler; it starts runs once Run is called.
func NewScheduler(debounce, interval time.Duration, warm func(context.Context, Trigger, ...trace.SpanContext)) *Scheduler {
	return &Scheduler{Warm: warm, plan: plan{debounce: debounce, interval: interval}, wake: make(chan struct{}, 1)}
}

// Notify tells that a results event arrived, handled in the span of ctx
// (if any): the run it causes joins that trace. It never blocks.
func (s *Scheduler) Notify(ctx context.Context) {
	s.mu.Lock()
	s.plan.event(time.Now(), trace.SpanContextFromContext(ctx))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is pending already; it will see this event too
	}
}

// Run starts runs until ctx is done. The first scheduled run comes an
// Interval after Run is called.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.plan.ended(time.Now())
	s.mu.Unlock()
	timer := time.NewTimer(s.plan.interval)
	defer timer.Stop()
	for {
		s.mu.Lock()
		due := s.plan.due()
		s.mu.Unlock()
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			continue
		case <-timer.C:
		}
		s.mu.Lock()
		trigger, causes, ok := s.plan.start(time.Now())
		s.mu.Unlock()
		if !ok {
			continue
		}
		// Runs happen in this goroutine, so never two at once.
		s.Warm(ctx, trigger, causes...)
		s.mu.Lock()
		s.plan.ended(time.Now())
		s.mu.Unlock()
	}
}

// plan decides when the next run starts and why; it holds no timers, so
// tests drive it with made-up times.
type plan struct {
	debounce, interval time.Duration
	lastEvent          time.Time           // the last event no run started after; zero: none
	next               time.Time           // the next scheduled run
	causes             []trace.SpanContext // of the events since the last run started, the newest maxCauses
}

// maxCauses bounds the spans a run links to: a burst may be thousands of bins.
const maxCauses = 32

// event records a results event at now, handled in span sc.
func (p *plan) event(now time.Time, sc trace.SpanContext) {
	p.lastEvent = now
	if sc.IsValid() {
		if len(p.causes) == maxCauses {
			p.causes = append(p.causes[:0], p.causes[1:]...)
		}
		p.causes = append(p.causes, sc)
	}
}

// due is when the next run should start.
func (p *plan) due() time.Time {
	if !p.lastEvent.IsZero() {
		if at := p.lastEvent.Add(p.debounce); at.Before(p.next) {
			return at
		}
	}
	return p.next
}

// start begins the run due at now, if any, and returns the spans of the
// events it covers: every event so far, whatever started it.
func (p *plan) start(now time.Time) (Trigger, []trace.SpanContext, bool) {
	var t Trigger
	switch {
	case !p.lastEvent.IsZero() && !now.Before(p.lastEvent.Add(p.debounce)):
		t = TriggerEvent
	case !now.Before(p.next):
		t = TriggerSchedule
	default:
		return "", nil, false
	}
	causes := p.causes
	p.lastEvent, p.causes = time.Time{}, nil
	return t, causes, true
}

// ended records that a run ended at now (or that none ran yet).
func (p *plan) ended(now time.Time) { p.next = now.Add(p.interval) }
