package natsx

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
)

// KeepInProgress tells JetStream every so often that m is still being
// worked on (a long commit, a slow server), until stop is called; stop
// returns once the last word is sent.
func KeepInProgress(m jetstream.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// DeadLetter is the copy of m, delivered to consumer durable, to publish on
// the dead-letter subject subject: its body, the reason, where it came
// from, and a message id of durable and its stream sequence, so that a
// dead-lettering retried is stored once. p, when set, carries ctx's trace.
func DeadLetter(ctx context.Context, p propagation.TextMapPropagator, subject, durable string, m jetstream.Msg, cause error) *nats.Msg {
	dl := &nats.Msg{Subject: subject, Data: m.Data(), Header: nats.Header{}}
	dl.Header.Set(events.HeaderError, cause.Error())
	dl.Header.Set(events.HeaderSubject, m.Subject())
	dl.Header.Set(events.HeaderMsgID, m.Headers().Get(jetstream.MsgIDHeader))
	if meta, err := m.Metadata(); err == nil {
		seq := strconv.FormatUint(meta.Sequence.Stream, 10)
		dl.Header.Set(events.HeaderSeq, seq)
		dl.Header.Set(jetstream.MsgIDHeader, "dlq:"+durable+":"+seq)
	}
	if p != nil {
		Inject(ctx, p, dl)
	}
	return dl
}
