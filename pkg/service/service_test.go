package service

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/config"
	"github.com/ihr-go/ihr/pkg/testkit"
)

type settings struct{ greeting string }

func demo(start func(context.Context, *Runtime, settings) (http.Handler, error)) Spec[settings] {
	return Spec[settings]{
		Name:   "demo",
		Addr:   ":8099",
		Config: func(e *config.Env) settings { return settings{greeting: e.String("IHR_DEMO_GREETING", "hello")} },
		Start:  start,
	}
}

func hello(_ context.Context, rt *Runtime, s settings) (http.Handler, error) {
	rt.Health.Add("always", true, func(context.Context) error { return nil })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(s.greeting)) }), nil
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnvFlagListsVariables(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), demo(hello), []string{"--env"}, lookup(nil), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"IHR_ENV=dev\n", "IHR_DEMO_ADDR=:8099\n", "IHR_DEMO_GREETING=hello\n", "OTEL_EXPORTER_OTLP_ENDPOINT=\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--env output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadConfigurationStopsTheStart(t *testing.T) {
	started := false
	spec := demo(func(ctx context.Context, rt *Runtime, s settings) (http.Handler, error) {
		started = true
		return nil, nil
	})
	err := Run(context.Background(), spec, nil, lookup(map[string]string{"IHR_LOG_LEVEL": "chatty", "IHR_DEMO_ADDR": "x"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "IHR_LOG_LEVEL") || !strings.Contains(err.Error(), "IHR_DEMO_ADDR") {
		t.Fatalf("got %v", err)
	}
	if started {
		t.Fatal("service started despite invalid configuration")
	}
}

func TestServesRoutesHealthAndMetrics(t *testing.T) {
	svc := testkit.StartService(t, "demo", Runner(demo(hello)), map[string]string{"IHR_DEMO_GREETING": "hi"})
	if code, body := testkit.Get(t, svc.URL+"/anything"); code != 200 || body != "hi" {
		t.Errorf("route: %d %q", code, body)
	}
	if code, body := testkit.Get(t, svc.URL+"/readyz"); code != 200 || !strings.Contains(body, `"always":{"status":"ok"`) {
		t.Errorf("readyz: %d %s", code, body)
	}
	if code, body := testkit.Get(t, svc.URL+"/metrics"); code != 200 || !strings.Contains(body, `ihr_dependency_up{critical="true",dependency="always"} 1`) || !strings.Contains(body, "http_server_request") {
		t.Errorf("metrics: %d, lacks dependency or HTTP metrics", code)
	}
	testkit.Eventually(t, "an access log line with a trace id", func() bool {
		return strings.Contains(svc.Logs(), `"msg":"request"`) && strings.Contains(svc.Logs(), `"trace_id"`)
	})

	addr := strings.TrimPrefix(svc.URL, "http://")
	if err := Run(context.Background(), demo(hello), []string{"--healthcheck"}, lookup(map[string]string{"IHR_DEMO_ADDR": addr}), &bytes.Buffer{}); err != nil {
		t.Errorf("--healthcheck on a ready service: %v", err)
	}
	if err := Run(context.Background(), demo(hello), []string{"--healthcheck"}, lookup(map[string]string{"IHR_DEMO_ADDR": testkit.FreeAddr(t)}), &bytes.Buffer{}); err == nil {
		t.Error("--healthcheck passed with nothing listening")
	}
}

func TestMetricsOnAPortOfTheirOwn(t *testing.T) {
	metrics := testkit.FreeAddr(t)
	svc := testkit.StartService(t, "demo", Runner(demo(hello)), map[string]string{"IHR_METRICS_ADDR": metrics})
	if code, body := testkit.Get(t, "http://"+metrics+"/metrics"); code != 200 || !strings.Contains(body, `ihr_dependency_up{`) {
		t.Errorf("metrics on IHR_METRICS_ADDR: %d", code)
	}
	if code, body := testkit.Get(t, svc.URL+"/metrics"); code != 200 || body != "hello" {
		t.Errorf("/metrics on the service's port: %d %.40q, want the service's own route", code, body)
	}
	if code, _ := testkit.Get(t, "http://"+metrics+"/readyz"); code != 404 {
		t.Errorf("/readyz on the metrics port: %d, want 404", code)
	}
	err := Run(context.Background(), demo(hello), nil, lookup(map[string]string{"IHR_METRICS_ADDR": "nine"}), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "IHR_METRICS_ADDR") {
		t.Errorf("a bad IHR_METRICS_ADDR: %v", err)
	}
}

func TestStartErrorIsReturned(t *testing.T) {
	boom := errors.New("boom")
	spec := demo(func(context.Context, *Runtime, settings) (http.Handler, error) { return nil, boom })
	err := Run(context.Background(), spec, nil, lookup(map[string]string{"IHR_DEMO_ADDR": testkit.FreeAddr(t)}), &bytes.Buffer{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}
