package httpx

import (
	"bytes"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

// compressible content types: the API's JSON and CSV, and the docs page.
var compressible = []string{"application/json", "text/", "application/javascript"}

// Compress encodes responses of at least minSize bytes with brotli or gzip,
// as the client's Accept-Encoding allows (brotli preferred). Small answers,
// errors, and answers already encoded go out as they are. It streams: only
// the first minSize bytes are held back to decide.
func Compress(minSize int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := Encoding(r.Header.Get("Accept-Encoding"))
		w.Header().Add("Vary", "Accept-Encoding")
		if enc == "" || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		cw := &compressWriter{ResponseWriter: w, enc: enc, min: minSize}
		next.ServeHTTP(cw, r) // a panic (an aborted stream) must not end the encoding cleanly
		cw.finish()
	})
}

// Encoding picks br or gzip from an Accept-Encoding header ("" for neither).
func Encoding(accept string) string {
	var gz bool
	for part := range strings.SplitSeq(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.ReplaceAll(strings.TrimSpace(params), " ", "") == "q=0" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "br":
			return "br"
		case "gzip":
			gz = true
		}
	}
	if gz {
		return "gzip"
	}
	return ""
}

type compressWriter struct {
	http.ResponseWriter
	enc     string
	min     int
	status  int
	buf     []byte
	decided bool
	out     io.WriteCloser // nil: write through
}

func (c *compressWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

func (c *compressWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.decided {
		c.buf = append(c.buf, p...)
		if len(c.buf) < c.min {
			return len(p), nil
		}
		if err := c.decide(true); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if c.out != nil {
		return c.out.Write(p)
	}
	return c.ResponseWriter.Write(p)
}

// decide sends the headers, compressed or not, and the held-back bytes.
func (c *compressWriter) decide(large bool) error {
	c.decided = true
	h := c.ResponseWriter.Header()
	ct := h.Get("Content-Type")
	if large && c.status/100 == 2 && h.Get("Content-Encoding") == "" && Compressible(ct) {
		h.Set("Content-Encoding", c.enc)
		h.Del("Content-Length")
		if tag := h.Get("ETag"); strings.HasPrefix(tag, `"`) {
			h.Set("ETag", "W/"+tag) // the encoded bytes differ from what the tag names
		}
		if c.enc == "br" {
			c.out = brotli.NewWriterLevel(c.ResponseWriter, 2)
		} else {
			c.out, _ = gzip.NewWriterLevel(c.ResponseWriter, gzip.BestSpeed)
		}
	}
	c.ResponseWriter.WriteHeader(c.status)
	buf := c.buf
	c.buf = nil
	if len(buf) == 0 {
		return nil
	}
	var err error
	if c.out != nil {
		_, err = c.out.Write(buf)
	} else {
		_, err = c.ResponseWriter.Write(buf)
	}
	return err
}

// Compressible reports whether answers of content type ct are worth compressing.
func Compressible(ct string) bool {
	for _, p := range compressible {
		if strings.HasPrefix(ct, p) {
			return true
		}
	}
	return false
}

// finish flushes what is held back and closes the compressor.
func (c *compressWriter) finish() {
	if c.status == 0 {
		return // nothing written: let the server answer as usual
	}
	if !c.decided {
		_ = c.decide(false)
	}
	if c.out != nil {
		_ = c.out.Close()
	}
}

// Flush sends what is written so far, encoded (a reverse proxy flushes
// after each piece of a streamed answer). Until enough is written to decide,
// the few bytes held back stay: they are less than minSize.
func (c *compressWriter) Flush() {
	if !c.decided {
		return
	}
	if f, ok := c.out.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
	_ = http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *compressWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// CompressBytes encodes b with coding (br or gzip) at a level worth paying
// once for bytes served many times.
func CompressBytes(coding string, b []byte) []byte {
	var out bytes.Buffer
	var w io.WriteCloser
	if coding == "br" {
		w = brotli.NewWriterLevel(&out, 5)
	} else {
		w, _ = gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	}
	_, _ = w.Write(b)
	_ = w.Close()
	return bytes.Clone(out.Bytes()) // kept: without the buffer's spare room
}
