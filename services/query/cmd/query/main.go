// Command query serves the public read API (/ihr/api/...) from PostgreSQL,
// with answers cached in memory and Redis and kept fresh by results events.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/db"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/query/internal/answers"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/ihr-go/ihr/services/query/internal/httpapi"
	"github.com/ihr-go/ihr/services/query/internal/impact"
	"github.com/ihr-go/ihr/services/query/internal/openapi"
	"github.com/ihr-go/ihr/services/query/internal/store"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

type settings struct {
	db        config.Postgres
	redisURL  string
	nats      config.NATS
	pageSize  int
	etagMax   int
	cache     cacheSettings
	lifetimes httpapi.Lifetimes
	auth      config.Auth
	opsOpen   bool // /debug/cache for anyone (IHR_OPS_OPEN)
}

type cacheSettings struct {
	on          bool
	prefix      string
	l1Bytes     int
	maxEntry    int
	l2TTL       time.Duration
	fallback    time.Duration
	maxAge      time.Duration
	logKeys     int
	seeds       []string
	materialize int
}

const day = 24 * time.Hour

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "query",
		Addr: ":8081",
		Config: func(e *config.Env) settings {
			return settings{
				db:       config.ReadPostgres(e),
				redisURL: config.ReadRedis(e),
				nats:     config.ReadNATS(e),
				auth:     config.ReadAuth(e),
				opsOpen:  e.Bool("IHR_OPS_OPEN", false),
				pageSize: e.Int("IHR_PAGE_SIZE", 100000, 1, 1000000),
				// Answers up to this size are held whole to be tagged (ETag, 304).
				etagMax: e.Int("IHR_ETAG_MAX_BYTES", 1<<20, 0, 64<<20),
				cache: cacheSettings{
					on:       e.Bool("IHR_CACHE", true),
					prefix:   e.String("IHR_CACHE_PREFIX", "ihr:"),
					l1Bytes:  e.Int("IHR_CACHE_L1_BYTES", 256<<20, 1<<20, 64<<30),
					maxEntry: e.Int("IHR_CACHE_MAX_ENTRY_BYTES", 8<<20, 1<<10, 256<<20),
					l2TTL:    e.Duration("IHR_CACHE_L2_TTL", 7*day, time.Minute, 90*day),
					fallback: e.Duration("IHR_CACHE_FALLBACK_TTL", 30*time.Second, time.Second, time.Hour),
					maxAge:   e.Duration("IHR_CACHE_MAX_AGE", 0, 0, 90*day),
					logKeys:  e.Int("IHR_CACHE_LOG_KEYS", 4_000_000, 1000, 1_000_000_000),
					seeds: strings.FieldsFunc(e.String("IHR_CACHE_MATERIALIZE", "hegemony/alarms/?,network_delay/alarms/?"),
						func(r rune) bool { return r == ',' }),
					materialize: e.Int("IHR_CACHE_MATERIALIZE_TOP", 50, 0, 10000),
				},
				lifetimes: httpapi.Lifetimes{
					Live:      e.Duration("IHR_CACHE_LIVE_MAX_AGE", time.Minute, 0, day),
					Settled:   e.Duration("IHR_CACHE_SETTLED_AFTER", 7*day, time.Hour, 365*day),
					Old:       e.Duration("IHR_CACHE_SETTLED_MAX_AGE", 180*day, 0, 365*day),
					Reference: e.Duration("IHR_CACHE_REFERENCE_MAX_AGE", 30*day, 0, 365*day),
				},
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

// apiVersion is the version the OpenAPI document announces.
const apiVersion = "3.0.0"

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	pool, err := rt.Postgres(ctx, s.db)
	if err != nil {
		return nil, err
	}
	countCfg := s.db
	countCfg.MaxConns = max(2, s.db.MaxConns/4)
	counts, err := db.Open(ctx, countCfg, "ihr-query-counts", rt.HTTP.Tracers, rt.HTTP.Meters)
	if err != nil {
		return nil, err
	}
	rt.OnClose(counts.Close)
	endpoints := endpoint.All()
	doc, err := openapi.Document(endpoints, apiVersion, s.pageSize)
	if err != nil {
		return nil, err
	}
	api := &httpapi.API{Store: store.New(pool, counts), PageSize: s.pageSize, Log: rt.Log, OpenAPI: doc, Lifetimes: s.lifetimes}
	mux := http.NewServeMux()
	if s.cache.on {
		// Reads go on without NATS (the cache falls back to short lifetimes) and without Redis.
		c, bus, err := startCache(ctx, rt, s, api, endpoints)
		if err != nil {
			return nil, err
		}
		api.Cache = c
		mux.Handle("GET /debug/cache", authn.Ops(rt.Credentials(ctx, s.auth, bus), s.opsOpen, c.Debug()))
	}
	mux.Handle("/", api.Handler(endpoints))
	return httpx.ETag(s.etagMax, mux), nil
}

func startCache(ctx context.Context, rt *service.Runtime, s settings, api *httpapi.API, endpoints []*endpoint.Endpoint) (*answers.Cache, *natsx.Bus, error) {
	bus, err := rt.NATS(ctx, s.nats, false)
	if err != nil {
		return nil, nil, err
	}
	rdb, err := rt.Redis(s.redisURL)
	if err != nil {
		return nil, nil, err
	}
	meter := rt.Meter("github.com/ihr-go/ihr/services/query")
	log := freshness.NewLog(s.cache.logKeys)
	l1 := cache.NewLRU(int64(s.cache.l1Bytes))
	metrics, err := answers.NewMetrics(meter, l1, log)
	if err != nil {
		return nil, nil, err
	}
	compiled := map[*endpoint.Endpoint]*impact.Endpoint{}
	for _, e := range endpoints {
		if compiled[e], err = impact.Compile(e); err != nil {
			return nil, nil, err
		}
	}
	pop := &popularity.Recorder{Redis: rdb, Prefix: s.cache.prefix}
	l2 := answers.NewRedis(rdb, s.cache.prefix, s.cache.l2TTL)
	l2.OnError = func(op string, err error) {
		metrics.Error(op)
		rt.Log.Debug("redis cache", "op", op, "err", err)
	}
	c := &answers.Cache{
		Scope:  fmt.Sprintf("%s:p%d:", release(), s.pageSize),
		Config: answers.Config{MaxEntry: s.cache.maxEntry, Fallback: s.cache.fallback, MaxAge: s.cache.maxAge, MinSeqWait: 2 * time.Second},
		L1:     l1, L2: l2, Log: log, Endpoints: compiled, Render: api.Render, Fail: api.Fail,
		Popular: pop, Metrics: metrics, Logger: rt.Log,
	}
	mat := answers.NewMaterializer(c, endpoints, s.cache.seeds, s.cache.materialize)
	tracer := rt.Tracer("github.com/ihr-go/ihr/services/query")
	mat.Redis, mat.Prefix, mat.Tracer = rdb, s.cache.prefix, tracer
	seen, err := meter.Int64Counter("ihr_query_results_events", metric.WithDescription("Results events received, by dataset."))
	if err != nil {
		return nil, nil, err
	}
	f := &freshness.Follower{Bus: bus, Log: log, Logger: rt.Log,
		Tracer: tracer, Propagator: rt.HTTP.Propagator,
		OnChange: func(ctx context.Context, ch *freshness.Change) {
			seen.Add(ctx, 1, metric.WithAttributes(attribute.String("dataset", ch.Dataset)))
			if log.Ready() { // not for the events replayed at start, but for the last one
				mat.OnChange(ctx, ch)
			}
		}}
	rt.Go(func() { f.Run(ctx) })
	rt.Go(func() { l2.Run(ctx) })
	rt.Go(func() { mat.Run(ctx) })
	rt.Go(func() { pop.Run(ctx, 5*time.Second, func(error) { metrics.Error("popularity") }) })
	return c, bus, nil
}

// release names the build, so that entries another build wrote (whose
// bytes may differ) are never read: a digest of this executable. Images
// are built without the VCS metadata a revision would come from, and a
// digest also tells apart builds of modified sources.
func release() string {
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err == nil {
				return hex.EncodeToString(h.Sum(nil)[:8])
			}
		}
	}
	return "x" + strconv.FormatInt(time.Now().UnixNano(), 36) // unreadable: shares nothing
}
