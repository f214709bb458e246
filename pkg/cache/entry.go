// Package cache holds answers whole, ready to be written again: the entry
// (status, headers, body, entity tag and what its freshness is checked
// against), a byte-bounded in-process LRU, and the entry's binary form for
// shared stores such as Redis. Whether an entry is still fresh is for the
// caller to decide (see package freshness).
package cache

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one answer as it was written.
type Entry struct {
	Key    string
	Status int
	Header http.Header // the headers to send again (content type, caching, counts)
	Body   []byte
	ETag   string // strong tag of Body
	// Stream and Seq say what the answer holds: every change of the results
	// stream Stream up to sequence Seq.
	Stream string
	Seq    uint64
	Read   time.Time // when it was read from the database
	// Latest is the newest bin when the answer was read, for answers of a
	// table's latest bin.
	Latest time.Time
	// Feeds are the datasets whose changes can alter the answer.
	Feeds []string

	checked   atomic.Uint64 // a position through which the entry is known fresh
	confirmed atomic.Int64  // when the answer's origin last confirmed it (unix ns)
	mu        sync.Mutex
	encoded   map[string][]byte // Body compressed, by content coding
}

// Checked returns the position through which e is known fresh (Seq at first).
func (e *Entry) Checked() uint64 { return max(e.checked.Load(), e.Seq) }

// MarkChecked records that e is fresh through pos.
func (e *Entry) MarkChecked(pos uint64) {
	for {
		old := e.checked.Load()
		if pos <= old || e.checked.CompareAndSwap(old, pos) {
			return
		}
	}
}

// Confirm records that the answer's origin confirmed it at t.
func (e *Entry) Confirm(t time.Time) { e.confirmed.Store(t.UnixNano()) }

// Confirmed is when the answer's origin last confirmed it.
func (e *Entry) Confirmed() time.Time { return time.Unix(0, e.confirmed.Load()) }

// Encoded returns Body compressed with coding, if it was compressed.
func (e *Entry) Encoded(coding string) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.encoded[coding]
}

// SetEncoded keeps Body compressed with coding.
func (e *Entry) SetEncoded(coding string, b []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.encoded == nil {
		e.encoded = map[string][]byte{}
	}
	e.encoded[coding] = b
}

// Size is about what e holds in memory.
func (e *Entry) Size() int64 {
	n := len(e.Key) + len(e.Body) + len(e.ETag) + len(e.Stream) + 256
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	for _, f := range e.Feeds {
		n += len(f)
	}
	e.mu.Lock()
	for _, b := range e.encoded {
		n += len(b)
	}
	e.mu.Unlock()
	return int64(n)
}

// magic starts the binary form; the digit is its version.
const magic = "IHRC1"

// Marshal returns the binary form of e (compressed bodies included).
func (e *Entry) Marshal() []byte {
	b := make([]byte, 0, len(e.Body)+len(e.Key)+512)
	b = append(b, magic...)
	b = appendString(b, e.Key)
	b = binary.AppendUvarint(b, uint64(e.Status))
	keys := make([]string, 0, len(e.Header))
	for k := range e.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, e.Header.Get(k))
	}
	b = appendString(b, e.ETag)
	b = appendString(b, e.Stream)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, unixNano(e.Read))
	b = binary.AppendVarint(b, unixNano(e.Latest))
	b = binary.AppendUvarint(b, uint64(len(e.Feeds)))
	for _, f := range e.Feeds {
		b = appendString(b, f)
	}
	e.mu.Lock()
	codings := make([]string, 0, len(e.encoded))
	for c := range e.encoded {
		codings = append(codings, c)
	}
	slices.Sort(codings)
	b = binary.AppendUvarint(b, uint64(len(codings)))
	for _, c := range codings {
		b = appendString(b, c)
		b = appendBytes(b, e.encoded[c])
	}
	e.mu.Unlock()
	return appendBytes(b, e.Body)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

// ErrCorrupt is a binary form that does not decode.
var ErrCorrupt = errors.New("cache: corrupt entry")

// Unmarshal decodes the binary form of an entry. The entry's bodies share
// b's memory.
func Unmarshal(b []byte) (*Entry, error) {
	r := reader{b: b}
	if string(r.next(len(magic))) != magic {
		return nil, ErrCorrupt
	}
	e := &Entry{Key: r.str(), Status: int(r.uvarint()), Header: http.Header{}}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		k := r.str()
		e.Header.Set(k, r.str())
	}
	e.ETag, e.Stream, e.Seq = r.str(), r.str(), r.uvarint()
	e.Read, e.Latest = fromUnixNano(r.varint()), fromUnixNano(r.varint())
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		e.Feeds = append(e.Feeds, r.str())
	}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		c := r.str()
		e.SetEncoded(c, r.bytes())
	}
	e.Body = r.bytes()
	if r.err != nil || len(r.b) != 0 {
		return nil, ErrCorrupt
	}
	return e, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) next(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = ErrCorrupt
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) uvarint() uint64 { return decode(r, binary.Uvarint) }
func (r *reader) varint() int64   { return decode(r, binary.Varint) }

// decode reads one varint of r with read (binary.Uvarint or binary.Varint).
func decode[T uint64 | int64](r *reader, read func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := read(r.b)
	if n <= 0 {
		r.err = ErrCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = ErrCorrupt
		return nil
	}
	return r.next(int(n))
}

func (r *reader) str() string { return string(r.bytes()) }
