package testkit

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartBinary builds a service's real binary, runs it on a free loopback
// port with env added to the environment, waits until /readyz answers 200,
// and stops it with SIGINT at the end of the test, failing the test unless
// it exits cleanly. It returns the service's base URL.
func StartBinary(t testing.TB, name string, env map[string]string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ihr-go/ihr/services/"+name+"/cmd/"+name).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	addr := FreeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "IHR_"+strings.ToUpper(name)+"_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s did not stop cleanly: %v\n%s", name, err, logs)
		}
	})
	url := "http://" + addr
	WaitStatus(t, url+"/readyz", http.StatusOK)
	return url
}
