// Package compose checks docker-compose.yml without a Docker engine: it is
// parsed with compose-go and held against what the service binaries read.
package compose

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// apps are the service binaries and their default ports.
var apps = map[string]string{"gateway": "8080", "query": "8081", "ingestion": "8082", "auth": "8083", "cachewarmer": "8084"}

func load(ctx context.Context, dir, file string) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("ihr", true)
		o.Profiles = []string{"*"}
	})
}

// envVars runs each binary with --env and returns the variables it reads.
func envVars(t *testing.T) map[string]map[string]string {
	t.Helper()
	bin := t.TempDir()
	out := map[string]map[string]string{}
	for name := range apps {
		path := filepath.Join(bin, name)
		build := exec.Command("go", "build", "-o", path, "github.com/ihr-go/ihr/services/"+name+"/cmd/"+name)
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", name, err, b)
		}
		b, err := exec.Command(path, "--env").Output()
		if err != nil {
			t.Fatalf("%s --env: %v", name, err)
		}
		vars := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), "=")
			vars[k] = v
		}
		out[name] = vars
	}
	return out
}

// check returns one line per problem found in the project.
func check(p *types.Project, root string, vars map[string]map[string]string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for name, s := range p.Services {
		if s.Build == nil && s.Image == "" {
			bad("%s: neither build nor image", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			switch {
			case !ok:
				bad("%s: depends on unknown service %s", name, dep)
			case dep == "migrate":
				if d.Condition != types.ServiceConditionCompletedSuccessfully {
					bad("%s: must wait for migrate with service_completed_successfully, has %q", name, d.Condition)
				}
			case d.Condition != types.ServiceConditionHealthy:
				bad("%s: must wait for %s with service_healthy, has %q", name, dep, d.Condition)
			case target.HealthCheck == nil || len(target.HealthCheck.Test) == 0:
				bad("%s: depends on %s, which has no healthcheck", name, dep)
			}
		}
	}
	if n, ok := p.Services["nats"]; !ok || !slices.Contains(n.Command, "-js") {
		bad("nats: JetStream not enabled (-js)")
	}
	if m, ok := p.Services["migrate"]; ok && m.Build != nil {
		df, err := os.ReadFile(filepath.Join(root, m.Build.Dockerfile))
		if err != nil || !strings.Contains(string(df), "scripts/db/init.sh") || !strings.Contains(string(df), "scripts/db/migrate.sh up") {
			bad("migrate: its image does not run scripts/db/init.sh and scripts/db/migrate.sh up")
		}
	} else {
		bad("migrate: missing or not built from the repository")
	}

	for name, port := range apps {
		s, ok := p.Services[name]
		if !ok {
			bad("%s: missing", name)
			continue
		}
		if s.Build == nil || s.Build.Dockerfile != "deployments/Dockerfile" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
			bad("%s: must build deployments/Dockerfile with SERVICE=%s", name, name)
		}
		if s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, "--healthcheck") {
			bad("%s: healthcheck must run the binary with --healthcheck", name)
		}
		if s.Environment["IHR_ENV"] == nil || *s.Environment["IHR_ENV"] != "prod" {
			bad("%s: IHR_ENV must be prod in compose (no embedded NATS)", name)
		}
		for k, v := range s.Environment {
			if _, known := vars[name][k]; !known {
				bad("%s: sets %s, which the service does not read", name, k)
				continue
			}
			if v != nil && strings.HasSuffix(k, "_URL") && strings.HasPrefix(*v, "http") {
				checkURL(p, name, k, *v, bad)
			}
		}
		addr := vars[name]["IHR_"+strings.ToUpper(name)+"_ADDR"]
		if v := s.Environment["IHR_"+strings.ToUpper(name)+"_ADDR"]; v != nil {
			addr = *v
		}
		if _, p, _ := net.SplitHostPort(addr); p != port {
			bad("%s: listens on %q, want port %s", name, addr, port)
		}
		if !exposes(s, port) {
			bad("%s: port %s neither exposed nor published", name, port)
		}
	}
	slices.Sort(problems)
	return problems
}

// checkURL requires an http URL to name a compose service and the port it listens on.
func checkURL(p *types.Project, name, key, raw string, bad func(string, ...any)) {
	u, err := url.Parse(raw)
	if err != nil {
		bad("%s: %s=%q is not a URL", name, key, raw)
		return
	}
	port, ok := apps[u.Hostname()]
	if _, exists := p.Services[u.Hostname()]; !exists || !ok || u.Port() != port {
		bad("%s: %s=%s must point at a compose service and its port", name, key, raw)
	}
}

func exposes(s types.ServiceConfig, port string) bool {
	if slices.Contains(s.Expose, port) {
		return true
	}
	for _, p := range s.Ports {
		if fmt.Sprint(p.Target) == port {
			return true
		}
	}
	return false
}

func TestComposeFile(t *testing.T) {
	root := testkit.RepoRoot(t)
	p, err := load(context.Background(), root, filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	for _, want := range []string{"postgres", "redis", "nats", "migrate", "demo-data"} {
		if _, ok := p.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	if problems := check(p, root, envVars(t)); len(problems) > 0 {
		t.Errorf("docker-compose.yml:\n  %s", strings.Join(problems, "\n  "))
	}
	df, err := os.ReadFile(filepath.Join(root, "deployments/Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ARG SERVICE", "CGO_ENABLED=0", "nonroot", "ENTRYPOINT"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("deployments/Dockerfile lacks %s", want)
		}
	}
}

func TestCheckFindsProblems(t *testing.T) {
	root := testkit.RepoRoot(t)
	dir := t.TempDir()
	broken := `
services:
  nats:
    image: nats:2.10-alpine
  query:
    build: {context: ., dockerfile: deployments/Dockerfile, args: {SERVICE: query}}
    environment: {IHR_ENV: prod, IHR_NOT_A_SETTING: "1", IHR_QUERY_ADDR: ":9999"}
    depends_on: {nats: {condition: service_started}}
`
	file := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := load(context.Background(), dir, file)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]map[string]string{"query": {"IHR_ENV": "dev", "IHR_QUERY_ADDR": ":8081"}}
	got := strings.Join(check(p, root, vars), "\n")
	for _, want := range []string{
		"nats: JetStream not enabled",
		"query: sets IHR_NOT_A_SETTING",
		"query: must wait for nats with service_healthy",
		`query: listens on ":9999"`,
		"query: healthcheck must run the binary",
		"gateway: missing",
		"migrate: missing",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("check did not report %q; reported:\n%s", want, got)
		}
	}
}
