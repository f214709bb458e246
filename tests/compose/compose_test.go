// Package compose checks docker-compose.yml and the Dockerfiles without a
// Docker engine: compose-go loads the compose file as Docker Compose would,
// BuildKit's parser reads the Dockerfiles, and both are held against what
// the service binaries say they read (--env).
package compose

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// apps are the five services and the ports the architecture gives them.
var apps = map[string]string{"gateway": "8080", "query": "8081", "ingestion": "8082", "auth": "8083", "cachewarmer": "8084"}

// infra are the backing services, the port each listens on inside the compose
// network and the URL schemes that reach it.
var infra = map[string]struct {
	port    string
	schemes []string
}{
	"postgres": {"5432", []string{"postgres", "postgresql"}},
	"redis":    {"6379", []string{"redis", "rediss"}},
	"nats":     {"4222", []string{"nats", "tls"}},
}

// oneShots are the jobs that run to completion; everything else runs for good.
var oneShots = []string{"migrate", "demo-data"}

// facts are what the binaries say about themselves.
type facts struct {
	// vars holds, per app service, the variables its binary reads with
	// their defaults (`<binary> --env`).
	vars map[string]map[string]string
	// demoFlags are the flags `ihrctl demo-data` accepts.
	demoFlags []string
}

func load(ctx context.Context, dir, file string) (*types.Project, error) {
	return loader.LoadWithContext(ctx, types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file}},
		Environment: types.Mapping{}, // the file's own defaults, not this shell's
	}, func(o *loader.Options) {
		o.SetProjectName("ihr", true)
		o.Profiles = []string{"*"}
	})
}

// binaryFacts builds the five services and ihrctl once and asks them.
func binaryFacts(t *testing.T) facts {
	t.Helper()
	bin := t.TempDir()
	names := append(slices.Sorted(maps.Keys(apps)), "ihrctl")
	args := []string{"build", "-o", bin + string(os.PathSeparator)}
	for _, n := range names {
		args = append(args, "github.com/ihr-go/ihr/services/"+n+"/cmd/"+n)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := facts{vars: map[string]map[string]string{}}
	for _, name := range names[:len(names)-1] {
		cmd := exec.Command(filepath.Join(bin, name), "--env")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s --env: %v: %s", name, err, strings.TrimSpace(stderr.String()))
		}
		vars := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				vars[k] = v
			}
		}
		if len(vars) == 0 {
			t.Fatalf("%s --env printed no NAME=default lines", name)
		}
		f.vars[name] = vars
	}
	// The flag package lists "  -name type" lines on -h (and exits non-zero).
	out, _ := exec.Command(filepath.Join(bin, "ihrctl"), "demo-data", "-h").CombinedOutput()
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		f.demoFlags = append(f.demoFlags, m[1])
	}
	if len(f.demoFlags) == 0 {
		t.Fatalf("ihrctl demo-data -h lists no flags:\n%s", out)
	}
	return f
}

// checker collects one line per problem.
type checker struct {
	p           *types.Project
	root        string
	f           facts
	problems    []string
	dockerfiles map[string]*dockerfile
}

func (c *checker) bad(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// check returns one line per problem found in the project, sorted.
func check(p *types.Project, root string, f facts) []string {
	c := &checker{p: p, root: root, f: f, dockerfiles: map[string]*dockerfile{}}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		c.service(name, p.Services[name])
	}
	c.nats()
	c.migrate()
	c.demo()
	for _, name := range slices.Sorted(maps.Keys(apps)) {
		c.app(name)
	}
	return slices.Compact(slices.Sorted(slices.Values(c.problems)))
}

// dockerfile parses a service's Dockerfile once, reporting its problems once.
func (c *checker) dockerfile(s types.ServiceConfig) *dockerfile {
	if s.Build == nil {
		return nil
	}
	rel := s.Build.Dockerfile
	if rel == "" {
		rel = "Dockerfile"
	}
	if d, seen := c.dockerfiles[rel]; seen {
		return d
	}
	d, problems := parseDockerfile(c.root, rel)
	c.dockerfiles[rel] = d
	c.problems = append(c.problems, problems...)
	return d
}

// service runs the checks that hold for every service.
func (c *checker) service(name string, s types.ServiceConfig) {
	oneShot := slices.Contains(oneShots, name)
	if s.Build == nil && s.Image == "" {
		c.bad("%s: neither build nor image", name)
	}
	if s.Build != nil {
		if filepath.Clean(s.Build.Context) != filepath.Clean(c.root) {
			c.bad("%s: build context %s is not the repository root (the images copy go.work and scripts from there)", name, s.Build.Context)
		}
		c.dockerfile(s)
	}
	hasHealthcheck := s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0
	// An image with nothing to run a check with says so (disable: true);
	// then nothing may wait for it.
	disabled := s.HealthCheck != nil && s.HealthCheck.Disable && !c.dependedOn(name)
	switch {
	case oneShot && s.Restart != "" && s.Restart != types.RestartPolicyNo && !strings.HasPrefix(s.Restart, types.RestartPolicyOnFailure):
		c.bad("%s: a one-shot job must not restart (restart: %s)", name, s.Restart)
	case !oneShot && !hasHealthcheck && !disabled:
		c.bad("%s: long-running service without a healthcheck", name)
	}
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[dep]
		target, ok := c.p.Services[dep]
		switch {
		case !ok:
			c.bad("%s: depends on unknown service %s", name, dep)
		case slices.Contains(oneShots, dep):
			if d.Condition != types.ServiceConditionCompletedSuccessfully {
				c.bad("%s: must wait for %s with service_completed_successfully, has %q", name, dep, d.Condition)
			}
		case d.Condition != types.ServiceConditionHealthy:
			c.bad("%s: must wait for %s with service_healthy, has %q", name, dep, d.Condition)
		case target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0:
			c.bad("%s: depends on %s, which has no healthcheck", name, dep)
		}
	}
	// Every URL must reach a compose service on the port it listens on, and
	// the service must wait for what it reaches.
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if v := s.Environment[k]; v != nil {
			c.url(name, k, *v)
		}
	}
}

// url checks one environment value that is a URL.
func (c *checker) url(name, key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !knownScheme(u.Scheme) {
		return
	}
	host := u.Hostname()
	if host == "localhost" || net.ParseIP(host) != nil {
		c.bad("%s: %s=%s points at %s: inside a container that is the container itself, use a compose service name", name, key, raw, host)
		return
	}
	if _, ok := c.p.Services[host]; !ok {
		c.bad("%s: %s=%s points at %s, which is not a compose service", name, key, raw, host)
		return
	}
	if port, schemes := c.listenPort(host); port != "" {
		if u.Port() != port {
			c.bad("%s: %s=%s: %s listens on port %s", name, key, raw, host, port)
		}
		if !slices.Contains(schemes, u.Scheme) {
			c.bad("%s: %s=%s: %s speaks %s", name, key, raw, host, strings.Join(schemes, "/"))
		}
	}
	if !c.reaches(name, host) {
		c.bad("%s: uses %s through %s but does not depend on it", name, host, key)
	}
}

func knownScheme(s string) bool {
	if s == "http" || s == "https" {
		return true
	}
	for _, i := range infra {
		if slices.Contains(i.schemes, s) {
			return true
		}
	}
	return false
}

// listenPort returns the port a compose service listens on and its URL schemes.
func (c *checker) listenPort(name string) (string, []string) {
	if i, ok := infra[name]; ok {
		return i.port, i.schemes
	}
	if _, ok := apps[name]; ok {
		_, port, _ := net.SplitHostPort(c.addr(name))
		return port, []string{"http"}
	}
	return "", nil
}

// addr is an app's listen address: compose's IHR_<NAME>_ADDR or the binary's default.
func (c *checker) addr(name string) string {
	key := "IHR_" + strings.ToUpper(name) + "_ADDR"
	if s, ok := c.p.Services[name]; ok && s.Environment[key] != nil {
		return *s.Environment[key]
	}
	return c.f.vars[name][key]
}

// dependedOn reports whether a service depends on name.
func (c *checker) dependedOn(name string) bool {
	for _, s := range c.p.Services {
		if _, ok := s.DependsOn[name]; ok {
			return true
		}
	}
	return false
}

// reaches reports whether from depends, directly or not, on to.
func (c *checker) reaches(from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		for dep := range c.p.Services[n].DependsOn {
			if dep == to || walk(dep) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

func (c *checker) nats() {
	n, ok := c.p.Services["nats"]
	if !ok {
		c.bad("nats: missing")
		return
	}
	if !slices.Contains(n.Command, "-js") && !slices.Contains(n.Command, "--jetstream") {
		c.bad("nats: JetStream not enabled (-js in command)")
	}
	for i, a := range n.Command {
		if (a == "-sd" || a == "--store_dir") && i+1 < len(n.Command) {
			if !slices.ContainsFunc(n.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == n.Command[i+1] }) {
				c.bad("nats: JetStream store %s is not on a volume", n.Command[i+1])
			}
		}
	}
}

// migrate: a one-shot job that runs the bash database scripts with psql at hand.
func (c *checker) migrate() {
	m, ok := c.p.Services["migrate"]
	if !ok || m.Build == nil {
		c.bad("migrate: missing or not built from the repository")
		return
	}
	d := c.dockerfile(m)
	if d == nil {
		return
	}
	entrypoint, command := d.entrypoint, d.cmd
	if m.Entrypoint != nil {
		entrypoint, command = m.Entrypoint, nil
	}
	if m.Command != nil {
		command = m.Command
	}
	run := strings.Join(append(slices.Clone(entrypoint), command...), " ")
	i, j := strings.Index(run, "scripts/db/init.sh"), strings.Index(run, "scripts/db/migrate.sh up")
	if i < 0 || j < 0 || j < i {
		c.bad("migrate: runs %q, not scripts/db/init.sh then scripts/db/migrate.sh up", run)
	}
	for _, script := range []string{"scripts/db/init.sh", "scripts/db/migrate.sh"} {
		if _, err := os.Stat(filepath.Join(c.root, script)); err != nil {
			c.bad("migrate: %s is missing from the repository", script)
		}
		if !covered(d.copies, script) {
			c.bad("migrate: %s does not COPY %s", d.path, script)
		}
	}
	base := d.final.base
	installs := func(words ...string) bool {
		return slices.ContainsFunc(d.runs, func(r string) bool {
			return !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(r, w) })
		})
	}
	switch {
	case base == "scratch" || strings.Contains(base, "distroless"):
		c.bad("migrate: base %s has no bash or psql", base)
	case strings.Contains(base, "alpine") && !installs("apk add", "bash"):
		c.bad("migrate: base %s has no bash: apk add bash", base)
	}
	if !strings.HasPrefix(base, "postgres:") && !installs("postgresql-client") {
		c.bad("migrate: base %s has no psql (use postgres:* or install postgresql-client)", base)
	}
	if m.Environment["IHR_DATABASE_URL"] == nil {
		c.bad("migrate: IHR_DATABASE_URL not set (its default is the container itself)")
	}
}

// demo: the optional demo profile loads demo data once the schema exists.
func (c *checker) demo() {
	d, ok := c.p.Services["demo-data"]
	if !ok {
		return
	}
	if !slices.Contains(d.Profiles, "demo") {
		c.bad("demo-data: not in the demo profile (it would run on every up)")
	}
	if d.Build == nil || d.Build.Dockerfile != "deployments/Dockerfile" || d.Build.Args["SERVICE"] == nil || *d.Build.Args["SERVICE"] != "ihrctl" {
		c.bad("demo-data: must build deployments/Dockerfile with SERVICE=ihrctl")
	}
	if len(d.Command) == 0 || d.Command[0] != "demo-data" || !slices.Contains(d.Command, "--if-empty") {
		c.bad("demo-data: command %q must be demo-data ... --if-empty", []string(d.Command))
	}
	for _, a := range d.Command {
		flag, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && !slices.Contains(c.f.demoFlags, flag) {
			c.bad("demo-data: ihrctl demo-data has no flag %s", a)
		}
	}
	if !c.reaches("demo-data", "migrate") {
		c.bad("demo-data: must depend on migrate (service_completed_successfully)")
	}
	if d.Environment["IHR_DATABASE_URL"] == nil && !slices.Contains(d.Command, "--database-url") {
		c.bad("demo-data: IHR_DATABASE_URL not set (its default is the container itself)")
	}
}

// app checks one of the five services against its binary.
func (c *checker) app(name string) {
	s, ok := c.p.Services[name]
	if !ok {
		c.bad("%s: missing", name)
		return
	}
	vars := c.f.vars[name]
	if s.Build == nil || s.Build.Dockerfile != "deployments/Dockerfile" || s.Build.Args["SERVICE"] == nil || *s.Build.Args["SERVICE"] != name {
		c.bad("%s: must build deployments/Dockerfile with SERVICE=%s", name, name)
	}
	d := c.dockerfile(s)
	if d != nil {
		var built []string
		for _, o := range c.p.Services {
			if o.Build != nil && o.Build.Dockerfile == d.path && o.Build.Args["SERVICE"] != nil {
				built = append(built, "services/"+*o.Build.Args["SERVICE"])
			}
		}
		sort.Strings(built)
		c.problems = append(c.problems, checkGoImage(c.root, d, slices.Compact(built))...)
	}

	// The container health check runs the image's own binary with --healthcheck.
	hc := s.HealthCheck
	switch {
	case hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || !slices.Contains(hc.Test, "--healthcheck"):
		c.bad("%s: healthcheck must be [CMD, <binary>, --healthcheck] (the image has no shell)", name)
	case d != nil && len(d.entrypoint) > 0 && hc.Test[1] != d.entrypoint[0]:
		c.bad("%s: healthcheck runs %s, the image's binary is %s", name, hc.Test[1], d.entrypoint[0])
	}

	if s.Environment["IHR_ENV"] == nil || *s.Environment["IHR_ENV"] != "prod" {
		c.bad("%s: IHR_ENV must be prod in compose (no embedded NATS)", name)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if _, known := vars[k]; !known {
			c.bad("%s: sets %s, which the service does not read", name, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		def := vars[k]
		if s.Environment[k] == nil && (strings.Contains(def, "127.0.0.1") || strings.Contains(def, "localhost")) {
			c.bad("%s: %s is not set and defaults to %s, the container itself", name, k, def)
		}
	}

	addr := c.addr(name)
	_, port, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		c.bad("%s: listen address %q is not host:port", name, addr)
	case port != apps[name]:
		c.bad("%s: listens on %q, want port %s", name, addr, apps[name])
	case !exposes(s, port):
		c.bad("%s: port %s neither exposed nor published", name, port)
	case d != nil && !slices.Contains(d.exposes, port):
		c.bad("%s: %s does not EXPOSE %s", name, d.path, port)
	}

	// Docker kills after stop_grace_period (default 10s): the service must be
	// given longer than it takes to drain.
	shutdown := vars["IHR_SHUTDOWN_TIMEOUT"]
	if v := s.Environment["IHR_SHUTDOWN_TIMEOUT"]; v != nil {
		shutdown = *v
	}
	grace := 10 * time.Second
	if s.StopGracePeriod != nil {
		grace = time.Duration(*s.StopGracePeriod)
	}
	if t, err := time.ParseDuration(shutdown); err == nil && grace <= t {
		c.bad("%s: stop_grace_period %s is not longer than IHR_SHUTDOWN_TIMEOUT %s", name, grace, t)
	}
}

func exposes(s types.ServiceConfig, port string) bool {
	if slices.Contains(s.Expose, port) {
		return true
	}
	return slices.ContainsFunc(s.Ports, func(p types.ServicePortConfig) bool { return fmt.Sprint(p.Target) == port })
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
	if problems := check(p, root, binaryFacts(t)); len(problems) > 0 {
		t.Errorf("docker-compose.yml and its images:\n  %s", strings.Join(problems, "\n  "))
	}
}

// TestCheckFindsProblems feeds a broken compose file, Dockerfile and
// .dockerignore to the checks, which must say what is wrong.
func TestCheckFindsProblems(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.work", "go 1.26.8\n\nuse (\n\t./pkg\n\t./services/query\n)\n")
	write("pkg/go.mod", "module example.com/pkg\n")
	write("services/query/go.mod", "module example.com/query\n")
	write("services/query/cmd/query/main.go", "package main\n")
	write(".dockerignore", "go.work\n")
	write("deployments/Dockerfile", `FROM golang:1.25-bookworm AS build
COPY . .
RUN go build -o /q ./services/query/cmd/query
FROM debian:bookworm
COPY --from=build /q /q
ENTRYPOINT ["/q"]
`)
	write("docker-compose.yml", `
services:
  nats:
    image: nats:2.10-alpine
    healthcheck: {test: [CMD, wget, -qO-, "http://127.0.0.1:8222/healthz"]}
  query:
    build: {context: ., dockerfile: deployments/Dockerfile, args: {SERVICE: query}}
    environment:
      IHR_ENV: prod
      IHR_NOT_A_SETTING: "1"
      IHR_QUERY_ADDR: ":9999"
      IHR_NATS_URL: nats://127.0.0.1:4222
    depends_on: {nats: {condition: service_started}, collector: {condition: service_healthy}}
  collector:
    image: otel/opentelemetry-collector-contrib:0.144.0
    healthcheck: {disable: true}
`)
	p, err := load(context.Background(), dir, filepath.Join(dir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	f := facts{vars: map[string]map[string]string{"query": {
		"IHR_ENV": "dev", "IHR_QUERY_ADDR": ":8081", "IHR_NATS_URL": "nats://127.0.0.1:4222",
		"IHR_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/ihr", "IHR_SHUTDOWN_TIMEOUT": "20s",
	}}}
	problems := check(p, dir, f)
	for _, p := range problems {
		if strings.Contains(p, "\n") {
			t.Errorf("problem on more than one line: %q", p)
		}
	}
	got := strings.Join(problems, "\n")
	var missed []string
	for _, want := range []string{
		"nats: JetStream not enabled",
		"query: sets IHR_NOT_A_SETTING",
		"query: must wait for nats with service_healthy",
		"query: depends on collector, which has no healthcheck",
		"collector: long-running service without a healthcheck", // disabled, but waited for
		`query: listens on ":9999"`,
		"query: healthcheck must be",
		"query: long-running service without a healthcheck",
		"query: IHR_NATS_URL=nats://127.0.0.1:4222 points at 127.0.0.1",
		"query: IHR_DATABASE_URL is not set and defaults to",
		"query: stop_grace_period 10s is not longer than IHR_SHUTDOWN_TIMEOUT 20s",
		"gateway: missing",
		"migrate: missing",
		"deployments/Dockerfile: no ARG SERVICE",
		"deployments/Dockerfile: final stage runs as root",
		"deployments/Dockerfile: copies ., but .dockerignore excludes go.work",
		"deployments/Dockerfile: does not COPY services/query/go.mod before the sources",
		"deployments/Dockerfile: build stage golang:1.25-bookworm, want golang:1.26",
		"deployments/Dockerfile: final stage debian:bookworm is not distroless static or scratch",
		"deployments/Dockerfile: go build without CGO_ENABLED=0",
	} {
		if !strings.Contains(got, want) {
			missed = append(missed, want)
		}
	}
	if len(missed) > 0 {
		t.Errorf("check did not report:\n  %s\nit reported:\n  %s", strings.Join(missed, "\n  "), strings.Join(problems, "\n  "))
	}
}
