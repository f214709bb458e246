package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
)

// flakyBus fails the first publications, then takes them.
type flakyBus struct {
	mu        sync.Mutex
	failures  int
	published chan authn.Revocation
}

func (b *flakyBus) Revoked(_ context.Context, r authn.Revocation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures > 0 {
		b.failures--
		return errors.New("nats: no responders")
	}
	b.published <- r
	return nil
}

// A revocation the bus did not take is published again, or the gateway
// would let the tokens it revokes live until they expire.
func TestRevocationsArePublishedAgain(t *testing.T) {
	bus := &flakyBus{failures: 3, published: make(chan authn.Revocation, 1)}
	s := &Service{Events: bus, Later: NewLater(10), Log: slog.New(slog.DiscardHandler), retryBase: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { s.Later.Run(ctx) })
	s.revoke(ctx, authn.Revocation{Kind: "key", ID: "k1"})
	select {
	case r := <-bus.published:
		if r.Kind != "key" || r.ID != "k1" || r.Schema != authn.SchemaRevoked {
			t.Errorf("published %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a revocation the bus refused was never published again")
	}
}
