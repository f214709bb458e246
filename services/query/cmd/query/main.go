// Command query serves the public read API (/ihr/api/...) from PostgreSQL,
// with a Redis-backed cache kept fresh by results events.
package main

import (
	"context"
	"net/http"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/db"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
	"github.com/ihr-go/ihr/services/query/internal/httpapi"
	"github.com/ihr-go/ihr/services/query/internal/openapi"
	"github.com/ihr-go/ihr/services/query/internal/results"
	"github.com/ihr-go/ihr/services/query/internal/store"
	"go.opentelemetry.io/otel/metric"
)

type settings struct {
	db       config.Postgres
	redisURL string
	nats     config.NATS
	pageSize int
	etagMax  int
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "query",
		Addr: ":8081",
		Config: func(e *config.Env) settings {
			return settings{
				db:       config.ReadPostgres(e),
				redisURL: config.ReadRedis(e),
				nats:     config.ReadNATS(e),
				pageSize: e.Int("IHR_PAGE_SIZE", 100000, 1, 1000000),
				// Answers up to this size are held whole to be tagged (ETag, 304).
				etagMax: e.Int("IHR_ETAG_MAX_BYTES", 1<<20, 0, 64<<20),
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
	if _, err := rt.Redis(s.redisURL); err != nil {
		return nil, err
	}
	bus, err := rt.NATS(ctx, s.nats)
	if err != nil {
		return nil, err
	}
	seen, err := rt.Meter("github.com/ihr-go/ihr/services/query").Int64Counter("ihr_query_results_events",
		metric.WithDescription("Results events received, by dataset."))
	if err != nil {
		return nil, err
	}
	f := &results.Follower{Bus: bus, Log: rt.Log, Events: seen}
	rt.Go(func() { f.Run(ctx) })
	doc, err := openapi.Document(endpoint.All(), apiVersion, s.pageSize)
	if err != nil {
		return nil, err
	}
	api := &httpapi.API{Store: store.New(pool, counts), PageSize: s.pageSize, Log: rt.Log, OpenAPI: doc}
	return httpx.ETag(s.etagMax, api.Handler(endpoint.All())), nil
}
