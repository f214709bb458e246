package edge

import (
	"context"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/httpx"
)

// Compressor adds compressed bodies (br and gzip) to new entries in the
// background, one entry at a time, so that clients that take them are
// served without compressing again. Until it is done, such clients get the
// answer compressed on the fly.
type Compressor struct {
	L1      *cache.LRU
	MinSize int
	queue   chan *cache.Entry
}

// NewCompressor returns a compressor for entries of at least minSize bytes;
// start it with Run.
func NewCompressor(l1 *cache.LRU, minSize int) *Compressor {
	return &Compressor{L1: l1, MinSize: minSize, queue: make(chan *cache.Entry, 64)}
}

// Add queues e; when the queue is full e stays uncompressed.
func (c *Compressor) Add(e *cache.Entry) {
	if len(e.Body) < c.MinSize || !httpx.Compressible(e.Header.Get("Content-Type")) {
		return
	}
	select {
	case c.queue <- e:
	default:
	}
}

// Run compresses queued entries until ctx is done.
func (c *Compressor) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-c.queue:
			for _, coding := range []string{"br", "gzip"} {
				e.SetEncoded(coding, httpx.CompressBytes(coding, e.Body))
			}
			c.L1.Readd(e) // account for what it grew to
		}
	}
}
