package testkit

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ServiceEnv returns the variables that point a service at the machine's
// PostgreSQL (through dbURL), Redis and NATS, isolated under a fresh NATS
// prefix (also the Redis key prefix, with cached answers kept briefly), in
// prod mode so no embedded NATS hides a missing server.
func ServiceEnv(t testing.TB, dbURL string) map[string]string {
	prefix := NATSPrefix(t)
	return map[string]string{
		"IHR_ENV":          "prod",
		"IHR_DATABASE_URL": dbURL,
		"IHR_REDIS_URL":    RedisURL(t),
		"IHR_NATS_URL":     NATSURL(t),
		"IHR_NATS_PREFIX":  prefix,
		"IHR_CACHE_PREFIX": prefix + ":",
		"IHR_CACHE_L2_TTL": "10m",
		// Operators' endpoints (/debug/...) without credentials: the tests
		// that read them are not about auth (tests/security and the
		// cachewarmer's test of its own guard are).
		"IHR_OPS_OPEN": "true",
		// Required in prod: it seals the auth service's signing keys.
		"IHR_AUTH_KEY_SECRET": "a test secret sealing signing keys 0123456789",
		// Every request of a test comes from loopback, one anonymous client
		// to the gateway: its rate limiter stays on, with limits no test reaches.
		"IHR_RATE_ANONYMOUS_SECOND": "1000000",
		"IHR_RATE_ANONYMOUS_BURST":  "100000",
		"IHR_RATE_ANONYMOUS_DAY":    "1000000000000",
		// Likewise its limits per address of logins and of API keys not seen yet.
		"IHR_RATE_CREDENTIALS_SECOND": "1000000",
		"IHR_RATE_CREDENTIALS_BURST":  "100000",
		"IHR_RATE_KEY_CHECKS_SECOND":  "1000000",
		"IHR_RATE_KEY_CHECKS_BURST":   "100000",
	}
}

// With returns a copy of env with the variables of more added.
func With(env map[string]string, more map[string]string) map[string]string {
	out := maps.Clone(env)
	maps.Copy(out, more)
	return out
}

// AssertReadinessFollowsPostgres starts a database-backed service on a
// scratch database reached through a proxy, and checks that /readyz turns
// 503 naming postgres when the database becomes unreachable and 200 again
// when it comes back, while /healthz stays 200.
func AssertReadinessFollowsPostgres(t *testing.T, name string, run RunFunc) {
	t.Helper()
	u, err := url.Parse(NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	svc := StartService(t, name, run, ServiceEnv(t, u.String()))

	WaitStatus(t, svc.URL+"/readyz", http.StatusOK)
	proxy.Cut()
	body := WaitStatus(t, svc.URL+"/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"postgres":{"status":"down"`) || !strings.Contains(body, `"status":"not_ready"`) {
		t.Errorf("readiness body does not blame postgres: %s", body)
	}
	if code, _ := Get(t, svc.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz answers %d while only the database is down", code)
	}
	proxy.Restore()
	WaitStatus(t, svc.URL+"/readyz", http.StatusOK)
}
