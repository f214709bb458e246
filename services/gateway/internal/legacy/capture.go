package legacy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// tee passes an answer to the client as it is written, and keeps a copy
// of its body, up to max bytes, for the comparison in the background.
// Past max it keeps nothing more (the comparison is skipped): memory
// stays bounded whatever the answer's size.
type tee struct {
	http.ResponseWriter
	max    int
	status int
	// coding is the body's Content-Encoding as the handler wrote it; the
	// gateway's compression, further out, may set its own after.
	coding string
	body   []byte
	over   bool
}

func (t *tee) WriteHeader(status int) {
	if t.status == 0 && status >= 200 {
		t.status = status
		t.coding = t.Header().Get("Content-Encoding")
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tee) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	switch {
	case t.over:
	case len(t.body)+len(p) > t.max:
		t.over, t.body = true, nil
	default:
		t.body = append(t.body, p...)
	}
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush.
func (t *tee) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// errTooLarge: a body over the comparison limit.
var errTooLarge = errors.New("body over the comparison limit")

// decode returns body without its content coding, at most max bytes.
// The client's copy may be compressed: by the edge cache, or by the
// legacy API when the client accepts it.
func decode(coding string, body []byte, max int) ([]byte, error) {
	var r io.Reader
	var err error
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(bytes.NewReader(body))
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("content coding %q", coding)
	}
	if err != nil {
		return nil, err
	}
	return readMax(r, max)
}

// readMax reads r whole, failing with errTooLarge past max bytes.
func readMax(r io.Reader, max int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, errTooLarge
	}
	return b, nil
}
