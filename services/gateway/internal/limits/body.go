package limits

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ihr-go/ihr/pkg/apierr"
)

// Body bounds request bodies: those of paths under IngestPrefix to Ingest
// bytes, others to Default.
type Body struct {
	Default, Ingest int64
	IngestPrefix    string
}

// Wrap limits next's request bodies. A body whose Content-Length is over
// the limit is refused at once with 413; a streamed one is cut at the
// limit, so that whoever reads it gets an error (TooLarge, see
// TooLargeError), never a shortened body that looks whole.
func (b Body) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := b.Default
		if strings.HasPrefix(r.URL.Path, b.IngestPrefix) {
			limit = b.Ingest
		}
		switch {
		case r.ContentLength > limit:
			apierr.Write(w, tooLarge(limit))
			return
		case r.ContentLength < 0:
			// A known length is enforced by the server already.
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(limit int64) *apierr.Error {
	return apierr.New(apierr.TooLarge, "body_too_large", fmt.Sprintf("The request body exceeds the %d bytes this endpoint accepts", limit)).
		With("max_bytes", limit)
}

// TooLargeError returns the API error of a body cut by Body, when err (a
// failure to read or forward it) is one; nil otherwise.
func TooLargeError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(mb.Limit)
	}
	return nil
}
