// Package results follows the results stream: every query replica reads
// each results event itself (an ephemeral ordered consumer), so what it
// caches can follow the data. For now it logs and counts them.
package results

import (
	"context"
	"log/slog"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Follower reads new results events.
type Follower struct {
	Bus    *natsx.Bus
	Log    *slog.Logger
	Events metric.Int64Counter
	// Handle is called for each event, in stream order.
	Handle func(context.Context, *events.Result)
}

// Run follows the stream until ctx is done, re-attaching after failures.
func (f *Follower) Run(ctx context.Context) {
	for delay := time.Second; ctx.Err() == nil; delay = min(2*delay, 30*time.Second) {
		if err := f.follow(ctx); err != nil {
			f.Log.Warn("follow results", "err", err, "retry_in", delay.String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

func (f *Follower) follow(ctx context.Context) error {
	cons, err := f.Bus.JS.OrderedConsumer(ctx, f.Bus.StreamName(natsx.StreamResults), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{f.Bus.Subject("ihr.results.>")},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		res, err := events.DecodeResult(m.Data())
		if err != nil {
			f.Log.Warn("undecodable results event", "subject", m.Subject(), "err", err)
			return
		}
		f.Events.Add(ctx, 1, metric.WithAttributes(attribute.String("dataset", res.Dataset)))
		f.Log.Info("results event", "dataset", res.Dataset, "af", res.AF, "timebin", res.Timebin,
			"run_id", res.RunID, "rows", res.RowCount, "replaced", res.Replaced)
		if f.Handle != nil {
			f.Handle(ctx, res)
		}
	})
	if err != nil {
		return err
	}
	f.Log.Info("following results")
	<-ctx.Done()
	cc.Stop()
	return nil
}
