package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

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
	svc := testkit.StartService(t, "cachewarmer", service.Runner(spec()), env)

	body := testkit.WaitStatus(t, svc.URL+"/readyz", http.StatusOK)
	if !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"redis":{"status":"down"`) {
		t.Errorf("Redis down must degrade, not fail, readiness: %s", body)
	}
	_, metrics := testkit.Get(t, svc.URL+"/metrics")
	if !strings.Contains(metrics, `ihr_dependency_up{dependency="redis"`) {
		t.Errorf("no ihr_dependency_up metric for redis")
	}
	down.Store(true)
	testkit.WaitStatus(t, svc.URL+"/readyz", http.StatusServiceUnavailable)
}
