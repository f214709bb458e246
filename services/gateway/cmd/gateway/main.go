// Command gateway is the single public entry of the IHR API: it routes
// /ihr/api/... to the internal services, and answers hot reads from a cache
// of its own.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/ratelimit"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/gateway/internal/edge"
	"github.com/ihr-go/ihr/services/gateway/internal/headers"
	"github.com/ihr-go/ihr/services/gateway/internal/limits"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
	"github.com/ihr-go/ihr/services/gateway/internal/stream"
	"github.com/redis/go-redis/v9"
)

type settings struct {
	queryURL, authURL, ingestionURL string
	nats                            config.NATS
	redisURL                        string
	edge                            edgeSettings
	// prefix starts the gateway's Redis keys: popularity, daily quotas.
	prefix  string
	rate    rateSettings
	headers headers.Config
	body    limits.Body
	auth    config.Auth
	// ingestOpen lets anyone ingest (IHR_INGEST_OPEN, a trusted network only).
	ingestOpen bool
	legacy     legacySettings
	stream     streamSettings
}

type streamSettings struct {
	events, bytes int // the hub's ring
	cfg           stream.Config
}

type edgeSettings struct {
	on         bool
	bytes      int
	maxEntry   int
	revalidate time.Duration
	logKeys    int
}

type rateSettings struct {
	on       bool
	policies []ratelimit.Policy
	maxKeys  int
	proxies  limits.Proxies
}

// compressMin is the smallest answer worth compressing.
const compressMin = 1024

// roleDefault is a role's limits unless configured: the legacy API's daily
// throttles for anonymous clients and users, none for pipelines and
// administrators (they are few, known, and must not stall).
func roleDefault(role authn.Role) ratelimit.Policy {
	switch role {
	case authn.Anonymous:
		return ratelimit.Policy{Rate: 50, Burst: 100, Day: 250_000}
	case authn.User:
		return ratelimit.Policy{Rate: 100, Burst: 200, Day: 1_000_000}
	}
	return ratelimit.Policy{Rate: 500, Burst: 1000}
}

// addressGuards are the limits per client address, on top of those by
// role, of what costs the auth service dearly whoever asks (limits.Address).
func addressGuards() []struct {
	env    string
	policy ratelimit.Policy
} {
	return []struct {
		env    string
		policy ratelimit.Policy
	}{
		{"CREDENTIALS", ratelimit.Policy{Name: "credentials", Rate: 5, Burst: 10}}, // a password hash or a mail each
		{"KEY_CHECKS", ratelimit.Policy{Name: "keycheck", Rate: 5, Burst: 20}},     // a database lookup each
	}
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "gateway",
		Addr: ":8080",
		// The gateway answers most reads from its edge cache: CPU-bound and
		// sensitive to its threads being descheduled, with a small live heap
		// while the cache fills (docs/benchmarks.md).
		Tuning: service.Tuning{ProcsPerCore: 2, HeapFloor: 64 << 20},
		Config: func(e *config.Env) settings {
			s := settings{
				queryURL:     e.URL("IHR_QUERY_URL", "http://127.0.0.1:8081", "http", "https"),
				authURL:      e.URL("IHR_AUTH_URL", "http://127.0.0.1:8083", "http", "https"),
				ingestionURL: e.URL("IHR_INGESTION_URL", "http://127.0.0.1:8082", "http", "https"),
				nats:         config.ReadNATS(e),
				redisURL:     config.ReadRedis(e),
				edge: edgeSettings{
					on:       e.Bool("IHR_EDGE_CACHE", true),
					bytes:    e.Int("IHR_EDGE_CACHE_BYTES", 256<<20, 1<<20, 64<<30),
					maxEntry: e.Int("IHR_EDGE_CACHE_MAX_ENTRY_BYTES", 8<<20, 1<<10, 256<<20),
					// Bounds what a query service of another release serves here unconfirmed.
					revalidate: e.Duration("IHR_EDGE_CACHE_REVALIDATE", time.Minute, time.Second, 24*time.Hour),
					logKeys:    e.Int("IHR_CACHE_LOG_KEYS", 4_000_000, 1000, 1_000_000_000),
				},
				prefix:     e.String("IHR_CACHE_PREFIX", "ihr:"),
				auth:       config.ReadAuth(e),
				ingestOpen: e.Bool("IHR_INGEST_OPEN", false),
				legacy:     readLegacy(e),
			}
			s.rate.on = e.Bool("IHR_RATE_LIMIT", true)
			for _, role := range authn.Roles {
				def, v := roleDefault(role), "IHR_RATE_"+strings.ToUpper(string(role))+"_"
				s.rate.policies = append(s.rate.policies, ratelimit.Policy{Name: string(role),
					Rate:  e.Float(v+"SECOND", def.Rate, 0.001, 1e9),
					Burst: e.Int(v+"BURST", def.Burst, 1, 1e9),
					Day:   int64(e.Int(v+"DAY", int(def.Day), 0, 1e15))})
			}
			for _, g := range addressGuards() {
				v := "IHR_RATE_" + g.env + "_"
				g.policy.Rate = e.Float(v+"SECOND", g.policy.Rate, 0.001, 1e9)
				g.policy.Burst = e.Int(v+"BURST", g.policy.Burst, 1, 1e9)
				s.rate.policies = append(s.rate.policies, g.policy)
			}
			s.stream = streamSettings{
				events: e.Int("IHR_STREAM_BUFFER_EVENTS", 10_000, 10, 10_000_000),
				bytes:  e.Int("IHR_STREAM_BUFFER_BYTES", 64<<20, 1<<16, 64<<30),
				cfg: stream.Config{
					Buffer:       e.Int("IHR_STREAM_CLIENT_BUFFER", 1000, 1, 1_000_000),
					WriteTimeout: e.Duration("IHR_STREAM_WRITE_TIMEOUT", 10*time.Second, 10*time.Millisecond, 10*time.Minute),
					SocketBuffer: e.Int("IHR_STREAM_SOCKET_BUFFER", 256<<10, 0, 64<<20),
					Heartbeat:    e.Duration("IHR_STREAM_HEARTBEAT", 15*time.Second, 10*time.Millisecond, 10*time.Minute),
					Recheck:      e.Duration("IHR_STREAM_RECHECK", 5*time.Second, 10*time.Millisecond, time.Hour),
					PerClient:    e.Int("IHR_STREAM_PER_CLIENT", 5, 1, 1000),
					Total:        e.Int("IHR_STREAM_MAX", 10_000, 1, 1_000_000),
				},
			}
			s.rate.maxKeys = e.Int("IHR_RATE_MAX_KEYS", 1_000_000, 1000, 1e9)
			s.rate.proxies = config.Parse(e, "IHR_TRUSTED_PROXIES", "", limits.ParseProxies)
			s.headers = headers.Config{Docs: "/ihr/api/docs",
				Origins: config.Parse(e, "IHR_CORS_ORIGINS", "*", headers.ParseOrigins),
				HSTS:    e.Duration("IHR_HSTS_MAX_AGE", 365*24*time.Hour, 0, 5*365*24*time.Hour)}
			s.body = limits.Body{IngestPrefix: "/ihr/api/ingest/",
				Default: int64(e.Int("IHR_GATEWAY_MAX_BODY", 1<<20, 1, 1<<40)),
				// The ingestion service's own IHR_INGEST_MAX_BODY default.
				Ingest: int64(e.Int("IHR_GATEWAY_MAX_INGEST_BODY", 64<<20, 1, 1<<40))}
			return s
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	client, probe := rt.HTTP.Client(0), rt.HTTP.Client(2*time.Second)
	// The results stream (the edge cache) and revocations come from NATS;
	// without it the gateway serves on, degraded.
	bus, err := rt.NATS(ctx, s.nats, false)
	if err != nil {
		return nil, err
	}
	var rdb *redis.Client
	if s.edge.on || s.rate.on {
		if rdb, err = rt.Redis(s.redisURL); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	// Public reads keep working without auth or ingestion, so only the query
	// service is critical for readiness.
	for _, up := range []struct {
		name     string
		rawURL   string
		critical bool
		paths    []string
	}{
		{"query", s.queryURL, true, []string{"/ihr/api/"}},
		{"auth", s.authURL, false, []string{"/ihr/api/auth/", "/ihr/api/users", "/ihr/api/users/"}},
		{"ingestion", s.ingestionURL, false, []string{"/ihr/api/ingest/"}},
	} {
		target, err := url.Parse(up.rawURL)
		if err != nil {
			return nil, fmt.Errorf("%s url: %w", up.name, err)
		}
		edged := up.name == "query" && s.edge.on
		var h http.Handler = proxy.New(target, client.Transport, rt.Log, edged)
		if edged {
			if h, err = startEdge(ctx, rt, s, h, rdb, bus); err != nil {
				return nil, err
			}
		}
		if up.name == "auth" {
			// Its audit log names the client, not the load balancer in front.
			h = s.rate.proxies.TellClient(h)
		}
		if up.name == "query" {
			// Endpoints we do not serve, and those routed so, go to the legacy API.
			if h, err = startLegacy(ctx, rt, s.legacy, h, target); err != nil {
				return nil, err
			}
		}
		for _, p := range up.paths {
			mux.Handle(p, h)
		}
		rt.Health.Add(up.name, up.critical, health.HTTPProbe(probe, target.JoinPath("/healthz").String()))
	}
	// The site root leads to the API documentation, as the legacy API's did.
	mux.Handle("GET /{$}", http.RedirectHandler("/ihr/api/docs", http.StatusTemporaryRedirect))
	creds := rt.Credentials(ctx, s.auth, bus)
	streams, err := startStreams(ctx, rt, s.stream, bus, creds)
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /ihr/api/stream", streams.SSE)
	mux.HandleFunc("GET /ihr/api/ws", streams.WS)

	// Outermost first: security and CORS headers on every answer (and
	// preflights answered), who the request acts as, the rate limits (by
	// identity, so refused credentials count against their address), the
	// route's permission, then the body limits. /healthz, /readyz and
	// /metrics are served before all of them.
	// Streams are held open and flushed event by event: neither compressed
	// nor given a body limit.
	bounded := s.body.Wrap(httpx.Compress(compressMin, mux))
	h := authn.Authorize(routes(s.ingestOpen), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ihr/api/stream" || r.URL.Path == "/ihr/api/ws" {
			mux.ServeHTTP(w, r)
			return
		}
		bounded.ServeHTTP(w, r)
	}))
	var guard func(http.Handler) http.Handler
	if s.rate.on {
		rate, g, err := startRate(ctx, rt, s, rdb, creds.Keys)
		if err != nil {
			return nil, err
		}
		h, guard = rate.Wrap(h), g
	}
	h = authn.Identify(creds, h)
	if guard != nil {
		h = guard(h)
	}
	return headers.New(s.headers).Wrap(h), nil
}

// routes is the permission table the gateway checks; open, ingesting
// needs no credentials (IHR_INGEST_OPEN, for a developer machine).
func routes(open bool) []authn.Route {
	if !open {
		return authn.Routes
	}
	out := slices.Clone(authn.Routes)
	for i, r := range out {
		if r.Permission == authn.Ingest {
			out[i].Permission = authn.Public
		}
	}
	return out
}

// startStreams follows the results stream for subscribers.
func startStreams(ctx context.Context, rt *service.Runtime, s streamSettings, bus *natsx.Bus, creds authn.Verifier) (*stream.Server, error) {
	hub := &stream.Hub{Bus: bus, Log: rt.Log, MaxEvents: s.events, MaxBytes: s.bytes}
	metrics, err := stream.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/gateway"), hub)
	if err != nil {
		return nil, err
	}
	rt.Go(func() { hub.Run(ctx) })
	return &stream.Server{Hub: hub, Config: s.cfg, Verifier: creds, Done: ctx.Done(), Metrics: metrics, Log: rt.Log}, nil
}

// startEdge puts the gateway's cache in front of the query service. It
// follows the results stream itself; without NATS it only passes requests on.
func startEdge(ctx context.Context, rt *service.Runtime, s settings, upstream http.Handler, rdb *redis.Client, bus *natsx.Bus) (*edge.Edge, error) {
	l1 := cache.NewLRU(int64(s.edge.bytes))
	log := freshness.NewLog(s.edge.logKeys)
	metrics, err := edge.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/gateway"), l1, log)
	if err != nil {
		return nil, err
	}
	pop := &popularity.Recorder{Redis: rdb, Prefix: s.prefix}
	comp := edge.NewCompressor(l1, compressMin)
	f := &freshness.Follower{Bus: bus, Log: log, Logger: rt.Log,
		Tracer: rt.Tracer("github.com/ihr-go/ihr/services/gateway"), Propagator: rt.HTTP.Propagator}
	rt.Go(func() { f.Run(ctx) })
	rt.Go(func() { comp.Run(ctx) })
	rt.Go(func() { pop.Run(ctx, 5*time.Second, nil) })
	return &edge.Edge{Upstream: upstream, L1: l1, Log: log, Popular: pop, MaxEntry: s.edge.maxEntry,
		Revalidate: s.edge.revalidate, Metrics: metrics, Compress: comp.Add}, nil
}

// startRate starts the rate limiter: per-second limits in memory, daily
// quotas shared through Redis. Clients are told apart by their principal,
// anonymous ones by address. It returns the limits by role, and the guard
// that goes before credentials are checked: limits per address of the
// requests that check a password or mail someone, and of those bearing
// an API key that keys has no answer for yet.
func startRate(ctx context.Context, rt *service.Runtime, s settings, rdb *redis.Client, keys *authn.KeyClient) (*limits.Rate, func(http.Handler) http.Handler, error) {
	lim, err := ratelimit.New(ratelimit.Options{Redis: rdb, Prefix: s.prefix, Meter: rt.Meter("github.com/ihr-go/ihr/pkg/ratelimit"),
		Log: rt.Log, MaxKeys: s.rate.maxKeys}, s.rate.policies...)
	if err != nil {
		return nil, nil, fmt.Errorf("rate limits: %w", err)
	}
	rt.Go(func() { lim.Run(ctx) })
	rate, err := limits.NewRate(lim, limits.ByPrincipal(s.rate.proxies))
	credentials := &limits.Address{Class: lim.Class("credentials"), Proxies: s.rate.proxies, Applies: limits.CredentialRoutes,
		What: "logins, registrations and password reset requests"}
	checks := &limits.Address{Class: lim.Class("keycheck"), Proxies: s.rate.proxies, Applies: limits.UnknownKeys(keys.Cached),
		What: "API keys not seen before"}
	return rate, func(h http.Handler) http.Handler { return checks.Wrap(credentials.Wrap(h)) }, err
}
