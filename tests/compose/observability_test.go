package compose

import (
	"context"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ihr-go/ihr/pkg/testkit"
	"go.yaml.in/yaml/v3"
)

// observability are the services of the observability profile.
var observability = []string{"otel-collector", "jaeger", "prometheus", "grafana"}

// pinned is an image with an exact version: name:1.2.3 or name:v1.2.3.
var pinned = regexp.MustCompile(`^[a-z0-9./_-]+:v?\d+\.\d+\.\d+$`)

func loadWith(ctx context.Context, dir string, env types.Mapping, profiles []string) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("ihr", true)
		o.Profiles = profiles
	})
}

// mount returns the repository file or directory bind-mounted at target
// in s, relative to root, or "".
func mount(root string, s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && path.Clean(v.Target) == path.Clean(target) {
			rel, err := filepath.Rel(root, v.Source)
			if err != nil {
				return ""
			}
			return rel
		}
	}
	return ""
}

// flag returns the value of --name=value in args, or "".
func flag(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// readYAML decodes the repository file rel into v.
func readYAML(t *testing.T, root, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// port returns the port of a host:port or URL.
func port(hostport string) string {
	if u, err := url.Parse(hostport); err == nil && u.Host != "" {
		hostport = u.Host
	}
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// TestObservabilityProfile: the profile's services are pinned, only in
// the profile, mount the repository's configurations where their commands
// read them, and those configurations name the compose services on the
// ports they listen on; the services send their traces to the collector
// only when OTEL_EXPORTER_OTLP_ENDPOINT says so.
func TestObservabilityProfile(t *testing.T) {
	root := testkit.RepoRoot(t)
	ctx := context.Background()
	const endpoint = "http://otel-collector:4318"
	p, err := loadWith(ctx, root, types.Mapping{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, []string{"observability"})
	if err != nil {
		t.Fatalf("docker-compose.yml with the observability profile: %v", err)
	}
	missing := false
	for _, name := range observability {
		s, ok := p.Services[name]
		switch {
		case !ok:
			t.Errorf("%s: missing from the observability profile", name)
			missing = true
			continue
		case !slices.Equal(s.Profiles, []string{"observability"}):
			t.Errorf("%s: profiles %v, want [observability]", name, s.Profiles)
		case !pinned.MatchString(s.Image):
			t.Errorf("%s: image %q is not pinned to an exact version", name, s.Image)
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: mounts %s, which is missing", name, v.Source)
			}
			if !v.ReadOnly {
				t.Errorf("%s: mounts %s writable", name, v.Source)
			}
		}
		for _, pc := range s.Ports {
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s: publishes %d on %q, want loopback only", name, pc.Target, pc.HostIP)
			}
		}
	}
	if missing {
		return
	}

	// The collector: OTLP in on 4317 and 4318, out to Jaeger and its log.
	col := p.Services["otel-collector"]
	colFile := mount(root, col, strings.TrimPrefix(flag(col.Command, "config"), "file:"))
	if colFile != "deployments/otel-collector/config.yaml" {
		t.Fatalf("otel-collector: --config %q is not deployments/otel-collector/config.yaml mounted", flag(col.Command, "config"))
	}
	var cc struct {
		Receivers struct {
			OTLP struct {
				Protocols map[string]struct {
					Endpoint string `yaml:"endpoint"`
				} `yaml:"protocols"`
			} `yaml:"otlp"`
		} `yaml:"receivers"`
		Processors map[string]any `yaml:"processors"`
		Exporters  map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"exporters"`
		Extensions map[string]any `yaml:"extensions"`
		Service    struct {
			Extensions []string `yaml:"extensions"`
			Pipelines  map[string]struct {
				Receivers, Processors, Exporters []string
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	readYAML(t, root, colFile, &cc)
	for proto, want := range map[string]string{"grpc": "0.0.0.0:4317", "http": "0.0.0.0:4318"} {
		if got := cc.Receivers.OTLP.Protocols[proto].Endpoint; got != want {
			t.Errorf("collector: OTLP %s receiver on %q, want %s (all interfaces: the services are other containers)", proto, got, want)
		}
		if !slices.Contains(col.Expose, port(want)) {
			t.Errorf("otel-collector: does not expose %s", port(want))
		}
	}
	traces, ok := cc.Service.Pipelines["traces"]
	if !ok {
		t.Fatal("collector: no traces pipeline")
	}
	if !slices.Contains(traces.Receivers, "otlp") || !slices.Contains(traces.Processors, "batch") || !slices.Contains(traces.Exporters, "debug") {
		t.Errorf("collector: traces pipeline %+v lacks the otlp receiver, batch or the debug exporter", traces)
	}
	for _, n := range traces.Processors {
		if _, ok := cc.Processors[n]; !ok {
			t.Errorf("collector: pipeline uses processor %s, not defined", n)
		}
	}
	for _, n := range cc.Service.Extensions {
		if _, ok := cc.Extensions[n]; !ok {
			t.Errorf("collector: service uses extension %s, not defined", n)
		}
	}
	toJaeger := false
	for _, n := range traces.Exporters {
		e, ok := cc.Exporters[n]
		if !ok {
			t.Errorf("collector: pipeline uses exporter %s, not defined", n)
			continue
		}
		if kind, _, _ := strings.Cut(n, "/"); kind == "otlp_grpc" || kind == "otlp" {
			host, prt, _ := net.SplitHostPort(e.Endpoint)
			if js, ok := p.Services[host]; !ok || host != "jaeger" || prt != "4317" || !slices.Contains(js.Expose, "4317") {
				t.Errorf("collector: exporter %s to %q, want jaeger:4317 (Jaeger's OTLP gRPC)", n, e.Endpoint)
			}
			toJaeger = true
		}
	}
	if !toJaeger {
		t.Error("collector: no OTLP exporter to Jaeger in the traces pipeline")
	}
	if v := p.Services["jaeger"].Environment["COLLECTOR_OTLP_ENABLED"]; v == nil || *v != "true" {
		t.Error("jaeger: COLLECTOR_OTLP_ENABLED must be true")
	}
	if _, ok := col.DependsOn["jaeger"]; !ok {
		t.Error("otel-collector: must depend on jaeger")
	}

	// Each app sends its traces to the collector's OTLP/HTTP receiver, when told.
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		v := p.Services[name].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
		if v == nil || *v != endpoint {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT is %v with the variable set to %s, want it passed on", name, v, endpoint)
		}
		for dep := range p.Services[name].DependsOn {
			if slices.Contains(observability, dep) {
				t.Errorf("%s: depends on %s, which runs only with the observability profile", name, dep)
			}
		}
	}
	if port(endpoint) != port(cc.Receivers.OTLP.Protocols["http"].Endpoint) {
		t.Errorf("the documented endpoint %s is not the collector's OTLP/HTTP port", endpoint)
	}

	// Prometheus: its configuration and rules mounted where the
	// configuration names them, scraping each app on its port.
	prom := p.Services["prometheus"]
	confTarget := flag(prom.Command, "config.file")
	if mount(root, prom, confTarget) != "deployments/prometheus/prometheus.yml" {
		t.Fatalf("prometheus: --config.file %q is not deployments/prometheus/prometheus.yml mounted", confTarget)
	}
	var pc struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, root, "deployments/prometheus/prometheus.yml", &pc)
	for _, rf := range pc.RuleFiles {
		target := rf
		if !path.IsAbs(rf) {
			target = path.Join(path.Dir(confTarget), rf)
		}
		if src := mount(root, prom, target); src != path.Join("deployments/prometheus", path.Base(rf)) {
			t.Errorf("prometheus: rule file %s (%s in the container) is not mounted from deployments/prometheus", rf, target)
		}
	}
	if len(pc.RuleFiles) == 0 {
		t.Error("prometheus.yml: no rule_files")
	}
	scraped := map[string][]string{}
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			scraped[sc.JobName] = append(scraped[sc.JobName], st.Targets...)
		}
	}
	f := facts{vars: map[string]map[string]string{}} // the apps' addresses are set in the compose file
	c := &checker{p: p, root: root, f: f}
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		addr := c.addr(name)
		if m := p.Services[name].Environment["IHR_METRICS_ADDR"]; m != nil && *m != "" {
			addr = *m // /metrics on a port of its own
		}
		_, want, _ := net.SplitHostPort(addr)
		if got := scraped[name]; !slices.Equal(got, []string{name + ":" + want}) {
			t.Errorf("prometheus.yml: job %s scrapes %v, want [%s:%s]", name, got, name, want)
		}
	}

	// Grafana: provisioning where Grafana reads it, the data source on
	// Prometheus's port, the dashboards where the provider looks.
	gf := p.Services["grafana"]
	if mount(root, gf, "/etc/grafana/provisioning") != "deployments/grafana/provisioning" {
		t.Error("grafana: deployments/grafana/provisioning is not mounted at /etc/grafana/provisioning")
	}
	var ds struct {
		Datasources []struct {
			Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, root, "deployments/grafana/provisioning/datasources/prometheus.yml", &ds)
	for _, d := range ds.Datasources {
		u, err := url.Parse(d.URL)
		promPort := "9090"
		if a := flag(prom.Command, "web.listen-address"); a != "" {
			promPort = port(a)
		}
		if err != nil || u.Hostname() != "prometheus" || u.Port() != promPort || d.Type != "prometheus" {
			t.Errorf("grafana: data source %s %s, want prometheus at http://prometheus:%s", d.Type, d.URL, promPort)
		}
	}
	if _, ok := gf.DependsOn["prometheus"]; !ok {
		t.Error("grafana: must depend on prometheus")
	}
	var dp struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, root, "deployments/grafana/provisioning/dashboards/ihr.yml", &dp)
	for _, pr := range dp.Providers {
		src := mount(root, gf, pr.Options.Path)
		if src == "" {
			t.Errorf("grafana: dashboards path %s is not mounted", pr.Options.Path)
			continue
		}
		if files, _ := filepath.Glob(filepath.Join(root, src, "*.json")); len(files) == 0 {
			t.Errorf("grafana: %s, mounted at %s, holds no dashboard", src, pr.Options.Path)
		}
	}

	// Without the variable, no trace export; without the profile, none of its services.
	plain, err := loadWith(ctx, root, types.Mapping{}, nil)
	if err != nil {
		t.Fatalf("docker-compose.yml without profiles: %v", err)
	}
	for _, name := range observability {
		if _, ok := plain.Services[name]; ok {
			t.Errorf("%s runs without the observability profile", name)
		}
	}
	for name := range apps {
		s, ok := plain.Services[name]
		if !ok {
			t.Errorf("%s: missing without profiles", name)
			continue
		}
		if v := s.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; v != nil && *v != "" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%s by default, want it off unless set", name, *v)
		}
	}
}
