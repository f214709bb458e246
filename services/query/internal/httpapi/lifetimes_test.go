package httpapi

import (
	"testing"
	"time"

	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

func TestCacheControl(t *testing.T) {
	l := Lifetimes{Live: time.Minute, Settled: 7 * 24 * time.Hour, Old: 180 * 24 * time.Hour, Reference: 30 * 24 * time.Hour}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ query, want string }{
		{"networks/?search=IIJ", "public, max-age=2592000"},
		{"network_delay/locations/?name=Tokyo", "public, max-age=2592000"},
		{"hegemony/?originasn=2497&timebin__gte=2026-11-01T00:00:00Z&timebin__lte=2026-11-02T00:00:00Z", "public, max-age=15552000"},
		{"hegemony/?originasn=2497&timebin=2026-11-20T00:00:00Z", "public, max-age=15552000"},
		// A window that ends within the last week can still get bins and re-runs.
		{"hegemony/?originasn=2497&timebin__gte=2026-11-22T00:00:00Z&timebin__lte=2026-11-28T00:00:00Z", "public, max-age=60"},
		{"hegemony/?originasn=2497", "public, max-age=60"}, // the latest bin
		{"disco/events/?starttime__gte=2026-01-01T00:00:00Z", "public, max-age=60"},
	} {
		q, err := endpoint.ParseKey(endpoint.All(), c.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.CacheControl(q, now); got != c.want {
			t.Errorf("%s: %q, want %q", c.query, got, c.want)
		}
	}
}
