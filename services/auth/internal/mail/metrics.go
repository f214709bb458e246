package mail

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The outcomes of handling a task, counted by ihr_mail_tasks.
const (
	outcomeSent         = "sent"
	outcomeLogged       = "logged" // dev mode without SMTP server
	outcomeRetried      = "retried"
	outcomeDeadLettered = "dead_lettered"
	outcomeDuplicate    = "duplicate" // sent before, its acknowledgement lost
)

type metrics struct {
	tasks    metric.Int64Counter
	duration metric.Float64Histogram
}

func newMetrics(m metric.Meter) (*metrics, error) {
	if m == nil {
		m = noop.NewMeterProvider().Meter("")
	}
	var x metrics
	var err error
	if x.tasks, err = m.Int64Counter("ihr_mail_tasks",
		metric.WithDescription("Mail tasks handled, by kind and outcome: sent, logged (dev), retried, dead_lettered, duplicate.")); err != nil {
		return nil, err
	}
	if x.duration, err = m.Float64Histogram("ihr_mail_send_duration", metric.WithUnit("s"),
		metric.WithDescription("Time to send one mail by SMTP, connection to acceptance, by kind and result (ok, error)."),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, err
	}
	return &x, nil
}

func (m *metrics) count(kind, outcome string) {
	m.tasks.Add(context.Background(), 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("outcome", outcome)))
}

func (m *metrics) took(kind string, ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.duration.Record(context.Background(), d.Seconds(), metric.WithAttributes(attribute.String("kind", kind), attribute.String("result", result)))
}
