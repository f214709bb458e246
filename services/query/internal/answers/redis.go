package answers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/cache"
	"github.com/redis/go-redis/v9"
)

// Redis is the shared tier: entries every query replica can read, kept
// for TTL. After a failure it is skipped for a while (the wait doubles up
// to 5 s while failures go on), so requests never wait on a Redis that
// is down; the next call after the wait tries again.
type Redis struct {
	Client  *redis.Client
	Prefix  string
	TTL     time.Duration
	Timeout time.Duration // of one call
	// OnError is told of each failure (counted by the cache's metrics).
	OnError func(op string, err error)

	mu      sync.Mutex
	until   time.Time // skipped until then
	backoff time.Duration
	writes  chan *cache.Entry
}

var errSkipped = errors.New("redis skipped after a recent failure")

func (r *Redis) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return r.Prefix + "a:" + hex.EncodeToString(sum[:16])
}

func (r *Redis) skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.until)
}

func (r *Redis) result(op string, err error) {
	r.mu.Lock()
	if err == nil || errors.Is(err, redis.Nil) {
		r.backoff, r.until = 0, time.Time{}
		r.mu.Unlock()
		return
	}
	r.backoff = min(max(2*r.backoff, 500*time.Millisecond), 5*time.Second)
	r.until = time.Now().Add(r.backoff)
	r.mu.Unlock()
	if r.OnError != nil {
		r.OnError(op, err)
	}
}

// Get returns the entry stored for key, or nil.
func (r *Redis) Get(ctx context.Context, key string) (*cache.Entry, error) {
	if r.skipped() {
		return nil, errSkipped
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	b, err := r.Client.Get(ctx, r.key(key)).Bytes()
	r.result("get", err)
	if err != nil {
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return nil, err
	}
	e, err := cache.Unmarshal(b)
	if err != nil || e.Key != key {
		return nil, nil // another key's entry under the same hash, or garbage: a miss
	}
	return e, nil
}

// Put stores e in the background; when writes pile up (Redis slow or
// down), the newest are dropped.
func (r *Redis) Put(e *cache.Entry) {
	if r.skipped() {
		return
	}
	select {
	case r.writes <- e:
	default:
	}
}

// Run writes what Put queued until ctx is done.
func (r *Redis) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.writes:
			if r.skipped() {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, r.Timeout)
			err := r.Client.Set(wctx, r.key(e.Key), e.Marshal(), r.TTL).Err()
			cancel()
			r.result("set", err)
		}
	}
}

// NewRedis returns the tier; its writer must be started with Run.
func NewRedis(c *redis.Client, prefix string, ttl time.Duration) *Redis {
	return &Redis{Client: c, Prefix: prefix, TTL: ttl, Timeout: 250 * time.Millisecond, writes: make(chan *cache.Entry, 256)}
}
