package app

import "context"

// Later runs in the background the work whose time must not show in a
// request's answer (whether an address has an account), from a bounded
// queue, one piece at a time: a flood of requests waits in the queue or
// is refused, it never runs unbounded.
type Later struct{ work chan func(context.Context) }

// NewLater returns a Later that holds up to queue pieces of work.
func NewLater(queue int) *Later { return &Later{work: make(chan func(context.Context), max(queue, 1))} }

// do queues f; false when the queue is full.
func (l *Later) do(f func(context.Context)) bool {
	select {
	case l.work <- f:
		return true
	default:
		return false
	}
}

// Run runs the queued work until ctx is done.
func (l *Later) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-l.work:
			f(ctx)
		}
	}
}
