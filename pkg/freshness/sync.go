package freshness

import (
	"context"
	"sync"
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
// subject, just before publishing it to the stream on the same
// connection, so the server hands the announcement to this process before
// it reads the event the stream stores and any consumer delivers: a PING
// sent after the read began comes back after every announcement of an
// event a client could know of, and they are in the subscription's
// channel by then.
//
// Reads share PINGs, one on its way at a time: a read that comes while one
// is on its way waits for the next, which covers every read that came
// meanwhile. (Two at once, or one per read, measured slower: the PINGs
// themselves then cost more than the wait.)
type barrier struct {
	nc  *nats.Conn
	in  chan *nats.Msg
	log *Log

	mu      sync.Mutex // one drain at a time
	state   sync.Mutex
	running bool
	next    *round // the round that starts once the one on its way ends
}

type round struct {
	done chan struct{}
	ok   bool
}

func newBarrier(nc *nats.Conn, log *Log) *barrier {
	return &barrier{nc: nc, in: make(chan *nats.Msg, 1<<16), log: log}
}

// wait returns true once every event published before it was called is
// known; false when the connection cannot tell (down, or ctx done).
func (b *barrier) wait(ctx context.Context) bool {
	if !b.nc.IsConnected() {
		return false // at once: a round trip would only time out
	}
	b.state.Lock()
	if b.next == nil {
		b.next = &round{done: make(chan struct{})}
	}
	r := b.next
	if !b.running {
		b.running = true
		go b.rounds()
	}
	b.state.Unlock()
	select {
	case <-r.done:
		return r.ok
	case <-ctx.Done():
		return false
	}
}

// rounds sends PINGs while reads wait for one, and ends when none waits
// (a goroutine per burst of reads; the last round's readers see it end).
func (b *barrier) rounds() {
	for {
		b.state.Lock()
		r := b.next
		b.next = nil
		if r == nil {
			b.running = false
			b.state.Unlock()
			return
		}
		b.state.Unlock()
		r.ok = b.nc.FlushTimeout(time.Second) == nil
		b.drain()
		close(r.done)
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
