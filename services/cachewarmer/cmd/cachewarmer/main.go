// Command cachewarmer keeps the most requested queries hot by asking the
// query service for them again after results events announce new data,
// and on a schedule.
package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/popularity"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/httpapi"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/upstream"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
	"go.opentelemetry.io/otel/trace"
)

type settings struct {
	queryURL string
	nats     config.NATS
	redisURL string
	// prefix of the Redis keys, shared with the query service and the
	// gateway, which write the popularity ranking.
	prefix   string
	warm     warm.Config
	interval time.Duration
	debounce time.Duration
	auth     config.Auth
	opsOpen  bool // /debug/warm for anyone (IHR_OPS_OPEN)
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "cachewarmer",
		Addr: ":8084",
		Config: func(e *config.Env) settings {
			top := e.Int("IHR_WARM_TOP", 100, 1, 10000)
			return settings{
				queryURL: e.URL("IHR_QUERY_URL", "http://127.0.0.1:8081", "http", "https"),
				nats:     config.ReadNATS(e),
				auth:     config.ReadAuth(e),
				opsOpen:  e.Bool("IHR_OPS_OPEN", false),
				redisURL: config.ReadRedis(e),
				prefix:   e.String("IHR_CACHE_PREFIX", "ihr:"),
				warm: warm.Config{
					Top:         top,
					Budget:      e.Int("IHR_WARM_BUDGET", top, 1, 10000),
					Concurrency: e.Int("IHR_WARM_CONCURRENCY", 2, 1, 64),
					Deadline:    e.Duration("IHR_WARM_DEADLINE", 30*time.Second, time.Second, 10*time.Minute),
					Slow:        e.Duration("IHR_WARM_SLOW", 2*time.Second, 10*time.Millisecond, time.Minute),
				},
				interval: e.Duration("IHR_WARM_INTERVAL", 5*time.Minute, time.Second, 24*time.Hour),
				debounce: e.Duration("IHR_WARM_DEBOUNCE", time.Second, 10*time.Millisecond, time.Minute),
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

// changeLogKeys bounds the results log: the warmer only needs its position.
const changeLogKeys = 10000

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	// Without NATS, runs still come on schedule; without Redis, runs find no ranking.
	bus, err := rt.NATS(ctx, s.nats, false)
	if err != nil {
		return nil, err
	}
	rdb, err := rt.Redis(s.redisURL)
	if err != nil {
		return nil, err
	}
	q, err := url.Parse(s.queryURL)
	if err != nil {
		return nil, err
	}
	rt.Health.Add("query", true, health.HTTPProbe(rt.HTTP.Client(2*time.Second), q.JoinPath("/healthz").String()))

	const scope = "github.com/ihr-go/ihr/services/cachewarmer"
	metrics, err := warm.NewMetrics(rt.Meter(scope))
	if err != nil {
		return nil, err
	}
	log := freshness.NewLog(changeLogKeys)
	w := &warm.Warmer{
		Config:   s.warm,
		Ranking:  &popularity.Recorder{Redis: rdb, Prefix: s.prefix},
		Fetcher:  &upstream.Client{HTTP: rt.HTTP.Client(s.warm.Deadline), Base: q},
		Position: log,
		Metrics:  metrics,
		Logger:   rt.Log,
		Tracer:   rt.Tracer(scope),
	}
	sched := warm.NewScheduler(s.debounce, s.interval, func(ctx context.Context, t warm.Trigger, causes ...trace.SpanContext) {
		w.Warm(ctx, t, causes...)
	})
	follower := &freshness.Follower{Bus: bus, Log: log, Logger: rt.Log, Tracer: w.Tracer, Propagator: rt.HTTP.Propagator,
		OnChange: func(ctx context.Context, _ *freshness.Change) {
			// Events replayed at start are old news, but for the last one:
			// the log is ready from it on, so a restart warms once.
			if log.Ready() {
				sched.Notify(ctx)
			}
		}}
	rt.Go(func() { follower.Run(ctx) })
	rt.Go(func() { sched.Run(ctx) })
	return authn.Ops(rt.Credentials(ctx, s.auth, bus), s.opsOpen, httpapi.Handler(w.Runs)), nil
}
