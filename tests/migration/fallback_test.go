package migration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// stub is a legacy API that records what it is sent and answers every
// request the same.
type stub struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD /path?query body"
}

func newStub(t *testing.T) *stub {
	t.Helper()
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.seen = append(s.seen, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(body)))
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Legacy", "django")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"count":0,"next":"https://legacy.example/ihr/api/x/?page=2","previous":null,"results":[]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// took returns what the stub was sent since last asked.
func (s *stub) took() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

// TestFallbackAndReload: an endpoint we do not serve reaches the legacy
// API as the client sent it, and its answer comes back as the legacy API
// wrote it; the routing file switches an endpoint to the legacy API and
// back without a restart, and a routing file that does not parse is
// refused while the routing before it stays.
func TestFallbackAndReload(t *testing.T) {
	d := startQuery(t, demoDB(t, 1), nil)
	legacy := newStub(t)
	routing := newRoutingFile(t, `{"default": "ours"}`)
	gw, logs := startGateway(t, d, map[string]string{"IHR_LEGACY_URL": legacy.URL, "IHR_ROUTING_FILE": string(routing),
		"IHR_ROUTING_POLL": "50ms"})

	// Not ours: the legacy API's answer, links and headers as it wrote them.
	r := get(t, gw+"/ihr/api/user_api/monitored/?asn=2497&asn=15169")
	if r.Status != http.StatusAccepted || !strings.Contains(r.Raw, `"next":"https://legacy.example/ihr/api/x/?page=2"`) ||
		r.Header.Get("X-Legacy") != "django" || r.Header.Get("X-Cache") != "legacy" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("an endpoint we do not serve: %d %v %s", r.Status, r.Header, r.Raw)
	}
	testkit.Request(t, http.MethodPost, gw+"/ihr/api/user_api/save/?x=1", "", `{"asn":2497}`)
	if got := legacy.took(); len(got) != 2 || got[0] != "GET /ihr/api/user_api/monitored/?asn=2497&asn=15169" ||
		got[1] != `POST /ihr/api/user_api/save/?x=1 {"asn":2497}` {
		t.Errorf("the legacy API got %q", got)
	}

	// Ours until the routing file says otherwise.
	ours := get(t, gw+networks)
	if ours.Status != 200 || ours.Header.Get("X-Cache") == "legacy" || len(legacy.took()) != 0 {
		t.Fatalf("networks before the switch: %d from %s", ours.Status, ours.Header.Get("X-Cache"))
	}
	routing.write(t, `{"default": "ours", "endpoints": {"networks": "legacy"}}`)
	testkit.Eventually(t, "networks answered by the legacy API", func() bool {
		return get(t, gw+networks).Header.Get("X-Cache") == "legacy"
	})
	if got := legacy.took(); len(got) == 0 || got[len(got)-1] != "GET "+networks {
		t.Errorf("the legacy API got %q", got)
	}

	// A broken file is refused; the routing before it stays.
	routing.write(t, `{"default": "ours", "endpoints": {"networks": "legacyy"}}`)
	testkit.Eventually(t, "the broken routing file refused", func() bool {
		return metric(t, gw, "ihr_routing_reloads_total", `outcome="refused"`) == 1
	})
	if r := get(t, gw+networks); r.Header.Get("X-Cache") != "legacy" {
		t.Errorf("after a refused file networks is answered by %s", r.Header.Get("X-Cache"))
	}
	if lines := logLines(logs, "routing file refused: the routing before it stays"); len(lines) != 1 ||
		!strings.Contains(lines[0]["err"].(string), `"legacyy" is not one of`) {
		t.Errorf("the refusal logged: %v", lines)
	}

	// Everything to the legacy API but the documentation; then back.
	routing.write(t, `{"default": "legacy"}`)
	testkit.Eventually(t, "hegemony answered by the legacy API", func() bool {
		return get(t, gw+hegemony).Header.Get("X-Cache") == "legacy"
	})
	if r := get(t, gw+"/ihr/api/openapi.json"); r.Status != 200 || r.Header.Get("X-Cache") == "legacy" || !strings.Contains(r.Raw, `"openapi":"3.1.0"`) {
		t.Errorf("the OpenAPI document: %d from %s", r.Status, r.Header.Get("X-Cache"))
	}
	routing.write(t, `{}`)
	testkit.Eventually(t, "networks answered by ours again", func() bool {
		r := get(t, gw+networks)
		return r.Header.Get("X-Cache") != "legacy" && r.Raw == ours.Raw
	})
	if n := metric(t, gw, "ihr_routing_reloads_total", `outcome="applied"`); n != 3 {
		t.Errorf("%v reloads applied, want 3", n)
	}
	if n := metric(t, gw, "ihr_legacy_requests_total", `endpoint="unserved"`); n != 2 {
		t.Errorf("%v requests to endpoints we do not serve counted, want 2", n)
	}
}
