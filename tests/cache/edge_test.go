package cache

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestEdge: the gateway answers from its own cache, revalidates with the
// query service after a change to a dataset an answer depends on (and
// keeps it when the query service finds it unchanged), answers If-None-
// Match and HEAD itself, serves compressed bodies it keeps, and never lets
// the internal X-Ihr-* headers cross in either direction.
func TestEdge(t *testing.T) {
	s := newStack(t, testkit.ServiceEnv(t, testkit.NewDB(t)))
	timebin := time.Date(2026, 12, 2, 6, 45, 0, 0, time.UTC)
	var rows []events.HegemonyRow
	for asn := int64(1); asn <= 300; asn++ { // large enough to be compressed
		rows = append(rows, events.HegemonyRow{OriginASN: 2497, ASN: asn, Hege: float64(asn) / 1000})
	}
	s.bin(events.Hegemony, 4, timebin, "edge-1", rows)
	url := s.gateway + "/ihr/api/hegemony/?originasn=2497&timebin=2026-12-02T06:45:00Z&ordering=asn"

	// A client's internal headers are dropped: a position far ahead would
	// make the query service wait, then bypass its cache.
	first := get(t, url, "X-Ihr-Min-Seq", "99999999", "X-Ihr-Stream", s.queryStream())
	if first.status != 200 || first.from != "miss" {
		t.Fatalf("first read: %d from %s", first.status, first.from)
	}
	hit := request(t, "GET", url)
	if hit.Header.Get("X-Cache") != "edge" || hit.Header.Get("ETag") != first.etag {
		t.Fatalf("second read from %s, ETag %s (first %s)", hit.Header.Get("X-Cache"), hit.Header.Get("ETag"), first.etag)
	}
	for _, r := range []response{hit, request(t, "GET", url, "If-None-Match", first.etag), request(t, "HEAD", url)} {
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Ihr-") {
				t.Errorf("%s %d: internal header %s sent to the client", r.Request.Method, r.StatusCode, k)
			}
		}
	}
	if r := request(t, "GET", url, "If-None-Match", first.etag); r.StatusCode != 304 || r.Header.Get("X-Cache") != "edge" {
		t.Errorf("If-None-Match: %d from %s", r.StatusCode, r.Header.Get("X-Cache"))
	}
	if r := request(t, "HEAD", url); r.StatusCode != 200 || r.Header.Get("Content-Length") != hit.Header.Get("Content-Length") {
		t.Errorf("HEAD: %d, length %s", r.StatusCode, r.Header.Get("Content-Length"))
	}

	// Kept compressed once, served as kept (with a length: not compressed on the fly).
	testkit.Eventually(t, "a kept brotli body", func() bool {
		r := request(t, "GET", url, "Accept-Encoding", "br")
		return r.Header.Get("Content-Encoding") == "br" && r.ContentLength > 0 && r.Header.Get("ETag") == "W/"+first.etag
	})
	br := request(t, "GET", url, "Accept-Encoding", "br")
	plain, err := io.ReadAll(brotli.NewReader(bytes.NewReader(br.body)))
	if err != nil || string(plain) != first.body {
		t.Errorf("the kept brotli body decodes to %d bytes (%v), want the answer", len(plain), err)
	}

	// A change to another bin: the answer is revalidated and kept.
	a := s.bin(events.Hegemony, 4, timebin.Add(time.Hour), "edge-2", rows[:1])
	s.caughtUp(a.seq)
	if r := request(t, "GET", url); r.Header.Get("X-Cache") != "edge-revalidated" || r.Header.Get("ETag") != first.etag {
		t.Errorf("after a change elsewhere: from %s, ETag %s", r.Header.Get("X-Cache"), r.Header.Get("ETag"))
	}
	// A change to its bin: read again.
	a = s.bin(events.Hegemony, 4, timebin, "edge-3", rows[:2])
	s.caughtUp(a.seq)
	if r := request(t, "GET", url); r.Header.Get("X-Cache") != "miss" || !strings.HasPrefix(string(r.body), `{"count":2,`) {
		t.Errorf("after a change to its bin: from %s, %.60s", r.Header.Get("X-Cache"), r.body)
	}
}

// response is a response with its body read, not decoded.
type response struct {
	*http.Response
	body []byte
}

func request(t *testing.T, method, url string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decoding
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

func (s *stack) queryStream() string {
	_, body := testkit.Get(s.t, s.query+"/debug/cache")
	_, rest, _ := strings.Cut(body, `"stream":"`)
	stream, _, _ := strings.Cut(rest, `"`)
	return stream
}
