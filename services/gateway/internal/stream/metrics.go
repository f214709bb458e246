package stream

import (
	"context"
	"errors"

	"github.com/ihr-go/ihr/pkg/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics are the streams' instruments.
type Metrics struct {
	open       metric.Int64UpDownCounter
	events     metric.Int64Counter
	ends       metric.Int64Counter
	transports telemetry.AttrSets[string]
	reasons    telemetry.AttrSets[[2]string]
}

// NewMetrics registers the instruments on m, with gauges of what h holds.
func NewMetrics(m metric.Meter, h *Hub) (*Metrics, error) {
	open, err1 := m.Int64UpDownCounter("ihr_stream_subscribers", metric.WithDescription("Streams open, by transport (sse, ws)."))
	events, err2 := m.Int64Counter("ihr_stream_events_sent", metric.WithDescription("Results events sent to subscribers, by transport."))
	ends, err3 := m.Int64Counter("ihr_stream_closed", metric.WithDescription(
		"Streams ended, by transport and reason: client_left, slow_consumer, credentials_refused, forbidden, unavailable, shutdown, error."))
	_, err4 := m.Int64ObservableGauge("ihr_stream_buffered_events", metric.WithDescription("Results events the gateway holds for live subscribers."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			first, next := h.bounds()
			o.Observe(int64(next - first))
			return nil
		}))
	x := &Metrics{open: open, events: events, ends: ends}
	x.transports.Make = func(t string) []attribute.KeyValue { return []attribute.KeyValue{attribute.String("transport", t)} }
	x.reasons.Make = func(k [2]string) []attribute.KeyValue {
		return []attribute.KeyValue{attribute.String("transport", k[0]), attribute.String("reason", k[1])}
	}
	return x, errors.Join(err1, err2, err3, err4)
}

func (m *Metrics) opened(ctx context.Context, transport string) {
	m.open.Add(ctx, 1, m.transports.Of(transport))
}

func (m *Metrics) sent(ctx context.Context, transport string) {
	m.events.Add(ctx, 1, m.transports.Of(transport))
}

func (m *Metrics) closed(ctx context.Context, transport, reason string) {
	m.open.Add(ctx, -1, m.transports.Of(transport))
	m.ends.Add(ctx, 1, m.reasons.Of([2]string{transport, reason}))
}
