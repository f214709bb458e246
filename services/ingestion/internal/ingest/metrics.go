package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics counts what ingestion does, per dataset.
type Metrics struct {
	rows       metric.Int64Counter
	bins       metric.Int64Counter
	invalid    metric.Int64Counter
	incomplete metric.Int64Counter
	messages   metric.Int64Counter
	commit     metric.Float64Histogram

	mu     sync.Mutex
	newest map[datasetAF]time.Time
}

type datasetAF struct {
	dataset string
	af      int
}

// NewMetrics creates the ingestion instruments.
func NewMetrics(m metric.Meter) (*Metrics, error) {
	x := Metrics{newest: map[datasetAF]time.Time{}}
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
	if x.messages, err = m.Int64Counter("ihr_ingest_messages", metric.WithDescription("Ingest messages handled, by outcome: acked, retried, dead_lettered.")); err != nil {
		return nil, err
	}
	if x.commit, err = m.Float64Histogram("ihr_ingest_commit_duration", metric.WithUnit("s"),
		metric.WithDescription("Time to commit a bin (load the staged rows, write, record), by dataset."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)); err != nil {
		return nil, err
	}
	newest, err := m.Float64ObservableGauge("ihr_ingest_newest_bin_timestamp", metric.WithUnit("s"),
		metric.WithDescription("Time bin of the newest committed bin, by dataset and af: the data is final up to there."))
	if err != nil {
		return nil, err
	}
	// With the newest bin, how old it may grow: a dataset binned by the
	// week is not late after an hour.
	binSize, err := m.Int64ObservableGauge("ihr_ingest_bin_size", metric.WithUnit("s"),
		metric.WithDescription("Length of a time bin of the dataset, as declared."))
	if err != nil {
		return nil, err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		x.mu.Lock()
		defer x.mu.Unlock()
		for k, t := range x.newest {
			o.ObserveFloat64(newest, float64(t.Unix()), metric.WithAttributes(attribute.String("dataset", k.dataset), attribute.Int("af", k.af)))
		}
		for _, d := range events.Datasets() {
			o.ObserveInt64(binSize, int64(d.BinSeconds), dataset(d.Name))
		}
		return nil
	}, newest, binSize)
	return &x, err
}

func dataset(name string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("dataset", name))
}

// Committed counts a handled bin, and moves the newest bin forward.
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
	m.Newest(name, c.Result.AF, c.Result.Timebin)
}

// Newest records a committed bin's time if it is the newest of its dataset and af.
func (m *Metrics) Newest(name string, af int, timebin time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := datasetAF{name, af}
	if timebin.After(m.newest[k]) {
		m.newest[k] = timebin
	}
}

// CommitTook records how long a bin's commit took.
func (m *Metrics) CommitTook(name string, d time.Duration) {
	m.commit.Record(context.Background(), d.Seconds(), dataset(name))
}

// Message counts a handled message by outcome.
func (m *Metrics) Message(name, outcome string) {
	m.messages.Add(context.Background(), 1, metric.WithAttributes(attribute.String("dataset", name), attribute.String("outcome", outcome)))
}

// Invalid counts a rejected message.
func (m *Metrics) Invalid(name string) { m.invalid.Add(context.Background(), 1, dataset(name)) }

// Incomplete counts a run given up as incomplete.
func (m *Metrics) Incomplete(name string) { m.incomplete.Add(context.Background(), 1, dataset(name)) }
