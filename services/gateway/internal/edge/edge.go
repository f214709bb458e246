// Package edge is the gateway's own cache of read answers, in front of the
// query service: a request answered from here never crosses a second hop,
// which is what lets one gateway serve tens of thousands of hot requests a
// second. It keeps only what the query service marks cacheable, and knows
// nothing of endpoints: an entry names the datasets it depends on, and
// after any change to one of them it is revalidated with the query service
// (If-None-Match, cheap while the query service's finer check finds it
// still fresh) before it is served again.
package edge

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/popularity"
)

// Edge serves cached answers and sends the rest to Upstream.
type Edge struct {
	Upstream http.Handler // the reverse proxy to the query service
	L1       *cache.LRU
	Log      *freshness.Log
	Popular  *popularity.Recorder
	// MaxEntry is the largest answer kept, in bytes.
	MaxEntry int
	// Revalidate is how long an entry is served without the query service
	// confirming it, changes or not: a query service of another release
	// or configuration may answer other bytes, and its IHR_CACHE_MAX_AGE
	// must hold here too.
	Revalidate time.Duration
	Metrics    *Metrics
	// Compress, when set, is given each new entry to add its compressed bodies to.
	Compress func(*cache.Entry)

	flight cache.Flight[fetched]
}

// ServeHTTP answers from the cache when it can.
func (x *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cache.DropInternal(r.Header) // only the gateway speaks them
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || !x.Log.Ready() || !x.Log.Healthy() || !x.Log.Sync(r.Context()) {
		if r.Context().Err() != nil {
			return // the client left while the gateway made sure of the stream
		}
		x.Metrics.lookup(r.Context(), "bypass")
		x.pass(w, r)
		return
	}
	key := r.URL.Path + "?" + r.URL.RawQuery
	old := x.L1.Get(key)
	if old != nil && !cache.NoCache(r.Header) && x.fresh(old) {
		x.Metrics.lookup(r.Context(), "hit")
		x.serve(w, r, old, "edge")
		return
	}
	// Requests that come after any change heard of must not share a fetch begun before it.
	snap := x.Log.Snapshot()
	res, led := x.flight.Do(key+"@"+strconv.FormatUint(snap.Gen, 10), func() fetched {
		return x.fetch(w, r, key, old, snap)
	})
	switch {
	case res.aborted && led:
		panic(http.ErrAbortHandler) // the answer was cut: so must the client's be
	case res.spilled && led:
		x.Metrics.lookup(r.Context(), "pass")
	case res.entry == nil:
		if r.Context().Err() != nil {
			return
		}
		x.Metrics.lookup(r.Context(), "pass")
		x.pass(w, r) // not shareable: ask for it again
	case res.revalidated:
		x.Metrics.lookup(r.Context(), "revalidated")
		x.serve(w, r, res.entry, "edge-revalidated")
	default:
		x.Metrics.lookup(r.Context(), "miss")
		x.serve(w, r, res.entry, res.entry.Header.Get(cache.HeaderCache))
	}
}

// fetched is the upstream's answer, shared by the requests that waited for it.
type fetched struct {
	entry       *cache.Entry
	revalidated bool // the old entry is still the answer
	spilled     bool // not for keeping: written through to the first client
	aborted     bool // cut short while written through
}

// holdable tells, at its status, whether an upstream answer may be kept
// (or confirms the entry held): anything else streams through at once.
func holdable(status int, h http.Header) bool {
	return status == http.StatusNotModified || status == http.StatusOK && h.Get(cache.HeaderSeq) != ""
}

// fetch asks the query service for key, as fresh as this gateway's log at
// snap, revalidating old when there is one.
func (x *Edge) fetch(w http.ResponseWriter, r *http.Request, key string, old *cache.Entry, snap freshness.Snapshot) (res fetched) {
	up := r.Clone(r.Context())
	up.Method = http.MethodGet
	h := up.Header
	h.Del("Accept-Encoding") // compressing is the gateway's part
	h.Set(cache.HeaderMinSeq, strconv.FormatUint(snap.Pos, 10))
	h.Set(cache.HeaderStream, snap.Stream)
	h.Set(cache.HeaderCounted, "1")
	if old != nil {
		// Revalidate what is held; the client's own condition is met below, against it.
		h.Set("If-None-Match", old.ETag)
	}
	start := time.Now()
	capt := cache.NewCapture(&dropInternal{ResponseWriter: w}, x.MaxEntry)
	capt.Hold = holdable
	defer func() {
		// The reverse proxy cuts an answer whose upstream breaks once begun.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			res = fetched{aborted: true}
		}
	}()
	x.Upstream.ServeHTTP(capt, up)
	x.Metrics.fetched(r.Context(), time.Since(start))
	got := capt.Header()
	seq, err := strconv.ParseUint(got.Get(cache.HeaderSeq), 10, 64)
	fit := err == nil && got.Get(cache.HeaderStream) == snap.Stream
	switch {
	case capt.Spilled:
		return fetched{spilled: true}
	case capt.Status == 0:
		return fetched{} // the client left and nothing came: the others ask again
	case capt.Status == http.StatusNotModified && old != nil:
		// The query service confirms the bytes; when it also says how
		// fresh (it used its cache), the entry is fresh that far.
		if fit {
			old.MarkChecked(seq)
		}
		old.Confirm(time.Now())
		return fetched{entry: old, revalidated: true}
	case !fit || capt.Status != http.StatusOK:
		// Not for keeping (a 304 to the client's own condition, another
		// stream): the client gets it as it came.
		if k := got.Get(cache.HeaderKey); k != "" {
			x.Popular.Hit(k)
		}
		x.writeCaptured(w, capt)
		return fetched{spilled: true}
	}
	e := &cache.Entry{Key: key, Status: http.StatusOK, Header: http.Header{}, Body: bytes.Clone(capt.Body),
		ETag: got.Get("ETag"), Stream: snap.Stream, Seq: seq, Read: start,
		Feeds: strings.Split(got.Get(cache.HeaderFeeds), ",")}
	for _, k := range []string{"Content-Type", "Cache-Control", "Content-Disposition", "X-Total-Count", cache.HeaderCache, cache.HeaderKey} {
		if v := got.Get(k); v != "" {
			e.Header.Set(k, v)
		}
	}
	if e.ETag == "" {
		e.ETag = httpx.Tag(e.Body)
	}
	e.Confirm(start)
	x.L1.Add(e)
	if x.Compress != nil {
		x.Compress(e)
	}
	return fetched{entry: e}
}

// fresh reports whether no change to the datasets e depends on came since
// it was known fresh, and the query service confirmed it lately enough.
func (x *Edge) fresh(e *cache.Entry) bool {
	if time.Since(e.Confirmed()) > x.Revalidate {
		return false
	}
	changed, known, pos := x.Log.ChangedSince(e.Stream, e.Checked(), e.Feeds, func(*freshness.Change) bool { return true })
	if changed || !known {
		return false
	}
	e.MarkChecked(pos)
	return true
}

// serve writes e (compressed when the client takes it and it is ready),
// or 304 when the client holds it.
func (x *Edge) serve(w http.ResponseWriter, r *http.Request, e *cache.Entry, from string) {
	x.Popular.Hit(e.Header.Get(cache.HeaderKey))
	h := w.Header()
	// The internal ones are left out rather than added and dropped: every
	// key added to the answer's header map costs (it grows past 8 keys,
	// and net/http copies it whole when the header is written).
	for k, v := range e.Header {
		if !cache.Internal(k) {
			h[k] = v
		}
	}
	h.Set(cache.HeaderCache, from)
	tag, body := e.ETag, e.Body
	if coding := httpx.Encoding(r.Header.Get("Accept-Encoding")); coding != "" {
		if b := e.Encoded(coding); b != nil {
			h.Set("Content-Encoding", coding)
			tag, body = "W/"+e.ETag, b // the encoded bytes differ from what the tag names
		}
	}
	h.Set("ETag", tag)
	if httpx.NoneMatch(r.Header.Values("If-None-Match"), tag) {
		h.Del("Content-Type")
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// writeCaptured sends an answer held by capt, as it came (its Vary added
// to what the gateway's own middleware put there).
func (x *Edge) writeCaptured(w http.ResponseWriter, capt *cache.Capture) {
	h := w.Header()
	for k, v := range capt.Header() {
		if k == "Vary" {
			for _, f := range v {
				if !slices.Contains(h[k], f) {
					h[k] = append(h[k][:len(h[k]):len(h[k])], f) // the slice may be shared: append to a copy
				}
			}
			continue
		}
		h[k] = v
	}
	cache.DropInternal(h)
	w.WriteHeader(capt.Status)
	_, _ = w.Write(capt.Body)
}

// pass sends r to the query service, as a plain proxy would.
func (x *Edge) pass(w http.ResponseWriter, r *http.Request) {
	x.Upstream.ServeHTTP(&dropInternal{ResponseWriter: w}, r)
}

// dropInternal removes the internal headers before they leave.
type dropInternal struct {
	http.ResponseWriter
	done bool
}

func (d *dropInternal) WriteHeader(status int) {
	if !d.done {
		d.done = true
		cache.DropInternal(d.Header())
	}
	d.ResponseWriter.WriteHeader(status)
}

func (d *dropInternal) Write(p []byte) (int, error) {
	if !d.done {
		d.WriteHeader(http.StatusOK)
	}
	return d.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach Flush.
func (d *dropInternal) Unwrap() http.ResponseWriter { return d.ResponseWriter }
