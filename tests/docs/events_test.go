// Package docs checks that the documented contracts agree with the code.
package docs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
	"go.yaml.in/yaml/v3"
)

// decoders check an example with the decoder its kind uses in production.
var decoders = map[string]func([]byte) error{
	"rows":   func(b []byte) error { _, err := events.Hegemony.DecodeRows(b); return err },
	"bin":    func(b []byte) error { _, err := events.Hegemony.DecodeBinComplete(b); return err },
	"result": func(b []byte) error { _, err := events.DecodeResult(b); return err },
}

func TestEventsMarkdownExamplesDecode(t *testing.T) {
	md, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs/events.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json (\\w+)\n(.*?)```").FindAllSubmatch(md, -1)
	found := map[string]bool{}
	for _, b := range blocks {
		kind := string(b[1])
		dec, ok := decoders[kind]
		if !ok {
			t.Errorf("docs/events.md: example of unknown kind %q", kind)
			continue
		}
		found[kind] = true
		if err := dec(b[2]); err != nil {
			t.Errorf("docs/events.md %s example: %v", kind, err)
		}
	}
	for kind := range decoders {
		if !found[kind] {
			t.Errorf("docs/events.md has no %s example", kind)
		}
	}
}

func TestAsyncAPIExamplesDecode(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), "docs/asyncapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI   string `yaml:"asyncapi"`
		Components struct {
			Messages map[string]struct {
				Examples []struct {
					Name    string         `yaml:"name"`
					Payload map[string]any `yaml:"payload"`
				} `yaml:"examples"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/asyncapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.AsyncAPI, "3.") {
		t.Errorf("asyncapi version %q, want 3.x", doc.AsyncAPI)
	}
	n := 0
	for name, m := range doc.Components.Messages {
		for _, ex := range m.Examples {
			dec, ok := decoders[ex.Name]
			if !ok {
				t.Errorf("message %s: example %q of unknown kind", name, ex.Name)
				continue
			}
			b, _ := json.Marshal(ex.Payload)
			if err := dec(b); err != nil {
				t.Errorf("message %s example: %v", name, err)
			}
			n++
		}
	}
	if n < len(decoders) {
		t.Errorf("%d examples, want one per message kind", n)
	}
}
