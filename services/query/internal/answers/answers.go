// Package answers serves the read API's answers from memory when it can:
// an in-process LRU (L1) and Redis shared by every replica (L2), holding
// whole encoded answers under their query's canonical key. An entry is
// served only when the results stream shows that nothing it depends on
// changed since it was read (package impact decides what it depends on);
// otherwise the answer is read again, once for all concurrent requests.
package answers

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/ihr-go/ihr/services/query/internal/impact"
)

// Meta is what rendering an answer tells beyond its bytes.
type Meta struct {
	// Latest is the newest bin read, for answers of a table's latest bin.
	Latest time.Time
	// Linked: the answer links to other pages, so it depends on the
	// request's URL and host and is not kept.
	Linked bool
}

// Render writes the answer to q into w, as the API does without a cache.
// An error returned before anything was written can still be answered;
// after, it is a *Partial.
type Render func(w http.ResponseWriter, r *http.Request, q *endpoint.Query) (Meta, error)

// Partial is a failure after part of the answer was written.
type Partial struct{ Err error }

func (p *Partial) Error() string { return "answer cut short: " + p.Err.Error() }
func (p *Partial) Unwrap() error { return p.Err }

// Config are the cache's limits.
type Config struct {
	// MaxEntry is the largest answer kept, in bytes.
	MaxEntry int
	// Fallback: while the results stream is not followed, only entries
	// read less than this long ago are served.
	Fallback time.Duration
	// MaxAge, when set, bounds how long an entry is served at all (for
	// databases that something other than ingestion writes to).
	MaxAge time.Duration
	// MinSeqWait bounds the wait for a position a request asks for.
	MinSeqWait time.Duration
}

// Cache serves answers from L1, L2 or by rendering them.
type Cache struct {
	Config
	// Scope prefixes the keys entries are stored under: what besides the
	// query shapes the bytes (the release, the page size).
	Scope     string
	L1        *cache.LRU
	L2        *Redis // nil: no shared tier
	Log       *freshness.Log
	Endpoints map[*endpoint.Endpoint]*impact.Endpoint
	Render    Render
	// Fail answers an error Render returned.
	Fail    func(w http.ResponseWriter, r *http.Request, err error)
	Popular *popularity.Recorder
	Metrics *Metrics
	Logger  *slog.Logger

	flight cache.Flight[result]
}

// Serve answers r, a valid query q of page 1.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, q *endpoint.Query) {
	canonical := q.Key()
	if r.Header.Get(cache.HeaderCounted) == "" {
		c.Popular.Hit(canonical)
	}
	key := c.Scope + canonical
	if !c.caughtUp(r) {
		c.Metrics.lookup(r.Context(), q, "bypass")
		c.direct(w, r, q, "bypass")
		return
	}
	if !cache.NoCache(r.Header) {
		if e, tier := c.lookup(r.Context(), key, q); e != nil {
			c.Metrics.lookup(r.Context(), q, tier)
			c.write(w, e, tier, e.Checked(), true)
			return
		}
	}
	c.Metrics.lookup(r.Context(), q, "miss")
	w.Header().Set(cache.HeaderCache, "uncacheable") // what a too large answer, written as it is read, shows
	res := c.fill(r.Context(), w, r, q, key)
	switch {
	case res.spilled && res.leader:
		if res.err != nil {
			c.Fail(w, r, res.err) // begun already: cut short
		}
	case res.spilled:
		c.direct(w, r, q, "uncacheable") // too large to share: read it here
	case errors.Is(res.err, context.Canceled) && r.Context().Err() == nil:
		c.direct(w, r, q, "bypass") // its reader left: read it here
	case res.err != nil:
		c.Fail(w, r, res.err)
	case !res.kept && res.leader: // a page that links to others, with the links of this request
		c.write(w, res.entry, "uncacheable", 0, false)
	case !res.kept:
		c.direct(w, r, q, "uncacheable") // its links are the reader's: read it here
	default:
		c.write(w, res.entry, "miss", res.entry.Seq, true)
	}
}

// caughtUp tells whether entries can be checked: the log caught up with
// the stream, knows of every change published before the request (a
// client that heard of one expects its next read to hold it), and holds
// the position the request asks for (waiting a little for it). While the
// stream is not followed, entries fall back to a short lifetime instead.
func (c *Cache) caughtUp(r *http.Request) bool {
	if !c.Log.Ready() {
		return false
	}
	// Made sure of even when the log lags: the announcements may then be
	// ahead of it. Without NATS, the fallback lifetime applies instead.
	if !c.Log.Sync(r.Context()) && c.Log.Healthy() {
		return false
	}
	// Positions compare only within one stream.
	min, err := strconv.ParseUint(r.Header.Get(cache.HeaderMinSeq), 10, 64)
	if err != nil || r.Header.Get(cache.HeaderStream) != c.Log.Identity() {
		return true
	}
	t := time.NewTimer(c.MinSeqWait)
	defer t.Stop()
	for {
		advanced := c.Log.Advanced()
		if c.Log.Position() >= min {
			return true
		}
		select {
		case <-advanced:
		case <-t.C:
			return false
		case <-r.Context().Done():
			return false
		}
	}
}

// lookup returns a fresh entry for key from L1 or L2, and its tier.
func (c *Cache) lookup(ctx context.Context, key string, q *endpoint.Query) (*cache.Entry, string) {
	if e := c.L1.Get(key); e != nil {
		if c.fresh(e, q) {
			return e, "l1"
		}
		c.L1.Remove(e)
		c.Metrics.invalidated(ctx, q, "l1")
	}
	if c.L2 == nil {
		return nil, ""
	}
	e, err := c.L2.Get(ctx, key)
	if err != nil || e == nil {
		return nil, ""
	}
	if !c.fresh(e, q) {
		c.Metrics.invalidated(ctx, q, "l2")
		return nil, ""
	}
	c.L1.Add(e)
	return e, "l2"
}

// fresh reports whether no change since e was read (or last found fresh)
// can alter it, and records the position it is fresh through.
func (c *Cache) fresh(e *cache.Entry, q *endpoint.Query) bool {
	switch {
	case !c.Log.Healthy() && time.Since(e.Read) > c.Fallback:
		return false
	case c.MaxAge > 0 && time.Since(e.Read) > c.MaxAge:
		return false
	}
	ie := c.Endpoints[q.Endpoint]
	changed, known, pos := c.Log.ChangedSince(e.Stream, e.Checked(), ie.Datasets, func(ch *freshness.Change) bool {
		return ie.Affects(q, e.Latest, ch)
	})
	if changed || !known {
		return false
	}
	e.MarkChecked(pos)
	return true
}

// result is one reading of an answer, shared by the requests that waited for it.
type result struct {
	entry   *cache.Entry
	kept    bool // cached: the answer depends on nothing but the query
	err     error
	spilled bool // too large to keep: written through to the leader's client
	leader  bool // this request read it
}

// fill reads the answer once for every request asking for it now. Out is
// where the reader's answer goes when it is too large to keep (nil: the
// materializer, which gives up instead).
func (c *Cache) fill(ctx context.Context, out http.ResponseWriter, r *http.Request, q *endpoint.Query, key string) result {
	// Read before the database: the answer holds every change up to snap.
	// Requests that come after any change heard of, applied or only
	// announced, must not share a reading begun before it.
	snap := c.Log.Snapshot()
	res, led := c.flight.Do(key+"@"+strconv.FormatUint(snap.Gen, 10), func() result {
		start := time.Now()
		capt := cache.NewCapture(out, c.MaxEntry)
		meta, err := c.Render(capt, r, q)
		c.Metrics.read(ctx, q, time.Since(start))
		switch {
		case capt.Spilled:
			return result{spilled: true, err: err}
		case capt.Full:
			return result{spilled: true, err: cache.ErrTooLarge}
		}
		if partial := (*Partial)(nil); errors.As(err, &partial) {
			err = partial.Err // nothing reached a client yet: the failure can be answered
		}
		if err != nil {
			return result{err: err}
		}
		e := &cache.Entry{Key: key, Status: capt.Status, Header: capt.Header(), Body: bytes.Clone(capt.Body),
			ETag: httpx.Tag(capt.Body), Stream: snap.Stream, Seq: snap.Pos, Read: start, Latest: meta.Latest,
			Feeds: c.Endpoints[q.Endpoint].Datasets}
		kept := e.Status == http.StatusOK && !meta.Linked
		if kept {
			c.L1.Add(e)
			if c.L2 != nil {
				c.L2.Put(e)
			}
		}
		return result{entry: e, kept: kept}
	})
	res.leader = led
	return res
}

// direct renders the answer straight to the client, keeping nothing.
func (c *Cache) direct(w http.ResponseWriter, r *http.Request, q *endpoint.Query, tier string) {
	w.Header().Set(cache.HeaderCache, tier)
	if _, err := c.Render(w, r, q); err != nil {
		c.Fail(w, r, err)
	}
}

// write sends e; when kept, it is fresh through pos and other caches (the
// gateway's) may keep it too. The ETag middleware answers a matching
// If-None-Match with 304.
func (c *Cache) write(w http.ResponseWriter, e *cache.Entry, tier string, pos uint64, kept bool) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set(cache.HeaderCache, tier)
	if kept {
		h.Set("ETag", e.ETag)
		h.Set(cache.HeaderSeq, strconv.FormatUint(pos, 10))
		h.Set(cache.HeaderStream, e.Stream)
		h.Set(cache.HeaderFeeds, strings.Join(e.Feeds, ","))
		h.Set(cache.HeaderKey, strings.TrimPrefix(e.Key, c.Scope))
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.Body)
}
