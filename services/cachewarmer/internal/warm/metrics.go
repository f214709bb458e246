package warm

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the warmer's instruments.
type Metrics struct {
	runs, requests metric.Int64Counter
	seconds        metric.Float64Histogram
	last           atomic.Int64 // the last run's end, Unix nanoseconds; 0 before the first
}

// NewMetrics registers the warmer's instruments on m.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	var x Metrics
	var err1, err2, err3, err4 error
	x.runs, err1 = m.Int64Counter("ihr_warm_runs",
		metric.WithDescription("Warm runs, by trigger (event, schedule) and outcome (done, empty, budget, deadline, backed_off, canceled)."))
	x.requests, err2 = m.Int64Counter("ihr_warm_requests",
		metric.WithDescription("Warm requests to the query service, by outcome (fresh, warmed, bypass, failed, canceled)."))
	x.seconds, err3 = m.Float64Histogram("ihr_warm_run_seconds", metric.WithDescription("Duration of warm runs, by trigger."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60))
	_, err4 = m.Float64ObservableGauge("ihr_warm_last_run_timestamp_seconds",
		metric.WithDescription("When the last warm run ended (Unix time); absent before the first."),
		metric.WithUnit("s"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			if ns := x.last.Load(); ns > 0 {
				o.Observe(float64(ns) / 1e9)
			}
			return nil
		}))
	return &x, errors.Join(err1, err2, err3, err4)
}

func (m *Metrics) run(ctx context.Context, r Run) {
	if m == nil {
		return
	}
	// Recorded even when ctx is done: a run cut by shutdown still happened.
	ctx = context.WithoutCancel(ctx)
	trigger := attribute.String("trigger", string(r.Trigger))
	m.runs.Add(ctx, 1, metric.WithAttributes(trigger, attribute.String("outcome", string(r.Outcome))))
	m.seconds.Record(ctx, r.Seconds, metric.WithAttributes(trigger))
	for _, o := range outcomes {
		if n := r.Counts[o]; n > 0 {
			m.requests.Add(ctx, int64(n), metric.WithAttributes(attribute.String("outcome", string(o))))
		}
	}
	m.last.Store(time.Now().UnixNano())
}
