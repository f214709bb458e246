package ratelimit

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/redis/go-redis/v9"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// redisAt returns a client of the Redis at addr that fails fast.
func redisAt(t *testing.T, addr string, readTimeout time.Duration) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DialTimeout, opts.ReadTimeout = -1, 200*time.Millisecond, readTimeout
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// scratch returns a key prefix of the test's own, deleted at its end, and
// a client of the machine's Redis.
func scratch(t *testing.T) (*redis.Client, string) {
	t.Helper()
	u := testkit.RedisURL(t)
	opts, _ := redis.ParseURL(u)
	c := redisAt(t, opts.Addr, time.Second)
	prefix := testkit.Prefix(t) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := c.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return c, prefix
}

// allowN asks n times and returns how many were allowed.
func allowN(c *Class, key string, n int) int {
	ok := 0
	for range n {
		if c.Allow(key).Allowed {
			ok++
		}
	}
	return ok
}

// The daily quota is shared by replicas through Redis: what one counted,
// the other refuses once a flush has told it.
func TestDailyQuotaAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := scratch(t)
	policy := Policy{Name: "anonymous", Rate: 1e6, Burst: 1e6, Day: 100}
	a, err := New(Options{Redis: rdb, Prefix: prefix}, policy)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Redis: rdb, Prefix: prefix}, policy)
	if err != nil {
		t.Fatal(err)
	}
	const key = "198.51.100.7"
	if got := allowN(a.Class("anonymous"), key, 60); got != 60 {
		t.Fatalf("replica a allowed %d of 60", got)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// b learns the total with its first flush of the key.
	if !b.Class("anonymous").Allow(key).Allowed {
		t.Fatal("replica b refused its first request")
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := b.Class("anonymous").Allow(key); d.Limit != PerDay || d.Remaining != 100-62 {
		t.Errorf("replica b after its flush: %+v, want the daily quota with 38 remaining", d)
	}
	if got := allowN(b.Class("anonymous"), key, 50); got != 38 {
		t.Errorf("replica b allowed %d more, want 38 (the quota less what a and b counted)", got)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total, err := rdb.Get(ctx, a.DayKey("anonymous", key, time.Now())).Int64()
	if err != nil || total != 100 {
		t.Fatalf("Redis holds %d (%v), want 100", total, err)
	}
	if ttl := rdb.TTL(ctx, a.DayKey("anonymous", key, time.Now())).Val(); ttl <= 0 || ttl > 25*time.Hour {
		t.Errorf("the day's key expires in %s", ttl)
	}
	// a, which counted nothing since, learns the total at its next flush:
	// until then it allows on what it knew (one flush of overshoot at most).
	a.Class("anonymous").Allow(key)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := a.Class("anonymous").Allow(key); d.Allowed || d.Limit != PerDay || d.RetryAfter <= 0 {
		t.Errorf("replica a after learning the total: %+v", d)
	}
	// Another client is not held by the first.
	if !a.Class("anonymous").Allow("198.51.100.8").Allowed {
		t.Error("another key refused")
	}
	// An operator lifts the quota by deleting the day's key: the replicas
	// read the total again at their next flush.
	if err := rdb.Del(ctx, a.DayKey("anonymous", key, time.Now())).Err(); err != nil {
		t.Fatal(err)
	}
	// a was refused since its last flush: that flush reads the total again.
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := a.Class("anonymous").Allow(key); !d.Allowed || d.Remaining != 99 {
		t.Errorf("replica a after the key was deleted: %+v", d)
	}
	// b was not: it refuses on what it knew until the flush after that.
	if d := b.Class("anonymous").Allow(key); d.Allowed {
		t.Errorf("replica b before its flush: %+v", d)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if d := b.Class("anonymous").Allow(key); !d.Allowed || d.Remaining != 99 {
		t.Errorf("replica b after the key was deleted: %+v", d)
	}
}

// With Redis unreachable, the local counts decide, failures are counted,
// and the counts reach Redis once it answers again.
func TestDailyQuotaWithoutRedis(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := scratch(t)
	proxy := testkit.NewProxy(t, rdb.Options().Addr)
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	l, err := New(Options{Redis: redisAt(t, proxy.Addr(), time.Second), Prefix: prefix, Meter: meter},
		Policy{Name: "user", Rate: 1e6, Burst: 1e6, Day: 50})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Class("user")
	const key = "u42"
	if got := allowN(c, key, 10); got != 10 {
		t.Fatalf("allowed %d of 10", got)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	if got := allowN(c, key, 20); got != 20 {
		t.Fatalf("with Redis down: allowed %d of 20", got)
	}
	if err := l.Flush(ctx); err == nil {
		t.Fatal("a flush to an unreachable Redis succeeded")
	}
	if got := allowN(c, key, 30); got != 20 {
		t.Errorf("with Redis down: allowed %d more, want 20 (the quota less the local counts)", got)
	}
	if err := l.Flush(ctx); err == nil {
		t.Fatal("a flush to an unreachable Redis succeeded")
	}
	if got := sums(t, reader, "ihr_ratelimit_sync_failures")[""]; got != 2 {
		t.Errorf("sync failures counted: %d, want 2", got)
	}

	proxy.Restore()
	if err := l.Flush(ctx); err != nil {
		t.Fatalf("Redis back, the flush failed: %v", err)
	}
	total, err := rdb.Get(ctx, l.DayKey("user", key, time.Now())).Int64()
	if err != nil || total != 50 {
		t.Errorf("Redis holds %d (%v) once back, want all 50 requests counted", total, err)
	}
	if d := c.Allow(key); d.Allowed {
		t.Errorf("over the quota once Redis is back: %+v", d)
	}
}

// A flush waiting on Redis holds up no request.
func TestFlushNeverHoldsRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- conn // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	rdb := redisAt(t, ln.Addr().String(), time.Second)
	l, err := New(Options{Redis: rdb, Prefix: "unused:"}, Policy{Name: "anonymous", Rate: 1e6, Burst: 1e6, Day: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Class("anonymous")
	for i := range 100 {
		c.Allow("k" + string(rune('a'+i%26)))
	}
	flushed := make(chan error, 1)
	go func() { flushed <- l.Flush(context.Background()) }()
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the flush never reached the silent server")
	}
	// The flush waits for an answer that does not come; requests go on.
	if got := allowN(c, "another", 1000); got != 1000 {
		t.Errorf("allowed %d of 1000 during the flush", got)
	}
	select {
	case err := <-flushed:
		t.Fatalf("the flush ended (%v) before the requests were decided: the test shows nothing", err)
	default:
	}
	err = <-flushed
	conn.Close()
	if err == nil {
		t.Error("a flush nobody answered succeeded")
	}
	// The counts it could not send are kept for the next one.
	if d := c.Allow("another"); !d.Allowed || d.Limit != PerDay || d.Remaining != 1e6-1001 {
		t.Errorf("after the failed flush: %+v, want 1001 requests counted today", d)
	}
}

// One process counts exactly, whatever flushes run meanwhile.
func TestDailyQuotaExactUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := scratch(t)
	l, err := New(Options{Redis: rdb, Prefix: prefix}, Policy{Name: "pipeline", Rate: 1e9, Burst: 1e6, Day: 5000})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Class("pipeline")
	stop := make(chan struct{})
	flusher := make(chan error, 1)
	go func() {
		var err error
		for {
			select {
			case <-stop:
				flusher <- err
				return
			default:
			}
			if ferr := l.Flush(ctx); ferr != nil {
				err = ferr
			}
		}
	}()
	allowed := make(chan int, 8)
	for range 8 {
		go func() { allowed <- allowN(c, "p1", 1000) }()
	}
	total := 0
	for range 8 {
		total += <-allowed
	}
	close(stop)
	if err := <-flusher; err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if total != 5000 {
		t.Errorf("allowed %d of 8000 with a quota of 5000", total)
	}
	if n, err := rdb.Get(ctx, l.DayKey("pipeline", "p1", time.Now())).Int64(); err != nil || n != 5000 {
		t.Errorf("Redis holds %d (%v), want 5000", n, err)
	}
}
