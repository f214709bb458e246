package migration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// mirror is a stub legacy API that answers what the query service at
// query answers, after change has had its way with the decoded body.
func mirror(t *testing.T, query string, change func(path string, body map[string]any)) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(query + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber() // numbers as they were written
		var body map[string]any
		if d.Decode(&body) == nil {
			change(r.URL.Path, body)
			raw, _ = json.Marshal(body) // keys sorted: not the order ours writes, which must not matter
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(raw)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestShadowMismatch: with hegemony and networks shadowed against a legacy
// API that differs on one field of hegemony's answers, clients get our
// answers untouched, the gateway counts the mismatches (and the equal
// networks answers), and logs one of them per minute, naming the field
// with both values.
func TestShadowMismatch(t *testing.T) {
	d := startQuery(t, demoDB(t, 1), nil)
	legacy := mirror(t, d.query, func(path string, body map[string]any) {
		if results, _ := body["results"].([]any); strings.HasPrefix(path, "/ihr/api/hegemony/") && len(results) > 0 {
			results[0].(map[string]any)["hege"] = json.Number("0.123")
		}
	})
	routing := newRoutingFile(t, `{"endpoints": {"hegemony": "shadow", "networks": "shadow"}}`)
	gw, logs := startGateway(t, d, map[string]string{"IHR_LEGACY_URL": legacy.URL, "IHR_ROUTING_FILE": string(routing)})

	ours := get(t, d.query+hegemony)
	if ours.Status != 200 || !strings.Contains(ours.Raw, `"hege":`) {
		t.Fatalf("the query service answers %d %.200s", ours.Status, ours.Raw)
	}
	for range 3 {
		if got := get(t, gw+hegemony); got.Status != 200 || got.Raw != ours.Raw || got.Header.Get("X-Cache") == "legacy" {
			t.Fatalf("through the gateway: %d from %s, %.200s", got.Status, got.Header.Get("X-Cache"), got.Raw)
		}
	}
	get(t, gw+networks)
	testkit.Eventually(t, "three mismatches and one equal answer counted", func() bool {
		return metric(t, gw, "ihr_shadow_mismatch_total", `endpoint="hegemony"`) == 3 &&
			metric(t, gw, "ihr_shadow_requests_total", `endpoint="hegemony",outcome="mismatch"`) == 3 &&
			metric(t, gw, "ihr_shadow_requests_total", `endpoint="networks",outcome="equal"`) == 1
	})
	if n := metric(t, gw, "ihr_shadow_legacy_seconds_count", `endpoint="hegemony"`); n != 3 {
		t.Errorf("the legacy side's latency was measured %v times, want 3", n)
	}
	lines := logLines(logs, "shadow mismatch")
	if len(lines) != 1 {
		t.Fatalf("%d mismatches logged, want 1 (a minute apart at most):\n%s", len(lines), logs)
	}
	l := lines[0]
	diff, _ := l["diff"].(string)
	if l["endpoint"] != "hegemony" || l["ours_status"] != 200.0 || l["legacy_status"] != 200.0 || l["differences"] != 1.0 ||
		!strings.HasPrefix(diff, "$.results[0].hege: ours ") || !strings.HasSuffix(diff, ", legacy 0.123") {
		t.Errorf("the mismatch logged: %v", l)
	}
	t.Logf("logged: %s", diff)
}

// TestShadowCostsTheClientNothing: shadowing every endpoint against a
// legacy API that hangs, or one that fails, leaves the clients' latency
// where it is without shadowing. Requests go round the three gateways in
// turn, so that they share the machine's noise.
func TestShadowCostsTheClientNothing(t *testing.T) {
	d := startQuery(t, demoDB(t, 1), nil)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<h1>Server Error (500)</h1>", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	routing := string(newRoutingFile(t, `{"default": "shadow", "shadow_fraction": 1}`))
	plain, _ := startGateway(t, d, nil)
	hung, _ := startGateway(t, d, map[string]string{"IHR_LEGACY_URL": hanging.URL, "IHR_ROUTING_FILE": routing,
		"IHR_SHADOW_TIMEOUT": "1s", "IHR_SHADOW_CONCURRENCY": "4"})
	failed, _ := startGateway(t, d, map[string]string{"IHR_LEGACY_URL": failing.URL, "IHR_ROUTING_FILE": routing})

	n := 500
	if testing.Short() {
		n = 200
	}
	gateways := []string{plain, hung, failed}
	names := []string{"without shadow", "shadow, legacy hangs", "shadow, legacy fails"}
	took := make([][]time.Duration, len(gateways))
	client := &http.Client{Timeout: 10 * time.Second}
	paths := []string{hegemony, networks, hegeAlarm}
	hegemonyReads := 0
	for i := range n + 3 {
		if i%len(paths) == 0 {
			hegemonyReads++
		}
		for g, base := range gateways {
			start := time.Now()
			res, err := client.Get(base + paths[i%len(paths)])
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d", names[g], res.StatusCode)
			}
			if i >= len(paths) { // the first round fills the caches
				took[g] = append(took[g], time.Since(start))
			}
		}
	}
	base := p99(took[0])
	for g := range gateways {
		t.Logf("%s: p99 %v over %d requests", names[g], p99(took[g]).Round(10*time.Microsecond), len(took[g]))
		if g > 0 && p99(took[g]) >= base+20*time.Millisecond {
			t.Errorf("%s: p99 %v, without shadow %v", names[g], p99(took[g]), base)
		}
	}
	testkit.Eventually(t, "the hung comparisons time out, the rest are dropped; the failed ones are the legacy API's errors", func() bool {
		return metric(t, hung, "ihr_shadow_requests_total", `endpoint="hegemony",outcome="timeout"`) > 0 &&
			metric(t, hung, "ihr_shadow_requests_total", `endpoint="hegemony",outcome="dropped"`) > 0 &&
			metric(t, failed, "ihr_shadow_requests_total", `endpoint="hegemony",outcome="legacy_error"`) == float64(hegemonyReads)
	})
}
