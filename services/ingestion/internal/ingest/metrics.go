package ingest

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics counts what ingestion does, per dataset.
type Metrics struct {
	rows       metric.Int64Counter
	bins       metric.Int64Counter
	invalid    metric.Int64Counter
	incomplete metric.Int64Counter
}

// NewMetrics creates the ingestion instruments.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	var x Metrics
	var err error
	if x.rows, err = m.Int64Counter("ihr_ingest_rows", metric.WithDescription("Rows committed.")); err != nil {
		return nil, err
	}
	if x.bins, err = m.Int64Counter("ihr_ingest_bins", metric.WithDescription("Bins handled, by outcome: committed, replaced, duplicate.")); err != nil {
		return nil, err
	}
	if x.invalid, err = m.Int64Counter("ihr_ingest_invalid_messages", metric.WithDescription("Messages rejected as invalid (sent to the DLQ).")); err != nil {
		return nil, err
	}
	if x.incomplete, err = m.Int64Counter("ihr_ingest_incomplete_bins", metric.WithDescription("Runs given up as incomplete after the wait.")); err != nil {
		return nil, err
	}
	return &x, nil
}

func dataset(name string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("dataset", name))
}

// Committed counts a handled bin.
func (m *Metrics) Committed(name string, c Commit) {
	outcome := "committed"
	switch {
	case c.Duplicate:
		outcome = "duplicate"
	case c.Result.Replaced:
		outcome = "replaced"
	}
	ctx := context.Background()
	m.bins.Add(ctx, 1, metric.WithAttributes(attribute.String("dataset", name), attribute.String("outcome", outcome)))
	if !c.Duplicate {
		m.rows.Add(ctx, int64(c.Result.RowCount), dataset(name))
	}
}

// Invalid counts a rejected message.
func (m *Metrics) Invalid(name string) { m.invalid.Add(context.Background(), 1, dataset(name)) }

// Incomplete counts a run given up as incomplete.
func (m *Metrics) Incomplete(name string) { m.incomplete.Add(context.Background(), 1, dataset(name)) }
