// Command cachewarmer keeps the most requested queries hot by re-running
// them through the query service when results events announce new data.
package main

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/service"
)

type settings struct {
	queryURL string
	nats     config.NATS
	redisURL string
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "cachewarmer",
		Addr: ":8084",
		Config: func(e *config.Env) settings {
			return settings{
				queryURL: e.URL("IHR_QUERY_URL", "http://127.0.0.1:8081", "http", "https"),
				nats:     config.ReadNATS(e),
				redisURL: config.ReadRedis(e),
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(ctx context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
	if _, err := rt.NATS(ctx, s.nats, true); err != nil {
		return nil, err
	}
	if _, err := rt.Redis(s.redisURL); err != nil {
		return nil, err
	}
	q, err := url.Parse(s.queryURL)
	if err != nil {
		return nil, err
	}
	rt.Health.Add("query", true, health.HTTPProbe(rt.HTTP.Client(2*time.Second), q.JoinPath("/healthz").String()))
	// Warming arrives with the caching issue; the service has no API of its own.
	return apierr.NotFoundHandler(), nil
}
