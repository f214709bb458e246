package observability

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"go.yaml.in/yaml/v3"
)

// jobs are the Prometheus jobs of deployments/prometheus/prometheus.yml
// that scrape the services.
var jobs = []string{"gateway", "query", "ingestion", "auth", "cachewarmer"}

// synthetic are the series Prometheus makes itself, for every job.
var synthetic = map[string]bool{"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true, "ALERTS": true, "ALERTS_FOR_STATE": true}

// use is a metric an expression names, and where.
type use struct {
	where string
	sel   selector
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T, root string) []rule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deployments/prometheus/alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

// headingSlugs returns the GitHub anchors of the headings of the markdown
// section named title (up to the next heading of its level or higher).
func headingSlugs(t *testing.T, path, title string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	slugs := map[string]bool{}
	level := 0
	punct := regexp.MustCompile(`[^\p{L}\p{N}\- ]`)
	for line := range strings.Lines(string(b)) {
		hashes := len(line) - len(strings.TrimLeft(line, "#"))
		if hashes == 0 || hashes > 6 || !strings.HasPrefix(line[hashes:], " ") {
			continue
		}
		text := strings.TrimSpace(line[hashes:])
		switch {
		case level == 0 && text == title:
			level = hashes
		case level > 0 && hashes <= level:
			return slugs
		case level > 0:
			slugs[strings.ReplaceAll(punct.ReplaceAllString(strings.ToLower(text), ""), " ", "-")] = true
		}
	}
	if level == 0 {
		t.Fatalf("%s has no section %q", path, title)
	}
	return slugs
}

// TestAlertRules checks the shape of every alert: a duration, a severity,
// a summary, a description and a runbook section that exists.
func TestAlertRules(t *testing.T) {
	root := testkit.RepoRoot(t)
	runbook := headingSlugs(t, filepath.Join(root, "docs/operations.md"), "Metrics, alerts and dashboards")
	seen := map[string]bool{}
	for _, r := range loadRules(t, root) {
		if r.Alert == "" {
			continue
		}
		if seen[r.Alert] {
			t.Errorf("%s: defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
			t.Errorf("%s: for %q, want a duration", r.Alert, r.For)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s", r.Alert, a)
			}
		}
		want := "docs/operations.md#" + strings.ToLower(r.Alert)
		if got := r.Annotations["runbook_url"]; got != want {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, got, want)
		} else if !runbook[strings.ToLower(r.Alert)] {
			t.Errorf("%s: docs/operations.md has no heading %s under \"Metrics, alerts and dashboards\"", r.Alert, r.Alert)
		}
	}
}

// TestPromtool runs promtool on the configuration, the rules and the rules'
// unit tests (alerts_test.yml).
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is missing; install it with: apt-get install -y prometheus")
	}
	dir := filepath.Join(testkit.RepoRoot(t), "deployments/prometheus")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboard is what the test reads of a Grafana dashboard.
type dashboard struct {
	Templating struct {
		List []struct {
			Name    string          `json:"name"`
			Type    string          `json:"type"`
			Query   json.RawMessage `json:"query"`
			Current struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title      string      `json:"title"`
	Type       string      `json:"type"`
	Datasource *datasource `json:"datasource"`
	Targets    []struct {
		Datasource *datasource `json:"datasource"`
		Expr       string      `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // those of a collapsed row
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashboards returns every dashboard of deployments/grafana/dashboards by file name.
func dashboards(t *testing.T, root string) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deployments/grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in deployments/grafana/dashboards: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// provisionedUID is the uid of the Prometheus data source Grafana is given.
func provisionedUID(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deployments/grafana/provisioning/datasources/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil || len(f.Datasources) != 1 || f.Datasources[0].Type != "prometheus" {
		t.Fatalf("provisioned data sources %+v (%v): want one of type prometheus", f.Datasources, err)
	}
	return f.Datasources[0].UID
}

// TestDashboardDatasource: every panel and query takes its data source from
// the dashboard's variable, whose default is the provisioned Prometheus.
func TestDashboardDatasource(t *testing.T) {
	root := testkit.RepoRoot(t)
	uid := provisionedUID(t, root)
	for file, d := range dashboards(t, root) {
		variable := false
		for _, v := range d.Templating.List {
			if v.Type == "datasource" && v.Name == "datasource" {
				variable = true
				if v.Current.Value != uid {
					t.Errorf("%s: variable datasource defaults to %v, want the provisioned %s", file, v.Current.Value, uid)
				}
			}
		}
		if !variable {
			t.Errorf("%s: no datasource variable", file)
		}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("%s: panel %q does not use ${datasource}", file, p.Title)
				}
				for _, q := range p.Targets {
					if q.Datasource != nil && q.Datasource.UID != "${datasource}" {
						t.Errorf("%s: a query of panel %q does not use ${datasource}", file, p.Title)
					}
				}
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q has no query", file, p.Title)
				}
			}
		}
		walk(d.Panels)
	}
}

// uses returns every metric the alert rules and the dashboards name.
func uses(t *testing.T, root string) []use {
	t.Helper()
	var out []use
	add := func(where, expr string) {
		sels, err := selectors(expr)
		if err != nil {
			t.Errorf("%s: %v in %s", where, err, expr)
		}
		if len(sels) == 0 {
			t.Errorf("%s: names no metric: %s", where, expr)
		}
		for _, s := range sels {
			out = append(out, use{where, s})
		}
	}
	for _, r := range loadRules(t, root) {
		add("alerts.yml "+r.Alert+r.Record, r.Expr)
	}
	for file, d := range dashboards(t, root) {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			var q string
			var obj struct {
				Query string `json:"query"`
			}
			if json.Unmarshal(v.Query, &q) != nil && json.Unmarshal(v.Query, &obj) == nil {
				q = obj.Query
			}
			if promql := variableQuery(q); promql != "" {
				add(file+" variable "+v.Name, promql)
			}
		}
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				for _, q := range p.Targets {
					add(file+" panel "+p.Title, q.Expr)
				}
			}
		}
		walk(d.Panels)
	}
	return out
}

var jobList = regexp.MustCompile(`^[a-z]+(\|[a-z]+)*$`)

// literalJobs returns the jobs a job matcher names when it names them
// plainly (job="x" or job=~"x|y"), else nil.
func literalJobs(ms []matcher) []string {
	for _, m := range ms {
		if m.label != "job" {
			continue
		}
		switch {
		case m.op == "=":
			return []string{m.value}
		case m.op == "=~" && jobList.MatchString(m.value):
			return strings.Split(m.value, "|")
		}
	}
	return nil
}

// problem says what of u the exposition lacks, or "".
func (e exposition) problem(u use) string {
	name := u.sel.name
	if synthetic[name] {
		return ""
	}
	in := literalJobs(u.sel.matchers)
	if in == nil {
		in = slices.Sorted(maps.Keys(e))
	}
	// Label values seen in the jobs the selector reaches.
	var labels map[string]map[string]bool
	for _, job := range in {
		for l, vs := range e[job][name] {
			if labels == nil {
				labels = map[string]map[string]bool{}
			}
			if labels[l] == nil {
				labels[l] = map[string]bool{}
			}
			maps.Copy(labels[l], vs)
		}
		if _, ok := e[job][name]; ok && labels == nil {
			labels = map[string]map[string]bool{}
		}
	}
	if labels == nil {
		hint := ""
		for _, job := range slices.Sorted(maps.Keys(e)) {
			switch {
			case e[job][name+"_total"] != nil:
				hint = fmt.Sprintf(" (a counter: %s_total)", name)
			case e[job][name+"_bucket"] != nil:
				hint = fmt.Sprintf(" (a histogram: %s_bucket, _sum, _count)", name)
			case e[job][name] != nil:
				hint = fmt.Sprintf(" (exposed by %s)", job)
			}
		}
		return fmt.Sprintf("%s: no metric %s in the /metrics of %s%s", u.where, name, strings.Join(in, ", "), hint)
	}
	for _, m := range u.sel.matchers {
		if m.label == "job" || m.label == "instance" || m.label == "__name__" {
			continue
		}
		vs, ok := labels[m.label]
		switch {
		case !ok:
			return fmt.Sprintf("%s: %s has no label %s (it has %s)", u.where, name, m.label, strings.Join(slices.Sorted(maps.Keys(labels)), ", "))
		case m.op == "=" && !vs[m.value]:
			return fmt.Sprintf("%s: %s{%s} never takes the value %q (seen: %s)", u.where, name, m.label, m.value, strings.Join(slices.Sorted(maps.Keys(vs)), ", "))
		}
	}
	return ""
}

// TestMetricsExist holds every metric the alerts and the dashboards name
// to the real services' /metrics, after making them do what the metrics
// count. Some appear a moment after what causes them (a mail sent, a flush
// to Redis refused), so the scrape is repeated until all are there or 20 s
// have passed.
func TestMetricsExist(t *testing.T) {
	root := testkit.RepoRoot(t)
	wanted := uses(t, root)
	s := startStack(t)
	s.exercise(t)

	var problems []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		e := s.scrape(t)
		problems = problems[:0]
		for _, u := range wanted {
			if p := e.problem(u); p != "" {
				problems = append(problems, p)
			}
		}
		for _, job := range jobs {
			if e[job]["http_server_request_duration_seconds_count"] == nil {
				problems = append(problems, job+": no http_server_request_duration_seconds_count")
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range slices.Compact(slices.Sorted(slices.Values(problems))) {
		t.Error(p)
	}
	t.Logf("%d metric uses checked", len(wanted))
}

// TestProblem: the comparison names what is missing, and why.
func TestProblem(t *testing.T) {
	e := exposition{}
	if err := e.add("gateway", `# TYPE ihr_edge_lookups_total counter
ihr_edge_lookups_total{result="hit"} 3
ihr_edge_lookups_total{result="miss"} 1
# TYPE d histogram
d_bucket{route="/a",le="+Inf"} 1
d_sum{route="/a"} 0.1
d_count{route="/a"} 1
`); err != nil {
		t.Fatal(err)
	}
	if err := e.add("query", "q_total 1\n"); err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]string{
		`rate(ihr_edge_lookups_total{result="hit"}[5m])`:             "",
		`histogram_quantile(0.9, rate(d_bucket{job="gateway"}[5m]))`: "",
		`up{job="nowhere"} == 0`:                                     "",
		`rate(ihr_edge_lookups[5m])`:                                 "no metric ihr_edge_lookups in the /metrics of gateway, query (a counter: ihr_edge_lookups_total)",
		`d{job="gateway"}`:                                           "no metric d in the /metrics of gateway (a histogram: d_bucket, _sum, _count)",
		`q_total{job="gateway"}`:                                     "no metric q_total in the /metrics of gateway (exposed by query)",
		`ihr_edge_lookups_total{tier="l1"}`:                          "ihr_edge_lookups_total has no label tier (it has result)",
		`ihr_edge_lookups_total{result="revalidated"}`:               `ihr_edge_lookups_total{result} never takes the value "revalidated" (seen: hit, miss)`,
		`ihr_edge_lookups_total{result!="revalidated"}`:              "",
	} {
		sels, err := selectors(expr)
		if err != nil || len(sels) != 1 {
			t.Fatalf("%s: %v %v", expr, sels, err)
		}
		got := strings.TrimPrefix(e.problem(use{"x", sels[0]}), "x: ")
		if got != want {
			t.Errorf("%s:\n got  %q\n want %q", expr, got, want)
		}
	}
}
