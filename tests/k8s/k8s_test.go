package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManifests renders the base and each overlay and runs every check on
// each, one subtest per check. With -render DIR it also writes the rendered
// YAML to DIR/<overlay>.yaml (make k8s-check: .run/k8s/).
func TestManifests(t *testing.T) {
	f := newFixture(t)
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			r, problems := f.decode(o)
			t.Run("decode", func(t *testing.T) {
				for _, p := range problems {
					t.Error(p)
				}
				if len(r.objects) == 0 {
					t.Errorf("%s renders nothing", o.dir)
				}
			})
			for _, c := range checks {
				if c.only != nil && !c.only(o) {
					t.Logf("%s: not for %s: %s", c.name, o.name, c.skip)
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					for _, p := range c.run(r) {
						t.Error(p)
					}
				})
			}
		})
	}
}

// TestOperatorSecretsDocumented: the Secrets production expects operators to
// create are in docs/operations.md's Kubernetes section, with every key.
func TestOperatorSecretsDocumented(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Kubernetes\n")
	if !ok {
		t.Fatal(`docs/operations.md has no "## Kubernetes" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	for name, keys := range operatorSecrets {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("docs/operations.md, Kubernetes: the operators' Secret `%s` is not named", name)
		}
		for _, k := range append(keys.required, keys.optional...) {
			if !strings.Contains(section, "`"+k+"`") {
				t.Errorf("docs/operations.md, Kubernetes: key `%s` of Secret %s is not named", k, name)
			}
		}
	}
}
