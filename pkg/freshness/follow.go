package freshness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Follower keeps a Log up to date from the results stream. It replays the
// stream from its first event when it starts, so answers cached by other
// processes (Redis) can be checked too, then follows it. Every process
// that caches follows the stream itself, with an ordered consumer of its own.
type Follower struct {
	Bus    *natsx.Bus
	Log    *Log
	Logger *slog.Logger
	// OnChange, when set, is called with each change once the log holds it,
	// in stream order, within the span of applying it when there is one.
	OnChange func(context.Context, *Change)
	// Tracer, when set, makes a span of applying each event received once
	// the log is ready (not of those replayed at start), in the trace that
	// published it; Propagator reads that trace from the event's headers.
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator

	target atomic.Uint64 // the stream's last sequence when following began
}

// Run follows the stream until ctx is done, following again after failures.
func (f *Follower) Run(ctx context.Context) {
	natsx.Retry(ctx, f.Logger, "follow results", func(ctx context.Context) error {
		defer f.Log.healthy.Store(false)
		return f.follow(ctx)
	})
}

// errRecreated stops following a stream that was deleted and made again:
// its sequences start over, so the log starts over too.
var errRecreated = errors.New("results stream recreated")

func (f *Follower) follow(ctx context.Context) error {
	// Heard here before the stream stores them (ingestion announces each
	// results event first), changes count before the stream delivers
	// them: the barrier of Log.Sync. Subscribed first, so that every event
	// it misses is in the stream info read next.
	b := newBarrier(f.Bus.Conn, f.Log)
	sub, err := f.Bus.Conn.ChanSubscribe(f.Bus.Subject("ihr.announce.>"), b.in)
	if err != nil {
		return err
	}
	defer func() {
		f.Log.barrier.Store(nil)
		_ = sub.Unsubscribe()
	}()
	name := f.Bus.StreamName(natsx.StreamResults)
	stream, err := f.Bus.JS.Stream(ctx, name)
	if err != nil {
		return err
	}
	info := stream.CachedInfo()
	identity := name + "@" + info.Created.UTC().Format(time.RFC3339Nano)
	if f.Log.Identity() != identity {
		f.Log.reset(identity)
	}
	// What the stream no longer holds cannot be checked (a no-op when the
	// log is past it).
	f.Log.Start(max(info.State.FirstSeq, 1) - 1)
	f.target.Store(info.State.LastSeq)
	f.Log.barrier.Store(b)
	f.caughtUp()
	cons, err := f.Bus.JS.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{f.Bus.Subject("ihr.results.>")},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    f.Log.Position() + 1,
	})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) { f.receive(ctx, m) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			f.Log.healthy.Store(false)
			f.Logger.Warn("results consumer", "err", err)
		}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	f.Logger.Info("following results", "stream", name, "from", f.Log.Position()+1, "last", info.State.LastSeq)
	return f.watch(ctx, stream, identity, b, sub)
}

func (f *Follower) receive(ctx context.Context, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	res, err := events.DecodeResult(m.Data())
	if err != nil {
		f.Logger.Warn("undecodable results event: every cached answer before it is dropped", "subject", m.Subject(), "err", err)
		f.Log.Unknown(meta.Sequence.Stream)
		return
	}
	c := FromResult(meta.Sequence.Stream, m.Headers().Get(jetstream.MsgIDHeader), res)
	if f.Tracer != nil && f.Log.Ready() {
		var span trace.Span
		ctx, span = natsx.StartConsume(ctx, f.Tracer, f.Propagator, m.Subject(), m.Headers())
		span.SetAttributes(attribute.Int64("messaging.nats.stream.sequence", int64(c.Seq)))
		defer span.End()
	}
	f.Log.Apply(c)
	if !f.Log.Ready() { // after that, watch alone says whether the log keeps up
		f.caughtUp()
	}
	if f.OnChange != nil {
		f.OnChange(ctx, c)
	}
}

// caughtUp marks the log ready and healthy once it reached the stream's
// end as it was when following began.
func (f *Follower) caughtUp() {
	if f.Log.Position() >= f.target.Load() {
		f.Log.ready.Store(true)
		f.Log.healthy.Store(true)
	}
}

// tick is how often the follower checks that it keeps up.
const tick = time.Second

// announceMargin is how much longer than the stream needs to store an
// event an announcement is kept: past it, an event not applied was never
// stored (its announcement then only costs answers read again meanwhile).
const announceMargin = 10 * time.Second

// watch checks every tick that the connection holds and that the log keeps
// up: it must have reached the stream's end of the previous tick, and the
// plain subscription must have dropped nothing (a slow consumer), since a
// dropped announcement breaks Sync's promise until the log catches up.
// Once the log holds the stream's end as read at a tick, announcements
// heard well before that tick are done with.
func (f *Follower) watch(ctx context.Context, stream jetstream.Stream, identity string, b *barrier, sub *nats.Subscription) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	prevLast, prevAt := f.target.Load(), time.Now()
	dropped, _ := sub.Dropped()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		at := time.Now()
		b.drain() // reads drain it too; this keeps it from filling when none come
		if !f.Bus.Conn.IsConnected() {
			f.Log.healthy.Store(false)
			continue
		}
		ictx, cancel := context.WithTimeout(ctx, tick)
		info, err := stream.Info(ictx)
		cancel()
		if err != nil {
			f.Log.healthy.Store(false)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return errRecreated
			}
			continue
		}
		if name := stream.CachedInfo().Config.Name; name+"@"+info.Created.UTC().Format(time.RFC3339Nano) != identity {
			return fmt.Errorf("%w: %s", errRecreated, name)
		}
		now, _ := sub.Dropped()
		pos := f.Log.Position()
		f.Log.healthy.Store(pos >= prevLast && now == dropped)
		if pos >= prevLast {
			// With a margin: a plain subscriber hears of an event a little
			// before the stream stores it.
			f.Log.Expire(prevAt.Add(-announceMargin))
		}
		if pos >= info.State.LastSeq {
			f.Log.ready.Store(true)
		}
		prevLast, prevAt, dropped = info.State.LastSeq, at, now
	}
}
