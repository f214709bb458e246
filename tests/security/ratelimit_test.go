package security

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)s`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// TestRateLimitUnderWrk drives the gateway with wrk at ten times an
// anonymous client's limit: the requests let through stay within 5 % of
// the limit (its rate over the run, plus the burst), the rest are 429.
func TestRateLimitUnderWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is missing: apt-get install -y wrk")
	}
	s := newStack(t)
	const rate, burst = 100, 20
	gateway := s.startGateway(map[string]string{"IHR_RATE_ANONYMOUS_SECOND": strconv.Itoa(rate), "IHR_RATE_ANONYMOUS_BURST": strconv.Itoa(burst),
		"IHR_RATE_ANONYMOUS_DAY": "0"})
	// 10 connections, each sending a request every 10 ms: about 1,000 a
	// second, ten times the limit.
	script := filepath.Join(t.TempDir(), "pace.lua")
	if err := os.WriteFile(script, []byte("function delay() return 10 end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(wrk, "-t2", "-c10", "-d4s", "-s", script, gateway+"/ihr/api/networks/?number=2497").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	m, n := wrkRequests.FindSubmatch(out), wrkNon2xx.FindSubmatch(out)
	if m == nil || n == nil {
		t.Fatalf("wrk's report has no totals or no refusals:\n%s", out)
	}
	total, _ := strconv.Atoi(string(m[1]))
	secs, _ := strconv.ParseFloat(string(m[2]), 64)
	refused, _ := strconv.Atoi(string(n[1]))
	allowed := total - refused
	want := rate*secs + burst
	t.Logf("wrk: %d requests in %.2f s (%.0f/s), %d let through, %.0f expected, %d refused", total, secs, float64(total)/secs, allowed, want, refused)
	if float64(total)/secs < 8*rate {
		t.Errorf("wrk sent only %.0f requests a second, not about ten times the limit", float64(total)/secs)
	}
	if math.Abs(float64(allowed)-want)/want > 0.05 {
		t.Errorf("%d requests let through, want %.0f within 5 %%", allowed, want)
	}
}
