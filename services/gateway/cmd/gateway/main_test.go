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

// upstream stands in for the query service: it records what the gateway
// forwarded and can be switched off.
type upstream struct {
	srv       *httptest.Server
	down      atomic.Bool
	requestID atomic.Value
	parent    atomic.Value
	forwarded atomic.Value
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/healthz" {
			return
		}
		u.requestID.Store(r.Header.Get("X-Request-Id"))
		u.parent.Store(r.Header.Get("Traceparent"))
		u.forwarded.Store(r.Header.Get("X-Forwarded-Host"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not_found","message":"` + r.URL.RequestURI() + `"}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func TestProxiesToQueryWithRequestIDAndTrace(t *testing.T) {
	q := newUpstream(t)
	gw := testkit.StartService(t, "gateway", service.Runner(spec()), map[string]string{"IHR_QUERY_URL": q.srv.URL})

	req, _ := http.NewRequest("GET", gw.URL+"/ihr/api/hegemony/?asn=2497", nil)
	req.Header.Set("X-Request-Id", "client-id-1")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if got := q.requestID.Load(); got != "client-id-1" {
		t.Errorf("query saw request id %v", got)
	}
	if got, _ := q.parent.Load().(string); !strings.Contains(got, "0af7651916cd43dd8448eb211c80319c") {
		t.Errorf("query saw traceparent %q, want the client's trace", got)
	}
	if got := q.forwarded.Load(); got == "" {
		t.Errorf("X-Forwarded-Host not set")
	}
	if got := resp.Header.Get("X-Request-Id"); got != "client-id-1" {
		t.Errorf("response request id %q", got)
	}
}

func TestReadinessFollowsQueryService(t *testing.T) {
	q := newUpstream(t)
	gw := testkit.StartService(t, "gateway", service.Runner(spec()), map[string]string{"IHR_QUERY_URL": q.srv.URL})
	testkit.WaitStatus(t, gw.URL+"/readyz", http.StatusOK)
	q.down.Store(true)
	body := testkit.WaitStatus(t, gw.URL+"/readyz", http.StatusServiceUnavailable)
	if !strings.Contains(body, `"query":{"status":"down"`) {
		t.Errorf("readiness does not blame query: %s", body)
	}
	q.down.Store(false)
	testkit.WaitStatus(t, gw.URL+"/readyz", http.StatusOK)
}

func TestUnreachableUpstreamIsJSON503(t *testing.T) {
	gw := testkit.StartService(t, "gateway", service.Runner(spec()), map[string]string{"IHR_QUERY_URL": "http://" + testkit.FreeAddr(t)})
	code, body := testkit.Get(t, gw.URL+"/ihr/api/networks/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"error":"upstream_unavailable"`) {
		t.Errorf("got %d %s", code, body)
	}
}

func TestBadConfigurationNamesTheVariable(t *testing.T) {
	err := service.Run(t.Context(), spec(), nil, func(k string) (string, bool) {
		return map[string]string{"IHR_QUERY_URL": "ftp://x", "IHR_GATEWAY_ADDR": "nope"}[k], true
	}, nil)
	if err == nil || !strings.Contains(err.Error(), "IHR_QUERY_URL") || !strings.Contains(err.Error(), "IHR_GATEWAY_ADDR") {
		t.Fatalf("got %v", err)
	}
}
