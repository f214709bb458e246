package passwords

import (
	"context"
	"errors"
	"time"
)

// ErrBusy is a hash refused because every slot of a Gate stayed taken for
// its whole wait.
var ErrBusy = errors.New("too many password hashes at once")

// Gate bounds the password hashes computed at once. Each argon2id hash
// holds 19 MiB and a core for tens of milliseconds, and anyone may ask for
// one (a login, a registration): unbounded, a few hundred concurrent
// requests take gigabytes. Past the bound a hash waits a short while for a
// slot, then is refused with ErrBusy, which the caller answers at once.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate returns a gate of n slots (at least 1) whose callers wait at
// most wait for one.
func NewGate(n int, wait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// enter takes a slot: ErrBusy after the wait, ctx's error when it ends first.
func (g *Gate) enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Gate) leave() { <-g.slots }

// Hash is the package's Hash within a slot.
func (g *Gate) Hash(ctx context.Context, password string) (string, error) {
	if err := g.enter(ctx); err != nil {
		return "", err
	}
	defer g.leave()
	return Hash(password), nil
}

// Verify is the package's Verify within a slot.
func (g *Gate) Verify(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	if err := g.enter(ctx); err != nil {
		return false, false, err
	}
	defer g.leave()
	ok, rehash = Verify(hash, password)
	return ok, rehash, nil
}

// Waste is the package's Waste within a slot.
func (g *Gate) Waste(ctx context.Context, password string) error {
	if err := g.enter(ctx); err != nil {
		return err
	}
	defer g.leave()
	Waste(password)
	return nil
}
