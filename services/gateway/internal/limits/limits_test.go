package limits

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/ratelimit"
)

func TestClient(t *testing.T) {
	trusted, err := ParseProxies("10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		proxies Proxies
		remote  string
		xff     []string
		want    string
	}{
		{"the peer, no proxy trusted", nil, "203.0.113.9:4711", nil, "203.0.113.9"},
		{"X-Forwarded-For ignored when no proxy is trusted", nil, "203.0.113.9:4711", []string{"198.51.100.1"}, "203.0.113.9"},
		{"X-Forwarded-For ignored from a peer not trusted", trusted, "203.0.113.9:4711", []string{"198.51.100.1"}, "203.0.113.9"},
		{"behind a trusted proxy", trusted, "10.1.2.3:4711", []string{"198.51.100.1"}, "198.51.100.1"},
		{"the right-most entry not trusted: the client's own entries can be forged", trusted, "10.1.2.3:4711",
			[]string{"192.0.2.77, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"entries over several header lines", trusted, "10.1.2.3:4711", []string{"192.0.2.77", "198.51.100.1,10.9.9.9", "192.0.2.1"}, "198.51.100.1"},
		{"every entry trusted: the left-most", trusted, "10.1.2.3:4711", []string{"10.5.5.5, 192.0.2.1"}, "10.5.5.5"},
		{"a trusted proxy with no X-Forwarded-For", trusted, "192.0.2.1:4711", nil, "192.0.2.1"},
		{"an entry that is no address: the peer", trusted, "10.1.2.3:4711", []string{"198.51.100.1, unknown"}, "10.1.2.3"},
		{"an entry with a port", trusted, "10.1.2.3:4711", []string{"198.51.100.1:5555"}, "198.51.100.1"},
		{"IPv4 mapped into IPv6", trusted, "10.1.2.3:4711", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"an IPv6 peer: its /64", nil, "[2001:db8:1:2:3:4:5:6]:4711", nil, "2001:db8:1:2::/64"},
		{"an IPv6 client behind a trusted IPv6 proxy", trusted, "[2001:db8:ffff::1]:4711", []string{"[2001:db8:aa:bb::9]:80"}, "2001:db8:aa:bb::/64"},
		{"a peer with no port", nil, "198.51.100.3", nil, "198.51.100.3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ihr/api/networks/", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.proxies.Client(r); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseProxies(t *testing.T) {
	if ps, err := ParseProxies(""); err != nil || len(ps) != 0 {
		t.Errorf("empty: %v %v", ps, err)
	}
	if ps, err := ParseProxies("10.0.0.1/8"); err != nil || ps[0].String() != "10.0.0.0/8" {
		t.Errorf("got %v %v", ps, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8;192.0.2.1"} {
		if _, err := ParseProxies(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// writer is a ResponseWriter that keeps its header map between requests,
// so only the middleware's own allocations are measured.
type writer struct {
	h      http.Header
	status int
	body   strings.Builder
}

func (w *writer) Header() http.Header { return w.h }
func (w *writer) WriteHeader(s int)   { w.status = s }
func (w *writer) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	return w.body.Write(b)
}

func newRate(t testing.TB, p ratelimit.Policy) *Rate {
	t.Helper()
	p.Name = string(authn.Anonymous)
	l, err := ratelimit.New(ratelimit.Options{}, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewRate(l, ByClient(nil))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRateHeadersAndRefusal(t *testing.T) {
	m := newRate(t, ratelimit.Policy{Rate: 1, Burst: 2})
	h := m.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	r := httptest.NewRequest("GET", "/ihr/api/networks/", nil)
	for i, want := range []struct {
		status          int
		remaining, rest string
	}{{204, "1", "1"}, {204, "0", "2"}, {429, "0", "2"}} {
		w := &writer{h: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != want.status || w.h.Get("RateLimit-Limit") != "2" || w.h.Get("RateLimit-Remaining") != want.remaining ||
			w.h.Get("RateLimit-Reset") != want.rest {
			t.Errorf("request %d: %d %v", i, w.status, w.h)
		}
		if want.status != 429 {
			continue
		}
		if w.h.Get("Retry-After") != "1" || w.h.Get("Content-Type") != "application/json" {
			t.Errorf("refusal headers %v", w.h)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(w.body.String()), &body); err != nil {
			t.Fatal(err)
		}
		if body["error"] != "rate_limited" || body["limit"] != "second" || body["retry_after"] != 1.0 ||
			!strings.Contains(body["message"].(string), "anonymous clients may send 1 requests a second, in bursts of up to 2. Retry in 1 s") {
			t.Errorf("refusal body %v", body)
		}
	}
}

// The rate limiter adds no allocation to an allowed request of a known client.
func TestRateAllocatesNothing(t *testing.T) {
	m := newRate(t, ratelimit.Policy{Rate: 1e9, Burst: 1000, Day: 1e15})
	h := m.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/ihr/api/networks/?number=2497", nil)
	r.RemoteAddr = "198.51.100.23:4711"
	w := &writer{h: http.Header{}}
	h.ServeHTTP(w, r) // the client's first request makes its entry
	if n := testing.AllocsPerRun(1000, func() { clear(w.h); h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func TestBody(t *testing.T) {
	var read string
	var readErr error
	h := Body{Default: 10, Ingest: 100, IngestPrefix: "/ihr/api/ingest/"}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 200)
		n, err := r.Body.Read(b)
		for err == nil {
			var m int
			m, err = r.Body.Read(b[n:])
			n += m
		}
		read, readErr = string(b[:n]), err
		if e := TooLargeError(err); e != nil {
			w.WriteHeader(413)
		}
	}))
	for _, c := range []struct {
		name, path, body string
		length           int64 // -1: streamed
		status           int
		cut              bool
	}{
		{"within the limit", "/ihr/api/x/", "0123456789", 10, 200, false},
		{"a length over the limit", "/ihr/api/x/", "0123456789a", 11, 413, false},
		{"a stream over the limit is cut", "/ihr/api/x/", "0123456789a", -1, 413, true},
		{"a stream within the limit", "/ihr/api/x/", "0123456789", -1, 200, false},
		{"ingest takes more", "/ihr/api/ingest/hegemony", strings.Repeat("x", 100), 100, 200, false},
		{"up to its own limit", "/ihr/api/ingest/hegemony", strings.Repeat("x", 101), 101, 413, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			read, readErr = "", nil
			r := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
			r.ContentLength = c.length
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Errorf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.status == 413 && !c.cut && (read != "" || !strings.Contains(w.Body.String(), `"error":"body_too_large"`)) {
				t.Errorf("refused at once? read %q, answered %s", read, w.Body)
			}
			if c.cut && (TooLargeError(readErr) == nil || len(read) > 10) {
				t.Errorf("the handler read %q then %v", read, readErr)
			}
		})
	}
}
