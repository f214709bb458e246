package httpx

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func instruments(log *slog.Logger) (Instruments, *tracetest.SpanRecorder) {
	sr := tracetest.NewSpanRecorder()
	return Instruments{
		Logger:     log,
		Tracers:    sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)),
		Meters:     noop.NewMeterProvider(),
		Propagator: propagation.TraceContext{},
	}, sr
}

func TestRequestID(t *testing.T) {
	var seen string
	in, _ := instruments(slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := in.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))
	for _, tc := range []struct{ in, want string }{
		{"abc-123", "abc-123"},
		{"", ""},
		{"bad id\n", ""},
		{strings.Repeat("x", 65), ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(RequestIDHeader, tc.in)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got := rec.Header().Get(RequestIDHeader)
		if tc.want != "" && got != tc.want {
			t.Errorf("in %q: got %q want %q", tc.in, got, tc.want)
		}
		if tc.want == "" && (len(got) != 32 || got == tc.in) {
			t.Errorf("in %q: want a fresh id, got %q", tc.in, got)
		}
		if seen != got {
			t.Errorf("context id %q differs from header %q", seen, got)
		}
	}
}

func TestPanicBecomesJSON500AndIsLogged(t *testing.T) {
	var logs bytes.Buffer
	in, sr := instruments(slog.New(slog.NewJSONHandler(&logs, nil)))
	h := in.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaboom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), "internal_error") {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "kaboom") || !strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("panic or access log missing: %s", logs.String())
	}
	if len(sr.Ended()) != 1 {
		t.Errorf("want one server span, got %d", len(sr.Ended()))
	}
}

func TestClientPropagatesTraceAndRequestID(t *testing.T) {
	in, _ := instruments(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var gotID, gotParent string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotID, gotParent = r.Header.Get(RequestIDHeader), r.Header.Get("traceparent")
	}))
	defer up.Close()
	ctx, span := in.Tracers.Tracer("t").Start(WithRequestID(context.Background(), "rid-1"), "parent")
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, "GET", up.URL, nil)
	resp, err := in.Client(time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotID != "rid-1" {
		t.Errorf("request id %q", gotID)
	}
	if !strings.Contains(gotParent, span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q lacks trace %s", gotParent, span.SpanContext().TraceID())
	}
}

func TestServeDrainsInFlightRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	body := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			body <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body <- string(b)
	}()
	<-started
	cancel() // shutdown begins while the request is in flight
	close(release)
	if got := <-body; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get("http://" + ln.Addr().String()); err == nil {
		t.Fatal("server still accepts after shutdown")
	}
}
