package testkit

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// built holds each binary a test process built, by name: linking one
// takes seconds, and a test package may start a service a dozen times.
var built sync.Map // name → *binary

type binary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds a service's real binary once per test process and returns
// its path: <temp dir>/ihr-test-binaries/<name>-<pid>. Each process has its
// own, so that no build swaps the file under another package's test; those
// of processes gone are removed before a build.
func Binary(t testing.TB, name string) string {
	t.Helper()
	v, _ := built.LoadOrStore(name, &binary{})
	b := v.(*binary)
	b.once.Do(func() {
		dir := filepath.Join(os.TempDir(), "ihr-test-binaries")
		if b.err = os.MkdirAll(dir, 0o755); b.err != nil {
			return
		}
		removeOrphans(dir)
		tmp := filepath.Join(dir, fmt.Sprintf(".%s-%d", name, os.Getpid()))
		out, err := exec.Command("go", "build", "-o", tmp, "github.com/ihr-go/ihr/services/"+name+"/cmd/"+name).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("build %s: %w\n%s", name, err, out)
			return
		}
		b.path = filepath.Join(dir, fmt.Sprintf("%s-%d", name, os.Getpid()))
		b.err = os.Rename(tmp, b.path)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// StartBinary runs a service's real binary (see Binary) on a free loopback
// port with env added to the environment, waits until /readyz answers 200,
// and stops it with SIGINT at the end of the test, failing the test unless
// it exits cleanly. It returns the service's base URL.
func StartBinary(t testing.TB, name string, env map[string]string) string {
	t.Helper()
	url, _ := StartBinaryLogs(t, name, env)
	return url
}

// StartBinaryLogs is StartBinary, also returning what the process writes.
func StartBinaryLogs(t testing.TB, name string, env map[string]string) (string, *Buffer) {
	t.Helper()
	bin := Binary(t, name)
	addr := FreeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "IHR_"+strings.ToUpper(name)+"_ADDR="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &Buffer{}
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
	return url, logs
}

// removeOrphans removes the binaries of test processes that have exited.
func removeOrphans(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		i := strings.LastIndexByte(e.Name(), '-')
		pid, err := strconv.Atoi(e.Name()[i+1:])
		if i < 0 || err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
