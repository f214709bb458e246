package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func TestLoggerCarriesTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	tel, err := Setup(context.Background(), config.ReadCommon(config.FromMap(nil), "test"), &buf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.Tracers.Tracer("test").Start(context.Background(), "op")
	tel.Logger.InfoContext(ctx, "inside")
	span.End()
	tel.Logger.Info("outside")
	if err := tel.Shutdown(context.Background()); err != nil { // writes the lines held
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got %q", buf.String())
	}
	var in, out map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &in); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(lines[1]), &out)
	if in["trace_id"] != span.SpanContext().TraceID().String() || in["span_id"] != span.SpanContext().SpanID().String() {
		t.Errorf("log inside a span lacks its ids: %v", in)
	}
	if in["service"] != "ihr-test" {
		t.Errorf("service attribute missing: %v", in)
	}
	if _, ok := out["trace_id"]; ok {
		t.Errorf("log outside a span has a trace id: %v", out)
	}
}

// TestLogBuffer: lines are gathered into fewer writes, but a warning goes
// out at once with what came before, and nothing waits long.
func TestLogBuffer(t *testing.T) {
	var out testkit.Buffer
	tel, err := Setup(context.Background(), config.ReadCommon(config.FromMap(nil), "test"), &out)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.Logger.Info("first")
	if s := out.String(); s != "" {
		t.Fatalf("an info line was written at once: %q", s)
	}
	tel.Logger.Warn("second")
	if s := out.String(); !strings.Contains(s, "first") || !strings.Contains(s, "second") {
		t.Fatalf("a warning did not write the lines held: %q", s)
	}
	tel.Logger.Info("third")
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(out.String(), "third") {
		if time.Now().After(deadline) {
			t.Fatalf("an info line still held after 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowWriter blocks its first write until released.
type slowWriter struct {
	testkit.Buffer
	entered, release chan struct{}
	once             sync.Once
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered); <-w.release })
	return w.Buffer.Write(p)
}

// TestLogBufferWritesOutsideTheLock: while a full buffer is being written,
// loggers go on adding lines, and every line comes out once, in order.
func TestLogBufferWritesOutsideTheLock(t *testing.T) {
	w := &slowWriter{entered: make(chan struct{}), release: make(chan struct{})}
	b := &logBuffer{w: w}
	line := strings.Repeat("x", 1000) + "\n"
	var want strings.Builder
	var filler sync.WaitGroup
	filler.Go(func() {
		for i := 0; i <= flushAt/len(line); i++ { // the last line fills the buffer
			l := fmt.Sprintf("%04d%s", i, line)
			want.WriteString(l)
			_, _ = b.Write([]byte(l))
		}
	})
	<-w.entered
	done := make(chan struct{})
	go func() {
		_, _ = b.Write([]byte("after\n"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a logger waited for a write in progress")
	}
	close(w.release)
	filler.Wait()
	b.Flush()
	if got := w.String(); got != want.String()+"after\n" {
		t.Fatalf("lines lost or out of order: %d bytes written, want %d", len(got), want.Len()+len("after\n"))
	}
}

func TestLogLevel(t *testing.T) {
	var buf bytes.Buffer
	l := newLogger(&buf, "warn", nil)
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level filter wrong: %q", buf.String())
	}
}

func TestMetricsExposeOTelAndRuntime(t *testing.T) {
	tel, err := Setup(context.Background(), config.ReadCommon(config.FromMap(nil), "test"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	c, _ := tel.Meters.Meter("test").Int64Counter("ihr_test_events")
	c.Add(context.Background(), 3)

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"ihr_test_events_total", "go_goroutines", `service_name="ihr-test"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
