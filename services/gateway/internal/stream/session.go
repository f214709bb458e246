package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
)

// Config bounds and paces subscriptions.
type Config struct {
	// Buffer is how many events a live subscriber may be behind the newest
	// one before it is dropped as too slow.
	Buffer int
	// WriteTimeout is the longest one write to a subscriber may block.
	WriteTimeout time.Duration
	// SocketBuffer bounds the kernel's send buffer of a stream's
	// connection (0: the system's): what a subscriber that stopped reading
	// holds besides Buffer, and how soon its writes block.
	SocketBuffer int
	// Heartbeat is how often a quiet subscription says it is alive.
	Heartbeat time.Duration
	// Recheck is how often a subscriber's credentials are verified again,
	// so a revoked key or an expired token ends its streams.
	Recheck time.Duration
	// PerClient and Total cap the streams open at once.
	PerClient, Total int
}

// Sink is where a subscription's messages go: an SSE response or a WebSocket.
type Sink interface {
	Event(ctx context.Context, e *Event) error
	// Gap tells that events from to to were dropped by the stream before
	// they could be sent (retention): the subscriber must read them from the API.
	Gap(ctx context.Context, from, to uint64) error
	Heartbeat(ctx context.Context, head uint64) error
}

// Closed is why the gateway ended a subscription; Code is stable, for
// clients, and Message says more. The cause, if any, is for the logs.
type Closed struct {
	Code, Message string
	cause         error
}

func (c *Closed) Error() string {
	if c.cause != nil {
		return c.Code + ": " + c.cause.Error()
	}
	return c.Code + ": " + c.Message
}

func (c *Closed) Unwrap() error { return c.cause }

// closedFor turns a write error into the reason the subscription ends.
func closedFor(err error, cfg Config) error {
	var c *Closed
	if errors.As(err, &c) {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &Closed{Code: "slow_consumer", Message: fmt.Sprintf("a write took longer than %s", cfg.WriteTimeout), cause: err}
	}
	return err
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// batch is how many events a subscription takes from the ring or
// JetStream at a time.
const batch = 256

// message is what a subscription sends: an event, a gap or a heartbeat.
type message struct {
	event    *Event
	from, to uint64 // a gap
	head     uint64 // a heartbeat
}

func (m message) send(ctx context.Context, sink Sink) error {
	switch {
	case m.event != nil:
		return sink.Event(ctx, m.event)
	case m.to != 0:
		return sink.Gap(ctx, m.from, m.to)
	}
	return sink.Heartbeat(ctx, m.head)
}

// queue is a subscription's messages waiting to be written, and the
// goroutine writing them: the subscription reads on while a write blocks,
// and drops a subscriber whose queue is full, with a reason it can still
// be sent (a write cut short would leave no way to say it).
type queue struct {
	q    chan message
	quit chan struct{} // stop after the write in hand
	done chan struct{} // the writer returned, with err
	err  error
}

func startQueue(ctx context.Context, size int, sink Sink) *queue {
	w := &queue{q: make(chan message, size), quit: make(chan struct{}), done: make(chan struct{})}
	// Writes are not cut short when the subscription ends: each has its
	// own deadline (Config.WriteTimeout).
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.quit:
				return
			case m := <-w.q:
				if w.err = m.send(ctx, sink); w.err != nil {
					return
				}
			}
		}
	}()
	return w
}

// put queues m, waiting for room when wait is set; otherwise a full queue
// drops the subscriber.
func (w *queue) put(ctx context.Context, m message, wait bool) error {
	if wait {
		select {
		case w.q <- m:
			return nil
		case <-w.done:
			return w.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case w.q <- m:
		return nil
	case <-w.done:
		return w.err
	default:
		return &Closed{Code: "slow_consumer", Message: fmt.Sprintf("%d messages wait to be sent to it", cap(w.q))}
	}
}

// stop ends the writer once the write in hand is done.
func (w *queue) stop() error {
	close(w.quit)
	<-w.done
	return w.err
}

// Serve sends the events f selects to sink, from where r says, until ctx
// is done (nil), the subscriber fails or is too slow, or recheck refuses
// its credentials (a *Closed error says why). Nothing is written to sink
// once it returns.
func (h *Hub) Serve(ctx context.Context, cfg Config, f Filter, r Resume, sink Sink, recheck func(context.Context) error) error {
	w := startQueue(ctx, cfg.Buffer, sink)
	err := h.feed(ctx, cfg, f, r, w, recheck)
	if werr := w.stop(); err == nil {
		err = werr // nil, or the write that failed
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return closedFor(err, cfg)
}

// feed queues what the subscriber gets until ctx is done or it must stop.
func (h *Hub) feed(ctx context.Context, cfg Config, f Filter, r Resume, w *queue, recheck func(context.Context) error) error {
	next, err := h.replay(ctx, cfg, f, r, w)
	if err != nil {
		return err
	}
	beat := time.NewTicker(cfg.Heartbeat)
	defer beat.Stop()
	checked := time.Now()
	for {
		if time.Since(checked) >= cfg.Recheck {
			if err := recheck(ctx); err != nil {
				return err
			}
			checked = time.Now()
		}
		evs, _, wake, err := h.since(next, batch)
		if errors.Is(err, errBehind) {
			return &Closed{Code: "slow_consumer", Message: "the events it had to receive next are gone from the gateway's buffer"}
		}
		for _, e := range evs {
			if f.Match(e.Result) {
				if err := w.put(ctx, message{event: e}, false); err != nil {
					return err
				}
			}
			next = e.Seq + 1
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.done:
			return w.err
		case <-wake:
		case <-beat.C:
			if err := w.put(ctx, message{head: next - 1}, false); err != nil {
				return err
			}
		}
	}
}

// replay sends what the subscriber asks for that is older than the live
// ring can serve, from JetStream, and returns the sequence from which the
// ring takes over: close enough to the newest event that a subscriber
// keeping up is never dropped as slow.
func (h *Hub) replay(ctx context.Context, cfg Config, f Filter, r Resume, w *queue) (uint64, error) {
	first, next := h.bounds()
	if r.Since == 0 && r.Start.IsZero() {
		return next, nil // live only
	}
	from := r.Since + 1
	if r.Start.IsZero() {
		if from >= next {
			return next, nil // nothing missed (or a sequence of a stream since made again)
		}
		if from >= first && next-from <= uint64(cfg.Buffer/2) {
			return from, nil
		}
	}
	name := h.Bus.StreamName(natsx.StreamResults)
	stream, err := h.Bus.JS.Stream(ctx, name)
	if err != nil {
		return 0, unavailable(err)
	}
	cc := jetstream.OrderedConsumerConfig{FilterSubjects: []string{h.Bus.Subject(f.Subject())}}
	if r.Start.IsZero() {
		if oldest := stream.CachedInfo().State.FirstSeq; oldest > from {
			if err := w.put(ctx, message{from: from, to: oldest - 1}, true); err != nil {
				return 0, err
			}
			from = oldest
		}
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	} else {
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &r.Start
		from = 0
	}
	cons, err := h.Bus.JS.OrderedConsumer(ctx, name, cc)
	if err != nil {
		return 0, unavailable(err)
	}
	for {
		// Every event before next (as of now) that f selects is sent once
		// a fetch comes back empty: what is stored later, the ring has.
		first, next := h.bounds()
		if from >= first && from <= next && next-from <= uint64(cfg.Buffer/2) {
			return from, nil
		}
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return 0, unavailable(err)
		}
		got := 0
		for m := range msgs.Messages() {
			got++
			e := decode(m)
			if e == nil || e.Seq < from {
				continue
			}
			if f.Match(e.Result) {
				if err := w.put(ctx, message{event: e}, true); err != nil {
					return 0, err
				}
			}
			from = e.Seq + 1
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !isTimeout(err) {
			return 0, unavailable(err)
		}
		if got == 0 {
			return max(from, next), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

func unavailable(err error) error {
	return &Closed{Code: "unavailable", Message: "the results stream cannot be read now; connect again later", cause: err}
}
