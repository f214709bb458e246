// Command gateway is the single public entry of the IHR API: it routes
// /ihr/api/... to the internal services.
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/health"
	"github.com/ihr-go/ihr/pkg/httpx"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
)

type settings struct {
	queryURL, authURL, ingestionURL string
}

func spec() service.Spec[settings] {
	return service.Spec[settings]{
		Name: "gateway",
		Addr: ":8080",
		Config: func(e *config.Env) settings {
			return settings{
				queryURL:     e.URL("IHR_QUERY_URL", "http://127.0.0.1:8081", "http", "https"),
				authURL:      e.URL("IHR_AUTH_URL", "http://127.0.0.1:8083", "http", "https"),
				ingestionURL: e.URL("IHR_INGESTION_URL", "http://127.0.0.1:8082", "http", "https"),
			}
		},
		Start: start,
	}
}

func main() { service.Main(spec()) }

func start(_ context.Context, rt *service.Runtime, s settings) (http.Handler, error) {
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
		h := proxy.New(target, client.Transport, rt.Log)
		for _, p := range up.paths {
			mux.Handle(p, h)
		}
		rt.Health.Add(up.name, up.critical, health.HTTPProbe(probe, target.JoinPath("/healthz").String()))
	}
	// The site root leads to the API documentation, as the legacy API's did.
	mux.Handle("GET /{$}", http.RedirectHandler("/ihr/api/docs", http.StatusTemporaryRedirect))
	return httpx.Compress(1024, mux), nil
}
