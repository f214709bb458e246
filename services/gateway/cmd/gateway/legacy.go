package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/services/gateway/internal/legacy"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
)

// legacySettings are those of the move from the legacy API (docs/migration.md).
type legacySettings struct {
	// url is the legacy API's root (IHR_LEGACY_URL); nil: none, the
	// gateway serves ours alone.
	url         *url.URL
	routingFile string
	poll        time.Duration
	fraction    float64
	shadow      legacy.ShadowConfig
}

func readLegacy(e *config.Env) legacySettings {
	s := legacySettings{
		url:      config.Parse(e, "IHR_LEGACY_URL", "", parseLegacyURL),
		fraction: e.Float("IHR_SHADOW_FRACTION", 1, 0, 1),
		poll:     e.Duration("IHR_ROUTING_POLL", 5*time.Second, 50*time.Millisecond, time.Hour),
		shadow: legacy.ShadowConfig{
			Slots:    e.Int("IHR_SHADOW_CONCURRENCY", 8, 1, 10_000),
			Timeout:  e.Duration("IHR_SHADOW_TIMEOUT", 10*time.Second, 10*time.Millisecond, 10*time.Minute),
			MaxBody:  e.Int("IHR_SHADOW_MAX_BODY", 8<<20, 1<<10, 256<<20),
			LogEvery: e.Duration("IHR_SHADOW_LOG_EVERY", time.Minute, 0, 24*time.Hour),
		},
	}
	s.routingFile = config.Parse(e, "IHR_ROUTING_FILE", "", func(v string) (string, error) {
		if v != "" && s.url == nil {
			return "", errors.New("needs IHR_LEGACY_URL: the routing file routes between ours and the legacy API")
		}
		return v, nil
	})
	return s
}

// parseLegacyURL reads IHR_LEGACY_URL: empty, or the root of the legacy
// deployment (http or https, a host, perhaps a path prefix).
func parseLegacyURL(v string) (*url.URL, error) {
	if v == "" {
		return nil, nil
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("scheme must be http or https")
	case u.Host == "":
		return nil, errors.New("missing host")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("no credentials, query or fragment: the root of the legacy API, e.g. https://www.ihr.live")
	}
	return u, nil
}

// startLegacy puts the routing between ours (the handler of the query
// service at query) and the legacy API in front of ours; without a legacy
// API it returns ours as it is.
func startLegacy(ctx context.Context, rt *service.Runtime, s legacySettings, ours http.Handler, query *url.URL) (http.Handler, error) {
	if s.url == nil {
		return ours, nil
	}
	metrics, err := legacy.NewMetrics(rt.Meter("github.com/ihr-go/ihr/services/gateway"))
	if err != nil {
		return nil, err
	}
	routing, err := legacy.NewWatcher(s.routingFile, s.fraction, rt.Log)
	if err != nil {
		return nil, err
	}
	routing.OnReload = metrics.Reloaded
	served := &legacy.Served{DocURL: query.JoinPath("/ihr/api/openapi.json").String(), Client: rt.HTTP.Client(10 * time.Second), Log: rt.Log}
	// Read at start, so that the fallback works from the first request on
	// when the query service is up; Run keeps trying when it is not.
	first, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := served.Refresh(first); err != nil {
		rt.Log.Warn("the endpoints we serve are not known yet: until they are, none goes to the legacy API unless the routing says so", "err", err)
	}
	cancel()
	client := rt.HTTP.Client(0)
	cmp := legacy.NewComparer(ctx, s.shadow, s.url, client, ours, rt.Log, metrics)
	rt.Go(func() { routing.Run(ctx, s.poll) })
	rt.Go(func() { served.Run(ctx, time.Minute) })
	rt.Go(func() { <-ctx.Done(); cmp.Close() })
	r := routing.Routing()
	rt.Log.Info("legacy API routing", "legacy_url", s.url.String(), "routing_file", s.routingFile, "default", r.Default,
		"shadow_fraction", r.Fraction(), "endpoints", r.Endpoints)
	return &legacy.Router{Ours: ours, Legacy: proxy.Legacy(s.url, client.Transport, rt.Log), Routing: routing.Routing,
		Served: served, Compare: cmp, Metrics: metrics}, nil
}
