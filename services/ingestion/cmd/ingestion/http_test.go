package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func post(t *testing.T, url, ctype, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

const jsonBin = `{"af":4,"timebin":"2026-12-01T10:15:00Z","run_id":"http-1","producer":{"name":"script"},
 "rows":[{"originasn":2497,"asn":2497,"hege":1},{"originasn":2497,"asn":3356,"hege":0.5}]}`

func TestHTTPIngest(t *testing.T) {
	t.Parallel()
	r := newRig(t, map[string]string{"IHR_INGEST_OPEN": "true", "IHR_INGEST_MAX_BODY": "4096"})
	svc := r.start(t)
	url := svc.URL + "/ihr/api/ingest/hegemony"

	code, body, _ := post(t, url, "application/json", jsonBin)
	if code != http.StatusAccepted || !strings.Contains(body, `"msg_id":"hegemony:4:1796120100:http-1:complete"`) {
		t.Fatalf("JSON bin: %d %s", code, body)
	}
	nd := "{\"originasn\":15169,\"asn\":15169,\"hege\":1}\n{\"originasn\":15169,\"asn\":174,\"hege\":0.2}\n"
	code, body, _ = post(t, url+"?af=6&timebin=2026-12-01T10:15:00Z&run_id=http-2&producer=nd", "application/x-ndjson", nd)
	if code != http.StatusAccepted {
		t.Fatalf("NDJSON bin: %d %s", code, body)
	}
	testkit.Eventually(t, "both bins", func() bool { return r.count(t, "timebin = '2026-12-01T10:15:00Z'") == 4 })

	for _, tc := range []struct {
		name, ctype, body string
		code              int
		want              string
	}{
		{"invalid value", "application/json", strings.Replace(jsonBin, `"hege":0.5`, `"hege":1.7`, 1), 400, "hege must be between 0 and 1"},
		{"misaligned bin", "application/json", strings.Replace(jsonBin, "10:15:00Z", "10:16:00Z", 1), 400, "not aligned"},
		{"unknown field", "application/json", strings.Replace(jsonBin, `"af":4`, `"af":4,"colour":1`, 1), 400, "unknown field"},
		{"too large", "application/json", jsonBin + strings.Repeat(" ", 5000), 413, "body_too_large"},
		{"other type", "text/csv", "a,b", 400, "application/x-ndjson"},
	} {
		if code, body, _ := post(t, url, tc.ctype, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	if n := r.count(t, "true"); n != 4 {
		t.Errorf("%d rows after the rejected requests, want 4", n)
	}
}

// Without IHR_INGEST_OPEN, ingesting needs a pipeline's credentials (the
// gateway checks them, and the service again: tests/security).
func TestHTTPIngestNeedsCredentials(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	svc := r.start(t)
	if code, body, h := post(t, svc.URL+"/ihr/api/ingest/hegemony", "application/json", jsonBin); code != http.StatusUnauthorized ||
		!strings.Contains(body, "unauthenticated") || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("got %d %s", code, body)
	}
	if n := r.count(t, "true"); n != 0 {
		t.Errorf("%d rows after a refused ingest", n)
	}
}

func TestHTTPIngestWithoutNATSIs503(t *testing.T) {
	t.Parallel()
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	env["IHR_NATS_URL"] = "nats://" + testkit.FreeAddr(t)
	env["IHR_INGEST_OPEN"] = "true"
	svc := testkit.StartService(t, "ingestion", service.Runner(spec()), env)
	code, body, h := post(t, svc.URL+"/ihr/api/ingest/hegemony", "application/json", jsonBin)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "bus_unavailable") {
		t.Fatalf("got %d %s (Retry-After %q)", code, body, h.Get("Retry-After"))
	}
}
