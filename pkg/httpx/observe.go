package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// observer traces each request, gives it a request id, measures it
// (http.server.request.duration by method, route and status), logs it and
// recovers from panics. It does
// what otelhttp's handler did with less: otelhttp built a dozen attributes
// per request even for spans nobody records, a third of the cost of an
// answer served from the gateway's cache.
type observer struct {
	next       http.Handler
	log        *slog.Logger
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	duration   metric.Float64Histogram
	attrs      telemetry.AttrSets[labels]
}

type labels struct {
	method, route string
	status        int
}

// observe wraps h; the route is read from the ServeMux deepest in h.
func observe(in Instruments, h http.Handler) http.Handler {
	o := &observer{next: routeOf(h), log: in.Logger, propagator: in.Propagator,
		tracer: in.Tracers.Tracer("github.com/ihr-go/ihr/pkg/httpx")}
	o.attrs.Make = func(l labels) []attribute.KeyValue {
		route := l.route
		if route == "" {
			route = "unmatched"
		}
		return []attribute.KeyValue{attribute.String("http.request.method", l.method),
			attribute.String("http.route", route), attribute.Int("http.response.status_code", l.status)}
	}
	o.duration, _ = in.Meters.Meter("github.com/ihr-go/ihr/pkg/httpx").Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP server requests, by method, route and status."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	return o
}

type routeKey struct{}

// routeOf records the pattern the ServeMux in h matched. The mux sets it
// on the request it is given, a copy the observer never sees.
func routeOf(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if route, ok := r.Context().Value(routeKey{}).(*string); ok {
				*route = r.Pattern
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func (o *observer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := o.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := o.tracer.Start(ctx, "HTTP "+method(r.Method), trace.WithSpanKind(trace.SpanKindServer))
	ctx = WithRequestID(ctx, requestID(w, r))
	var route string
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		p := recover()
		aborted := isAbort(p)
		if p != nil && !aborted {
			o.log.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()), "request_id", RequestID(ctx))
			if rec.status == 0 {
				apierr.Write(rec, nil)
			} else {
				aborted = true // begun: only cutting it short tells the client it is not whole
			}
		}
		status := rec.status
		switch {
		case r.Context().Err() != nil && (aborted || status == 0):
			status = 499 // the client left
		case aborted:
			status = http.StatusInternalServerError // the answer was cut short
		case status == 0:
			status = http.StatusOK // nothing written: the server sends an empty 200
		}
		took := time.Since(start)
		o.finish(span, r, route, status, rec.bytes)
		o.duration.Record(ctx, took.Seconds(), o.attrs.Of(labels{method(r.Method), route, status}))
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		o.log.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "query", r.URL.RawQuery,
			"status", status, "bytes", rec.bytes, "duration_ms", took.Milliseconds(),
			"request_id", RequestID(ctx), "remote", r.RemoteAddr)
		if aborted {
			panic(http.ErrAbortHandler)
		}
	}()
	o.next.ServeHTTP(rec, r.WithContext(context.WithValue(ctx, routeKey{}, &route)))
}

// finish names and describes the span, when it is recorded, and ends it.
func (o *observer) finish(span trace.Span, r *http.Request, route string, status int, bytes int64) {
	if span.IsRecording() {
		if route != "" {
			span.SetName(route)
		}
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
			attribute.String("http.route", route), attribute.Int("http.response.status_code", status),
			attribute.Int64("http.response.body.size", bytes))
		if status >= 500 {
			span.SetStatus(codes.Error, "status "+strconv.Itoa(status))
		}
	}
	span.End()
}

// isAbort reports whether p, a recovered panic, is http.ErrAbortHandler,
// perhaps wrapped (singleflight wraps what it re-panics).
func isAbort(p any) bool {
	err, ok := p.(error)
	return ok && errors.Is(err, http.ErrAbortHandler)
}

// method bounds the methods metrics name, as OpenTelemetry's conventions do.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}
