// Command query serves the public read API (/ihr/api/...) from PostgreSQL,
// with a Redis-backed cache kept fresh by results events.
package main

import (
	"context"
	"net/http"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/service"
)

type settings struct {
	db       config.Postgres
	redisURL string
	nats     config.NATS
	pageSize int
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
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	if _, err := rt.Postgres(ctx, s.db); err != nil {
		return nil, err
	}
	if _, err := rt.Redis(s.redisURL); err != nil {
		return nil, err
	}
	if _, err := rt.NATS(ctx, s.nats); err != nil {
		return nil, err
	}
	// The read endpoints arrive with the spine and read-parity issues.
	return apierr.NotFoundHandler(), nil
}
