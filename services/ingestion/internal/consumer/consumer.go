// Package consumer feeds ingest messages from JetStream to the ingest use
// case, and acknowledges each according to the outcome.
//
// It uses nats.go's jetstream package rather than a watermill router:
// acknowledging depends on the outcome class (ack, Term + DLQ, Nak with a
// delay that depends on the delivery count and the message's age), which
// watermill's ack-on-return model cannot express; and the watermill release
// served here is flagged as unapproved. Recovery, tracing and retries are
// done once here, around every handler.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/services/ingestion/internal/ingest"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Handler processes one message body.
type Handler func(ctx context.Context, data []byte) error

const (
	// pullBytes bounds the messages fetched ahead: counted in messages,
	// 200 batches of up to 1 MB overflowed the client's buffer (slow
	// consumer) and came back only after the ack wait.
	pullBytes   = 16 << 20
	maxNakDelay = 30 * time.Second
	// maxServerErrors is how many times the database may refuse a message
	// before it is dead-lettered.
	maxServerErrors = 10
	baseNakDelay    = 100 * time.Millisecond
)

// Consumer runs one durable pull consumer on the ingest stream.
type Consumer struct {
	Bus     *natsx.Bus
	Durable string
	// Dataset selects the subjects ihr.ingest.<Dataset>.>; Routes maps their
	// last token ("rows", "bin") to handlers.
	Dataset string
	Routes  map[string]Handler
	// Holder, for binned datasets, lets workers hold a bin's batches in
	// memory until its bin message (nil: every batch is staged).
	Holder Holder
	// BinWait is how long a bin may wait for missing batches before it is
	// dead-lettered as incomplete.
	BinWait time.Duration
	// Workers is how many bins are handled at once.
	Workers int
	// AckWait is how long a message a crashed instance held waits before
	// it is delivered again; handling keeps it with InProgress.
	AckWait    time.Duration
	Log        *slog.Logger
	Metrics    *ingest.Metrics
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// Run consumes until ctx is done, then finishes the message in hand. While
// NATS is unreachable it keeps trying to attach.
func (c *Consumer) Run(ctx context.Context) error {
	var cons jetstream.Consumer
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		var err error
		cons, err = c.Bus.JS.CreateOrUpdateConsumer(ctx, c.Bus.StreamName(natsx.StreamIngest), jetstream.ConsumerConfig{
			Durable:       c.Durable,
			FilterSubject: c.Bus.Subject("ihr.ingest." + c.Dataset + ".>"),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       c.AckWait,
			MaxDeliver:    -1, // we decide when a message is given up: see handle
			MaxAckPending: 1000,
		})
		if err == nil {
			break
		}
		c.Log.Warn("attach the ingest consumer", "durable", c.Durable, "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
	// Messages of one bin go to one worker, in order (see router);
	// different bins are staged and committed in parallel.
	queues := make([]chan jetstream.Msg, max(1, c.Workers))
	r := newRouter(len(queues), func(i int) int { return len(queues[i]) })
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan jetstream.Msg, 64)
		wg.Go(func() { c.work(ctx, queues[i], r) })
	}
	defer func() {
		for _, q := range queues {
			close(q)
		}
		wg.Wait()
	}()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		queues[r.route(m.Headers().Get(jetstream.MsgIDHeader))] <- m
	}, jetstream.PullMaxBytes(pullBytes))
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.Durable, err)
	}
	c.Log.Info("consuming", "durable", c.Durable, "dataset", c.Dataset, "workers", len(queues))
	<-ctx.Done()
	cc.Drain()
	<-cc.Closed()
	return nil
}

// work handles a worker's queue until it is closed. Batches are held in
// memory until their bin message when they can be (see hold); held
// batches whose bin message is late are staged.
func (c *Consumer) work(ctx context.Context, queue <-chan jetstream.Msg, r *router) {
	h := newHold(c, r)
	ctx = context.WithoutCancel(ctx) // finish what is in hand on shutdown
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case m, ok := <-queue:
			if !ok {
				h.flushOld(ctx, 0)
				return
			}
			if !h.take(ctx, m) {
				c.handle(ctx, m)
				r.done(m.Headers().Get(jetstream.MsgIDHeader))
			}
		case <-tick.C:
			h.flushOld(ctx, holdAge)
		}
	}
}

// span starts the span of handling m, in the trace its producer began,
// linked to the messages handled with it.
func (c *Consumer) span(ctx context.Context, m jetstream.Msg, with ...trace.Link) (context.Context, trace.Span) {
	return natsx.StartConsume(context.WithoutCancel(ctx), c.Tracer, c.Propagator, m.Subject(), m.Headers(), with...)
}

func (c *Consumer) handle(ctx context.Context, m jetstream.Msg) {
	ctx, span := c.span(ctx, m)
	defer span.End()

	stop := natsx.KeepInProgress(m, c.AckWait/3)
	err := c.dispatch(ctx, m)
	stop()
	meta, _ := m.Metadata()
	switch {
	case err == nil:
		c.Metrics.Message(c.Dataset, "acked")
		c.ack(ctx, m)
	case events.IsInvalid(err):
		span.SetStatus(codes.Error, err.Error())
		c.deadLetter(ctx, m, meta, err)
	case poison(err) && meta != nil && meta.NumDelivered >= maxServerErrors:
		// The database keeps refusing this message (not an outage: it answers).
		c.deadLetter(ctx, m, meta, fmt.Errorf("failed %d times: %w", meta.NumDelivered, err))
	case ingest.IsIncomplete(err) && meta != nil && time.Since(meta.Timestamp) > c.BinWait:
		c.Log.WarnContext(ctx, "bin still incomplete, giving up", "subject", m.Subject(), "err", err, "waited", time.Since(meta.Timestamp).Round(time.Second).String())
		c.deadLetter(ctx, m, meta, err)
	default:
		outcome := "waiting" // for the rest of its bin
		if !ingest.IsIncomplete(err) {
			outcome = "retried"
			span.SetStatus(codes.Error, err.Error())
			c.Log.WarnContext(ctx, "ingest failed, will retry", "subject", m.Subject(), "msg_id", m.Headers().Get(jetstream.MsgIDHeader), "err", err)
		}
		c.Metrics.Message(c.Dataset, outcome)
		c.nak(ctx, m, meta)
	}
}

// poison reports an error the database answered with (a constraint, a bad
// value): retrying cannot be expected to help for ever. Connection errors
// and timeouts are outages: those messages wait as long as it takes.
func poison(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code != "57014" && !strings.HasPrefix(pgErr.Code, "08") &&
		!strings.HasPrefix(pgErr.Code, "53") && !strings.HasPrefix(pgErr.Code, "57P") && pgErr.Code != "40001" && pgErr.Code != "40P01"
}

// dispatch runs the handler of the message's subject, turning a panic into
// an invalid message so it cannot crash the consumer again and again.
func (c *Consumer) dispatch(ctx context.Context, m jetstream.Msg) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.Log.ErrorContext(ctx, "panic in ingest handler", "subject", m.Subject(), "panic", p)
			err = &events.Invalid{Reason: fmt.Sprintf("handler panic: %v", p)}
		}
	}()
	kind := m.Subject()[strings.LastIndexByte(m.Subject(), '.')+1:]
	h, ok := c.Routes[kind]
	if !ok {
		return &events.Invalid{Reason: "no handler for subject " + m.Subject()}
	}
	return h(ctx, m.Data())
}

func (c *Consumer) ack(ctx context.Context, m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		// Not acknowledged: the message comes back and is recognised as done.
		c.Log.WarnContext(ctx, "ack failed", "subject", m.Subject(), "err", err)
	}
}

func (c *Consumer) nak(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata) {
	delay := maxNakDelay
	if meta != nil && meta.NumDelivered < 20 {
		delay = min(maxNakDelay, baseNakDelay<<(meta.NumDelivered-1))
	}
	if err := m.NakWithDelay(delay); err != nil {
		c.Log.WarnContext(ctx, "nak failed", "subject", m.Subject(), "err", err)
	}
}

// deadLetter copies the message to the DLQ with the reason, then terminates
// it. If the DLQ cannot take it, the message is retried instead: never lost.
func (c *Consumer) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, cause error) {
	dl := natsx.DeadLetter(ctx, c.Propagator, c.Bus.Subject(events.DLQSubject), c.Durable, m, cause)
	if _, err := c.Bus.JS.PublishMsg(ctx, dl); err != nil {
		c.Log.ErrorContext(ctx, "dead-letter failed, will retry", "subject", m.Subject(), "err", errors.Join(cause, err))
		c.nak(ctx, m, meta)
		return
	}
	c.Metrics.Message(c.Dataset, "dead_lettered")
	c.Log.WarnContext(ctx, "message dead-lettered", "subject", m.Subject(), "msg_id", m.Headers().Get(jetstream.MsgIDHeader), "reason", cause.Error())
	if err := m.Term(); err != nil {
		c.Log.WarnContext(ctx, "term failed", "subject", m.Subject(), "err", err)
	}
}

// Publisher publishes results events.
type Publisher struct {
	Bus        *natsx.Bus
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// PublishResult publishes r on ihr.results.<dataset>, de-duplicated by run.
func (p *Publisher) PublishResult(ctx context.Context, r events.Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// The announcement first: once the server has taken it (the flush), it
	// is on its way to every cache, which has heard back from the server
	// since within events.AnnounceLead before any read of a client who
	// learns of the event from the stream.
	announce := &nats.Msg{Subject: p.Bus.Subject(events.AnnounceSubject(r.Dataset)), Data: data, Header: nats.Header{}}
	announce.Header.Set(jetstream.MsgIDHeader, r.ResultMsgID())
	if err := p.Bus.Conn.PublishMsg(announce); err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	if err := p.Bus.Conn.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	lead := time.NewTimer(events.AnnounceLead)
	defer lead.Stop()
	select {
	case <-lead.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	msg := &nats.Msg{Subject: p.Bus.Subject(events.ResultsSubject(r.Dataset)), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, r.ResultMsgID())
	_, err = natsx.Publish(ctx, p.Bus.JS, p.Tracer, p.Propagator, msg)
	return err
}
