package headers

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func serve(t *testing.T, x *Headers, method, path string, h map[string]string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.Header().Add("Vary", "Accept-Encoding")
		w.WriteHeader(200)
	})
	r := httptest.NewRequest(method, path, nil)
	for k, v := range h {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	x.Wrap(next).ServeHTTP(w, r)
	return w, reached
}

func TestSecurityHeaders(t *testing.T) {
	x := New(Config{HSTS: 365 * 24 * time.Hour, Origins: []string{"*"}, Docs: "/ihr/api/docs"})
	https := map[string]string{"X-Forwarded-Proto": "https"}
	for _, c := range []struct{ path, csp string }{
		{"/ihr/api/hegemony/?asn=2497", apiPolicy},
		{"/ihr/api/docs", DocsPolicy},
		{"/ihr/api/docs/swagger-ui.css", DocsPolicy},
		{"/ihr/api/docsearch", apiPolicy},
		{"/", apiPolicy},
	} {
		w, _ := serve(t, x, "GET", c.path, https)
		h := w.Header()
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
			h.Get("Strict-Transport-Security") != "max-age=31536000" || h.Get("Content-Security-Policy") != c.csp {
			t.Errorf("%s: %v", c.path, h)
		}
	}
	w, _ := serve(t, New(Config{Origins: []string{"*"}}), "GET", "/ihr/api/networks/", https)
	if _, ok := w.Header()["Strict-Transport-Security"]; ok {
		t.Error("Strict-Transport-Security sent with HSTS 0")
	}
	// RFC 6797: never over plain HTTP.
	w, _ = serve(t, x, "GET", "/ihr/api/networks/", nil)
	if _, ok := w.Header()["Strict-Transport-Security"]; ok {
		t.Error("Strict-Transport-Security sent over plain HTTP")
	}
	r := httptest.NewRequest("GET", "https://ihr.live/ihr/api/networks/", nil)
	if r.TLS == nil || !secure(r) {
		t.Error("a request over TLS is not secure")
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	x := New(Config{Origins: []string{"*"}})
	w, reached := serve(t, x, "GET", "/ihr/api/networks/", map[string]string{"Origin": "https://ihr.live"})
	h := w.Header()
	if !reached || h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "RateLimit-Remaining") ||
		h.Get("Access-Control-Allow-Credentials") != "" || strings.Join(h.Values("Vary"), ",") != "Origin,Accept-Encoding" {
		t.Errorf("simple request: %v", h)
	}
	// Not from a browser: the answer may be read by any, the list of headers scripts may read is left out.
	w, _ = serve(t, x, "GET", "/ihr/api/networks/", nil)
	if h := w.Header(); h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Expose-Headers") != "" || h.Get("Vary") != "Origin" {
		t.Errorf("no origin: %v", h)
	}
	w, reached = serve(t, x, "OPTIONS", "/ihr/api/ingest/hegemony", map[string]string{"Origin": "https://ihr.live",
		"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"})
	h = w.Header()
	if reached || w.Code != 204 || h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Max-Age") != "600" ||
		h.Get("Access-Control-Allow-Methods") != "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" ||
		h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, If-None-Match, X-Request-Id" {
		t.Errorf("preflight: reached %v, %d %v", reached, w.Code, h)
	}
	// An OPTIONS that is no preflight goes on to the service.
	if _, reached := serve(t, x, "OPTIONS", "/ihr/api/networks/", nil); !reached {
		t.Error("a plain OPTIONS was answered by the gateway")
	}
}

func TestCORSListedOrigins(t *testing.T) {
	origins, err := ParseOrigins("https://ihr.live, http://localhost:5173")
	if err != nil {
		t.Fatal(err)
	}
	x := New(Config{Origins: origins})
	w, _ := serve(t, x, "GET", "/ihr/api/networks/", map[string]string{"Origin": "https://IHR.live"})
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != "https://ihr.live" || h.Get("Access-Control-Expose-Headers") == "" ||
		strings.Join(h.Values("Vary"), ",") != "Origin,Accept-Encoding" {
		t.Errorf("a listed origin: %v", h)
	}
	w, reached := serve(t, x, "GET", "/ihr/api/networks/", map[string]string{"Origin": "https://evil.example"})
	h = w.Header()
	if !reached || h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Expose-Headers") != "" || h.Get("Vary") != "Origin" {
		t.Errorf("an origin not listed: %v", h)
	}
	w, _ = serve(t, x, "GET", "/ihr/api/networks/", nil)
	if h := w.Header(); h.Get("Access-Control-Allow-Origin") != "" || h.Get("Vary") != "Origin" {
		t.Errorf("no origin: %v", h)
	}
	w, reached = serve(t, x, "OPTIONS", "/ihr/api/networks/", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
	if h := w.Header(); reached || w.Code != 204 || h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("preflight of an origin not listed: reached %v, %d %v", reached, w.Code, h)
	}
	w, _ = serve(t, x, "OPTIONS", "/ihr/api/networks/", map[string]string{"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"})
	if h := w.Header(); h.Get("Access-Control-Allow-Origin") != "http://localhost:5173" || h.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight of a listed origin: %v", h)
	}
}

func TestParseOrigins(t *testing.T) {
	if o, err := ParseOrigins("*"); err != nil || len(o) != 1 || o[0] != "*" {
		t.Errorf("* read as %v %v", o, err)
	}
	for _, bad := range []string{"", "ihr.live", "https://ihr.live/", "https://ihr.live/ihr", "ftp://ihr.live", "*, https://ihr.live", "https://u:p@ihr.live"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The docs page's policy lets it work: no inline script, scripts from the
// gateway only, and each inline style block allowed by its hash.
func TestDocsPolicyFitsThePage(t *testing.T) {
	page, err := os.ReadFile("../../../query/internal/docs/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(page), -1) {
		if strings.TrimSpace(m[2]) != "" {
			t.Errorf("the docs page has an inline script, which the policy refuses: %s", m[0])
		}
		if src := regexp.MustCompile(`src="([^"]*)"`).FindStringSubmatch(m[1]); src == nil || strings.Contains(src[1], "//") {
			t.Errorf("the docs page loads a script from elsewhere: %s", m[0])
		}
	}
	for _, m := range regexp.MustCompile(`(?s)<style[^>]*>(.*?)</style>`).FindAllStringSubmatch(string(page), -1) {
		sum := sha256.Sum256([]byte(m[1]))
		if hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(DocsPolicy, hash) {
			t.Errorf("the docs page's inline style %q is not allowed by DocsPolicy: put %s in its style-src", m[1], hash)
		}
	}
}
