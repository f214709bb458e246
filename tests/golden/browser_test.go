package golden

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// TestDocsPageInBrowser opens /ihr/api/docs in headless Chromium through
// the gateway, expands the hegemony endpoint, runs "Try it out" and
// expects a 200 with results (browser/docs.mjs, driven by playwright-core).
func TestDocsPageInBrowser(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Chromium is missing; install it with: apt-get install -y chromium")
	}
	if _, err := os.Stat(filepath.Join("browser", "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is missing; install it with: npm ci --prefix tests/golden/browser")
	}
	gateway := stack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shot := filepath.Join(t.TempDir(), "docs.png")
	out, err := exec.CommandContext(ctx, "node", "browser/docs.mjs", gateway, shot).CombinedOutput()
	if err != nil {
		t.Fatalf("docs page in Chromium: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "answered 200") {
		t.Fatalf("output: %s", out)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Errorf("no screenshot taken: %v", err)
	}
	if code, _ := testkit.Get(t, gateway+"/"); code != 200 {
		t.Errorf("the site root does not lead to the docs page (%d after redirects)", code)
	}
}
