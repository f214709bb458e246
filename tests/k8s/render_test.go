package k8s

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

var renderDir = flag.String("render", "", "also write each rendered kustomization to `DIR`/<name>.yaml")

// services are the five HTTP services; each has a Deployment, a Service and an image.
var services = []string{"gateway", "query", "ingestion", "auth", "cachewarmer"}

// ourImage prefixes every image we build: <prefix><service>, and <prefix>migrate
// (deployments/migrate.Dockerfile).
const ourImage = "ghcr.io/internethealthreport/ihr-go-"

// nameLabel names the component of every pod; selectors and policies use it.
const nameLabel = "app.kubernetes.io/name"

// secretKeys are the keys of an operator-created Secret.
type secretKeys struct {
	required, optional []string
}

// operatorSecrets are the Secrets the operators create in production (never committed);
// docs/operations.md ("Kubernetes") and k8s/overlays/prod/kustomization.yaml list the same.
var operatorSecrets = map[string]secretKeys{
	"ihr-secrets": {
		required: []string{"database-url", "redis-url", "auth-key-secret"},
		optional: []string{"smtp-url", "admin-database-url"},
	},
	"ihr-tls": {required: []string{"tls.crt", "tls.key"}},
}

// overlay is one kustomization under k8s/.
type overlay struct {
	name string
	dir  string // from the repository root
	// complete: deployable as it is: it runs NATS and reaches PostgreSQL and Redis.
	complete bool
	// operatorSecrets may be referenced without being in the output; nil: every
	// Secret must be in the output.
	operatorSecrets map[string]secretKeys
	// autoscaled Deployments must have a HorizontalPodAutoscaler.
	autoscaled []string
	prod       bool
}

var overlays = []overlay{
	{name: "base", dir: "k8s/base", operatorSecrets: operatorSecrets, autoscaled: []string{"gateway", "query"}},
	{name: "dev", dir: "k8s/overlays/dev", complete: true},
	{name: "prod", dir: "k8s/overlays/prod", complete: true, operatorSecrets: operatorSecrets,
		autoscaled: []string{"gateway", "query"}, prod: true},
}

// kinds maps apiVersion/kind to the Go type an object decodes into. Any other
// kind fails: add it here, with its checks, when the manifests need it.
var kinds = map[string]func() metav1.Object{
	"v1/Namespace":                           func() metav1.Object { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() metav1.Object { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() metav1.Object { return &corev1.Secret{} },
	"v1/Service":                             func() metav1.Object { return &corev1.Service{} },
	"v1/PersistentVolumeClaim":               func() metav1.Object { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                     func() metav1.Object { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() metav1.Object { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() metav1.Object { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() metav1.Object { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() metav1.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() metav1.Object { return &networkingv1.NetworkPolicy{} },
	"networking.k8s.io/v1/Ingress":           func() metav1.Object { return &networkingv1.Ingress{} },
}

// object is one rendered object, decoded.
type object struct {
	kind string
	obj  metav1.Object
}

func (o object) String() string { return o.kind + "/" + o.obj.GetName() }

// rendered is what a kustomization produces, decoded, with what the checks
// compare it with.
type rendered struct {
	overlay overlay
	objects []object
	root    string             // the repository
	env     map[string]envSpec // what each service reads (`<service> --env`)
}

// TestMain builds the services once (their --env lists are what the manifests
// are checked against) and removes the binaries afterwards.
func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "ihr-k8s-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	binDir  string
	envOnce sync.Once
	envs    map[string]envSpec
	envErr  error
)

// envSpec is what a program reads from its environment: name → default.
type envSpec map[string]string

// serviceEnvs builds the five services into binDir once per run and reads
// `<service> --env` of each.
func serviceEnvs(t testing.TB, root string) map[string]envSpec {
	t.Helper()
	envOnce.Do(func() {
		// Without symbols and DWARF: only --env is run, and linking is most of the time.
		args := []string{"build", "-ldflags=-s -w", "-o", binDir + string(filepath.Separator)}
		for _, s := range services {
			args = append(args, "./services/"+s+"/cmd/"+s)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			envErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		envs = map[string]envSpec{}
		for _, s := range services {
			out, err := exec.Command(filepath.Join(binDir, s), "--env").Output()
			if err != nil {
				envErr = fmt.Errorf("%s --env: %v", s, err)
				return
			}
			spec := envSpec{}
			for line := range strings.Lines(string(out)) {
				name, def, ok := strings.Cut(strings.TrimRight(line, "\n"), "=")
				if !ok {
					envErr = fmt.Errorf("%s --env: unexpected line %q", s, line)
					return
				}
				spec[name] = def
			}
			envs[s] = spec
		}
	})
	if envErr != nil {
		t.Fatalf("reading what the services read: %v", envErr)
	}
	return envs
}

// scriptVar finds variables a bash script reads: $NAME, ${NAME}, ${NAME:-default}.
var scriptVar = regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}?`)

// scriptEnv is what the scripts read (and the scripts they source): the IHR_
// variables with their defaults. libpq's PG* variables are allowed as well.
func scriptEnv(root string, scripts []string) (envSpec, error) {
	spec := envSpec{}
	seen := map[string]bool{}
	for len(scripts) > 0 {
		s := scripts[0]
		scripts = scripts[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		b, err := os.ReadFile(filepath.Join(root, s))
		if err != nil {
			return nil, err
		}
		for _, m := range scriptVar.FindAllStringSubmatch(string(b), -1) {
			if !strings.HasPrefix(m[1], "IHR_") {
				continue
			}
			if def, ok := spec[m[1]]; !ok || def == "" {
				spec[m[1]] = m[2]
			}
		}
		if bytes.Contains(b, []byte("/lib.sh\"")) {
			scripts = append(scripts, filepath.Join(filepath.Dir(s), "lib.sh"))
		}
	}
	return spec, nil
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// build runs kustomize (krusty, as `kustomize build`) on dir.
func build(root, dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// decode splits rendered YAML into objects, each decoded strictly into its
// type. It returns what decoded and a problem for each object that did not.
func decode(o overlay, raw []byte) (*rendered, []string) {
	r := &rendered{overlay: o}
	var problems []string
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for i := 0; ; i++ {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", i, err))
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, err := decodeObject(doc)
		if err != nil {
			problems = append(problems, fmt.Sprintf("document %d: %v", i, err))
			continue
		}
		r.objects = append(r.objects, obj)
	}
	return r, problems
}

// decodeObject decodes one object into the type its apiVersion and kind name,
// refusing unknown and duplicate fields.
func decodeObject(doc []byte) (object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return object{}, err
	}
	id := head.Kind + "/" + head.Metadata.Name
	mk, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return object{}, fmt.Errorf("%s: unknown kind %s/%s (tests/k8s knows only the kinds the manifests are checked for)", id, head.APIVersion, head.Kind)
	}
	obj := mk()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return object{}, fmt.Errorf("%s (%s): %w", id, head.APIVersion, err)
	}
	return object{kind: head.Kind, obj: obj}, nil
}

// fixture is what the tests check: every overlay rendered, and what the
// services read.
type fixture struct {
	root string
	raws map[string][]byte
	env  map[string]envSpec
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	root := repoRoot(t)
	return fixture{root: root, raws: renderAll(t, root), env: serviceEnvs(t, root)}
}

// decode decodes an overlay afresh (the checks of mistakes change it).
func (f fixture) decode(o overlay) (*rendered, []string) {
	r, problems := decode(o, f.raws[o.name])
	r.root, r.env = f.root, f.env
	return r, problems
}

// renderAll renders every overlay, writing them under -render when set.
func renderAll(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, o := range overlays {
		raw, err := build(root, o.dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", o.dir, err)
		}
		out[o.name] = raw
		if *renderDir != "" {
			if err := os.MkdirAll(*renderDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(*renderDir, o.name+".yaml"), raw, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}
