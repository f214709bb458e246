package telemetry

import (
	"io"
	"sync"
	"time"
)

// logBuffer gathers log lines into fewer writes: at tens of thousands of
// requests a second, one write per access-log line costs as much as the
// answer. A line waits at most flushAfter; warnings and errors are written
// at once, with everything before them. The write itself happens outside
// the lock the loggers take, so they never wait for one.
type logBuffer struct {
	mu    sync.Mutex // buf, timer
	buf   []byte
	timer *time.Timer

	out   sync.Mutex // taken under mu, so writes keep the order of the lines
	w     io.Writer
	spare []byte // the buffer written last, for the next lines
}

const (
	flushAfter = 50 * time.Millisecond
	flushAt    = 64 << 10
)

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= flushAt:
		b.flushLocked()
		return len(p), nil
	case b.timer == nil:
		b.timer = time.AfterFunc(flushAfter, b.Flush)
	}
	b.mu.Unlock()
	return len(p), nil
}

// Flush writes what is held.
func (b *logBuffer) Flush() {
	b.mu.Lock()
	b.flushLocked()
}

// flushLocked takes the lines held and writes them; it is called with mu
// held and releases it before writing.
func (b *logBuffer) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 {
		b.mu.Unlock()
		return
	}
	b.out.Lock()
	lines := b.buf
	b.buf, b.spare = b.spare[:0], nil
	b.mu.Unlock()
	_, _ = b.w.Write(lines)
	b.spare = lines
	b.out.Unlock()
}
