package natsx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Retry runs follow until ctx is done, again after each failure (logged
// as what), waiting from 1 s up to 30 s between tries.
func Retry(ctx context.Context, log *slog.Logger, what string, follow func(context.Context) error) {
	for delay := time.Second; ctx.Err() == nil; delay = min(2*delay, 30*time.Second) {
		err := follow(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn(what, "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
}

// ConsumeUntil hands cons's messages to handle until ctx is done (nil) or
// the consumer is gone from the server (its error), for the caller to
// make it again.
func ConsumeUntil(ctx context.Context, cons jetstream.Consumer, handle jetstream.MessageHandler) error {
	lost := make(chan error, 1)
	cc, err := cons.Consume(handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			select {
			case lost <- err:
			default:
			}
		}
	}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case err := <-lost:
		return err
	}
}
