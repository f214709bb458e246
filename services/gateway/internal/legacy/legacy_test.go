package legacy

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/gateway/internal/proxy"
)

func TestParseRouting(t *testing.T) {
	r, err := ParseRouting([]byte(`{"default":"shadow","shadow_fraction":0.25,
		"endpoints":{"/ihr/api/hegemony/alarms/":"legacy","link/delay":"legacy-primary","networks":"ours"}}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Default != Shadow || r.Fraction() != 0.25 || r.Endpoints["hegemony/alarms"] != Legacy ||
		r.Endpoints["link/delay"] != LegacyPrimary || r.Endpoints["networks"] != Ours || len(r.Endpoints) != 3 {
		t.Errorf("parsed %+v", r)
	}
	if r, err := ParseRouting([]byte(`{}`), 0.5); err != nil || r.Default != Ours || r.Fraction() != 0.5 {
		t.Errorf("empty routing: %+v, %v", r, err)
	}
	for in, want := range map[string][]string{
		`{"default":"shadw"}`:                    {`default: "shadw" is not one of ours, legacy, shadow, legacy-primary`},
		`{"shadow_fraction":1.5}`:                {"shadow_fraction: 1.5 is not between 0 and 1"},
		`{"endpoint":{}}`:                        {`unknown field "endpoint"`},
		`{"default":"ours"} {}`:                  {"more than one JSON value"},
		`[]`:                                     {"not a routing object"},
		`{"endpoints":{"docs":"legacy"}}`:        {`"docs" is the API's documentation, always ours`},
		`{"endpoints":{"a b":"legacy","x":"y"}}`: {`"a b" does not name an endpoint`, `"x": "y" is not one of`},
		`{"endpoints":{"hegemony":"legacy","/ihr/api/hegemony/":"ours"}}`: {`"hegemony" is named twice`},
	} {
		_, err := ParseRouting([]byte(in), 1)
		for _, w := range want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want it to say %q", in, err, w)
			}
		}
	}
}

func TestWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routing.json")
	write := func(s string) {
		t.Helper()
		// Each version a new file: the test does not wait for the clock to tick.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewWatcher(path, 1, slog.Default()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file at start: %v", err)
	}
	write(`{"default":"bogus"}`)
	if _, err := NewWatcher(path, 1, slog.Default()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("an invalid file at start: %v", err)
	}
	write(`{"endpoints":{"hegemony":"shadow"}}`)
	var logs bytes.Buffer
	w, err := NewWatcher(path, 0.5, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var applied, refused int
	w.OnReload = func(ok bool) {
		if ok {
			applied++
		} else {
			refused++
		}
	}
	w.check(false, "poll")
	if applied+refused != 0 {
		t.Errorf("an unchanged file was read again")
	}
	write(`{"endpoints":{"hegemony":"legacy"}}`)
	w.check(false, "poll")
	if w.Routing().Endpoints["hegemony"] != Legacy || applied != 1 {
		t.Errorf("after a change: %+v, %d applied", w.Routing(), applied)
	}
	write(`{"endpoints":{"hegemony":"nonsense"}}`)
	w.check(false, "poll")
	w.check(false, "poll")
	if w.Routing().Endpoints["hegemony"] != Legacy || refused != 1 || !strings.Contains(logs.String(), "routing file refused") {
		t.Errorf("an invalid version: %+v, %d refused, logs %s", w.Routing(), refused, logs.String())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	w.check(false, "poll")
	w.check(false, "poll")
	if refused != 2 || w.Routing().Endpoints["hegemony"] != Legacy {
		t.Errorf("a removed file: %d refused (want once more), %+v", refused, w.Routing())
	}
	write(`{"default":"shadow"}`)
	w.check(false, "poll")
	if w.Routing().Default != Shadow || len(w.Routing().Endpoints) != 0 || w.Routing().Fraction() != 0.5 || applied != 2 {
		t.Errorf("the file back: %+v", w.Routing())
	}
}

func TestEndpoints(t *testing.T) {
	names, err := Endpoints([]byte(`{"paths":{"/ihr/api/hegemony/":{},"/ihr/api/link/delay/alarms/":{},"/ihr/api/users/{id}":{},"/elsewhere":{}}}`))
	if err != nil || len(names) != 2 || !names["hegemony"] || !names["link/delay/alarms"] {
		t.Errorf("names %v, %v", names, err)
	}
	for _, doc := range []string{`{"paths":{}}`, `<html>`} {
		if _, err := Endpoints([]byte(doc)); err == nil {
			t.Errorf("%s: no error", doc)
		}
	}
}

// fixture is a router between a handler standing for ours and a test
// server standing for the legacy API.
type fixture struct {
	router  *Router
	legacy  *httptest.Server
	handler atomic.Pointer[http.HandlerFunc] // the legacy API's
	reader  *sdkmetric.ManualReader
	logs    *testkit.Buffer
	cancel  context.CancelFunc
	compare *Comparer
	routing atomic.Pointer[Routing]
}

func newFixture(t *testing.T, ours, legacy http.HandlerFunc, cfg ShadowConfig) *fixture {
	t.Helper()
	f := &fixture{reader: sdkmetric.NewManualReader(), logs: &testkit.Buffer{}}
	f.handler.Store(&legacy)
	f.legacy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*f.handler.Load())(w, r) }))
	t.Cleanup(f.legacy.Close)
	m, err := NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(f.legacy.URL + "/root")
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.compare = NewComparer(ctx, cfg, target, f.legacy.Client(), ours, log, m)
	t.Cleanup(func() { cancel(); f.compare.Close() })
	served := &Served{}
	names := map[string]bool{"hegemony": true, "networks": true}
	served.names.Store(&names)
	f.routing.Store(DefaultRouting(1))
	f.router = &Router{Ours: ours, Legacy: proxy.Legacy(target, f.legacy.Client().Transport, log),
		Routing: f.routing.Load, Served: served, Compare: f.compare, Metrics: m}
	return f
}

func (f *fixture) route(endpoints map[string]Mode) {
	r := DefaultRouting(1)
	r.Endpoints = endpoints
	f.routing.Store(r)
}

func (f *fixture) get(t *testing.T, target string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

// outcomes returns ihr_shadow_requests_total by endpoint/outcome, once
// every comparison under way is done.
func (f *fixture) outcomes(t *testing.T) map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.compare.slots) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "ihr_shadow_requests" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				e, _ := p.Attributes.Value("endpoint")
				o, _ := p.Attributes.Value("outcome")
				out[e.AsString()+"/"+o.AsString()] += p.Value
			}
		}
	}
	return out
}

const page = `{"count":1,"next":null,"previous":null,"results":[{"asn":2497,"hege":0.25}]}`

func jsonAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestRoutes(t *testing.T) {
	var mu sync.Mutex
	var legacyGot []string
	f := newFixture(t, jsonAnswer(`{"from":"ours"}`), func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		legacyGot = append(legacyGot, r.Method+" "+r.URL.RequestURI()+" "+string(body)+" auth="+r.Header.Get("Authorization")+
			" xff="+r.Header.Get("X-Forwarded-For")+" internal="+r.Header.Get("X-Ihr-Min-Seq"))
		w.Header().Set("Access-Control-Allow-Origin", "https://legacy.example")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"from":"legacy"}`)
	}, ShadowConfig{Slots: 1, Timeout: time.Second, MaxBody: 1 << 20, LogEvery: time.Minute})

	if w := f.get(t, "/ihr/api/hegemony/?asn=2497"); w.Body.String() != `{"from":"ours"}` {
		t.Errorf("an endpoint we serve: %s", w.Body)
	}
	if w := f.get(t, "/ihr/api/docs"); w.Body.String() != `{"from":"ours"}` {
		t.Errorf("the docs: %s", w.Body)
	}
	req := httptest.NewRequest(http.MethodPost, "/ihr/api/user_api/save/?x=1&x=2", strings.NewReader("the body"))
	req.Header.Set("Authorization", "Token legacy-token")
	req.Header.Set("X-Ihr-Min-Seq", "9")
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, req)
	if w.Code != http.StatusCreated || w.Body.String() != `{"from":"legacy"}` || w.Header().Get("X-Cache") != "legacy" ||
		w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an endpoint we do not serve: %d %s %v", w.Code, w.Body, w.Header())
	}
	req = httptest.NewRequest(http.MethodGet, "/ihr/api/hegemony/", nil)
	req.Header.Set("Authorization", "Bearer ihr_our_key")
	f.route(map[string]Mode{"hegemony": Legacy})
	f.router.ServeHTTP(httptest.NewRecorder(), req)
	f.get(t, "/ihr/api/a%2Fb/?q=%20")
	want := []string{"POST /root/ihr/api/user_api/save/?x=1&x=2 the body auth=Token legacy-token xff=192.0.2.1 internal=",
		"GET /root/ihr/api/hegemony/  auth= xff=192.0.2.1 internal=",
		"GET /root/ihr/api/a%2Fb/?q=%20  auth= xff=192.0.2.1 internal="}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(legacyGot, "\n") != strings.Join(want, "\n") {
		t.Errorf("the legacy API got\n%s\nwant\n%s", strings.Join(legacyGot, "\n"), strings.Join(want, "\n"))
	}
}

func TestShadow(t *testing.T) {
	legacyPage := strings.Replace(page, "0.25", "0.5", 1)
	f := newFixture(t, jsonAnswer(page), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/root/ihr/api/networks/" {
			_, _ = io.WriteString(w, page)
			return
		}
		_, _ = io.WriteString(w, legacyPage)
	}, ShadowConfig{Slots: 4, Timeout: 5 * time.Second, MaxBody: 1 << 20, LogEvery: time.Minute})
	f.route(map[string]Mode{"hegemony": Shadow, "networks": Shadow})
	for range 3 {
		if w := f.get(t, "/ihr/api/hegemony/?asn=2497"); w.Body.String() != page {
			t.Fatalf("the client got %s, want ours", w.Body)
		}
	}
	f.get(t, "/ihr/api/networks/")
	got := f.outcomes(t)
	if got["hegemony/mismatch"] != 3 || got["networks/equal"] != 1 {
		t.Errorf("outcomes %v", got)
	}
	logs := f.logs.String()
	if strings.Count(logs, "shadow mismatch") != 1 || !strings.Contains(logs, `$.results[0].hege: ours 0.25, legacy 0.5`) {
		t.Errorf("want one mismatch logged (a minute apart at most), naming the field:\n%s", logs)
	}

	// Legacy first: the client gets the legacy answer, compressed as it came.
	f.route(map[string]Mode{"hegemony": LegacyPrimary})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = io.WriteString(zw, legacyPage)
	_ = zw.Close()
	gzipped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz.Bytes())
	})
	f.handler.Store(&gzipped)
	req := httptest.NewRequest(http.MethodGet, "/ihr/api/hegemony/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	f.router.ServeHTTP(w, req)
	if !bytes.Equal(w.Body.Bytes(), gz.Bytes()) || w.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("legacy-primary: the client got %q", w.Body)
	}
	if got := f.outcomes(t); got["hegemony/mismatch"] != 4 {
		t.Errorf("legacy-primary, compressed: outcomes %v", got)
	}
}

// TestShadowNeverHoldsTheClient: a legacy API that hangs costs the client
// nothing; comparisons beyond the slots are dropped, the others time out,
// and closing waits for none longer than the timeout.
func TestShadowNeverHoldsTheClient(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, jsonAnswer(page), func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, ShadowConfig{Slots: 2, Timeout: 2 * time.Second, MaxBody: 1 << 20, LogEvery: time.Minute})
	defer close(release)
	f.route(map[string]Mode{"hegemony": Shadow})
	start := time.Now()
	for range 10 {
		if w := f.get(t, "/ihr/api/hegemony/"); w.Body.String() != page {
			t.Fatalf("the client got %s", w.Body)
		}
	}
	if took := time.Since(start); took > time.Second { // waiting for the legacy API would take 2 s
		t.Errorf("10 answers took %v with the legacy API hanging", took)
	}
	if got := f.outcomes(t); got["hegemony/timeout"] != 2 || got["hegemony/dropped"] != 8 {
		t.Errorf("outcomes %v", got)
	}

	// Over the size limit: not compared; a 500 from the legacy API is its error.
	big := `{"results":"` + strings.Repeat("x", 2<<20) + `"}`
	f2 := newFixture(t, jsonAnswer(big), func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}, ShadowConfig{Slots: 2, Timeout: time.Second, MaxBody: 1 << 20, LogEvery: time.Minute})
	f2.route(map[string]Mode{"hegemony": Shadow, "networks": Shadow})
	if w := f2.get(t, "/ihr/api/hegemony/"); w.Body.Len() != len(big) {
		t.Errorf("a large answer came cut to %d bytes", w.Body.Len())
	}
	f2.router.Ours = jsonAnswer(page)
	f2.get(t, "/ihr/api/networks/")
	if got := f2.outcomes(t); got["hegemony/skipped"] != 1 || got["networks/legacy_error"] != 1 {
		t.Errorf("outcomes %v", got)
	}

	// Shutdown cancels what is under way.
	f3 := newFixture(t, jsonAnswer(page), func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		ShadowConfig{Slots: 2, Timeout: time.Hour, MaxBody: 1 << 20, LogEvery: time.Minute})
	f3.route(map[string]Mode{"hegemony": Shadow})
	f3.get(t, "/ihr/api/hegemony/")
	f3.cancel()
	done := make(chan struct{})
	go func() { f3.compare.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a comparison after shutdown began")
	}
}
