package answers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Materializer reads again, as soon as a change arrives, the most asked
// answers of a table's latest bin that the change alters (the newest
// hegemony of popular origins, the latest alarms), so that the first
// request after new data is already served from memory. With Redis, one
// replica reads each view per change and the others find it in L2.
type Materializer struct {
	Cache     *Cache
	Endpoints []*endpoint.Endpoint
	// Seeds are views always kept ready (canonical keys).
	Seeds []string
	// Top is how many of the most asked latest views are kept ready.
	Top int
	// Redis and Prefix share the work between replicas (nil: each does all).
	Redis  *redis.Client
	Prefix string
	// Tracer, when set, traces each read in the trace of the change that
	// caused it.
	Tracer trace.Tracer

	mu     sync.Mutex
	views  []view
	queued map[string]cause // key → the change it was queued for
	work   chan view
}

// cause is the change a view is read again for: its position and span.
type cause struct {
	seq  uint64
	span trace.SpanContext
}

type view struct {
	key string
	q   *endpoint.Query
}

// OnChange queues the views c alters. It never blocks: a view already
// queued is read once, for the latest change.
func (m *Materializer) OnChange(ctx context.Context, c *freshness.Change) {
	for _, v := range m.latestViews() {
		ie := m.Cache.Endpoints[v.q.Endpoint]
		var latest time.Time
		if e := m.Cache.L1.Peek(m.Cache.Scope + v.key); e != nil {
			latest = e.Latest
		}
		if !ie.Affects(v.q, latest, c) {
			continue
		}
		m.mu.Lock()
		_, pending := m.queued[v.key]
		m.queued[v.key] = cause{c.Seq, trace.SpanContextFromContext(ctx)}
		m.mu.Unlock()
		if !pending {
			select {
			case m.work <- v:
			default:
				m.mu.Lock()
				delete(m.queued, v.key)
				m.mu.Unlock()
			}
		}
	}
}

// latestViews are the views kept ready.
func (m *Materializer) latestViews() []view {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.views
}

// refresh sets the views kept ready: the seeds and the most asked queries
// of a latest bin.
func (m *Materializer) refresh(ctx context.Context) {
	keys := append([]string(nil), m.Seeds...)
	top, _ := m.Cache.Popular.Top(ctx, 4*m.Top, time.Now())
	for _, t := range top {
		keys = append(keys, t.Key)
	}
	var views []view
	seen := map[string]bool{}
	for _, k := range keys {
		q, err := endpoint.ParseKey(m.Endpoints, k)
		if err != nil || !q.Latest || q.Page != 1 || seen[q.Key()] || len(views) >= len(m.Seeds)+m.Top {
			continue
		}
		seen[q.Key()] = true
		views = append(views, view{key: q.Key(), q: q})
	}
	m.mu.Lock()
	m.views = views
	m.mu.Unlock()
}

// Run reads the queued views, one at a time, and follows the ranking
// (every 30 s), until ctx is done.
func (m *Materializer) Run(ctx context.Context) {
	m.refresh(ctx)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.refresh(ctx)
		case v := <-m.work:
			m.mu.Lock()
			c := m.queued[v.key]
			delete(m.queued, v.key)
			m.mu.Unlock()
			m.read(ctx, v, c)
		}
	}
}

func (m *Materializer) read(ctx context.Context, v view, c cause) {
	key, q := v.key, v.q
	if m.Tracer != nil && c.span.IsValid() {
		var span trace.Span
		ctx, span = m.Tracer.Start(trace.ContextWithRemoteSpanContext(ctx, c.span), "materialize",
			trace.WithAttributes(attribute.String("ihr.cache.key", key)))
		defer span.End()
	}
	if !m.claim(ctx, key, c.seq) {
		m.Cache.Metrics.materialization(ctx, q, "other_replica")
		return
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/ihr/api/"+key, nil)
	if err != nil {
		return
	}
	r.Host = "materializer" // links make an answer unfit to keep, so the host never shows
	r.Header.Set(cache.HeaderCounted, "1")
	res := m.Cache.fill(ctx, nil, r, q, m.Cache.Scope+key)
	switch {
	case errors.Is(res.err, cache.ErrTooLarge), res.spilled:
		m.Cache.Metrics.materialization(ctx, q, "too_large")
	case res.err != nil:
		m.Cache.Metrics.materialization(ctx, q, "failed")
		m.Cache.Logger.Warn("materialize", "key", key, "err", res.err)
	case !res.kept:
		m.Cache.Metrics.materialization(ctx, q, "not_kept")
	default:
		m.Cache.Metrics.materialization(ctx, q, "done")
	}
}

// claim takes the reading of key for change seq among the replicas.
func (m *Materializer) claim(ctx context.Context, key string, seq uint64) bool {
	if m.Redis == nil {
		return true
	}
	sum := sha256.Sum256([]byte(key))
	lock := m.Prefix + "mat:" + hex.EncodeToString(sum[:12]) + ":" + strconv.FormatUint(seq, 10)
	ok, err := m.Redis.SetNX(ctx, lock, 1, time.Minute).Result()
	return ok || err != nil // Redis down: read it here
}

// NewMaterializer returns a materializer; its reader must be started with Run.
func NewMaterializer(c *Cache, endpoints []*endpoint.Endpoint, seeds []string, top int) *Materializer {
	return &Materializer{Cache: c, Endpoints: endpoints, Seeds: seeds, Top: top,
		queued: map[string]cause{}, work: make(chan view, 256)}
}
