package natsx

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Consumer names a durable consumer of one of the IHR streams.
type Consumer struct {
	// Stream is the stream's name outside any prefix: StreamIngest, ...
	Stream string
	// Durable is the consumer's durable name.
	Durable string
}

// Watch is what Observe reports on: the durable consumers a service owns
// and the dead-letter subjects (ihr.dlq.ingest, ...) it writes to.
type Watch struct {
	Consumers   []Consumer
	DeadLetters []string
}

// collectTimeout bounds the server requests of one collection: a scrape
// must not hang while NATS is slow.
const collectTimeout = 2 * time.Second

// Observe exports, read from the server each time metrics are collected
// (never on the paths that handle messages):
//
//	ihr_jetstream_consumer_pending{stream,consumer}          messages not delivered yet: the lag
//	ihr_jetstream_consumer_ack_pending{stream,consumer}      delivered, not acknowledged yet
//	ihr_jetstream_consumer_max_ack_pending{stream,consumer}  where the server stops delivering
//	ihr_jetstream_consumer_redelivered{stream,consumer}      delivered more than once, not acknowledged yet
//	ihr_dlq_messages{subject}                                dead letters kept on the subject
//
// A consumer not created yet, or a server that does not answer, leaves
// its series out of that collection; ihr_dependency_up tells NATS is down.
// Each collection costs one request per consumer and two for the dead letters.
func (b *Bus) Observe(m metric.Meter, w Watch) error {
	var errs []error
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	pending := gauge("ihr_jetstream_consumer_pending", "Messages of the consumer's subjects not delivered yet (its lag), by stream and consumer.")
	ackPending := gauge("ihr_jetstream_consumer_ack_pending", "Messages delivered to the consumer and not acknowledged yet, by stream and consumer.")
	maxAckPending := gauge("ihr_jetstream_consumer_max_ack_pending", "Acknowledgements the consumer may await before the server stops delivering, by stream and consumer.")
	redelivered := gauge("ihr_jetstream_consumer_redelivered", "Messages delivered more than once and not acknowledged yet, by stream and consumer.")
	dead := gauge("ihr_dlq_messages", "Dead letters kept in the DLQ stream, by subject.")

	attrs := make([]metric.MeasurementOption, len(w.Consumers))
	for i, c := range w.Consumers {
		attrs[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", c.Stream), attribute.String("consumer", c.Durable)))
	}
	deadAttrs := make([]metric.MeasurementOption, len(w.DeadLetters))
	for i, s := range w.DeadLetters {
		deadAttrs[i] = metric.WithAttributeSet(attribute.NewSet(attribute.String("subject", s)))
	}
	_, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if !b.Conn.IsConnected() {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, collectTimeout)
		defer cancel()
		for i, c := range w.Consumers {
			cons, err := b.JS.Consumer(ctx, b.StreamName(c.Stream), c.Durable)
			if err != nil {
				continue
			}
			info := cons.CachedInfo() // just fetched by Consumer
			o.ObserveInt64(pending, int64(info.NumPending), attrs[i])
			o.ObserveInt64(ackPending, int64(info.NumAckPending), attrs[i])
			o.ObserveInt64(maxAckPending, int64(info.Config.MaxAckPending), attrs[i])
			o.ObserveInt64(redelivered, int64(info.NumRedelivered), attrs[i])
		}
		if len(w.DeadLetters) > 0 {
			if counts, err := b.deadLetters(ctx); err == nil {
				for i, s := range w.DeadLetters {
					o.ObserveInt64(dead, int64(counts[s]), deadAttrs[i])
				}
			}
		}
		return nil
	}, pending, ackPending, maxAckPending, redelivered, dead)
	return errors.Join(append(errs, err)...)
}

// deadLetters counts the messages of the DLQ stream by subject, outside
// the prefix.
func (b *Bus) deadLetters(ctx context.Context) (map[string]uint64, error) {
	s, err := b.JS.Stream(ctx, b.StreamName(StreamDLQ))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return map[string]uint64{}, nil // not provisioned yet: nothing dead-lettered
	}
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(b.Subject("ihr.dlq.>")))
	if err != nil {
		return nil, err
	}
	counts := make(map[string]uint64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		counts[b.unprefixed(subj)] = n
	}
	return counts, nil
}

// unprefixed returns subject outside this deployment's namespace.
func (b *Bus) unprefixed(subject string) string {
	if b.prefix == "" {
		return subject
	}
	return strings.TrimPrefix(subject, b.prefix+".")
}
