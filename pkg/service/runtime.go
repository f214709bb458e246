package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/db"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/natsx"
	"github.com/ihr-go/ihr/pkg/redisx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Runtime is what a service's Start receives: its logger, instruments and
// readiness checks, and constructors for the shared dependencies that
// register each one's readiness probe and closing.
type Runtime struct {
	Name   string
	Common config.Common
	Log    *slog.Logger
	Health *health.Checker
	HTTP   httpx.Instruments

	closers []func()
	workers sync.WaitGroup
}

// OnClose registers f to run at shutdown, after HTTP has drained; closers
// run in reverse order of registration.
func (rt *Runtime) OnClose(f func()) { rt.closers = append(rt.closers, f) }

// Go runs f in the background; shutdown waits for it after cancelling ctx.
func (rt *Runtime) Go(f func()) { rt.workers.Go(f) }

func (rt *Runtime) wait() { rt.workers.Wait() }

func (rt *Runtime) close() {
	for _, f := range reverse(rt.closers) {
		f()
	}
}

// Postgres opens the database pool, a critical dependency.
func (rt *Runtime) Postgres(ctx context.Context, cfg config.Postgres) (*pgxpool.Pool, error) {
	pool, err := db.Open(ctx, cfg, "ihr-"+rt.Name, rt.HTTP.Tracers, rt.HTTP.Meters)
	if err != nil {
		return nil, err
	}
	rt.OnClose(pool.Close)
	rt.Health.Add("postgres", true, db.Probe(pool))
	return pool, nil
}

// Redis opens the Redis client, a non-critical dependency: when it is down
// the service is "degraded", not unready.
func (rt *Runtime) Redis(url string) (*redis.Client, error) {
	c, err := redisx.Open(url, rt.HTTP.Tracers, rt.HTTP.Meters)
	if err != nil {
		return nil, err
	}
	rt.OnClose(func() { _ = c.Close() })
	rt.Health.Add("redis", false, redisx.Probe(c))
	return c, nil
}

// NATS connects to JetStream (embedding a server in dev mode when none
// answers). When critical, the service is not ready without it; otherwise
// it is "degraded". The IHR streams are provisioned as soon as the server
// answers, by the readiness probe if not at start.
func (rt *Runtime) NATS(ctx context.Context, cfg config.NATS, critical bool) (*natsx.Bus, error) {
	bus, err := natsx.Connect(ctx, cfg, rt.Common.Dev(), "ihr-"+rt.Name, rt.Log)
	if err != nil {
		return nil, err
	}
	rt.OnClose(bus.Close)
	var provisioned atomic.Bool
	ensure := func(ctx context.Context) error {
		if err := bus.Probe(ctx); err != nil {
			return err
		}
		if !provisioned.Load() {
			if err := bus.EnsureStreams(ctx); err != nil {
				return err
			}
			provisioned.Store(true)
		}
		return nil
	}
	if err := ensure(ctx); err != nil {
		rt.Log.Warn("nats not ready yet", "err", err)
	}
	rt.Health.Add("nats", critical, ensure)
	return bus, nil
}

// Every runs f every d until ctx is done.
func Every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// Meter returns a meter of the service's meter provider.
func (rt *Runtime) Meter(name string) metric.Meter { return rt.HTTP.Meters.Meter(name) }

// Tracer returns the tracer of an instrumentation scope.
func (rt *Runtime) Tracer(name string) trace.Tracer { return rt.HTTP.Tracers.Tracer(name) }

// maxTokenLife is the longest an access token may live (IHR_AUTH_ACCESS_TTL
// at most): revocations are kept that long.
const maxTokenLife = 24 * time.Hour

// Credentials returns the verifier of access tokens and API keys issued by
// the auth service at cfg.URL, following the revocations it publishes on
// bus (none without NATS: tokens then live until they expire, and keys
// until the key check's short cache drops them).
func (rt *Runtime) Credentials(ctx context.Context, cfg config.Auth, bus *natsx.Bus) *authn.Credentials {
	client := rt.HTTP.Client(0)
	keys := &authn.KeyClient{URL: cfg.URL, Client: client, KeyTTL: 30 * time.Second}
	revoked := &authn.Revocations{Keep: maxTokenLife, OnRevoke: keys.Forget}
	if bus != nil {
		rt.Go(func() { revoked.Follow(ctx, bus, rt.Log) })
	}
	return &authn.Credentials{
		Tokens: &authn.TokenVerifier{Keys: authn.NewKeySet(strings.TrimSuffix(cfg.URL, "/")+authn.JWKSPath, client), Issuer: cfg.Issuer,
			Leeway: 30 * time.Second, MaxLifetime: maxTokenLife},
		Keys:    keys,
		Revoked: revoked,
	}
}
