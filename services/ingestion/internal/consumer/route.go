package consumer

import "strings"

// router sends the messages of one bin to one worker, in order, and each
// new bin to the worker with the shortest queue: hashing bins to workers
// let one worker's full queue block the delivery of every message while
// the other sat idle. It is called from the single delivery goroutine.
type router struct {
	workers int
	queued  func(worker int) int // messages waiting for a worker
	bins    map[string]int       // bin key -> worker, while the bin's messages arrive
}

// maxRoutes bounds the bins remembered: affinity only spares a bin message
// a retry while its batches are staged elsewhere, so forgetting is safe.
const maxRoutes = 4096

func newRouter(workers int, queued func(int) int) *router {
	return &router{workers: workers, queued: queued, bins: map[string]int{}}
}

// route picks the worker of the message on subject with id msgID
// (dataset:af:timebin:...).
func (r *router) route(subject, msgID string) int {
	key := binKey(msgID)
	w, ok := r.bins[key]
	if !ok {
		for i := 1; i < r.workers; i++ {
			if r.queued(i) < r.queued(w) {
				w = i
			}
		}
		if len(r.bins) >= maxRoutes {
			clear(r.bins)
		}
		r.bins[key] = w
	}
	if strings.HasSuffix(subject, ".bin") { // the bin's last message
		delete(r.bins, key)
	}
	return w
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
