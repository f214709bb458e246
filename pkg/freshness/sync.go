package freshness

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// barrier makes a read wait until the log knows of every results event
// published before the read began. A client may hear of an event (from
// the stream, from a stream of ours) before this process's consumer
// delivers it; once it has, it expects its next read to hold the new
// data. Ingestion announces each event on ihr.announce.<dataset>, a plain
// subject, and publishes it to the stream only events.AnnounceLead after
// the server took the announcement. The server hands a connection what it
// sends in order, so a PING sent after the server took an announcement
// comes back after it, with the announcement in the subscription's channel.
//
// Hence a read is covered by any PING sent less than the lead before it
// began, since then no event a client could know of was announced after
// the server answered that PING. While reads come, the barrier keeps one
// answered that recently (a PING every pingEvery: tens a second, where one
// per burst of reads cost the server a third of a core); a read that finds
// none (the server or this process slow to answer) waits for the next.
type barrier struct {
	nc   *nats.Conn
	in   chan *nats.Msg
	log  *Log
	base time.Time // times below are durations since base (monotonic)

	synced atomic.Int64 // when the newest PING answered (and drained after) was sent
	read   atomic.Int64 // when the newest read came
	wake   chan struct{}

	mu      sync.Mutex // one drain at a time
	state   sync.Mutex
	running atomic.Bool // written under state
	next    *round      // the round waiting reads join: the next PING sent
}

// Timings of the pings; covered leaves the lead a margin for the rates of
// two clocks and for a PING's way out.
const (
	covered   = events.AnnounceLead * 4 / 5
	pingEvery = events.AnnounceLead / 5
	idleAfter = time.Second // no read for this long: stop pinging
)

type round struct {
	done chan struct{}
	ok   bool
}

func newBarrier(nc *nats.Conn, log *Log) *barrier {
	b := &barrier{nc: nc, in: make(chan *nats.Msg, 1<<16), log: log, base: time.Now(), wake: make(chan struct{}, 1)}
	b.synced.Store(math.MinInt64 / 2) // no PING answered yet
	return b
}

func (b *barrier) now() int64 { return int64(time.Since(b.base)) }

// wait returns true once every event published before it was called is
// known; false when the connection cannot tell (down, or ctx done).
func (b *barrier) wait(ctx context.Context) bool {
	now := b.now()
	if now-b.read.Load() > int64(time.Millisecond) {
		b.read.Store(now)
	}
	// Covered even if the connection has dropped since: what it then
	// missed was announced after that PING, so no client knows of it yet.
	if now-b.synced.Load() < int64(covered) {
		if !b.running.Load() {
			b.start(false)
		}
		return true
	}
	if !b.nc.IsConnected() {
		return false // at once: a round trip would only time out
	}
	r := b.start(true)
	select {
	case <-r.done:
		return r.ok
	case <-ctx.Done():
		return false
	}
}

// start makes sure the pings go on; join returns the round to wait for.
func (b *barrier) start(join bool) *round {
	b.state.Lock()
	defer b.state.Unlock()
	var r *round
	if join {
		if b.next == nil {
			b.next = &round{done: make(chan struct{})}
		}
		r = b.next
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	if !b.running.Load() {
		b.running.Store(true)
		go b.pings()
	}
	return r
}

// pings sends a PING every pingEvery, or at once for a read that waits,
// until no read came for idleAfter.
func (b *barrier) pings() {
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		b.state.Lock()
		r := b.next
		b.next = nil
		if r == nil && b.now()-b.read.Load() > int64(idleAfter) {
			b.running.Store(false)
			b.state.Unlock()
			return
		}
		b.state.Unlock()
		sent := b.now()
		ok := b.nc.FlushTimeout(time.Second) == nil
		b.drain()
		if ok {
			b.synced.Store(sent)
		}
		if r != nil {
			r.ok = ok
			close(r.done)
		}
		select {
		case <-tick.C:
		case <-b.wake:
		}
	}
}

// drain announces every event waiting in the subscription's channel.
func (b *barrier) drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		select {
		case m := <-b.in:
			if res, err := events.DecodeResult(m.Data); err == nil {
				b.log.Announce(FromResult(0, m.Header.Get(jetstream.MsgIDHeader), res))
			}
		default:
			return
		}
	}
}
