package telemetry

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// logBuffer gathers log lines into fewer writes: at tens of thousands of
// requests a second, one write per access-log line costs as much as the
// answer. A line waits at most flushAfter; warnings and errors are written
// at once, with everything before them.
type logBuffer struct {
	mu    sync.Mutex
	w     io.Writer
	buf   bytes.Buffer
	timer *time.Timer
}

const (
	flushAfter = 50 * time.Millisecond
	flushAt    = 64 << 10
)

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	switch {
	case b.buf.Len() >= flushAt:
		b.flushLocked()
	case b.timer == nil:
		b.timer = time.AfterFunc(flushAfter, b.Flush)
	}
	return len(p), nil
}

// Flush writes what is held.
func (b *logBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *logBuffer) flushLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if b.buf.Len() > 0 {
		_, _ = b.w.Write(b.buf.Bytes())
		b.buf.Reset()
	}
}
