package kafkabridge

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics counts what the bridge does, per topic.
type Metrics struct {
	messages metric.Int64Counter
	bins     metric.Int64Counter
	dropped  metric.Int64Counter
}

// NewMetrics creates the bridge's instruments.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	var x Metrics
	var err error
	if x.messages, err = m.Int64Counter("ihr_kafka_bridge_messages", metric.WithDescription("Kafka messages consumed.")); err != nil {
		return nil, err
	}
	if x.bins, err = m.Int64Counter("ihr_kafka_bridge_bins", metric.WithDescription("Bins published on JetStream (one per address family).")); err != nil {
		return nil, err
	}
	if x.dropped, err = m.Int64Counter("ihr_kafka_bridge_rows_dropped",
		metric.WithDescription("Messages not published, by reason: undecodable, filtered (IHR's sink rules), invalid, duplicate, misaligned, late.")); err != nil {
		return nil, err
	}
	return &x, nil
}

func topic(name string) attribute.KeyValue { return attribute.String("topic", name) }

func (m *Metrics) consumed(name string, n int) {
	m.messages.Add(context.Background(), int64(n), metric.WithAttributes(topic(name)))
}

func (m *Metrics) published(name, dataset string) {
	m.bins.Add(context.Background(), 1, metric.WithAttributes(topic(name), attribute.String("dataset", dataset)))
}

func (m *Metrics) drop(name, reason string, n int) {
	if n > 0 {
		m.dropped.Add(context.Background(), int64(n), metric.WithAttributes(topic(name), attribute.String("reason", reason)))
	}
}
