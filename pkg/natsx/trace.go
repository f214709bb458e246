package natsx

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// HeaderCarrier lets OpenTelemetry propagators read and write NATS headers.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key.
func (c HeaderCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Inject writes the trace context of ctx into msg's headers.
func Inject(ctx context.Context, p propagation.TextMapPropagator, msg *nats.Msg) {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	p.Inject(ctx, HeaderCarrier(msg.Header))
}

// Extract returns ctx with the trace context found in h.
func Extract(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) context.Context {
	return p.Extract(ctx, HeaderCarrier(h))
}

// StartPublish starts the producer span of publishing msg, in the trace of
// ctx, and writes that span's context into msg's headers, so whoever
// handles the message continues the trace. A nil tracer makes no span: the
// headers then carry ctx's own.
func StartPublish(ctx context.Context, t trace.Tracer, p propagation.TextMapPropagator, msg *nats.Msg) (context.Context, trace.Span) {
	if t == nil {
		t = noop.NewTracerProvider().Tracer("")
	}
	ctx, span := t.Start(ctx, "publish "+msg.Subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messaging(msg.Subject, msg.Header)...))
	Inject(ctx, p, msg)
	return ctx, span
}

// Publish stores msg in JetStream within a producer span (see StartPublish).
func Publish(ctx context.Context, js jetstream.JetStream, t trace.Tracer, p propagation.TextMapPropagator, msg *nats.Msg) (*jetstream.PubAck, error) {
	ctx, span := StartPublish(ctx, t, p, msg)
	defer span.End()
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return ack, err
}

// StartConsume starts the consumer span of handling a message with
// headers h: a child of the span that published it, linked to the others
// (those of messages handled together with it). ctx's cancellation is kept.
func StartConsume(ctx context.Context, t trace.Tracer, p propagation.TextMapPropagator, subject string, h nats.Header, links ...trace.Link) (context.Context, trace.Span) {
	ctx = Extract(ctx, p, h)
	return t.Start(ctx, "process "+subject, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithLinks(links...),
		trace.WithAttributes(messaging(subject, h)...))
}

// Link is a link to the span that published a message with headers h
// (invalid, and ignored by tracers, when h carries none).
func Link(p propagation.TextMapPropagator, h nats.Header) trace.Link {
	return trace.Link{SpanContext: trace.SpanContextFromContext(Extract(context.Background(), p, h))}
}

func messaging(subject string, h nats.Header) []attribute.KeyValue {
	kv := []attribute.KeyValue{attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", subject)}
	if id := h.Get(nats.MsgIdHdr); id != "" {
		kv = append(kv, attribute.String("messaging.message.id", id))
	}
	return kv
}
