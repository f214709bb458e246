// Command gateway is the single public entry of the IHR API: it routes
// /ihr/api/... to the internal services, and answers hot reads from a cache
// of its own.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/gateway/internal/edge"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
)

type settings struct {
	queryURL, authURL, ingestionURL string
	nats                            config.NATS
	redisURL                        string
	edge                            edgeSettings
}

type edgeSettings struct {
	on         bool
	bytes      int
	maxEntry   int
	revalidate time.Duration
	logKeys    int
	prefix     string
}

// compressMin is the smallest answer worth compressing.
const compressMin = 1024

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "gateway",
		Addr: ":8080",
		Config: func(e *config.Env) settings {
			return settings{
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
					prefix:     e.String("IHR_CACHE_PREFIX", "ihr:"),
				},
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	client, probe := rt.HTTP.Client(0), rt.HTTP.Client(2*time.Second)
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
		{"auth", s.authURL, false, []string{"/ihr/api/auth/", "/ihr/api/users/"}},
		{"ingestion", s.ingestionURL, false, []string{"/ihr/api/ingest/"}},
	} {
		target, err := url.Parse(up.rawURL)
		if err != nil {
			return nil, fmt.Errorf("%s url: %w", up.name, err)
		}
		edged := up.name == "query" && s.edge.on
		var h http.Handler = proxy.New(target, client.Transport, rt.Log, edged)
		if edged {
			if h, err = startEdge(ctx, rt, s, h); err != nil {
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
	return httpx.Compress(compressMin, mux), nil
}

// startEdge puts the gateway's cache in front of the query service. It
// follows the results stream itself; without NATS it only passes requests on.
func startEdge(ctx context.Context, rt *service.Runtime, s settings, upstream http.Handler) (*edge.Edge, error) {
	bus, err := rt.NATS(ctx, s.nats, false)
	if err != nil {
		return nil, err
	}
	rdb, err := rt.Redis(s.redisURL)
	if err != nil {
		return nil, err
	}
	l1 := cache.NewLRU(int64(s.edge.bytes))
	log := freshness.NewLog(s.edge.logKeys)
	metrics, err := edge.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/gateway"), l1, log)
	if err != nil {
		return nil, err
	}
	pop := &popularity.Recorder{Redis: rdb, Prefix: s.edge.prefix}
	comp := edge.NewCompressor(l1, compressMin)
	f := &freshness.Follower{Bus: bus, Log: log, Logger: rt.Log}
	rt.Go(func() { f.Run(ctx) })
	rt.Go(func() { comp.Run(ctx) })
	rt.Go(func() { pop.Run(ctx, 5*time.Second, nil) })
	return &edge.Edge{Upstream: upstream, L1: l1, Log: log, Popular: pop, MaxEntry: s.edge.maxEntry,
		Revalidate: s.edge.revalidate, Metrics: metrics, Compress: comp.Add}, nil
}
