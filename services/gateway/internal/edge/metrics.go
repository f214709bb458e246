package edge

import (
	"context"
	"errors"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the edge cache's instruments.
type Metrics struct {
	lookups metric.Int64Counter
	fetches metric.Float64Histogram
	results telemetry.AttrSets[string]
}

// NewMetrics registers the instruments on m, with gauges of what l1 holds
// and of how far log follows the results stream.
func NewMetrics(m metric.Meter, l1 *cache.LRU, log *freshness.Log) (*Metrics, error) {
	lookups, err1 := m.Int64Counter("ihr_edge_lookups", metric.WithDescription(
		"Read requests by how the gateway answered: hit (from its cache), revalidated (kept after the query service confirmed it), "+
			"miss (fetched and kept), pass (not cacheable) or bypass (cache not usable)."))
	fetches, err2 := m.Float64Histogram("ihr_edge_fetch_seconds", metric.WithDescription("Time to fetch or revalidate an answer from the query service."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
	_, err3 := m.Int64ObservableGauge("ihr_edge_bytes", metric.WithDescription("Bytes held by the gateway's cache."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(l1.Bytes()); return nil }))
	_, err4 := m.Int64ObservableGauge("ihr_edge_entries", metric.WithDescription("Answers held by the gateway's cache."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(l1.Len()); return nil }))
	_, err5 := m.Int64ObservableGauge("ihr_edge_stream_position", metric.WithDescription("Sequence of the last results event the gateway applied."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(int64(log.Position())); return nil }))
	x := &Metrics{lookups: lookups, fetches: fetches}
	x.results.Make = func(r string) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("result", r)} }
	return x, errors.Join(err1, err2, err3, err4, err5)
}

func (m *Metrics) lookup(ctx context.Context, result string) {
	m.lookups.Add(ctx, 1, m.results.Of(result))
}

func (m *Metrics) fetched(ctx context.Context, d time.Duration) {
	m.fetches.Record(ctx, d.Seconds())
}
