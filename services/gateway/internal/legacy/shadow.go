package legacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/parity"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
)

// ShadowConfig bounds the comparisons.
type ShadowConfig struct {
	// Slots is how many comparisons may run at once; a request that finds
	// none free is not compared (dropped).
	Slots int
	// Timeout bounds the background request, which is never retried.
	Timeout time.Duration
	// MaxBody is the largest body compared, of either side, in bytes.
	MaxBody int
	// LogEvery is how often a mismatch of one endpoint is logged at most.
	LogEvery time.Duration
}

// Comparer compares answers in the background. Nothing it does reaches the
// client: the client's answer is written before a comparison starts, a
// comparison that cannot take a slot at once is not made, and its
// failures are counted, never returned.
type Comparer struct {
	cfg     ShadowConfig
	legacy  *url.URL
	client  *http.Client // to the legacy API
	ours    http.Handler // our answer, as a client gets it through the gateway
	log     *slog.Logger
	metrics *Metrics
	ctx     context.Context // the service's: shutdown cancels the comparisons

	slots  chan struct{}
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
	logged map[string]time.Time // last mismatch logged, by endpoint
}

// NewComparer returns the comparer of answers from ours and from the legacy
// API at legacy (through client). Comparisons stop when ctx is done;
// Close waits for them.
func NewComparer(ctx context.Context, cfg ShadowConfig, legacy *url.URL, client *http.Client, ours http.Handler, log *slog.Logger, m *Metrics) *Comparer {
	return &Comparer{cfg: cfg, legacy: legacy, client: client, ours: ours, log: log, metrics: m, ctx: ctx,
		slots: make(chan struct{}, cfg.Slots), logged: map[string]time.Time{}}
}

// take takes a comparison slot without waiting, or counts the request
// dropped.
func (s *Comparer) take(ctx context.Context, endpoint string) bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		s.metrics.outcome(ctx, endpoint, Dropped)
		return false
	}
}

func (s *Comparer) give() { <-s.slots }

// answer is the client's answer as the tee kept it.
type answer struct {
	status int
	coding string // Content-Encoding
	body   []byte
	over   bool // body over the limit: not kept
}

// start compares in the background, owning the slot taken from then on.
// r is the client's request, copied now: the server owns it once the
// handler returns.
func (s *Comparer) start(r *http.Request, endpoint string, mode Mode, primary answer) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.give()
		s.metrics.outcome(r.Context(), endpoint, Dropped)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	// Values stay (trace, request id, the server's own), cancellation does not.
	req := r.Clone(context.WithoutCancel(r.Context()))
	go func() {
		defer s.wg.Done()
		defer s.give()
		ctx, cancel := context.WithTimeout(req.Context(), s.cfg.Timeout)
		defer cancel()
		defer context.AfterFunc(s.ctx, cancel)()
		s.compare(ctx, req.WithContext(ctx), endpoint, mode, primary)
	}()
}

// Close waits for the comparisons under way; later ones are dropped.
func (s *Comparer) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Comparer) compare(ctx context.Context, req *http.Request, endpoint string, mode Mode, primary answer) {
	outcome, ours, legacy, why := s.fetch(ctx, req, endpoint, mode, primary)
	if outcome == "" {
		res := parity.Compare(ours, legacy)
		if outcome = Equal; !res.Equal() {
			outcome = Mismatch
			s.logMismatch(ctx, req, endpoint, mode, &res)
		}
	} else {
		s.log.DebugContext(ctx, "shadow request not compared", "endpoint", endpoint, "outcome", outcome, "why", why,
			"request_id", httpx.RequestID(ctx))
	}
	s.metrics.outcome(ctx, endpoint, outcome)
}

// fetch returns both answers, the background one fetched now; or the
// outcome that makes them not worth comparing, and why.
func (s *Comparer) fetch(ctx context.Context, req *http.Request, endpoint string, mode Mode, primary answer) (outcome string, ours, legacy parity.Answer, why error) {
	switch {
	case primary.over:
		return Skipped, ours, legacy, errTooLarge
	case primary.status == http.StatusNotModified:
		return Skipped, ours, legacy, errors.New("the client's answer is a 304")
	case mode == LegacyPrimary && primary.status >= 500:
		return LegacyError, ours, legacy, fmt.Errorf("status %d", primary.status)
	}
	body, err := decode(primary.coding, primary.body, s.cfg.MaxBody)
	if err != nil {
		return Skipped, ours, legacy, err
	}
	first := parity.Answer{Status: primary.status, Body: body}
	out := background(ctx, req)
	var second parity.Answer
	if mode == Shadow {
		second, err = s.fetchLegacy(ctx, req, out, endpoint)
		ours, legacy = first, second
	} else {
		second, err = s.fetchOurs(out)
		ours, legacy = second, first
	}
	if err != nil || second.Status == 0 {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return Timeout, ours, legacy, ctx.Err()
		case ctx.Err() != nil:
			return Skipped, ours, legacy, ctx.Err() // shutting down
		case errors.Is(err, errTooLarge):
			return Skipped, ours, legacy, err
		case mode == Shadow:
			return LegacyError, ours, legacy, err
		}
	}
	if mode == Shadow && legacy.Status >= 500 {
		return LegacyError, ours, legacy, fmt.Errorf("status %d", legacy.Status)
	}
	// Our failures (an answer broken off: status 0) are mismatches.
	return "", ours, legacy, nil
}

// notForwarded are the client's headers the background request leaves out:
// hop-by-hop ones, conditions (the whole answer is wanted, not a 304) and
// the codings it accepts (the transport asks for gzip and decodes it).
var notForwarded = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Te", "Trailer",
	"Transfer-Encoding", "Upgrade", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range",
	"Range", "Accept-Encoding"}

// background is the client's GET, again, for the other side.
func background(ctx context.Context, req *http.Request) *http.Request {
	out := req.Clone(ctx)
	out.Method, out.Body, out.ContentLength, out.RequestURI = http.MethodGet, http.NoBody, 0, ""
	for _, k := range notForwarded {
		out.Header.Del(k)
	}
	return out
}

func (s *Comparer) fetchLegacy(ctx context.Context, in, out *http.Request, endpoint string) (parity.Answer, error) {
	proxy.ToLegacy(s.legacy, in, out)
	start := time.Now()
	res, err := s.client.Do(out)
	if err != nil {
		s.metrics.legacyTook(ctx, endpoint, time.Since(start))
		return parity.Answer{}, err
	}
	defer res.Body.Close()
	body, err := readMax(res.Body, s.cfg.MaxBody)
	s.metrics.legacyTook(ctx, endpoint, time.Since(start))
	return parity.Answer{Status: res.StatusCode, Body: body}, err
}

// fetchOurs asks our handler in process, as the client's request would
// have; an answer broken off is status 0.
func (s *Comparer) fetchOurs(out *http.Request) (a parity.Answer, err error) {
	capt := cache.NewCapture(nil, s.cfg.MaxBody)
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			a, err = parity.Answer{}, nil
			if capt.Full {
				err = errTooLarge
			}
		}
	}()
	s.ours.ServeHTTP(capt, out)
	if capt.Full {
		return parity.Answer{}, errTooLarge
	}
	body, err := decode(capt.Header().Get("Content-Encoding"), capt.Body, s.cfg.MaxBody)
	return parity.Answer{Status: capt.Status, Body: body}, err
}

// logMismatch logs a mismatch, at most one per endpoint every LogEvery:
// the paths that differ, each with both values (truncated).
func (s *Comparer) logMismatch(ctx context.Context, req *http.Request, endpoint string, mode Mode, res *parity.Result) {
	now := time.Now()
	s.mu.Lock()
	last, seen := s.logged[endpoint]
	if seen && now.Sub(last) < s.cfg.LogEvery {
		s.mu.Unlock()
		return
	}
	s.logged[endpoint] = now
	s.mu.Unlock()
	diffs := make([]string, len(res.Diffs))
	for i, d := range res.Diffs {
		diffs[i] = d.Path + ": ours " + d.A + ", legacy " + d.B
	}
	target := req.URL.RequestURI()
	if len(target) > 500 {
		target = target[:500] + "…"
	}
	s.log.WarnContext(ctx, "shadow mismatch", "endpoint", endpoint, "mode", string(mode), "request", target,
		"ours_status", res.StatusA, "legacy_status", res.StatusB, "differences", res.Count, "diff", strings.Join(diffs, "; "),
		"request_id", httpx.RequestID(ctx))
}
