package ratelimit

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the limiter's instruments.
type metrics struct {
	rejections metric.Int64Counter
	failures   metric.Int64Counter
}

func newMetrics(m metric.Meter, l *Limiter) (metrics, error) {
	rejections, err1 := m.Int64Counter("ihr_ratelimit_rejections", metric.WithDescription(
		"Requests refused by the rate limiter, by role and by the limit that refused them (second or day)."))
	failures, err2 := m.Int64Counter("ihr_ratelimit_sync_failures", metric.WithDescription(
		"Flushes of the daily counts that Redis did not take; local counts decide until one succeeds."))
	_, err3 := m.Int64ObservableGauge("ihr_ratelimit_keys", metric.WithDescription("Clients the rate limiter holds state for."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(int64(l.Keys())); return nil }))
	return metrics{rejections: rejections, failures: failures}, errors.Join(err1, err2, err3)
}

// rejectedAs is the option that records a rejection of role by lim, made
// once: building attributes per request costs more than the measurement.
func (m metrics) rejectedAs(role string, lim Limit) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("role", role), attribute.String("limit", lim.String())))
}

func (m metrics) reject(opt metric.MeasurementOption) {
	m.rejections.Add(context.Background(), 1, opt)
}

func (m metrics) syncFailed() {
	m.failures.Add(context.Background(), 1)
}
