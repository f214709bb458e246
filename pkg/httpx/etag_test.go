package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNoneMatch(t *testing.T) {
	for _, c := range []struct {
		header []string
		match  bool
	}{
		{nil, false},
		{[]string{`"abc"`}, true},
		{[]string{`W/"abc"`}, true},
		{[]string{`"x", W/"abc"`}, true},
		{[]string{`"x"`, `"abc"`}, true},
		{[]string{`*`}, true},
		{[]string{`"abcd"`}, false},
		{[]string{`abc`}, false},
		{[]string{`"ab`}, false},
		{[]string{`"a,b", "c"`}, false},
	} {
		if got := NoneMatch(c.header, `"abc"`); got != c.match {
			t.Errorf("NoneMatch(%q) = %v", c.header, got)
		}
	}
}

func get(h http.Handler, path, inm string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if inm != "" {
		r.Header.Set("If-None-Match", inm)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestETag(t *testing.T) {
	body := map[string]string{"/a": strings.Repeat("a", 100), "/b": strings.Repeat("b", 100), "/big": strings.Repeat("c", 5000)}
	h := ETag(1000, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		b := body[r.URL.Path]
		for i := 0; i < len(b); i += 30 {
			w.Write([]byte(b[i:min(i+30, len(b))]))
			http.NewResponseController(w).Flush() // must not send an untagged head early
		}
	}))
	a := get(h, "/a", "")
	tagA := a.Header().Get("ETag")
	if a.Code != 200 || a.Body.String() != body["/a"] || !strings.HasPrefix(tagA, `"`) || a.Header().Get("Content-Length") != "100" {
		t.Fatalf("first answer: %d %q %v", a.Code, a.Body.String(), a.Header())
	}
	if b := get(h, "/b", ""); b.Header().Get("ETag") == tagA {
		t.Error("different bodies share a tag")
	}
	if again := get(h, "/a", ""); again.Header().Get("ETag") != tagA {
		t.Error("the same body got another tag")
	}
	for _, inm := range []string{tagA, "W/" + tagA, `"other", ` + tagA} {
		nm := get(h, "/a", inm)
		if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 || nm.Header().Get("ETag") != tagA {
			t.Errorf("If-None-Match %s: %d %q", inm, nm.Code, nm.Body.String())
		}
	}
	if other := get(h, "/b", tagA); other.Code != 200 || other.Body.String() != body["/b"] {
		t.Errorf("a stale tag got %d", other.Code)
	}
	if big := get(h, "/big", ""); big.Code != 200 || big.Body.String() != body["/big"] || big.Header().Get("ETag") != "" {
		t.Errorf("an answer over the limit: %d, %d bytes, ETag %q", big.Code, big.Body.Len(), big.Header().Get("ETag"))
	}
	if miss := get(h, "/missing", "*"); miss.Code != 404 || miss.Header().Get("ETag") != "" {
		t.Errorf("an error answer: %d, ETag %q", miss.Code, miss.Header().Get("ETag"))
	}
}

func TestETagOwnTag(t *testing.T) {
	h := ETag(10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Write([]byte(strings.Repeat("x", 100)))
	}))
	if rec := get(h, "/", ""); rec.Code != 200 || rec.Body.Len() != 100 || rec.Header().Get("ETag") != `"v1"` {
		t.Errorf("own tag: %d %d %q", rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
	}
	if rec := get(h, "/", `"v1"`); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("own tag matched: %d %d", rec.Code, rec.Body.Len())
	}
}

func TestCompressWeakensETag(t *testing.T) {
	h := Compress(10, ETag(1<<20, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(strings.Repeat(`{"a":1}`, 100)))
	})))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	tag := rec.Header().Get("ETag")
	if rec.Header().Get("Content-Encoding") != "gzip" || !strings.HasPrefix(tag, `W/"`) {
		t.Fatalf("compressed answer: %v", rec.Header())
	}
	r.Header.Set("If-None-Match", tag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("revalidating the compressed answer: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}
