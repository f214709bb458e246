// Package golden replays the golden corpus, answers recorded from the
// legacy implementations on a fixed dataset, against the real query and
// gateway binaries (../shared/reference/golden/README.md says how to compare).
package golden

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/testkit"
)

func golden(t *testing.T) string {
	return filepath.Join(testkit.RepoRoot(t), "..", "shared", "reference", "golden")
}

type goldenCase struct{ id, target string }

func goldenCases(t *testing.T) []goldenCase {
	f, err := os.Open(filepath.Join(golden(t), "requests.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []goldenCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, target, ok := strings.Cut(sc.Text(), "\t")
		if ok {
			cases = append(cases, goldenCase{id, target})
		}
	}
	return cases
}

var hostPrefix = regexp.MustCompile(`"(next|previous)":"https?://[^/"]+`)

// stack loads the golden dataset into a scratch database and starts the
// query (page size 100, as recorded) and gateway binaries on it.
func stack(t *testing.T) string {
	gateway, _ := stackEnv(t)
	return gateway
}

// stackEnv starts the query service and the gateway on the golden dataset
// and returns the gateway's URL and the services' variables.
func stackEnv(t *testing.T) (gateway string, env map[string]string) {
	db := testkit.NewDB(t)
	data := filepath.Join(golden(t), "..", "golden-dataset.sql")
	if out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", data, db).CombinedOutput(); err != nil {
		t.Fatalf("load %s: %v\n%s", data, err, out)
	}
	env = testkit.ServiceEnv(t, db)
	env["IHR_PAGE_SIZE"] = "100"
	query := testkit.StartBinary(t, "query", env)
	return testkit.StartBinary(t, "gateway", testkit.With(env, map[string]string{"IHR_QUERY_URL": query,
		"IHR_AUTH_URL": "http://" + testkit.FreeAddr(t), "IHR_INGESTION_URL": "http://" + testkit.FreeAddr(t)})), env
}

func TestGoldenCorpus(t *testing.T) {
	gateway := stack(t)
	unordered := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(golden(t), "unordered.txt")); err == nil {
		for _, id := range strings.Fields(string(b)) {
			unordered[id] = true
		}
	}

	passed, total := map[string]int{}, map[string]int{}
	for _, c := range goldenCases(t) {
		ep := c.id[:strings.LastIndexByte(c.id, '-')]
		total[ep]++
		if msg := compare(t, gateway, c, unordered[c.id]); msg != "" {
			t.Errorf("%s %s: %s", c.id, c.target, msg)
			continue
		}
		passed[ep]++
	}
	eps := make([]string, 0, len(total))
	for ep := range total {
		eps = append(eps, ep)
	}
	sort.Strings(eps)
	for _, ep := range eps {
		t.Logf("golden %-26s %2d/%d passed", ep, passed[ep], total[ep])
	}
	n := 0
	for _, p := range passed {
		n += p
	}
	t.Logf("golden: %d of %d requests passed", n, len(goldenCases(t)))
	if len(eps) < 18 {
		t.Errorf("requests of %d endpoints checked, want all 18", len(eps))
	}
}

func compare(t *testing.T, base string, c goldenCase, unordered bool) string {
	read := func(ext string) string {
		b, err := os.ReadFile(filepath.Join(golden(t), "responses", c.id+"."+ext))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantStatus, wantType, wantBody := strings.TrimSpace(read("status")), strings.TrimSpace(read("ctype")), read("body")
	req, _ := http.NewRequest("GET", base+c.target, nil)
	req.Header.Set("Accept", "application/json, text/plain, */*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := fmt.Sprint(resp.StatusCode); got != wantStatus {
		return fmt.Sprintf("status %s, want %s; body %.300s", got, wantStatus, body)
	}
	if got := resp.Header.Get("Content-Type"); got != wantType {
		return fmt.Sprintf("Content-Type %q, want %q", got, wantType)
	}
	switch {
	case resp.StatusCode/100 == 2:
		got, want := hostPrefix.ReplaceAllString(string(body), `"$1":"`), hostPrefix.ReplaceAllString(wantBody, `"$1":"`)
		if unordered {
			got, want = sortedResults(got), sortedResults(want)
		}
		if got != want {
			return "body differs:\n got  " + clip(got) + "\n want " + clip(want)
		}
	case resp.StatusCode == 422:
		if g, w := locs(string(body)), locs(wantBody); g != w {
			return fmt.Sprintf("422 locations %s, want %s", g, w)
		}
	default:
		if g, w := errorShape(string(body)), errorShape(wantBody); g != w {
			return fmt.Sprintf("error %s, want %s", g, w)
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// sortedResults puts the items of results in a canonical order, each kept byte for byte.
func sortedResults(body string) string {
	var env struct {
		Count    int               `json:"count"`
		Next     *string           `json:"next"`
		Previous *string           `json:"previous"`
		Results  []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		return body
	}
	items := make([]string, len(env.Results))
	for i, r := range env.Results {
		items[i] = string(r)
	}
	sort.Strings(items)
	return fmt.Sprint(env.Count, env.Next, env.Previous, items)
}

func locs(body string) string {
	var e struct {
		Detail []struct {
			Loc []string `json:"loc"`
		} `json:"detail"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	var out []string
	for _, d := range e.Detail {
		out = append(out, strings.Join(d.Loc, "."))
	}
	return fmt.Sprint(out)
}

// errorShape is what a 4xx must share with the recorded one: its keys, the
// detail text and the unexpected parameters.
func errorShape(body string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return "not JSON: " + body
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	detail, _ := m["detail"].(string)
	return fmt.Sprintf("keys %v detail %q unexpected %v", keys, detail, m["unexpected"])
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/json, text/plain, */*")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
