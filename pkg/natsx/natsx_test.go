package natsx

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func connect(t *testing.T, cfg config.NATS, dev bool) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := Connect(ctx, cfg, dev, "natsx-test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, sc := range b.Streams() {
			_ = b.JS.DeleteStream(context.Background(), sc.Name)
		}
		b.Close()
	})
	return b
}

// roundTrip publishes to the ingest stream and reads the message back.
func roundTrip(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subj := b.Subject("ihr.ingest.hegemony.rows")
	for range 2 { // same Nats-Msg-Id twice: the stream keeps one
		if _, err := b.JS.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: []byte("x"),
			Header: nats.Header{"Nats-Msg-Id": []string{"hegemony:4:2026-01-01T00:00:00Z:r1:0"}}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := b.JS.Stream(ctx, b.StreamName(StreamIngest))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("ingest stream holds %d messages, want 1 (dedup by Nats-Msg-Id)", info.State.Msgs)
	}
}

func TestEnsureStreamsOnMachineServer(t *testing.T) {
	prefix := testkit.Prefix(t)
	b := connect(t, config.NATS{URL: testkit.NATSURL(t), Prefix: prefix}, false)
	if b.Embedded() {
		t.Fatal("must use the machine's server")
	}
	ctx := context.Background()
	for range 2 { // idempotent
		if err := b.EnsureStreams(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{StreamIngest, StreamResults, StreamTasks, StreamDLQ, StreamAuth} {
		s, err := b.JS.Stream(ctx, prefix+"_"+name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, _ := s.Info(ctx)
		if !slices.ContainsFunc(info.Config.Subjects, func(s string) bool { return len(s) > len(prefix) && s[:len(prefix)] == prefix }) {
			t.Errorf("stream %s subjects %v not under prefix %s", name, info.Config.Subjects, prefix)
		}
		if name == StreamTasks && info.Config.Retention != jetstream.WorkQueuePolicy {
			t.Errorf("tasks stream retention %v", info.Config.Retention)
		}
	}
	if err := b.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b)
}

func TestEmbeddedFallbackInDevMode(t *testing.T) {
	cfg := config.NATS{URL: "nats://" + testkit.FreeAddr(t), StoreDir: t.TempDir()}
	b := connect(t, cfg, true)
	if !b.Embedded() {
		t.Fatal("no embedded server started")
	}
	if err := b.EnsureStreams(context.Background()); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b)

	// A second local service finds the embedded server instead of starting another.
	other := connect(t, cfg, true)
	if other.Embedded() {
		t.Fatal("second process started its own server")
	}
	if err := other.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestProdDoesNotEmbedAndReportsDown(t *testing.T) {
	b, err := Connect(context.Background(), config.NATS{URL: "nats://" + testkit.FreeAddr(t)}, false, "t", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Embedded() {
		t.Fatal("prod mode must never embed a server")
	}
	if err := b.Probe(context.Background()); err == nil {
		t.Fatal("probe passed with no server")
	}
}

// TestStreamsCarryReplicas needs no server: the configuration is built
// before anything is sent.
func TestStreamsCarryReplicas(t *testing.T) {
	for _, c := range []struct{ set, want int }{{0, 1}, {1, 1}, {3, 3}} {
		b, err := Connect(context.Background(), config.NATS{URL: "nats://" + testkit.FreeAddr(t), Replicas: c.set}, false, "t", quiet)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range b.Streams() {
			if sc.Replicas != c.want {
				t.Errorf("Replicas %d: stream %s has %d replicas, want %d", c.set, sc.Name, sc.Replicas, c.want)
			}
		}
		b.Close()
	}
}

func TestBadPrefix(t *testing.T) {
	if _, err := Connect(context.Background(), config.NATS{URL: "nats://127.0.0.1:1", Prefix: "a.b"}, false, "t", quiet); err == nil {
		t.Fatal("a prefix with a dot must be refused")
	}
}

func TestTraceContextInHeaders(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	p := propagation.TraceContext{}
	ctx, span := tp.Tracer("t").Start(context.Background(), "publish")
	defer span.End()
	msg := &nats.Msg{Subject: "x"}
	Inject(ctx, p, msg)
	got := trace.SpanContextFromContext(Extract(context.Background(), p, msg.Header))
	if got.TraceID() != span.SpanContext().TraceID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want trace %s", got, span.SpanContext().TraceID())
	}
}
