package consumer

import "sync"

// router sends the messages of one bin to one worker while any of them is
// queued or in hand there, so a bin's batches, its bin message and a
// later run of it are handled in the order they were published; a bin
// with nothing in hand goes to the worker with the shortest queue.
// (Hashing bins to workers let one worker's full queue block every
// delivery while the other sat idle.)
type router struct {
	workers int
	queued  func(worker int) int // messages waiting for a worker
	mu      sync.Mutex
	bins    map[string]*route
}

type route struct{ worker, inHand int }

func newRouter(workers int, queued func(int) int) *router {
	return &router{workers: workers, queued: queued, bins: map[string]*route{}}
}

// route picks the worker of the message with id msgID (dataset:af:timebin:...);
// done must be called once the worker has handled it.
func (r *router) route(msgID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := binKey(msgID)
	rt := r.bins[key]
	if rt == nil {
		rt = &route{}
		for i := 1; i < r.workers; i++ {
			if r.queued(i) < r.queued(rt.worker) {
				rt.worker = i
			}
		}
		r.bins[key] = rt
	}
	rt.inHand++
	return rt.worker
}

// done records that the worker handled the message with id msgID.
func (r *router) done(msgID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := binKey(msgID)
	if rt := r.bins[key]; rt != nil {
		if rt.inHand--; rt.inHand <= 0 {
			delete(r.bins, key)
		}
	}
}

// binKey is the bin part of a message id: its first three fields.
func binKey(id string) string {
	end := 0
	for fields := 0; end < len(id) && fields < 3; end++ {
		if id[end] == ':' {
			fields++
		}
	}
	return id[:end]
}
