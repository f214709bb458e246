package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/ratelimit"
	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/gateway/internal/headers"
	"github.com/ihr-go/ihr/services/gateway/internal/limits"
)

// backend stands in for every service behind the gateway: reads answer
// 200 JSON (the docs page HTML) with some headers only the gateway should
// set, and what became of each request body is reported on bodies.
type backend struct {
	srv    *httptest.Server
	hits   atomic.Int64
	bodies chan bodyRead
}

type bodyRead struct {
	n   int
	err error
}

func newBackend(t *testing.T) *backend {
	b := &backend{bodies: make(chan bodyRead, 16)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		b.hits.Add(1)
		if r.Method == http.MethodPost {
			n, err := io.Copy(io.Discard, r.Body)
			b.bodies <- bodyRead{int(n), err}
		}
		if strings.HasPrefix(r.URL.Path, "/ihr/api/docs") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte("<!doctype html><title>IHR API</title>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// Headers the gateway sets itself: its answers must not repeat them.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Access-Control-Allow-Origin", "https://elsewhere.example")
		w.Write([]byte(`{"count":0,"next":null,"previous":null,"results":[]}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// startGuarded starts the gateway in front of b with vars added to an
// isolated environment (whose anonymous limits no test reaches).
func startGuarded(t *testing.T, b *backend, vars map[string]string) *testkit.Service {
	t.Helper()
	env := testkit.With(testkit.ServiceEnv(t, ""), map[string]string{
		"IHR_QUERY_URL": b.srv.URL, "IHR_INGESTION_URL": b.srv.URL, "IHR_AUTH_URL": b.srv.URL})
	return testkit.StartService(t, "gateway", service.Runner(spec()), testkit.With(env, vars))
}

// do sends a request with headers h (name, value, ...) and returns the
// answer with its body read.
func do(t *testing.T, method, url string, body io.Reader, h ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// wantHeaders fails t unless h holds every name: value of want ("" for absent).
func wantHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := strings.Join(h.Values(k), ", "); got != v {
			t.Errorf("%s: %s is %q, want %q", what, k, got, v)
		}
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, nil)
	common := map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Strict-Transport-Security": "max-age=31536000", "Access-Control-Allow-Origin": "*"}
	resp, _ := do(t, "GET", gw.URL+"/ihr/api/networks/?number=2497", nil, "X-Forwarded-Proto", "https")
	wantHeaders(t, "an API answer", resp.Header, common)
	wantHeaders(t, "an API answer", resp.Header, map[string]string{"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Content-Type": "application/json"})
	resp, _ = do(t, "GET", gw.URL+"/ihr/api/docs", nil, "X-Forwarded-Proto", "https")
	wantHeaders(t, "the docs page", resp.Header, common)
	wantHeaders(t, "the docs page", resp.Header, map[string]string{"Content-Security-Policy": headers.DocsPolicy})

	resp, _ = do(t, "GET", gw.URL+"/ihr/api/networks/", nil)
	wantHeaders(t, "an answer over plain HTTP", resp.Header, map[string]string{"Strict-Transport-Security": "", "X-Content-Type-Options": "nosniff"})

	off := startGuarded(t, b, map[string]string{"IHR_HSTS_MAX_AGE": "0s"})
	resp, _ = do(t, "GET", off.URL+"/ihr/api/networks/", nil, "X-Forwarded-Proto", "https")
	wantHeaders(t, "with IHR_HSTS_MAX_AGE=0s", resp.Header, map[string]string{"Strict-Transport-Security": "", "X-Content-Type-Options": "nosniff"})
}

func TestCORS(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, nil)
	resp, _ := do(t, "GET", gw.URL+"/ihr/api/hegemony/?originasn=2497", nil, "Origin", "https://ihr.live")
	wantHeaders(t, "a simple request", resp.Header, map[string]string{"Access-Control-Allow-Origin": "*",
		"Access-Control-Expose-Headers":    "ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id, X-Total-Count, X-Cache, Content-Disposition",
		"Access-Control-Allow-Credentials": ""})
	before := b.hits.Load()
	resp, _ = do(t, "OPTIONS", gw.URL+"/ihr/api/ingest/hegemony", nil, "Origin", "https://ihr.live",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if resp.StatusCode != http.StatusNoContent || b.hits.Load() != before {
		t.Errorf("preflight: %d, reached the service: %v", resp.StatusCode, b.hits.Load() != before)
	}
	wantHeaders(t, "a preflight", resp.Header, map[string]string{"Access-Control-Allow-Origin": "*",
		"Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
		"Access-Control-Allow-Headers": "Authorization, Content-Type, If-None-Match, X-Request-Id",
		"Access-Control-Max-Age":       "600", "X-Content-Type-Options": "nosniff"})

	listed := startGuarded(t, b, map[string]string{"IHR_CORS_ORIGINS": "https://ihr.live,http://localhost:5173"})
	resp, _ = do(t, "GET", listed.URL+"/ihr/api/networks/", nil, "Origin", "https://ihr.live")
	wantHeaders(t, "a listed origin", resp.Header, map[string]string{"Access-Control-Allow-Origin": "https://ihr.live"})
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("a listed origin: no Vary: Origin in %v", resp.Header)
	}
	resp, body := do(t, "GET", listed.URL+"/ihr/api/networks/", nil, "Origin", "https://elsewhere.example")
	wantHeaders(t, "an origin not listed", resp.Header, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": ""})
	if resp.StatusCode != 200 || !strings.Contains(body, `"results"`) {
		t.Errorf("an origin not listed: %d %s (answered all the same: only browsers hold it back)", resp.StatusCode, body)
	}
	resp, _ = do(t, "OPTIONS", listed.URL+"/ihr/api/networks/", nil, "Origin", "https://elsewhere.example", "Access-Control-Request-Method", "GET")
	wantHeaders(t, "a preflight of an origin not listed", resp.Header, map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": ""})
	resp, _ = do(t, "OPTIONS", listed.URL+"/ihr/api/networks/", nil, "Origin", "http://localhost:5173", "Access-Control-Request-Method", "GET")
	wantHeaders(t, "a preflight of a listed origin", resp.Header, map[string]string{"Access-Control-Allow-Origin": "http://localhost:5173",
		"Access-Control-Max-Age": "600"})
}

// onlyReader hides a reader's length, so the request body is streamed (chunked).
type onlyReader struct{ io.Reader }

func TestBodyLimits(t *testing.T) {
	b := newBackend(t)
	// Open ingest: only the body limits are under test here (tests/security checks the credentials).
	gw := startGuarded(t, b, map[string]string{"IHR_GATEWAY_MAX_BODY": "1024", "IHR_GATEWAY_MAX_INGEST_BODY": "4096", "IHR_INGEST_OPEN": "true"})
	big := bytes.Repeat([]byte("x"), 2048)

	resp, body := do(t, "POST", gw.URL+"/ihr/api/hegemony/", bytes.NewReader(big), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"error":"body_too_large"`) || b.hits.Load() != 0 {
		t.Errorf("a Content-Length over the limit: %d %s (the service reached: %v)", resp.StatusCode, body, b.hits.Load() != 0)
	}
	wantHeaders(t, "a 413", resp.Header, map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"})

	resp, body = do(t, "POST", gw.URL+"/ihr/api/hegemony/", onlyReader{bytes.NewReader(big)}, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, `"error":"body_too_large"`) {
		t.Errorf("a streamed body over the limit: %d %s", resp.StatusCode, body)
	}
	select {
	case got := <-b.bodies:
		if got.err == nil || got.n >= len(big) {
			t.Errorf("the service read %d bytes of a cut body, then %v: it must see an error", got.n, got.err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the streamed body never reached the service")
	}

	resp, _ = do(t, "POST", gw.URL+"/ihr/api/ingest/hegemony", bytes.NewReader(big), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("an ingest body within its own limit: %d", resp.StatusCode)
	}
	select {
	case got := <-b.bodies:
		if got.n != len(big) || got.err != nil {
			t.Errorf("ingestion read %d bytes, %v", got.n, got.err)
		}
	case <-time.After(5 * time.Second):
		t.Error("the ingest body never reached the service")
	}
	resp, _ = do(t, "POST", gw.URL+"/ihr/api/ingest/hegemony", bytes.NewReader(bytes.Repeat(big, 3)), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an ingest body over its limit: %d", resp.StatusCode)
	}
}

func TestRateLimitRefuses(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_RATE_ANONYMOUS_SECOND": "0.5", "IHR_RATE_ANONYMOUS_BURST": "3", "IHR_RATE_ANONYMOUS_DAY": "0"})
	url := gw.URL + "/ihr/api/networks/?number=2497"
	for i, remaining := range []string{"2", "1", "0"} {
		resp, _ := do(t, "GET", url, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		wantHeaders(t, "request "+strconv.Itoa(i), resp.Header, map[string]string{"RateLimit-Limit": "3", "RateLimit-Remaining": remaining, "Retry-After": ""})
	}
	resp, body := do(t, "GET", url, nil, "Origin", "https://ihr.live")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the burst: %d %s", resp.StatusCode, body)
	}
	wantHeaders(t, "a 429", resp.Header, map[string]string{"RateLimit-Limit": "3", "RateLimit-Remaining": "0", "Retry-After": "2",
		"Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"})
	if reset, _ := strconv.Atoi(resp.Header.Get("RateLimit-Reset")); reset < 5 || reset > 6 {
		t.Errorf("RateLimit-Reset %q, want the 6 s until the burst is whole", resp.Header.Get("RateLimit-Reset"))
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e["error"] != "rate_limited" || e["limit"] != "second" || e["retry_after"] != 2.0 ||
		!strings.Contains(e["message"].(string), "anonymous clients may send 0.5 requests a second, in bursts of up to 3. Retry in 2 s.") {
		t.Errorf("the 429's body: %s", body)
	}
	// Health, readiness and metrics are served outside the limits.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/healthz"} {
		resp, _ := do(t, "GET", gw.URL+p, nil)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" {
			t.Errorf("%s while the client is limited: %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	_, metrics := do(t, "GET", gw.URL+"/metrics", nil)
	if !metricLine(metrics, "ihr_ratelimit_rejections_total", `limit="second"`, `role="anonymous"`, " 1") {
		t.Errorf("no rejection counted in /metrics:\n%s", grepLines(metrics, "ihr_ratelimit"))
	}
}

// metricLine reports whether a line of a Prometheus text page starts with
// name and holds every part.
func metricLine(page, name string, parts ...string) bool {
	for line := range strings.Lines(page) {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func grepLines(page, s string) string {
	var out []string
	for line := range strings.Lines(page) {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

func TestDailyQuotaRefuses(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_RATE_ANONYMOUS_SECOND": "1000", "IHR_RATE_ANONYMOUS_BURST": "1000", "IHR_RATE_ANONYMOUS_DAY": "5"})
	url := gw.URL + "/ihr/api/networks/"
	for i := range 5 {
		resp, _ := do(t, "GET", url, nil)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "5" || resp.Header.Get("RateLimit-Remaining") != strconv.Itoa(4-i) {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode, resp.Header)
		}
	}
	resp, body := do(t, "GET", url, nil)
	retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	untilMidnight := time.Until(time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour))
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, `"limit":"day"`) || !strings.Contains(body, "Daily quota reached") ||
		math.Abs(float64(retry)-untilMidnight.Seconds()) > 5 || resp.Header.Get("RateLimit-Reset") != resp.Header.Get("Retry-After") {
		t.Errorf("over the daily quota: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// One client limited leaves the others be: behind a trusted proxy, each
// is told apart by the address the proxy appended to X-Forwarded-For.
func TestOneClientDoesNotLimitAnother(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_TRUSTED_PROXIES": "127.0.0.1/32, ::1",
		"IHR_RATE_ANONYMOUS_SECOND": "0.1", "IHR_RATE_ANONYMOUS_BURST": "2", "IHR_RATE_ANONYMOUS_DAY": "0"})
	url := gw.URL + "/ihr/api/networks/"
	get := func(xff string) int {
		resp, _ := do(t, "GET", url, nil, "X-Forwarded-For", xff)
		return resp.StatusCode
	}
	if a, b, c := get("198.51.100.1"), get("198.51.100.1"), get("198.51.100.1"); a != 200 || b != 200 || c != 429 {
		t.Fatalf("client A: %d %d %d, want 200 200 429", a, b, c)
	}
	// A forged entry on the left changes nothing: the proxy appended A's address.
	if got := get("198.51.100.2, 198.51.100.1"); got != 429 {
		t.Errorf("client A naming itself B: %d", got)
	}
	if got := get("198.51.100.2"); got != 200 {
		t.Errorf("client B while A is limited: %d", got)
	}
	if got := get("2001:db8:1:2::5"); got != 200 {
		t.Errorf("an IPv6 client: %d", got)
	}
}

func TestRateLimitOff(t *testing.T) {
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_RATE_LIMIT": "false", "IHR_RATE_ANONYMOUS_SECOND": "0.001", "IHR_RATE_ANONYMOUS_BURST": "1"})
	for range 3 {
		resp, _ := do(t, "GET", gw.URL+"/ihr/api/networks/", nil)
		if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("with IHR_RATE_LIMIT=false: %d %v", resp.StatusCode, resp.Header)
		}
	}
}

func TestBadLimitsNameTheVariable(t *testing.T) {
	bad := map[string]string{"IHR_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example", "IHR_CORS_ORIGINS": "ihr.live",
		"IHR_RATE_USER_BURST": "0", "IHR_RATE_ADMIN_SECOND": "fast", "IHR_GATEWAY_MAX_BODY": "-1", "IHR_HSTS_MAX_AGE": "forever"}
	err := service.Run(t.Context(), spec(), nil, func(k string) (string, bool) { v, ok := bad[k]; return v, ok }, nil)
	if err == nil {
		t.Fatal("started with bad limits")
	}
	for k := range bad {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("the error does not name %s: %v", k, err)
		}
	}
}

// The acceptance test: clients sending ten times the per-second limit for
// a few seconds get rate × duration + burst answers (within 5 %), every
// other one a 429.
func TestRateLimitHoldsUnderLoad(t *testing.T) {
	const rate, burst, factor, workers = 200, 40, 10, 64
	const duration = 3 * time.Second
	b := newBackend(t)
	gw := startGuarded(t, b, map[string]string{"IHR_RATE_ANONYMOUS_SECOND": strconv.Itoa(rate),
		"IHR_RATE_ANONYMOUS_BURST": strconv.Itoa(burst), "IHR_RATE_ANONYMOUS_DAY": "0"})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	url := gw.URL + "/ihr/api/networks/?number=2497"

	var allowed, refused atomic.Int64
	var mu sync.Mutex
	var first, last time.Time // of the requests sent
	var others []string
	jobs := make(chan struct{}, 4096)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				sent := time.Now()
				mu.Lock()
				if first.IsZero() || sent.Before(first) {
					first = sent
				}
				if sent.After(last) {
					last = sent
				}
				mu.Unlock()
				resp, err := client.Get(url)
				if err != nil {
					mu.Lock()
					others = append(others, err.Error())
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					allowed.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					mu.Lock()
					others = append(others, resp.Status)
					mu.Unlock()
				}
			}
		})
	}
	// Requests go out at factor × rate, evenly: each tick sends those due.
	offered := float64(rate * factor)
	total := int(offered * duration.Seconds())
	tick := time.NewTicker(time.Millisecond)
	start := time.Now()
	for sent := 0; sent < total; {
		due := min(int(time.Since(start).Seconds()*offered)+1, total)
		for ; sent < due; sent++ {
			jobs <- struct{}{}
		}
		if sent < total {
			<-tick.C
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()

	window := last.Sub(first)
	want := rate*window.Seconds() + burst
	got := allowed.Load()
	t.Logf("%d requests in %s (%.0f a second, %d connections): %d allowed, rate × duration + burst = %.0f (%+.1f %%), %d refused",
		total, window.Round(time.Millisecond), float64(total)/window.Seconds(), workers, got, want, 100*(float64(got)-want)/want, refused.Load())
	if math.Abs(float64(got)-want) > 0.05*want {
		t.Errorf("%d allowed, want %.0f ± 5 %%", got, want)
	}
	if len(others) > 0 || got+refused.Load() != int64(total) {
		t.Errorf("%d answers neither 200 nor 429: %s", len(others), fmt.Sprint(others[:min(len(others), 5)]))
	}
}

// headerWriter keeps its header map between requests, so that only the
// middleware's own work is measured.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) WriteHeader(int)             {}
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkGuards is what the headers, identification, the rate limits,
// the permission check and the body limits add to an anonymous cached read
// (the hot path): go test -bench Guards ./cmd/gateway
func BenchmarkGuards(b *testing.B) {
	lim, err := ratelimit.New(ratelimit.Options{}, ratelimit.Policy{Name: string(authn.Anonymous), Rate: 1e9, Burst: 1000, Day: 1e15})
	if err != nil {
		b.Fatal(err)
	}
	rate, err := limits.NewRate(lim, limits.ByPrincipal(nil))
	if err != nil {
		b.Fatal(err)
	}
	body := limits.Body{Default: 1 << 20, Ingest: 64 << 20, IngestPrefix: "/ihr/api/ingest/"}
	h := headers.New(headers.Config{HSTS: time.Hour, Origins: []string{"*"}, Docs: "/ihr/api/docs"}).
		Wrap(authn.Identify(&authn.Credentials{}, rate.Wrap(authn.Authorize(authn.Routes, body.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))))))
	r := httptest.NewRequest("GET", "/ihr/api/networks/?number=2497", nil)
	r.RemoteAddr = "198.51.100.23:4711"
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &headerWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}
