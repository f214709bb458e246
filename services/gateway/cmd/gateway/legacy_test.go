package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ihr-go/ihr/pkg/service"
)

// TestBadLegacySettingsNameTheVariable: a start with a bad legacy URL, a
// routing file but no legacy API, or a routing file that does not parse,
// fails naming what is wrong.
func TestBadLegacySettingsNameTheVariable(t *testing.T) {
	run := func(vars map[string]string) error {
		return service.Run(t.Context(), spec(), nil, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, io.Discard)
	}
	bad := map[string]string{"IHR_LEGACY_URL": "ftp://legacy.example", "IHR_ROUTING_FILE": "/etc/routing.json",
		"IHR_SHADOW_FRACTION": "2", "IHR_SHADOW_CONCURRENCY": "0", "IHR_SHADOW_MAX_BODY": "big"}
	err := run(bad)
	if err == nil {
		t.Fatal("started with bad legacy settings")
	}
	for k := range bad {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("the error does not name %s: %v", k, err)
		}
	}
	if err := run(map[string]string{"IHR_ROUTING_FILE": "/etc/routing.json"}); err == nil || !strings.Contains(err.Error(), "needs IHR_LEGACY_URL") {
		t.Errorf("a routing file without a legacy API: %v", err)
	}
	if err := run(map[string]string{"IHR_LEGACY_URL": "https://user:pw@legacy.example/?x=1"}); err == nil || strings.Contains(err.Error(), "pw@") {
		t.Errorf("credentials in the legacy URL: %v", err)
	}

	path := filepath.Join(t.TempDir(), "routing.json")
	if err := os.WriteFile(path, []byte(`{"endpoints":{"hegemony":"mirror"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	err = run(map[string]string{"IHR_LEGACY_URL": "http://127.0.0.1:1", "IHR_ROUTING_FILE": path, "IHR_QUERY_URL": "http://127.0.0.1:1",
		"IHR_NATS_URL": "nats://127.0.0.1:1", "IHR_ENV": "prod", "IHR_EDGE_CACHE": "false", "IHR_RATE_LIMIT": "false"})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"mirror" is not one of`) {
		t.Errorf("an invalid routing file: %v", err)
	}
}
