// Command ingestion validates measurement results published by pipelines,
// commits each time bin exactly once and announces it.
package main

import (
	"context"
	"net/http"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/service"
)

type settings struct {
	db   config.Postgres
	nats config.NATS
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "ingestion",
		Addr: ":8082",
		Config: func(e *config.Env) settings {
			return settings{db: config.ReadPostgres(e), nats: config.ReadNATS(e)}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	if _, err := rt.Postgres(ctx, s.db); err != nil {
		return nil, err
	}
	if _, err := rt.NATS(ctx, s.nats); err != nil {
		return nil, err
	}
	// Consumers and POST /ihr/api/ingest/{dataset} arrive with the spine issue.
	return apierr.NotFoundHandler(), nil
}
