// Package redisx opens the traced Redis client. Redis only accelerates
// (caches, rate-limit counters), so a service starts and keeps serving while
// it is down; its readiness reports "degraded".
package redisx

import (
	"context"
	"fmt"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Open returns a client for rawURL with tracing and pool metrics. It does not
// contact the server.
func Open(rawURL string, tp trace.TracerProvider, mp metric.MeterProvider) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse IHR_REDIS_URL %s: %w", config.Redact(rawURL), err)
	}
	// Fail fast when Redis is down, so callers fall back instead of waiting.
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = time.Second
	opts.WriteTimeout = time.Second
	opts.MaxRetries = 1
	c := redis.NewClient(opts)
	if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(tp)); err != nil {
		return nil, fmt.Errorf("redis tracing: %w", err)
	}
	if err := redisotel.InstrumentMetrics(c, redisotel.WithMeterProvider(mp)); err != nil {
		return nil, fmt.Errorf("redis metrics: %w", err)
	}
	return c, nil
}

// Probe is a readiness check: PING.
func Probe(c *redis.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := c.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		return nil
	}
}
