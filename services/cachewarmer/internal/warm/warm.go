// Package warm keeps the most asked answers of the query service cached.
// After new data (results events) and on a schedule, a run asks the query
// service again for the most popular queries; the query service alone
// decides what is stale, so a still-fresh answer costs a memory hit or a
// 304, and a stale or missing one is read again and cached before a client
// asks for it. Runs are bounded (requests, time, concurrency) and stop at
// the first sign that the query service is loaded: warming must never slow
// down live traffic.
package warm

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/popularity"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Trigger says why a run started.
type Trigger string

// Triggers.
const (
	// TriggerEvent: results events announced new data.
	TriggerEvent Trigger = "event"
	// TriggerSchedule: no run for an interval.
	TriggerSchedule Trigger = "schedule"
)

// Outcome is what one warm request found.
type Outcome string

// Request outcomes.
const (
	// Fresh: the answer was cached and still fresh (304, or X-Cache l1/l2).
	Fresh Outcome = "fresh"
	// Warmed: the answer was read from the database and cached (X-Cache miss).
	Warmed Outcome = "warmed"
	// Bypass: the query service answered without its cache (X-Cache bypass
	// or none: the answer is too large to keep, or the cache is not usable).
	Bypass Outcome = "bypass"
	// Failed: no answer, or a status other than 2xx or 304.
	Failed Outcome = "failed"
	// Canceled: the run's deadline or the shutdown cut the request.
	Canceled Outcome = "canceled"
)

// outcomes lists the request outcomes, in the order metrics record them.
var outcomes = []Outcome{Fresh, Warmed, Bypass, Failed, Canceled}

// RunOutcome says how a run ended.
type RunOutcome string

// Run outcomes.
const (
	// RunDone: every ranked query was asked for.
	RunDone RunOutcome = "done"
	// RunEmpty: nothing to warm (no query asked yet, or no ranking: Redis down).
	RunEmpty RunOutcome = "empty"
	// RunBudget: the request budget ran out before the ranking did.
	RunBudget RunOutcome = "budget"
	// RunDeadline: the run's time ran out.
	RunDeadline RunOutcome = "deadline"
	// RunBackedOff: an answer was slow, or the query service failed; the run
	// stopped asking so as not to add to its load.
	RunBackedOff RunOutcome = "backed_off"
	// RunCanceled: the service is shutting down.
	RunCanceled RunOutcome = "canceled"
)

// Request is one warm request.
type Request struct {
	// Key is the query, canonical and relative to /ihr/api/.
	Key string
	// ETag is the tag of the answer last seen for Key ("" when none).
	ETag string
	// Stream and MinSeq ask for an answer holding every results event up to
	// MinSeq of Stream, so a run after an event never finds an answer
	// fresh only because the query service had not seen the event yet.
	// Stream "" asks for no position.
	Stream string
	MinSeq uint64
}

// Response is what the query service answered, in the warmer's terms
// (package upstream reads them from HTTP).
type Response struct {
	// Outcome is Fresh, Warmed, Bypass or Failed.
	Outcome Outcome
	// Status and Cache (the X-Cache header: l1, l2, miss, bypass or "")
	// are reported as they came.
	Status int
	Cache  string
	// ETag is the answer's tag: "" when it has none (too large to tag).
	ETag string
	// Overloaded: the answer says the query service is in trouble (a 5xx),
	// no time to add load.
	Overloaded bool
}

// Fetcher asks the query service for an answer (package upstream does it
// over HTTP). An error means no answer came; any answer is a Response.
type Fetcher interface {
	Fetch(ctx context.Context, r Request) (Response, error)
}

// Ranking ranks the queries by how much they are asked (a *popularity.Recorder).
type Ranking interface {
	Top(ctx context.Context, n int, now time.Time) (qs []popularity.Query, fromRedis bool)
}

// Position tells how far the results stream was followed (a *freshness.Log).
type Position interface {
	Identity() string
	Position() uint64
}

// Config bounds a run.
type Config struct {
	// Top is how many of the most asked queries a run considers.
	Top int
	// Budget is how many requests a run makes at most.
	Budget int
	// Concurrency is how many requests are in flight at once.
	Concurrency int
	// Deadline is how long a run lasts at most.
	Deadline time.Duration
	// Slow: an answer taking longer stops the run from asking for more.
	Slow time.Duration
}

// historySize is how many runs Runs reports.
const historySize = 20

// Warmer runs warm runs. Its methods are safe for concurrent use, but runs
// are meant to come one at a time (from a Scheduler): two at once would
// double the load the budget allows.
type Warmer struct {
	Config
	Ranking Ranking
	Fetcher Fetcher
	// Position, when set, makes each run ask for answers holding the
	// results events followed when it started.
	Position Position
	Metrics  *Metrics     // nil: none
	Logger   *slog.Logger // nil: none
	Tracer   trace.Tracer // nil: none

	mu      sync.Mutex
	tags    map[string]string // key → ETag last seen, only for the keys last ranked
	history []Run             // newest last, at most historySize
}

// Run is the report of one warm run.
type Run struct {
	Start   time.Time  `json:"start"`
	Trigger Trigger    `json:"trigger"`
	Seconds float64    `json:"duration_seconds"`
	Outcome RunOutcome `json:"outcome"`
	// Ranked is how many queries the ranking gave; FromRedis is false when
	// it came from the process's own (empty) counts because Redis failed.
	Ranked    int  `json:"ranked"`
	FromRedis bool `json:"from_redis"`
	// Stream and Position are what answers were asked to hold.
	Stream   string `json:"stream,omitempty"`
	Position uint64 `json:"position,omitempty"`
	// Counts are the requests by outcome; Skipped the ranked queries not
	// asked for (budget, deadline, back-off).
	Counts  map[Outcome]int `json:"counts"`
	Skipped int             `json:"skipped"`
	Keys    []KeyResult     `json:"keys"`
}

// KeyResult is the report of one warm request.
type KeyResult struct {
	Key     string  `json:"key"`
	Outcome Outcome `json:"outcome"`
	Status  int     `json:"status,omitempty"`
	Cache   string  `json:"x_cache,omitempty"`
	Millis  float64 `json:"latency_ms"`
	// Slow: it took longer than Config.Slow, which stopped the run.
	Slow  bool   `json:"slow,omitempty"`
	Error string `json:"error,omitempty"`

	etag string // the tag to send next time; "" forgets it
}

// Warm runs one warm run and returns its report, also kept for Runs. A run
// caused by results events is traced in the trace of the newest, linked to
// the others.
func (w *Warmer) Warm(ctx context.Context, trigger Trigger, causes ...trace.SpanContext) Run {
	start := time.Now()
	var links []trace.Link
	if n := len(causes); n > 0 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, causes[n-1])
		for _, sc := range causes[:n-1] {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, span := w.tracer().Start(ctx, "warm run", trace.WithLinks(links...),
		trace.WithAttributes(attribute.String("trigger", string(trigger))))
	defer span.End()
	runCtx, cancel := context.WithTimeout(ctx, w.Deadline)
	defer cancel()

	ranked, fromRedis := w.Ranking.Top(runCtx, w.Top, start)
	run := Run{Start: start, Trigger: trigger, Ranked: len(ranked), FromRedis: fromRedis, Counts: map[Outcome]int{}}
	if w.Position != nil && w.Position.Identity() != "" {
		run.Stream, run.Position = w.Position.Identity(), w.Position.Position()
	}
	keys := ranked[:min(len(ranked), max(w.Budget, 0))]
	results, backedOff := w.fetchAll(runCtx, run.Stream, run.Position, keys)
	run.Keys = results
	for _, r := range results {
		run.Counts[r.Outcome]++
	}
	run.Skipped = len(ranked) - len(results)
	run.Outcome = outcome(ctx, runCtx, backedOff, run, len(keys))
	run.Seconds = time.Since(start).Seconds()

	w.remember(ranked, results)
	w.record(run)
	w.Metrics.run(ctx, run)
	span.SetAttributes(attribute.String("outcome", string(run.Outcome)), attribute.Int("requests", len(results)))
	if run.Outcome == RunBackedOff || run.Counts[Failed] > 0 {
		span.SetStatus(codes.Error, string(run.Outcome))
	}
	if w.Logger != nil {
		w.Logger.LogAttrs(ctx, slog.LevelInfo, "warm run", slog.String("trigger", string(trigger)),
			slog.String("outcome", string(run.Outcome)), slog.Float64("seconds", run.Seconds), slog.Int("ranked", run.Ranked),
			slog.Int("fresh", run.Counts[Fresh]), slog.Int("warmed", run.Counts[Warmed]), slog.Int("bypass", run.Counts[Bypass]),
			slog.Int("failed", run.Counts[Failed]), slog.Int("skipped", run.Skipped))
	}
	return run
}

// outcome says how a run ended; the first reason to stop wins.
func outcome(ctx, runCtx context.Context, backedOff bool, run Run, planned int) RunOutcome {
	unfinished := run.Counts[Canceled] > 0 || len(run.Keys) < planned
	switch {
	case ctx.Err() != nil:
		return RunCanceled
	case backedOff:
		return RunBackedOff
	case unfinished && runCtx.Err() != nil:
		return RunDeadline
	case run.Ranked == 0:
		return RunEmpty
	case planned < run.Ranked:
		return RunBudget
	}
	return RunDone
}

// fetchAll asks for keys, most asked first, Concurrency at a time, until
// they are all asked for, ctx ends or the query service shows trouble. It
// returns the reports of the requests made, in rank order.
func (w *Warmer) fetchAll(ctx context.Context, stream string, pos uint64, keys []popularity.Query) ([]KeyResult, bool) {
	w.mu.Lock()
	reqs := make([]Request, len(keys))
	for i, k := range keys {
		reqs[i] = Request{Key: k.Key, ETag: w.tags[k.Key], Stream: stream, MinSeq: pos}
	}
	w.mu.Unlock()

	results := make([]KeyResult, len(reqs))
	var next atomic.Int64
	var backingOff atomic.Bool
	backOff := func() { backingOff.Store(true) }
	var wg sync.WaitGroup
	for range min(max(w.Concurrency, 1), len(reqs)) {
		wg.Go(func() {
			for !backingOff.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				results[i] = w.fetch(ctx, reqs[i], backOff)
			}
		})
	}
	wg.Wait()
	made := results[:0]
	for _, r := range results {
		if r.Outcome != "" {
			made = append(made, r)
		}
	}
	return made, backingOff.Load()
}

// fetch makes one request. Slowness stops the run as soon as the answer
// is late, not when it comes; the request itself goes on, so the reading
// the query service began is not wasted.
func (w *Warmer) fetch(ctx context.Context, req Request, backOff func()) KeyResult {
	start := time.Now()
	slow := time.AfterFunc(w.Slow, backOff)
	resp, err := w.Fetcher.Fetch(ctx, req)
	late := !slow.Stop()
	if late {
		backOff() // f may still be starting in its goroutine: make the stop certain before the run ends
	}
	r := KeyResult{Key: req.Key, Status: resp.Status, Cache: resp.Cache, Slow: late,
		Millis: float64(time.Since(start).Microseconds()) / 1000}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		r.Outcome = Canceled
	case err != nil:
		r.Outcome, r.Error = Failed, err.Error()
		backOff() // the query service does not answer: asking more adds nothing
	default:
		r.Outcome = resp.Outcome
		if resp.Overloaded {
			backOff()
		}
	}
	r.etag = req.ETag
	if r.Outcome == Fresh || r.Outcome == Warmed || r.Outcome == Bypass {
		r.etag = resp.ETag
	}
	return r
}

// remember keeps the tags of the keys just ranked, and only those, so the
// memory is bounded by Top.
func (w *Warmer) remember(ranked []popularity.Query, results []KeyResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tags := make(map[string]string, len(ranked))
	for _, q := range ranked {
		if t, ok := w.tags[q.Key]; ok {
			tags[q.Key] = t
		}
	}
	for _, r := range results {
		if r.etag == "" {
			delete(tags, r.Key)
		} else {
			tags[r.Key] = r.etag
		}
	}
	w.tags = tags
}

func (w *Warmer) record(run Run) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.history) == historySize {
		w.history = append(w.history[:0], w.history[1:]...)
	}
	w.history = append(w.history, run)
}

// Runs returns the reports of the last runs, newest first.
func (w *Warmer) Runs() []Run {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Run, len(w.history))
	for i, r := range w.history {
		out[len(out)-1-i] = r
	}
	return out
}

func (w *Warmer) tracer() trace.Tracer {
	if w.Tracer == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return w.Tracer
}
