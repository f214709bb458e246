package consumer

import (
	"context"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// Holder is a dataset's path for batches held in memory: JetStream keeps
// them, unacknowledged, until their bin message arrives and they are
// committed in one go, skipping the staging table.
type Holder interface {
	Batch(data []byte) (*events.Batch, error)
	Bin(data []byte) (*events.BinComplete, error)
	// Stage makes a held batch durable when the bin cannot be committed from memory.
	Stage(ctx context.Context, b *events.Batch) error
	Commit(ctx context.Context, bc *events.BinComplete, batches []*events.Batch) error
}

// Bounds of what a worker holds: past them, batches are staged as they come.
const (
	holdBytes = 32 << 20
	// holdAge is how long batches wait for their bin message before they
	// are staged; well under the ack wait, so they are not redelivered.
	holdAge = 5 * time.Second
)

// hold is a worker's held runs.
type hold struct {
	c     *Consumer
	r     *router
	runs  map[string]*heldRun
	bytes int
}

type heldRun struct {
	batches map[int]*events.Batch
	msgs    []heldMsg
	bytes   int
	since   time.Time
}

type heldMsg struct {
	jetstream.Msg
	seq int
}

func newHold(c *Consumer, r *router) *hold { return &hold{c: c, r: r, runs: map[string]*heldRun{}} }

func runKey(b events.Bin) string { return b.Key() + ":" + b.RunID }

// take handles m if it belongs to the held path, and reports whether it did.
func (h *hold) take(ctx context.Context, m jetstream.Msg) bool {
	if h.c.Holder == nil {
		return false
	}
	switch {
	case strings.HasSuffix(m.Subject(), ".rows"):
		if h.bytes+len(m.Data()) > holdBytes {
			return false
		}
		b, err := h.c.Holder.Batch(m.Data())
		if err != nil || b.Complete {
			return false // the usual path dead-letters it, or commits a one-batch bin
		}
		run := h.runs[runKey(b.Bin)]
		if run == nil {
			run = &heldRun{batches: map[int]*events.Batch{}, since: time.Now()}
			h.runs[runKey(b.Bin)] = run
		}
		run.batches[b.BatchSeq] = b // a redelivered batch replaces its copy
		run.msgs = append(run.msgs, heldMsg{m, b.BatchSeq})
		run.bytes += len(m.Data())
		h.bytes += len(m.Data())
		return true
	case strings.HasSuffix(m.Subject(), ".bin"):
		bc, err := h.c.Holder.Bin(m.Data())
		if err != nil {
			return false
		}
		run := h.runs[runKey(bc.Bin)]
		if run == nil {
			return false
		}
		if !run.complete(bc.BatchCount) {
			h.flush(ctx, runKey(bc.Bin)) // the rest was staged, or comes later
			return false
		}
		batches := make([]*events.Batch, bc.BatchCount)
		for seq := range batches {
			batches[seq] = run.batches[seq]
		}
		// One span commits the bin: linked to each batch's own trace.
		links := make([]trace.Link, len(run.msgs))
		for i, hm := range run.msgs {
			links[i] = natsx.Link(h.c.Propagator, hm.Headers())
		}
		spanCtx, span := h.c.span(ctx, m, links...)
		err = h.c.Holder.Commit(spanCtx, bc, batches)
		span.End()
		if err != nil {
			h.flush(ctx, runKey(bc.Bin)) // the usual path retries, or dead-letters, from the staged batches
			return false
		}
		h.finish(runKey(bc.Bin), func(heldMsg) bool { return true })
		h.c.Metrics.Message(h.c.Dataset, "acked")
		h.c.ack(ctx, m)
		return true
	}
	return false
}

func (run *heldRun) complete(n int) bool {
	if len(run.batches) != n {
		return false
	}
	for seq := range n {
		if run.batches[seq] == nil {
			return false
		}
	}
	return true
}

// flush stages a held run's batches and acknowledges each once staged; a
// batch that cannot be staged is left to come back.
func (h *hold) flush(ctx context.Context, key string) {
	run := h.runs[key]
	failed := map[int]bool{}
	for seq, b := range run.batches {
		if err := h.c.Holder.Stage(ctx, b); err != nil {
			h.c.Log.WarnContext(ctx, "stage held batch, will retry", "run", key, "batch", seq, "err", err)
			failed[seq] = true
		}
	}
	h.finish(key, func(m heldMsg) bool { return !failed[m.seq] })
}

// finish acknowledges a run's messages (or, those ok rejects, naks them so
// they come back) and forgets the run.
func (h *hold) finish(key string, ok func(heldMsg) bool) {
	run := h.runs[key]
	for _, m := range run.msgs {
		if ok(m) {
			h.c.Metrics.Message(h.c.Dataset, "acked")
			h.c.ack(context.Background(), m)
		} else {
			h.c.Metrics.Message(h.c.Dataset, "retried")
			meta, _ := m.Metadata()
			h.c.nak(context.Background(), m, meta)
		}
		h.r.done(m.Headers().Get(jetstream.MsgIDHeader))
	}
	h.bytes -= run.bytes
	delete(h.runs, key)
}

// flushOld stages the runs whose bin message is late (all with age 0).
func (h *hold) flushOld(ctx context.Context, age time.Duration) {
	for key, run := range h.runs {
		if time.Since(run.since) >= age {
			h.flush(ctx, key)
		}
	}
}
