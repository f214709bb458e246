package cache

import (
	"errors"
	"net/http"
)

// ErrTooLarge stops an answer written for the cache alone (no client to
// send it to) once it outgrows the largest entry.
var ErrTooLarge = errors.New("answer larger than the largest cache entry")

// Capture is a ResponseWriter that holds what a handler writes, up to Max
// bytes, so that it can be kept whole. Past that it sends everything held
// on to Out and writes through from then on (Spilled); with no Out it
// fails the write instead (Full).
type Capture struct {
	Out     http.ResponseWriter
	Status  int
	Body    []byte
	Max     int
	Spilled bool
	Full    bool
	// Hold, when set, is asked at the status whether the answer is worth
	// holding; when not, it is sent on at once and streams.
	Hold func(status int, h http.Header) bool

	header http.Header
}

// NewCapture returns a Capture spilling into out past max bytes.
func NewCapture(out http.ResponseWriter, max int) *Capture {
	return &Capture{Out: out, header: http.Header{}, Max: max}
}

// Header is the header being written (Out's once spilled).
func (c *Capture) Header() http.Header {
	if c.Spilled {
		return c.Out.Header()
	}
	return c.header
}

// WriteHeader records the status.
func (c *Capture) WriteHeader(status int) {
	if c.Status != 0 {
		return
	}
	c.Status = status
	if c.Hold != nil && c.Out != nil && !c.Hold(status, c.header) {
		_ = c.spill()
	}
}

// Write holds p, or sends it on once spilled.
func (c *Capture) Write(p []byte) (int, error) {
	if c.Status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.Spilled {
		return c.Out.Write(p)
	}
	if len(c.Body)+len(p) > c.Max {
		if c.Out == nil {
			c.Full = true
			return 0, ErrTooLarge
		}
		if err := c.spill(); err != nil {
			return 0, err
		}
		return c.Out.Write(p)
	}
	c.Body = append(c.Body, p...)
	return len(p), nil
}

// spill sends the headers and what is held to out.
func (c *Capture) spill() error {
	c.Spilled = true
	h := c.Out.Header()
	for k, v := range c.header {
		h[k] = v
	}
	c.Out.WriteHeader(c.Status)
	body := c.Body
	c.Body = nil
	_, err := c.Out.Write(body)
	return err
}

// Flush is held back while the answer may still be kept whole.
func (c *Capture) Flush() {
	if c.Spilled {
		_ = http.NewResponseController(c.Out).Flush()
	}
}
