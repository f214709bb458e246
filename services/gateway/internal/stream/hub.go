// Package stream serves the results stream to subscribers, as Server-Sent
// Events and over WebSocket: every results event (ihr.results.*) that
// matches a subscriber's filter, in stream order, each once, resumable
// from a sequence or a time.
//
// One Hub per gateway follows the stream and keeps its recent events in a
// ring that every live subscriber reads at its own pace; a subscriber
// resuming from further back reads JetStream itself until it reaches the
// ring. A subscriber that falls too far behind the newest event, or whose
// writes block, is dropped with the reason: it never holds back the others.
package stream

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
)

// Event is one results event of the stream.
type Event struct {
	Seq    uint64
	Time   time.Time // when the stream stored it
	Data   []byte    // the event as published
	Result *events.Result
}

// decode reads a stream message; nil when it is no results event.
func decode(m jetstream.Msg) *Event {
	meta, err := m.Metadata()
	if err != nil {
		return nil
	}
	r, err := events.DecodeResult(m.Data())
	if err != nil {
		return nil
	}
	return &Event{Seq: meta.Sequence.Stream, Time: meta.Timestamp, Data: m.Data(), Result: r}
}

// Hub follows the results stream and keeps its newest events.
type Hub struct {
	Bus *natsx.Bus
	Log *slog.Logger
	// MaxEvents and MaxBytes bound the ring.
	MaxEvents int
	MaxBytes  int

	mu    sync.Mutex
	ring  []*Event // in stream order
	bytes int
	// first is the lowest sequence the ring answers for: every event from
	// first on is in the ring, or yet to come. 0: not following yet.
	first uint64
	next  uint64        // the sequence after the newest event seen
	wake  chan struct{} // closed when an event comes, then replaced
}

// errBehind tells a reader that the ring no longer holds what it asks for.
var errBehind = errors.New("behind the ring")

// errNotFollowing tells a reader that the hub has not reached the stream yet.
var errNotFollowing = errors.New("not following the results stream yet")

// Run follows the stream until ctx is done, attaching again after failures.
func (h *Hub) Run(ctx context.Context) {
	h.mu.Lock()
	if h.wake == nil {
		h.wake = make(chan struct{})
	}
	h.mu.Unlock()
	natsx.Retry(ctx, h.Log, "stream hub: follow results", h.follow)
}

func (h *Hub) follow(ctx context.Context) error {
	name := h.Bus.StreamName(natsx.StreamResults)
	stream, err := h.Bus.JS.Stream(ctx, name)
	if err != nil {
		return err
	}
	last := stream.CachedInfo().State.LastSeq
	h.mu.Lock()
	if h.first == 0 || last+1 < h.next {
		// First attach, or the stream was made again: its sequences start over.
		h.ring, h.bytes, h.first, h.next = nil, 0, last+1, last+1
	}
	start := h.next
	h.mu.Unlock()
	cons, err := h.Bus.JS.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{h.Bus.Subject("ihr.results.>")},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    start,
	})
	if err != nil {
		return err
	}
	h.Log.Info("stream hub: following results", "stream", name, "from", start)
	return natsx.ConsumeUntil(ctx, cons, func(m jetstream.Msg) {
		if e := decode(m); e != nil {
			h.add(e)
		}
	})
}

// add appends e, evicting the oldest events past the bounds.
func (h *Hub) add(e *Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.Seq < h.next {
		return // delivered again after a reattach
	}
	h.ring = append(h.ring, e)
	h.bytes += len(e.Data)
	h.next = e.Seq + 1
	for len(h.ring) > 1 && (len(h.ring) > h.MaxEvents || h.bytes > h.MaxBytes) {
		h.bytes -= len(h.ring[0].Data)
		h.ring[0] = nil
		h.ring = h.ring[1:]
		h.first = h.ring[0].Seq
	}
	close(h.wake)
	h.wake = make(chan struct{})
}

// since returns up to max events from sequence from on, the sequence after
// the newest event seen, and a channel closed when another comes. It
// fails with errBehind when the ring no longer holds from.
func (h *Hub) since(from uint64, max int) ([]*Event, uint64, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.first == 0:
		return nil, 0, h.wake, errNotFollowing
	case from < h.first:
		return nil, h.next, h.wake, errBehind
	}
	i := sort.Search(len(h.ring), func(i int) bool { return h.ring[i].Seq >= from })
	// A copy: eviction clears the ring's slots.
	return slices.Clone(h.ring[i:min(len(h.ring), i+max)]), h.next, h.wake, nil
}

// bounds returns the lowest sequence the ring answers for and the
// sequence after the newest event (both 0 before the hub follows).
func (h *Hub) bounds() (first, next uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.first, h.next
}
