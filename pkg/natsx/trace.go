package natsx

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
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
