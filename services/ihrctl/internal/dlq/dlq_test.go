package dlq

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDataset(t *testing.T) {
	tests := []struct{ subject, want string }{
		{"ihr.ingest.hegemony.rows", "hegemony"},
		{"ihr.ingest.atlas_delay.bin", "atlas_delay"},
		{"ihr.ingest.disco.events", "disco"},
		{"ihr.ingest.hegemony.other", ""},
		{"ihr.ingest..rows", ""},
		{"ihr.ingest.hegemony", ""},
		{"t1.ihr.ingest.hegemony.rows", ""}, // the prefix must be removed first
		{"ihr.results.hegemony", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Dataset(tt.subject); got != tt.want {
			t.Errorf("Dataset(%q) = %q, want %q", tt.subject, got, tt.want)
		}
	}
}

func TestReplayID(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{Message{Seq: 7, MsgID: "hegemony:4:1796119200:run-1:0"}, "hegemony:4:1796119200:run-1:0:replay:7"},
		{Message{Seq: 12}, "replay:12"},
	}
	for _, tt := range tests {
		if got := ReplayID(tt.m); got != tt.want {
			t.Errorf("ReplayID(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

// connect returns a bus under a fresh prefix, its streams created.
func connect(t *testing.T) *natsx.Bus {
	t.Helper()
	bus, err := natsx.Connect(context.Background(), config.NATS{URL: testkit.NATSURL(t), Prefix: testkit.NATSPrefix(t)},
		false, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	if err := bus.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	return bus
}

// deadLetter stores a dead letter of dataset as the ingestion consumer does.
func deadLetter(t *testing.T, bus *natsx.Bus, dataset, msgID string) uint64 {
	t.Helper()
	m := &nats.Msg{Subject: bus.Subject("ihr.dlq.ingest"), Data: []byte(`{"schema":"x"}`), Header: nats.Header{}}
	m.Header.Set(events.HeaderSubject, bus.Subject("ihr.ingest."+dataset+".rows"))
	m.Header.Set(events.HeaderError, "invalid message: test")
	m.Header.Set(events.HeaderMsgID, msgID)
	m.Header.Set(events.HeaderSeq, "41")
	ack, err := bus.JS.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func seqs(msgs []Message) string {
	s := ""
	for _, m := range msgs {
		s += strconv.FormatUint(m.Seq, 10) + " "
	}
	return s
}

func TestQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus := connect(t)
	q, err := Open(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range []string{"hegemony", "disco", "hegemony", "hegemony"} {
		deadLetter(t, bus, d, d+":4:0:run:"+strconv.Itoa(i))
	}
	if err := q.Delete(ctx, 2); err != nil {
		t.Fatal(err)
	}

	all, err := q.Select(ctx, Selection{})
	if err != nil || seqs(all) != "1 3 4 " {
		t.Fatalf("all: %s %v; want 1 3 4 (2 deleted)", seqs(all), err)
	}
	m := all[0]
	if m.Dataset != "hegemony" || m.Subject != bus.Subject("ihr.ingest.hegemony.rows") || m.MsgID != "hegemony:4:0:run:0" ||
		m.SourceSeq != 41 || m.Reason != "invalid message: test" || string(m.Data) != `{"schema":"x"}` || m.Time.IsZero() {
		t.Errorf("decoded %+v", m)
	}
	if got, _ := q.Select(ctx, Selection{Dataset: "hegemony", Limit: 1}); seqs(got) != "1 " {
		t.Errorf("hegemony, limit 1: %s", seqs(got))
	}
	if got, _ := q.Select(ctx, Selection{Dataset: "disco"}); len(got) != 0 {
		t.Errorf("disco's only dead letter was deleted, still listed: %s", seqs(got))
	}
	if got, err := q.Select(ctx, Selection{Seqs: []uint64{4, 1}}); err != nil || seqs(got) != "4 1 " {
		t.Errorf("by sequence: %s %v", seqs(got), err)
	}
	if _, err := q.Select(ctx, Selection{Seqs: []uint64{1, 2}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted sequence: %v, want ErrNotFound", err)
	}
	if n, err := q.Depth(ctx); n != 3 || err != nil {
		t.Errorf("depth %d %v, want 3", n, err)
	}

	// Replay stores the message on its subject under a new id, then deletes it.
	if err := q.Replay(ctx, m); err != nil {
		t.Fatal(err)
	}
	ingest, err := bus.JS.Stream(ctx, bus.StreamName(natsx.StreamIngest))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ingest.GetLastMsgForSubject(ctx, m.Subject)
	if err != nil || got.Header.Get(jetstream.MsgIDHeader) != ReplayID(m) || got.Header.Get(events.HeaderReplayOf) != "1" || string(got.Data) != `{"schema":"x"}` {
		t.Errorf("replayed message %+v %v", got, err)
	}
	if _, err := q.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("a replayed dead letter is still in the DLQ: %v", err)
	}
	if err := q.Replay(ctx, Message{Seq: 3}); err == nil {
		t.Error("replayed a message without its original subject")
	}

	if n, err := q.PurgeAll(ctx); n != 2 || err != nil {
		t.Errorf("purged %d %v, want 2", n, err)
	}
	if n, _ := q.Depth(ctx); n != 0 {
		t.Errorf("%d dead letters after a purge", n)
	}
	deadLetter(t, bus, "hegemony", "after-purge")
	if got, _ := q.Select(ctx, Selection{}); len(got) != 1 || got[0].MsgID != "after-purge" {
		t.Errorf("after the purge, listed %+v", got)
	}
}

// TestQueueWithoutStream: a deployment where nothing was ever dead-lettered
// has no DLQ stream; reading it must not create one.
func TestQueueWithoutStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bus, err := natsx.Connect(ctx, config.NATS{URL: testkit.NATSURL(t), Prefix: testkit.NATSPrefix(t)},
		false, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	q, err := Open(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := q.Select(ctx, Selection{}); len(got) != 0 || err != nil {
		t.Errorf("listed %v %v", got, err)
	}
	if n, err := q.Depth(ctx); n != 0 || err != nil {
		t.Errorf("depth %d %v", n, err)
	}
	if _, err := q.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if _, err := bus.JS.Stream(ctx, bus.StreamName(natsx.StreamDLQ)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("reading created the DLQ stream: %v", err)
	}
}
