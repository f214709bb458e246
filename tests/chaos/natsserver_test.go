package chaos

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// natsServer is a private nats-server process that a test stops, kills and
// starts again on the same port and store: the machine's server is shared
// by every test package and must never go down.
type natsServer struct {
	t    *testing.T
	name string
	url  string
	args []string
	log  string
	cmd  *exec.Cmd
}

// natsServerBinary finds the machine's nats-server (2.9, the production
// version), or fails the test saying how to install it.
func natsServerBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("IHR_TEST_NATS_SERVER"), "/usr/sbin/nats-server"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	t.Fatal("nats-server is not installed (looked at $IHR_TEST_NATS_SERVER, /usr/sbin/nats-server and $PATH); install it with:\n  apt-get install nats-server")
	return ""
}

// newNATSServer prepares a JetStream server on a free loopback port with
// its store in a temporary directory; extra are more command-line options.
// It is stopped when the test ends. Call start to run it.
func newNATSServer(t *testing.T, name string, extra ...string) *natsServer {
	t.Helper()
	bin := natsServerBinary(t)
	addr := testkit.FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	s := &natsServer{t: t, name: name, url: "nats://" + addr, log: filepath.Join(dir, "server.log"),
		args: append([]string{bin, "-a", host, "-p", port, "--server_name", name, "-js", "-sd", filepath.Join(dir, "store")}, extra...)}
	t.Cleanup(func() {
		s.stop()
		showTail(t, "nats-server "+name, s.log)
	})
	return s
}

// start runs the server and waits until it accepts connections.
func (s *natsServer) start() {
	s.t.Helper()
	logs, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logs.Close() // the child keeps its own descriptor
	s.cmd = &exec.Cmd{Path: s.args[0], Args: s.args, Stdout: logs, Stderr: logs, SysProcAttr: orphanless()}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server %s: %v", s.name, err)
	}
	addr := strings.TrimPrefix(s.url, "nats://")
	waitFor(s.t, 20*time.Second, "nats-server "+s.name+" listening", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// stop shuts the server down gracefully, as an operator's restart does
// (SIGINT: nats-server exits 1 on SIGTERM).
func (s *natsServer) stop() { s.signal(syscall.SIGINT) }

// kill ends the server with SIGKILL, as a crashed machine would.
func (s *natsServer) kill() { s.signal(syscall.SIGKILL) }

func (s *natsServer) signal(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	if err := waitExit(s.cmd, 30*time.Second); err != nil && sig != syscall.SIGKILL {
		s.t.Errorf("nats-server %s did not stop: %v", s.name, err)
	}
	s.cmd = nil
}

// startCluster runs n JetStream servers routed to each other on loopback,
// one cluster named ihr-chaos.
func startCluster(t *testing.T, n int) []*natsServer {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats://" + testkit.FreeAddr(t)
	}
	nodes := make([]*natsServer, n)
	for i := range nodes {
		nodes[i] = newNATSServer(t, fmt.Sprintf("n%d", i+1),
			"--cluster_name", "ihr-chaos", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
		nodes[i].start()
	}
	return nodes
}
