// Package alerts hands the results events of alarm datasets to the alert
// mails (app.Service.Alert), from a durable consumer of the results stream
// that starts with the events published after it was first made.
package alerts

import (
	"context"
	"log/slog"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
)

// Durable names the consumer.
const Durable = "auth-alerts"

// Alerter mails the alerts of a results event.
type Alerter interface {
	Alert(ctx context.Context, res *events.Result) error
}

// Consumer feeds Alerter.
type Consumer struct {
	Bus     *natsx.Bus
	Alerter Alerter
	Log     *slog.Logger
}

// Run consumes until ctx is done, attaching again after failures.
func (c *Consumer) Run(ctx context.Context) {
	natsx.Retry(ctx, c.Log, "alert consumer", c.consume)
}

func (c *Consumer) consume(ctx context.Context) error {
	cons, err := c.Bus.JS.CreateOrUpdateConsumer(ctx, c.Bus.StreamName(natsx.StreamResults), jetstream.ConsumerConfig{
		Durable:       Durable,
		Description:   "auth: mails alarms of monitored networks",
		FilterSubject: c.Bus.Subject("ihr.results.>"),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxDeliver:    -1,
	})
	if err != nil {
		return err
	}
	return natsx.ConsumeUntil(ctx, cons, func(m jetstream.Msg) { c.handle(ctx, m) })
}

func (c *Consumer) handle(ctx context.Context, m jetstream.Msg) {
	res, err := events.DecodeResult(m.Data())
	if err != nil {
		c.Log.Warn("undecodable results event, skipped", "subject", m.Subject(), "err", err)
		_ = m.Term()
		return
	}
	if err := c.Alerter.Alert(ctx, res); err != nil {
		meta, _ := m.Metadata()
		delay := time.Second
		if meta != nil {
			delay = min(time.Duration(1<<min(meta.NumDelivered, 8))*time.Second, 5*time.Minute)
		}
		c.Log.Warn("alert mails failed, will retry", "dataset", res.Dataset, "timebin", res.Timebin, "err", err, "retry_in", delay.String())
		_ = m.NakWithDelay(delay)
		return
	}
	_ = m.Ack()
}
