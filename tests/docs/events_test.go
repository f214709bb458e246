// Package docs checks that the documented contracts agree with the code.
package docs

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/events.md and docs/asyncapi.yaml")

// decode checks an example with the decoder its kind uses in production;
// the dataset comes from the message itself.
func decode(kind string, msg []byte) (dataset string, err error) {
	var head struct {
		Dataset string `json:"dataset"`
	}
	if err := json.Unmarshal(msg, &head); err != nil {
		return "", err
	}
	d, ok := events.Lookup(head.Dataset)
	switch kind {
	case "result":
		_, err = events.DecodeResult(msg)
		return head.Dataset, err
	case "disco":
		_, err = events.DecodeDisco(msg)
		return events.Disco, err
	case "names":
		_, err = events.DecodeNames(msg)
		return events.Names, err
	}
	switch {
	case !ok:
		err = fmt.Errorf("unknown dataset %q", head.Dataset)
	case kind == "rows":
		_, err = d.DecodeRows(msg)
	case kind == "bin":
		_, err = d.DecodeBinComplete(msg)
	default:
		err = fmt.Errorf("example of unknown kind %q", kind)
	}
	return head.Dataset, err
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGenerated compares a generated document with the file, or rewrites
// the file under -update.
func checkGenerated(t *testing.T, name string, file, want []byte) {
	t.Helper()
	if bytes.Equal(file, want) {
		return
	}
	if *update {
		if err := os.WriteFile(filepath.Join(testkit.RepoRoot(t), name), want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with pkg/events: run make docs", name)
}

const begin, end = "<!-- BEGIN datasets: generated from pkg/events by `make docs`; do not edit -->\n", "<!-- END datasets -->"

func TestEventsMarkdown(t *testing.T) {
	md := read(t, "docs/events.md")
	i, j := bytes.Index(md, []byte(begin)), bytes.Index(md, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("docs/events.md lacks the generated datasets section markers")
	}
	gen := append(append(append([]byte{}, md[:i+len(begin)]...), events.Reference()...), md[j:]...)
	checkGenerated(t, "docs/events.md", md, gen)

	blocks := regexp.MustCompile("(?s)```json (\\w+)(?: \\w+)?\n(.*?)```").FindAllSubmatch(gen, -1)
	found := map[string]bool{}
	for _, b := range blocks {
		kind := string(b[1])
		dataset, err := decode(kind, b[2])
		if err != nil {
			t.Errorf("docs/events.md %s example: %v", kind, err)
		}
		found[kind+" "+dataset] = true
	}
	for _, want := range []string{"bin hegemony", "result hegemony", "disco disco", "names names"} {
		if !found[want] {
			t.Errorf("docs/events.md has no %s example", want)
		}
	}
	for _, d := range events.Datasets() {
		if !found["rows "+d.Name] {
			t.Errorf("docs/events.md has no rows example for %s", d.Name)
		}
	}
}

func TestAsyncAPI(t *testing.T) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(events.AsyncAPI()); err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, "docs/asyncapi.yaml", read(t, "docs/asyncapi.yaml"), buf.Bytes())

	var doc struct {
		AsyncAPI string `yaml:"asyncapi"`
		Channels map[string]struct {
			Address string `yaml:"address"`
		} `yaml:"channels"`
		Components struct {
			Messages map[string]struct {
				Examples []struct {
					Name    string         `yaml:"name"`
					Payload map[string]any `yaml:"payload"`
				} `yaml:"examples"`
			} `yaml:"messages"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("docs/asyncapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.AsyncAPI, "3.") {
		t.Errorf("asyncapi version %q, want 3.x", doc.AsyncAPI)
	}
	addresses := map[string]bool{}
	for _, c := range doc.Channels {
		addresses[c.Address] = true
	}
	rows := map[string]bool{}
	for name, m := range doc.Components.Messages {
		if len(m.Examples) == 0 {
			t.Errorf("message %s has no example", name)
		}
		for _, ex := range m.Examples {
			b, _ := json.Marshal(ex.Payload)
			dataset, err := decode(ex.Name, b)
			if err != nil {
				t.Errorf("message %s example: %v", name, err)
			}
			if ex.Name == "rows" {
				rows[dataset] = true
			}
		}
	}
	for _, d := range events.Datasets() {
		for _, s := range []string{events.RowsSubject(d.Name), events.BinSubject(d.Name), events.ResultsSubject(d.Name)} {
			if !addresses[s] {
				t.Errorf("docs/asyncapi.yaml has no channel %s", s)
			}
		}
		if !rows[d.Name] {
			t.Errorf("docs/asyncapi.yaml has no rows example for %s", d.Name)
		}
	}
}
