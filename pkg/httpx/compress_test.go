package httpx

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
)

func TestEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"gzip, deflate":     "gzip",
		"gzip, deflate, br": "br",
		"br;q=0, gzip":      "gzip",
		"identity":          "",
		"GZIP":              "gzip",
		"gzip;q=0":          "",
		"deflate, br;q=0.5": "br",
	} {
		if got := Encoding(in); got != want {
			t.Errorf("Encoding(%q) = %q, want %q", in, got, want)
		}
	}
}

func serve(h http.Handler, accept string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Encoding", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestCompress(t *testing.T) {
	big := `{"results":[` + strings.Repeat(`{"asn":2497,"name":"IIJ"},`, 2000) + `{}]}`
	api := Compress(1024, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("small") != "" {
			w.Write([]byte(`{"count":0}`))
			return
		}
		for i := 0; i < len(big); i += 100 { // streamed in pieces
			w.Write([]byte(big[i:min(i+100, len(big))]))
		}
	}))
	decoders := map[string]func(io.Reader) (io.Reader, error){
		"gzip": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"br":   func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil },
	}
	for enc, dec := range decoders {
		rec := serve(api, enc)
		if rec.Header().Get("Content-Encoding") != enc || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%s: headers %v", enc, rec.Header())
		}
		if rec.Body.Len() >= len(big)/5 {
			t.Errorf("%s: %d bytes for %d", enc, rec.Body.Len(), len(big))
		}
		rd, err := dec(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(rd); !bytes.Equal(got, []byte(big)) {
			t.Errorf("%s: the body does not decode to the original", enc)
		}
	}
	if rec := serve(api, ""); rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != big {
		t.Error("a client without Accept-Encoding got an encoded body")
	}
	small := httptest.NewRequest("GET", "/?small=1", nil)
	small.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, small)
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != `{"count":0}` {
		t.Errorf("a small answer was encoded: %v %q", rec.Header(), rec.Body)
	}
}

func TestCompressLeavesErrorsAndEncodedBodies(t *testing.T) {
	body := strings.Repeat("x", 5000)
	for name, h := range map[string]http.HandlerFunc{
		"error": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			w.Write([]byte(body))
		},
		"already encoded": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte(body))
		},
		"image": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write([]byte(body))
		},
	} {
		rec := serve(Compress(1024, h), "gzip")
		if rec.Body.String() != body {
			t.Errorf("%s: body changed", name)
		}
	}
}

func TestCompressThroughAReverseProxy(t *testing.T) {
	big := strings.Repeat(`{"asn":2497,"name":"IIJ"},`, 5000)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < len(big); i += 40000 { // streamed: no Content-Length, flushed piece by piece
			w.Write([]byte(big[i:min(i+40000, len(big))]))
			w.(http.Flusher).Flush()
		}
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	gw := httptest.NewServer(Compress(1024, httputil.NewSingleHostReverseProxy(target)))
	defer gw.Close()
	resp, err := http.Get(gw.URL) // the client asks for gzip and decodes it itself
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !resp.Uncompressed || string(body) != big {
		t.Fatalf("uncompressed=%v, %d bytes back for %d", resp.Uncompressed, len(body), len(big))
	}
}
