package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/ihr-go/ihr/services/cachewarmer/internal/warm"
)

func client(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	return &Client{HTTP: srv.Client(), Base: base}
}

func TestRequestsAreUncountedConditionalAndPositioned(t *testing.T) {
	var mu sync.Mutex
	var got *http.Request
	c := client(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set(cache.HeaderCache, "l1")
		w.WriteHeader(http.StatusNotModified)
	})
	resp, err := c.Fetch(context.Background(), warm.Request{Key: "hegemony/?af=4&originasn=2497", ETag: `"v1"`, Stream: "IHR_RESULTS@x", MinSeq: 7})
	if err != nil {
		t.Fatal(err)
	}
	if resp != (warm.Response{Outcome: warm.Fresh, Status: 304, Cache: "l1", ETag: `"v1"`}) {
		t.Errorf("response %+v", resp)
	}
	mu.Lock()
	defer mu.Unlock()
	for h, want := range map[string]string{
		cache.HeaderCounted: "1", "If-None-Match": `"v1"`, cache.HeaderStream: "IHR_RESULTS@x", cache.HeaderMinSeq: "7",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("%s: %q, want %q", h, v, want)
		}
	}
	if got.URL.RequestURI() != "/ihr/api/hegemony/?af=4&originasn=2497" {
		t.Errorf("asked for %s", got.URL.RequestURI())
	}
}

func TestNoTagNoPositionHeaders(t *testing.T) {
	var mu sync.Mutex
	var header http.Header
	c := client(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		header = r.Header.Clone()
		mu.Unlock()
		w.Header().Set(cache.HeaderCache, "miss")
		w.Write([]byte(strings.Repeat("x", 3*MaxDrain/2)))
	})
	resp, err := c.Fetch(context.Background(), warm.Request{Key: "networks/?number=2497"})
	if err != nil {
		t.Fatal(err)
	}
	// The body past MaxDrain is not read, and the answer still counts.
	if resp.Outcome != warm.Warmed || resp.ETag != "" {
		t.Errorf("response %+v", resp)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range []string{"If-None-Match", cache.HeaderStream, cache.HeaderMinSeq} {
		if v := header.Get(h); v != "" {
			t.Errorf("%s sent (%q) with nothing to say", h, v)
		}
	}
}

func TestNotModifiedKeepsTheTagSent(t *testing.T) {
	c := client(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	resp, err := c.Fetch(context.Background(), warm.Request{Key: "networks/?number=1", ETag: `"t"`})
	if err != nil || resp.ETag != `"t"` || resp.Outcome != warm.Fresh {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status     int
		xcache     string
		want       warm.Outcome
		overloaded bool
	}{
		{200, "l1", warm.Fresh, false},
		{200, "l2", warm.Fresh, false},
		{304, "l1", warm.Fresh, false},
		{304, "", warm.Fresh, false},
		{200, "miss", warm.Warmed, false},
		{304, "miss", warm.Warmed, false}, // read again, unchanged
		{200, "bypass", warm.Bypass, false},
		{304, "bypass", warm.Bypass, false},
		{200, "", warm.Bypass, false}, // the query service caches nothing
		{400, "", warm.Failed, false},
		{404, "", warm.Failed, false},
		{500, "", warm.Failed, true},
		{503, "", warm.Failed, true},
		{504, "miss", warm.Failed, true},
	} {
		if got, over := classify(tc.status, tc.xcache); got != tc.want || over != tc.overloaded {
			t.Errorf("%d X-Cache %q: %s overloaded=%v, want %s %v", tc.status, tc.xcache, got, over, tc.want, tc.overloaded)
		}
	}
}

func TestKeysStayUnderTheAPI(t *testing.T) {
	base, _ := url.Parse("http://query:8081/")
	c := &Client{Base: base}
	for _, bad := range []string{"http://evil/x", "//evil/x", "/healthz", "../../healthz", "hegemony/../../metrics", "%2e%2e/metrics", "x#frag"} {
		if u, err := c.target(bad); err == nil {
			t.Errorf("key %q accepted as %s", bad, u)
		}
	}
	if u, err := c.target("hegemony/?af=4"); err != nil || u != "http://query:8081/ihr/api/hegemony/?af=4" {
		t.Errorf("%s %v", u, err)
	}
	if _, err := (&Client{HTTP: http.DefaultClient, Base: base}).Fetch(context.Background(), warm.Request{Key: "/metrics"}); err == nil {
		t.Error("Fetch of a bad key made a request")
	}
}
