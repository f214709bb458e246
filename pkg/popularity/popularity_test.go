package popularity

import (
	"context"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, url string) *redis.Client {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DialTimeout = -1, 200*time.Millisecond
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRanking(t *testing.T) {
	ctx := context.Background()
	c := client(t, testkit.RedisURL(t))
	prefix := testkit.Prefix(t) + ":"
	t.Cleanup(func() {
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	now := time.Now()
	// Another replica's counts of five hours ago: ten requests, weighed
	// down by 2^-5 or so, rank below three requests of this hour.
	old := &Recorder{Redis: c, Prefix: prefix}
	for range 10 {
		old.Hit("hegemony/?originasn=3356")
	}
	if err := old.Flush(ctx, now.Add(-5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := &Recorder{Redis: c, Prefix: prefix}
	for range 3 {
		r.Hit("hegemony/?originasn=2497")
	}
	r.Hit("networks/?number=2497")
	if err := r.Flush(ctx, now); err != nil {
		t.Fatal(err)
	}
	top, fromRedis := r.Top(ctx, 3, now)
	if !fromRedis || len(top) != 3 {
		t.Fatalf("top %v (from Redis: %v)", top, fromRedis)
	}
	if top[0].Key != "hegemony/?originasn=2497" || top[1].Key != "networks/?number=2497" || top[2].Key != "hegemony/?originasn=3356" {
		t.Errorf("ranking %v", top)
	}
	if top[2].Weight >= 1 || top[2].Weight <= 0 {
		t.Errorf("five-hour-old counts weigh %v", top[2].Weight)
	}
}

func TestKeepBoundsTheSets(t *testing.T) {
	ctx := context.Background()
	c := client(t, testkit.RedisURL(t))
	r := &Recorder{Redis: c, Prefix: testkit.Prefix(t) + ":", Keep: 2}
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		for range i + 1 {
			r.Hit(k)
		}
	}
	now := time.Now()
	if err := r.Flush(ctx, now); err != nil {
		t.Fatal(err)
	}
	key := r.hourKey(now.Unix() / 3600)
	t.Cleanup(func() { c.Del(ctx, key) })
	members, err := c.ZRevRange(ctx, key, 0, -1).Result()
	if err != nil || len(members) != 2 || members[0] != "e" || members[1] != "d" {
		t.Errorf("the hour's set holds %v (%v), want the two most asked", members, err)
	}
	if ttl := c.TTL(ctx, key).Val(); ttl <= 0 || ttl > 25*time.Hour {
		t.Errorf("the hour's set expires in %v", ttl)
	}
}

// TestLocalFallback: with Redis down, the ranking is the process's own.
func TestLocalFallback(t *testing.T) {
	ctx := context.Background()
	r := &Recorder{Redis: client(t, "redis://"+testkit.FreeAddr(t)), Prefix: "x:"}
	r.Hit("b")
	r.Hit("a")
	r.Hit("a")
	if err := r.Flush(ctx, time.Now()); err == nil {
		t.Fatal("flush to a Redis that is down succeeded")
	}
	top, fromRedis := r.Top(ctx, 5, time.Now())
	if fromRedis || len(top) != 2 || top[0].Key != "a" || top[1].Key != "b" {
		t.Errorf("fallback ranking %v (from Redis: %v)", top, fromRedis)
	}
	// An hour later the counts weigh half as much.
	later, _ := r.Top(ctx, 5, time.Now().Add(time.Hour))
	if w := later[0].Weight; w < 0.9 || w > 1.1 {
		t.Errorf("after a half-life a count of 2 weighs %v, want 1", w)
	}
}
