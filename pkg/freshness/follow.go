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
	"github.com/nats-io/nats.go/jetstream"
)

// Follower keeps a Log up to date from the results stream. It replays the
// stream from its first event when it starts, so answers cached by other
// processes (Redis) can be checked too, then follows it. Every process
// that caches follows the stream itself, with an ordered consumer of its own.
type Follower struct {
	Bus    *natsx.Bus
	Log    *Log
	Logger *slog.Logger
	// OnChange, when set, is called with each change once the log holds it, in stream order.
	OnChange func(context.Context, *Change)
	// Tick is how often the follower checks it keeps up (1 s when 0).
	Tick time.Duration

	target atomic.Uint64 // the stream's last sequence when following began
}

// Run follows the stream until ctx is done, following again after failures.
func (f *Follower) Run(ctx context.Context) {
	for delay := time.Second; ctx.Err() == nil; delay = min(2*delay, 30*time.Second) {
		err := f.follow(ctx)
		f.Log.healthy.Store(false)
		if ctx.Err() != nil {
			return
		}
		f.Logger.Warn("follow results", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

// errRecreated stops following a stream that was deleted and made again:
// its sequences start over, so the log starts over too.
var errRecreated = errors.New("results stream recreated")

func (f *Follower) follow(ctx context.Context) error {
	name := f.Bus.StreamName(natsx.StreamResults)
	stream, err := f.Bus.JS.Stream(ctx, name)
	if err != nil {
		return err
	}
	info := stream.CachedInfo()
	identity := name + "@" + info.Created.UTC().Format(time.RFC3339Nano)
	if f.Log.Identity() != identity {
		f.Log.reset(identity)
		f.Log.Start(max(info.State.FirstSeq, 1) - 1)
	}
	f.target.Store(info.State.LastSeq)
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
	// Heard here as they are published, changes count before the stream
	// delivers them: the barrier of Log.Sync.
	b := newBarrier(f.Bus.Conn, f.Log)
	sub, err := f.Bus.Conn.ChanSubscribe(f.Bus.Subject("ihr.results.>"), b.in)
	if err != nil {
		return err
	}
	f.Log.barrier.Store(b)
	defer func() {
		f.Log.barrier.Store(nil)
		_ = sub.Unsubscribe()
	}()
	f.Logger.Info("following results", "stream", name, "from", f.Log.Position()+1, "last", info.State.LastSeq)
	return f.watch(ctx, stream, identity, b)
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
	f.Log.Apply(c)
	f.caughtUp()
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

// watch checks every tick that the connection holds and that the log keeps
// up: it must have reached the stream's end of the previous tick.
func (f *Follower) watch(ctx context.Context, stream jetstream.Stream, identity string, b *barrier) error {
	tick := f.Tick
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	prevLast := f.target.Load()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
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
		pos := f.Log.Position()
		f.Log.healthy.Store(pos >= prevLast)
		if pos >= info.State.LastSeq {
			f.Log.ready.Store(true)
		}
		prevLast = info.State.LastSeq
	}
}
