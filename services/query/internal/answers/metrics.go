package answers

import (
	"context"
	"errors"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/telemetry"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the cache's instruments.
type Metrics struct {
	lookups, invalidations, errors, materialized metric.Int64Counter
	fills                                        metric.Float64Histogram
	tiers                                        telemetry.AttrSets[[2]string] // {endpoint, tier}
}

// NewMetrics registers the cache's instruments on m, with gauges of what
// l1 holds and of the log's position.
func NewMetrics(m metric.Meter, l1 *cache.LRU, log *freshness.Log) (*Metrics, error) {
	var x Metrics
	x.tiers.Make = func(k [2]string) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("endpoint", k[0]), attribute.String("tier", k[1])}
	}
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, desc string, value func() int64) {
		_, err := m.Int64ObservableGauge(name, metric.WithDescription(desc),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(value()); return nil }))
		errs = append(errs, err)
	}
	x.lookups = counter("ihr_cache_lookups", "Answers by endpoint and where they came from: l1, l2, miss (read from the database) or bypass (cache not usable).")
	x.invalidations = counter("ihr_cache_invalidations", "Cached answers found stale (a change since they were read can alter them), by endpoint and tier.")
	x.errors = counter("ihr_cache_errors", "Failed calls to the shared tier (Redis), by operation.")
	x.materialized = counter("ihr_cache_materializations", "Answers read again ahead of requests after a change, by endpoint and outcome.")
	var err error
	x.fills, err = m.Float64Histogram("ihr_cache_fill_seconds", metric.WithDescription("Time to read an answer missing from the cache, by endpoint."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30))
	errs = append(errs, err)
	gauge("ihr_cache_bytes", "Bytes held by the in-process tier.", l1.Bytes)
	gauge("ihr_cache_entries", "Answers held by the in-process tier.", l1.Len)
	gauge("ihr_cache_stream_position", "Sequence of the last results event applied to the change log.",
		func() int64 { return int64(log.Position()) })
	gauge("ihr_cache_following", "1 when the results stream is followed and the log keeps up; 0 when cached answers fall back to a short lifetime.",
		func() int64 {
			if log.Healthy() {
				return 1
			}
			return 0
		})
	return &x, errors.Join(errs...)
}

func endpointAttr(q *endpoint.Query) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("endpoint", q.Endpoint.Path))
}

func (m *Metrics) lookup(ctx context.Context, q *endpoint.Query, tier string) {
	m.lookups.Add(ctx, 1, m.tiers.Of([2]string{q.Endpoint.Path, tier}))
}

func (m *Metrics) invalidated(ctx context.Context, q *endpoint.Query, tier string) {
	m.invalidations.Add(ctx, 1, m.tiers.Of([2]string{q.Endpoint.Path, tier}))
}

func (m *Metrics) read(ctx context.Context, q *endpoint.Query, d time.Duration) {
	m.fills.Record(ctx, d.Seconds(), endpointAttr(q))
}

// Error counts a failed call to the shared tier.
func (m *Metrics) Error(op string) {
	m.errors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("op", op)))
}

func (m *Metrics) materialization(ctx context.Context, q *endpoint.Query, outcome string) {
	m.materialized.Add(ctx, 1, metric.WithAttributes(attribute.String("endpoint", q.Endpoint.Path), attribute.String("outcome", outcome)))
}
