package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// The commands that start each machine service, printed when one is missing.
const (
	startNATS  = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"
	startRedis = `redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log`
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// requireTCP fails t, naming the start command, when nothing listens at rawURL's address.
func requireTCP(t testing.TB, what, rawURL, start string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("bad %s URL %q: %v", what, rawURL, err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("%s is not reachable at %s (%v); start it with:\n  %s", what, u.Host, err, start)
	}
	c.Close()
}

// NATSURL returns the URL of the machine's NATS server (IHR_TEST_NATS_URL,
// default nats://127.0.0.1:4222), failing the test when it does not answer.
func NATSURL(t testing.TB) string {
	t.Helper()
	u := envOr("IHR_TEST_NATS_URL", "nats://127.0.0.1:4222")
	requireTCP(t, "NATS", u, startNATS)
	return u
}

// RedisURL returns the URL of the machine's Redis server (IHR_TEST_REDIS_URL,
// default redis://127.0.0.1:6379/0), failing the test when it does not answer.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := envOr("IHR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
	requireTCP(t, "Redis", u, startRedis)
	return u
}

// Prefix returns a unique token for isolating a test's NATS streams and
// subjects or Redis keys from every other test.
func Prefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// FreeAddr returns a loopback address with a port nobody listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
