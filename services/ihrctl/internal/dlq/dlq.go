// Package dlq reads and empties a deployment's dead-letter stream (IHR_DLQ):
// it lists dead letters, replays them to the subject they failed on, and
// deletes them.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message is one dead letter.
type Message struct {
	// Seq is the message's sequence in the DLQ stream: its id for operators.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	// Subject is the subject the message failed on, with the deployment prefix.
	Subject string `json:"subject"`
	// Dataset is read from Subject; empty when it is not an ingest subject.
	Dataset string `json:"dataset"`
	// MsgID is the original Nats-Msg-Id: which batch of which run.
	MsgID string `json:"msg_id"`
	// SourceSeq is the message's sequence in the stream it failed in.
	SourceSeq uint64      `json:"source_seq,omitempty"`
	Reason    string      `json:"reason"`
	Header    nats.Header `json:"-"`
	Data      []byte      `json:"-"`
}

// Selection chooses dead letters: the given sequences, or else every one
// (of Dataset when set), oldest first, at most Limit (0: no limit).
type Selection struct {
	Seqs    []uint64
	Dataset string
	Limit   int
}

// Queue is the DLQ stream of one deployment.
type Queue struct {
	bus *natsx.Bus
	// stream is nil while the stream does not exist: nothing was ever
	// dead-lettered, and a read-only command must not create it.
	stream jetstream.Stream
}

// ErrNotFound is returned for a sequence the DLQ does not hold.
var ErrNotFound = errors.New("no such dead letter")

// Open returns the DLQ of bus's deployment.
func Open(ctx context.Context, bus *natsx.Bus) (*Queue, error) {
	s, err := bus.JS.Stream(ctx, bus.StreamName(natsx.StreamDLQ))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return &Queue{bus: bus}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the DLQ stream: %w", err)
	}
	return &Queue{bus: bus, stream: s}, nil
}

// Depth is the number of dead letters held.
func (q *Queue) Depth(ctx context.Context) (uint64, error) {
	st, err := q.state(ctx)
	return st.Msgs, err
}

// state is the stream's state; an absent stream holds nothing.
func (q *Queue) state(ctx context.Context) (jetstream.StreamState, error) {
	if q.stream == nil {
		return jetstream.StreamState{}, nil
	}
	info, err := q.stream.Info(ctx)
	if err != nil {
		return jetstream.StreamState{}, fmt.Errorf("DLQ stream info: %w", err)
	}
	return info.State, nil
}

// Select returns the selected dead letters. Every given sequence must exist.
func (q *Queue) Select(ctx context.Context, sel Selection) ([]Message, error) {
	if len(sel.Seqs) > 0 {
		return q.getAll(ctx, sel.Seqs)
	}
	var out []Message
	err := q.scan(ctx, func(m Message) bool {
		if sel.Dataset == "" || m.Dataset == sel.Dataset {
			out = append(out, m)
		}
		return sel.Limit <= 0 || len(out) < sel.Limit
	})
	return out, err
}

func (q *Queue) getAll(ctx context.Context, seqs []uint64) ([]Message, error) {
	out := make([]Message, 0, len(seqs))
	for _, seq := range seqs {
		m, err := q.Get(ctx, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Get returns the dead letter of DLQ sequence seq.
func (q *Queue) Get(ctx context.Context, seq uint64) (Message, error) {
	if q.stream == nil {
		return Message{}, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	raw, err := q.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Message{}, fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err != nil {
		return Message{}, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	return q.decode(raw), nil
}

// scan calls f with every dead letter, oldest first, until f returns false.
// It asks the server for the next message at or after a sequence, so the
// gaps left by deleted messages cost nothing.
func (q *Queue) scan(ctx context.Context, f func(Message) bool) error {
	if q.stream == nil {
		return nil
	}
	all := q.bus.Subject("ihr.dlq.>")
	for seq := uint64(1); ; {
		raw, err := q.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(all))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the DLQ at %d: %w", seq, err)
		}
		if !f(q.decode(raw)) {
			return nil
		}
		seq = raw.Sequence + 1
	}
}

func (q *Queue) decode(raw *jetstream.RawStreamMsg) Message {
	h := raw.Header
	if h == nil {
		h = nats.Header{}
	}
	subj := h.Get(events.HeaderSubject)
	srcSeq, _ := strconv.ParseUint(h.Get(events.HeaderSeq), 10, 64) // absent: 0, omitted
	return Message{
		Seq:       raw.Sequence,
		Time:      raw.Time.UTC(),
		Subject:   subj,
		Dataset:   Dataset(strings.TrimPrefix(subj, q.bus.Subject(""))),
		MsgID:     h.Get(events.HeaderMsgID),
		SourceSeq: srcSeq,
		Reason:    h.Get(events.HeaderError),
		Header:    h,
		Data:      raw.Data,
	}
}

// Dataset returns the dataset of an ingest subject without its deployment
// prefix (ihr.ingest.<dataset>.rows|bin, or ihr.ingest.disco.events), or ""
// for any other subject.
func Dataset(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != "ihr" || parts[1] != "ingest" || parts[2] == "" {
		return ""
	}
	switch parts[3] {
	case "rows", "bin", "events":
		return parts[2]
	}
	return ""
}

// ReplayID is the Nats-Msg-Id of m's replay. The original id would be
// dropped by JetStream's de-duplication within its window; a fixed id per
// dead letter still lets a replay retried after a failed delete be dropped.
// The original id comes first because the ingestion consumer routes a
// message to a worker by the id's first fields (dataset, af, time bin).
func ReplayID(m Message) string {
	seq := strconv.FormatUint(m.Seq, 10)
	if m.MsgID == "" {
		return "replay:" + seq
	}
	return m.MsgID + ":replay:" + seq
}

// Replay publishes m again on the subject it failed on, waits for the
// stream to store it, and only then deletes it from the DLQ.
func (q *Queue) Replay(ctx context.Context, m Message) error {
	if m.Subject == "" {
		return fmt.Errorf("dead letter %d has no %s header: nowhere to replay it", m.Seq, events.HeaderSubject)
	}
	msg := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, ReplayID(m))
	msg.Header.Set(events.HeaderReplayOf, strconv.FormatUint(m.Seq, 10))
	// The trace context links the replay to the failure it repairs.
	for _, k := range []string{"traceparent", "tracestate"} {
		if v := m.Header.Get(k); v != "" {
			msg.Header.Set(k, v)
		}
	}
	if _, err := q.bus.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("replay dead letter %d to %s: %w", m.Seq, m.Subject, err)
	}
	return q.Delete(ctx, m.Seq)
}

// Delete removes the dead letter of DLQ sequence seq.
func (q *Queue) Delete(ctx context.Context, seq uint64) error {
	if q.stream == nil {
		return fmt.Errorf("%w: %d", ErrNotFound, seq)
	}
	if err := q.stream.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("delete dead letter %d: %w", seq, err)
	}
	return nil
}

// PurgeAll removes every dead letter held now, and returns how many. A
// message dead-lettered meanwhile is kept: the purge stops at the last
// sequence seen.
func (q *Queue) PurgeAll(ctx context.Context) (uint64, error) {
	st, err := q.state(ctx)
	if err != nil || st.Msgs == 0 {
		return 0, err
	}
	if err := q.stream.Purge(ctx, jetstream.WithPurgeSequence(st.LastSeq+1)); err != nil {
		return 0, fmt.Errorf("purge the DLQ: %w", err)
	}
	return st.Msgs, nil
}
