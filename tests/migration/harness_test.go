// Package migration tests the move from the legacy API on the real
// binaries: the gateway's fallback to the legacy API and its routing file
// reloaded without a restart, its shadow comparisons (against stub legacy
// APIs that differ, fail or hang) and what they cost the client, and
// `ihrctl compare` between two deployments of ours.
package migration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// The demo data's last time bin, and requests that read it.
const (
	lastBin   = "2026-11-30T23:45:00Z"
	hegemony  = "/ihr/api/hegemony/?originasn=2497&af=4&timebin=" + lastBin + "&ordering=asn"
	networks  = "/ihr/api/networks/?number=2497,15169"
	hegeAlarm = "/ihr/api/hegemony/alarms/?timebin__gte=2026-11-30T00:00:00Z&timebin__lte=" + lastBin
)

// demoDB returns a scratch database holding the demo data of seed.
func demoDB(t *testing.T, seed int) string {
	t.Helper()
	db := testkit.NewDB(t)
	loadDemo(t, db, seed)
	return db
}

// loadDemo (re)places the demo data of seed in db.
func loadDemo(t *testing.T, db string, seed int) {
	t.Helper()
	ihrctl(t, "demo-data", "--database-url", db, "--scale", "small", "--seed", strconv.Itoa(seed), "--replace", "--progress", "never")
}

// ihrctl runs the real ihrctl and returns its output; it fails the test
// when the command fails.
func ihrctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ihrctlErr(t, args...)
	if err != nil {
		t.Fatalf("ihrctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// ihrctlErr runs the real ihrctl and returns its standard output, and
// its failure with what it wrote on standard error.
func ihrctlErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t, "ihrctl"), args...)
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return out.String(), nil
}

// deployment is a query service and a gateway in front of it.
type deployment struct {
	env     map[string]string // the query service's
	query   string
	gateway string
	logs    *testkit.Buffer // the gateway's
}

// deploy starts a query service on db and a gateway in front of it, with
// more settings for each.
func deploy(t *testing.T, db string, query, gateway map[string]string) *deployment {
	t.Helper()
	d := startQuery(t, db, query)
	d.gateway, d.logs = startGateway(t, d, gateway)
	return d
}

// startQuery starts a query service on db (no gateway yet).
func startQuery(t *testing.T, db string, more map[string]string) *deployment {
	t.Helper()
	d := &deployment{env: testkit.With(testkit.ServiceEnv(t, db), more)}
	d.query = testkit.StartBinary(t, "query", d.env)
	return d
}

// startGateway starts a gateway in front of d's query service.
func startGateway(t *testing.T, d *deployment, more map[string]string) (string, *testkit.Buffer) {
	t.Helper()
	return testkit.StartBinaryLogs(t, "gateway", testkit.With(d.env, testkit.With(map[string]string{"IHR_QUERY_URL": d.query,
		"IHR_AUTH_URL": "http://" + testkit.FreeAddr(t), "IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t)}, more)))
}

// routingFile writes a routing file and returns its path; write replaces it.
type routingFile string

func newRoutingFile(t *testing.T, content string) routingFile {
	t.Helper()
	f := routingFile(filepath.Join(t.TempDir(), "routing.json"))
	f.write(t, content)
	return f
}

// write replaces the file (a new inode: seen whatever the clock's grain).
func (f routingFile) write(t *testing.T, content string) {
	t.Helper()
	if err := os.WriteFile(string(f)+".new", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(string(f)+".new", string(f)); err != nil {
		t.Fatal(err)
	}
}

// get sends a GET to url.
func get(t *testing.T, url string) testkit.Reply {
	t.Helper()
	return testkit.Request(t, http.MethodGet, url, "", nil)
}

var sample = regexp.MustCompile(`(?m)^([a-z_]+)\{([^}]*)\} ([0-9.e+-]+)$`)

// metric returns the value of the gateway's metric name with exactly
// labels (`endpoint="hegemony",outcome="equal"`), 0 when it has none.
func metric(t *testing.T, gateway, name, labels string) float64 {
	t.Helper()
	_, body := testkit.Get(t, gateway+"/metrics")
	for _, m := range sample.FindAllStringSubmatch(body, -1) {
		if m[1] == name && m[2] == labels {
			v, _ := strconv.ParseFloat(m[3], 64)
			return v
		}
	}
	return 0
}

// logLines returns the JSON log lines whose msg is msg.
func logLines(logs *testkit.Buffer, msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// p99 is the nearest-rank 99th percentile of ds.
func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}
