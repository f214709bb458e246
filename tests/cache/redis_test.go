package cache

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
)

// redisServer is a Redis of the test's own, which it can stop and start
// again on the same port without touching the machine's.
type redisServer struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, addr string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is missing; install it with: apt-get install -y redis-server")
	}
	_, port, _ := net.SplitHostPort(addr)
	r := &redisServer{t: t, addr: addr, cmd: exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	testkit.Eventually(t, "the test's Redis answers", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return r
}

// keys counts the keys matching pattern.
func (r *redisServer) keys(pattern string) int {
	host, port, _ := net.SplitHostPort(r.addr)
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "--scan", "--pattern", pattern).Output()
	if err != nil {
		r.t.Fatalf("redis-cli: %v", err)
	}
	return len(strings.Fields(string(out)))
}

func (r *redisServer) stop() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// TestRedisStopsAndComesBack: two query replicas share answers through
// Redis; while it is down both keep answering from memory and the
// database, say so in /readyz and count the failures; when it is back they
// share again, with nothing done by hand.
func TestRedisStopsAndComesBack(t *testing.T) {
	db := testkit.NewDB(t)
	testkit.Exec(t, db, `INSERT INTO ihr_asn VALUES (2497, 'IIJ', true, false, true), (3356, 'LEVEL3', true, false, true), (174, 'COGENT', true, false, true)`)
	addr := testkit.FreeAddr(t)
	redis := startRedis(t, addr)
	env := testkit.With(testkit.ServiceEnv(t, db), map[string]string{"IHR_REDIS_URL": "redis://" + addr + "/0"})
	one, two := testkit.StartBinary(t, "query", env), testkit.StartBinary(t, "query", env)
	for _, q := range []string{one, two} {
		testkit.Eventually(t, "the replica follows the results stream", func() bool {
			_, body := testkit.Get(t, q+"/debug/cache")
			return strings.Contains(body, `"ready":true`)
		})
	}
	path := func(n string) string { return "/ihr/api/networks/?number=" + n }
	want := func(base, n, from string) {
		t.Helper()
		a := get(t, base+path(n))
		if a.status != 200 || a.from != from || !strings.Contains(a.body, `"number":`+n) {
			t.Errorf("%s%s: %d from %q, want 200 from %s: %s", base, path(n), a.status, a.from, from, clip(a.body))
		}
	}
	want(one, "2497", "miss")
	testkit.Eventually(t, "the answer is written to Redis", func() bool { return redis.keys(env["IHR_CACHE_PREFIX"]+"a:*") > 0 })
	want(two, "2497", "l2")
	want(two, "2497", "l1")

	redis.stop()
	want(one, "2497", "l1")
	want(two, "3356", "miss")
	want(two, "3356", "l1")
	want(one, "3356", "miss") // nothing shared while Redis is down
	for _, q := range []string{one, two} {
		body := testkit.WaitStatus(t, q+"/readyz", 200)
		testkit.Eventually(t, "readiness reports Redis down", func() bool {
			_, body = testkit.Get(t, q+"/readyz")
			return strings.Contains(body, `"status":"degraded"`) && strings.Contains(body, `"redis":{"status":"down"`)
		})
	}
	_, metrics := testkit.Get(t, two+"/metrics")
	if !strings.Contains(metrics, "ihr_cache_errors_total") {
		t.Error("no Redis failures counted")
	}

	startRedis(t, addr) // empty, on the same address
	for _, q := range []string{one, two} {
		testkit.Eventually(t, "readiness recovers", func() bool {
			_, body := testkit.Get(t, q+"/readyz")
			return strings.Contains(body, `"status":"ready"`)
		})
	}
	pattern := env["IHR_CACHE_PREFIX"] + "a:*"
	n := 0
	page := func() string {
		n++ // a new query each time: one read once is kept in memory, never written to Redis again
		return "/ihr/api/networks/?number__gte=1&number__lte=" + strconv.Itoa(n)
	}
	testkit.Eventually(t, "answers are written to Redis again", func() bool {
		get(t, one+page())
		return redis.keys(pattern) > 0
	})
	before, p := redis.keys(pattern), page()
	first := get(t, one+p)
	testkit.Eventually(t, "the answer is written", func() bool { return redis.keys(pattern) > before })
	if a := get(t, two+p); a.from != "l2" || a.body != first.body {
		t.Errorf("after Redis came back, the other replica's answer comes from %s", a.from)
	}
}
