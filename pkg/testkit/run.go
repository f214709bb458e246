package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RunFunc runs a service until ctx is done, reading variables with lookup
// and writing logs to logs (service.Run with the service's spec).
type RunFunc func(ctx context.Context, lookup func(string) (string, bool), logs io.Writer) error

// Service is a service started in-process by a test.
type Service struct {
	URL  string
	logs *Buffer
}

// Logs returns what the service logged so far.
func (s *Service) Logs() string { return s.logs.String() }

// Buffer collects what concurrent writers write (a service's logs), to be
// read while they go on.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartService runs a service on a free loopback port with env, waits until
// it serves /healthz and stops it in t.Cleanup, failing the test unless it
// shuts down cleanly.
func StartService(t testing.TB, name string, run RunFunc, env map[string]string) *Service {
	t.Helper()
	addr := FreeAddr(t)
	vars := map[string]string{"IHR_" + strings.ToUpper(name) + "_ADDR": addr, "IHR_SHUTDOWN_TIMEOUT": "5s"}
	for k, v := range env {
		vars[k] = v
	}
	svc := &Service{URL: "http://" + addr, logs: &Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }, svc.logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s did not stop cleanly: %v\nlogs:\n%s", name, err, svc.Logs())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop within 15s", name)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("%s exited at start: %v\nlogs:\n%s", name, err, svc.Logs())
		default:
		}
		if code, _ := Get(t, svc.URL+"/healthz"); code == http.StatusOK {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer /healthz\nlogs:\n%s", name, svc.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Get fetches url and returns its status and body (status 0 when unreachable).
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Eventually polls cond until it holds, failing after 20 s with what.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitStatus polls url until it answers status, failing after 20s.
func WaitStatus(t testing.TB, url string, status int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := Get(t, url)
		if code == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answers %d %s, want %d", url, code, body, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NATSPrefix returns a fresh IHR_NATS_PREFIX and deletes the streams created
// under it when the test ends.
func NATSPrefix(t testing.TB) string {
	t.Helper()
	url := NATSURL(t)
	prefix := Prefix(t)
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Errorf("cleanup streams of %s: %v", prefix, err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		names := js.StreamNames(ctx)
		var mine []string
		for n := range names.Name() {
			if strings.HasPrefix(n, prefix+"_") {
				mine = append(mine, n)
			}
		}
		for _, n := range mine {
			_ = js.DeleteStream(ctx, n)
		}
	})
	return prefix
}
