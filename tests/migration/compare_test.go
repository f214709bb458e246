package migration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// report is what `ihrctl compare --json` prints (the fields the test reads).
type report struct {
	Total struct {
		Requests, Equal, Differing, Errors int
		StatusMismatches                   int `json:"status_mismatches"`
	}
	Endpoints []struct {
		Endpoint          string
		Requests, Equal   int
		Differing, Errors int
		Paths             []struct{ Path string }
		LatencyA          latency `json:"latency_a"`
		LatencyB          latency `json:"latency_b"`
	}
}

type latency struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// TestCompareDeployments: `ihrctl compare` between two deployments of ours
// (gateway and query service each) on two databases finds parity while
// they hold the same data, and names what differs once they do not.
func TestCompareDeployments(t *testing.T) {
	// Nothing announces the reload below: no cache may keep the old answers.
	noCache := map[string]string{"IHR_CACHE": "false", "IHR_EDGE_CACHE": "false"}
	a := deploy(t, demoDB(t, 1), noCache, noCache)
	dbB := demoDB(t, 1)
	b := deploy(t, dbB, noCache, noCache)
	list := filepath.Join(t.TempDir(), "requests.txt")
	requests := strings.Join([]string{
		"# the website's usual reads",
		hegemony,
		"/ihr/api/hegemony/?originasn=15169&af=4&timebin=" + lastBin,
		hegeAlarm,
		"/ihr/api/hegemony/cones/?asn=2497&timebin=" + lastBin,
		networks,
		"/ihr/api/countries/?code=JP",
		"",
		"# errors compare too",
		"/ihr/api/hegemony/?originasn=2497&bogus=1",
		"/ihr/api/no/such/endpoint/",
	}, "\n")
	if err := os.WriteFile(list, []byte(requests), 0o644); err != nil {
		t.Fatal(err)
	}
	compare := func() (report, string, error) {
		out, err := ihrctlErr(t, "compare", "--a", a.gateway, "--b", b.gateway, "--requests", list, "--concurrency", "3", "--json")
		var r report
		if jerr := json.Unmarshal([]byte(out), &r); jerr != nil {
			t.Fatalf("compare --json: %v\n%s", jerr, out)
		}
		return r, out, err
	}

	r, out, err := compare()
	if err != nil || r.Total.Requests != 8 || r.Total.Equal != 8 {
		t.Fatalf("same data: %v\n%s", err, out)
	}
	for _, e := range r.Endpoints {
		if e.LatencyA.P99 <= 0 || e.LatencyB.P99 <= 0 || e.LatencyA.P50 > e.LatencyA.P99 {
			t.Errorf("%s: latency %+v, %+v", e.Endpoint, e.LatencyA, e.LatencyB)
		}
	}

	loadDemo(t, dbB, 2)
	r, out, err = compare()
	if err == nil || !strings.Contains(err.Error(), "requests differ") {
		t.Errorf("different data, and compare exits %v", err)
	}
	if r.Total.Differing == 0 || r.Total.Errors != 0 || r.Total.StatusMismatches != 0 {
		t.Fatalf("different data: %+v\n%s", r.Total, out)
	}
	var heg []string
	for _, e := range r.Endpoints {
		if e.Endpoint == "hegemony" {
			for _, p := range e.Paths {
				heg = append(heg, p.Path)
			}
		}
		if e.Endpoint == "no/such/endpoint" && e.Equal != 1 {
			t.Errorf("a 404 on both sides: %+v", e)
		}
	}
	if !slices.Contains(heg, "$.results[*].hege") {
		t.Errorf("hegemony differs in %v, want $.results[*].hege among them\n%s", heg, out)
	}
	text, _ := ihrctlErr(t, "compare", "--a", a.gateway, "--b", b.gateway, "--requests", list)
	t.Logf("ihrctl compare on different data:\n%s", text)
	if !strings.Contains(text, "hegemony, what differs most:") || !strings.Contains(text, "$.results[*].hege  (2 of 3 requests)") {
		t.Errorf("the text report does not name what differs:\n%s", text)
	}
}
