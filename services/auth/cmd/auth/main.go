// Command auth manages accounts, tokens, API keys and roles.
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
	nats     config.NATS
	redisURL string
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "auth",
		Addr: ":8083",
		Config: func(e *config.Env) settings {
			return settings{db: config.ReadPostgres(e), nats: config.ReadNATS(e), redisURL: config.ReadRedis(e)}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	if _, err := rt.Postgres(ctx, s.db); err != nil {
		return nil, err
	}
	if _, err := rt.NATS(ctx, s.nats, true); err != nil {
		return nil, err
	}
	if _, err := rt.Redis(s.redisURL); err != nil {
		return nil, err
	}
	// Accounts, tokens and keys arrive with the auth issue.
	return apierr.NotFoundHandler(), nil
}
