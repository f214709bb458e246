package observability

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// gauge reads an unlabelled gauge from base's /metrics.
func gauge(t *testing.T, base, name string) float64 {
	t.Helper()
	code, body := testkit.Get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("%s/metrics: %d", base, code)
	}
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", name, v, err)
			}
			return f
		}
	}
	t.Fatalf("%s/metrics has no %s", base, name)
	return 0
}

// TestRuntimeTuning runs the gateway's binary, whose process gets twice the
// cores as Ps and a heap floor unless told otherwise, and checks what its
// runtime reports; the operator's GOMAXPROCS and GOGC win.
func TestRuntimeTuning(t *testing.T) {
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	env["IHR_QUERY_URL"] = testkit.StartBinary(t, "query", env)
	// Empty is unset, for Go and for the services: the test's own settings stay out.
	unset := map[string]string{"GOMAXPROCS": "", "GOGC": ""}
	gateway := func(more map[string]string) string {
		return testkit.StartBinary(t, "gateway", testkit.With(testkit.With(env, unset), more))
	}

	// Go's own choice, for this machine (a CPU quota may put it below the cores).
	plain := gateway(map[string]string{"IHR_PROCS_PER_CORE": "1", "IHR_GC_HEAP_FLOOR_BYTES": "0"})
	goDefault := int(gauge(t, plain, "go_sched_gomaxprocs_threads"))
	if got := gauge(t, plain, "go_gc_gogc_percent"); got != 100 {
		t.Errorf("without a heap floor: GOGC %g, want Go's 100", got)
	}

	tuned := gateway(nil)
	want := goDefault
	if goDefault >= runtime.NumCPU() {
		want = 2 * runtime.NumCPU()
	}
	if got := int(gauge(t, tuned, "go_sched_gomaxprocs_threads")); got != want {
		t.Errorf("gateway's GOMAXPROCS %d, want %d (Go's own %d, %d cores)", got, want, goDefault, runtime.NumCPU())
	}
	// An idle gateway's live heap is a few MB: the 64 MiB floor needs a GOGC of several hundred.
	if got := gauge(t, tuned, "go_gc_gogc_percent"); got < 400 {
		t.Errorf("gateway's GOGC %g with a 64 MiB heap floor, want several hundred", got)
	}

	explicit := gateway(map[string]string{"GOMAXPROCS": "3", "GOGC": "150"})
	if got := gauge(t, explicit, "go_sched_gomaxprocs_threads"); got != 3 {
		t.Errorf("GOMAXPROCS=3 set by the operator: %g", got)
	}
	if got := gauge(t, explicit, "go_gc_gogc_percent"); got != 150 {
		t.Errorf("GOGC=150 set by the operator: %g", got)
	}
}
