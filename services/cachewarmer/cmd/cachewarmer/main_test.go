package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

// TestReadinessFollowsQueryAndRedisIsOptional: only the query service is
// critical. With Redis and NATS down the warmer stays ready (degraded) and
// its scheduled runs find nothing to warm rather than fail.
func TestReadinessFollowsQueryAndRedisIsOptional(t *testing.T) {
	var down atomic.Bool
	q := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer q.Close()
	env := testkit.ServiceEnv(t, "")
	env["IHR_QUERY_URL"] = q.URL
	env["IHR_REDIS_URL"] = "redis://" + testkit.FreeAddr(t) + "/0" // nothing listens there
	env["IHR_NATS_URL"] = "nats://" + testkit.FreeAddr(t)
	env["IHR_WARM_INTERVAL"] = "1s"
	svc := testkit.StartService(t, "cachewarmer", service.Runner(spec()), env)

	body := testkit.WaitStatus(t, svc.URL+"/readyz", http.StatusOK)
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"redis":{"status":"down"`) || !strings.Contains(body, `"nats":{"status":"down"`) {
		t.Errorf("Redis and NATS down must degrade, not fail, readiness: %s", body)
	}
	var runs []warm.Run
	testkit.Eventually(t, "a scheduled run", func() bool { runs = debugRuns(t, svc.URL); return len(runs) > 0 })
	if r := runs[0]; r.Trigger != warm.TriggerSchedule || r.Outcome != warm.RunEmpty || r.FromRedis {
		t.Errorf("with Redis down, run %+v; want a scheduled run with nothing to warm, not from Redis", r)
	}
	_, metrics := testkit.Get(t, svc.URL+"/metrics")
	if !strings.Contains(metrics, `ihr_dependency_up{critical="false",dependency="redis"}`) {
		t.Errorf("no ihr_dependency_up metric for redis")
	}
	down.Store(true)
	testkit.WaitStatus(t, svc.URL+"/readyz", http.StatusServiceUnavailable)
}

func TestConfiguration(t *testing.T) {
	lookup := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	var out bytes.Buffer
	if err := service.Run(context.Background(), spec(), []string{"--env"}, lookup(map[string]string{"IHR_WARM_TOP": "40"}), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IHR_WARM_TOP=100\n", "IHR_WARM_BUDGET=40\n", "IHR_WARM_CONCURRENCY=2\n", "IHR_WARM_DEADLINE=30s\n",
		"IHR_WARM_SLOW=2s\n", "IHR_WARM_INTERVAL=5m0s\n", "IHR_WARM_DEBOUNCE=1s\n", "IHR_CACHE_PREFIX=ihr:\n", "IHR_QUERY_URL=http://127.0.0.1:8081\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--env lacks %q (the budget defaults to the top):\n%s", want, out.String())
		}
	}
	bad := map[string]string{"IHR_WARM_TOP": "0", "IHR_WARM_BUDGET": "-1", "IHR_WARM_CONCURRENCY": "1000", "IHR_WARM_DEADLINE": "1ms",
		"IHR_WARM_SLOW": "soon", "IHR_WARM_INTERVAL": "48h", "IHR_WARM_DEBOUNCE": "0s", "IHR_QUERY_URL": "ftp://x"}
	err := service.Run(context.Background(), spec(), nil, lookup(bad), io.Discard)
	for name := range bad {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("invalid %s=%s not reported: %v", name, bad[name], err)
		}
	}
}
