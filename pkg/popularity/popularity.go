// Package popularity learns which read queries are asked most. Every
// process that answers reads counts them in memory and adds its counts to
// hourly sorted sets in Redis every few seconds; the ranking weighs each
// hour's counts down by its age (a half-life), so it follows what is asked
// now. The cache warmer and the query service's materializer read the
// ranking; when Redis is down each process falls back to its own counts.
package popularity

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Query is a ranked query: a request relative to /ihr/api/ and its weight.
type Query struct {
	Key    string  `json:"key"`
	Weight float64 `json:"weight"`
}

// Recorder counts queries and ranks them.
type Recorder struct {
	Redis  *redis.Client // nil: local counts only
	Prefix string        // of the Redis keys
	// HalfLife is how fast counts lose weight (1 h when 0).
	HalfLife time.Duration
	// Hours is how many hourly sets the ranking reads (24 when 0).
	Hours int
	// Keep bounds the queries each hourly set and the local counts keep (5000 when 0).
	Keep int

	mu      sync.Mutex
	pending map[string]float64 // since the last flush
	local   map[string]float64 // decayed, for when Redis is down
	decayed time.Time
}

func (r *Recorder) halfLife() time.Duration { return cmp.Or(r.HalfLife, time.Hour) }
func (r *Recorder) keep() int               { return cmp.Or(r.Keep, 5000) }
func (r *Recorder) hours() int              { return cmp.Or(r.Hours, 24) }

// Hit counts one request for key.
func (r *Recorder) Hit(key string) {
	r.mu.Lock()
	if r.pending == nil {
		r.pending = map[string]float64{}
	}
	if len(r.pending) < 4*r.keep() || r.pending[key] > 0 {
		r.pending[key]++
	}
	r.mu.Unlock()
}

func (r *Recorder) hourKey(h int64) string { return r.Prefix + "pop:" + strconv.FormatInt(h, 10) }

// Flush adds the counts since the last flush to the local ranking and to
// the current hour's set in Redis. Counts Redis refused are not retried:
// the ranking only needs to be about right.
func (r *Recorder) Flush(ctx context.Context, now time.Time) error {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.decayLocal(now)
	for k, n := range pending {
		r.local[k] += n
	}
	r.local = top(r.local, r.keep())
	r.mu.Unlock()
	if r.Redis == nil || len(pending) == 0 {
		return nil
	}
	key := r.hourKey(now.Unix() / 3600)
	_, err := r.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, n := range pending {
			p.ZIncrBy(ctx, key, n, k)
		}
		p.ZRemRangeByRank(ctx, key, 0, int64(-r.keep()-1))
		p.Expire(ctx, key, time.Duration(r.hours()+1)*time.Hour)
		return nil
	})
	return err
}

// decayLocal weighs the local counts down for the time since the last decay.
func (r *Recorder) decayLocal(now time.Time) {
	if r.local == nil {
		r.local, r.decayed = map[string]float64{}, now
		return
	}
	f := math.Exp2(-now.Sub(r.decayed).Seconds() / r.halfLife().Seconds())
	for k, v := range r.local {
		if v *= f; v < 0.01 {
			delete(r.local, k)
		} else {
			r.local[k] = v
		}
	}
	r.decayed = now
}

// Run flushes every interval until ctx is done, then once more.
func (r *Recorder) Run(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = r.Flush(fctx, time.Now())
			cancel()
			return
		case <-t.C:
			if err := r.Flush(ctx, time.Now()); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// Top returns the n most asked queries: from Redis, every process's counts
// of the last hours, each hour weighed by its age; from the local counts
// when Redis fails (fromRedis is false then).
func (r *Recorder) Top(ctx context.Context, n int, now time.Time) (qs []Query, fromRedis bool) {
	if r.Redis != nil {
		if qs, err := r.redisTop(ctx, n, now); err == nil {
			return qs, true
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decayLocal(now)
	return ranked(r.local, n), false
}

func (r *Recorder) redisTop(ctx context.Context, n int, now time.Time) ([]Query, error) {
	hour := now.Unix() / 3600
	store := redis.ZStore{}
	for i := range r.hours() {
		age := now.Sub(time.Unix((hour-int64(i))*3600+1800, 0)).Seconds()
		store.Keys = append(store.Keys, r.hourKey(hour-int64(i)))
		store.Weights = append(store.Weights, math.Exp2(-max(age, 0)/r.halfLife().Seconds()))
	}
	zs, err := r.Redis.ZUnionWithScores(ctx, store).Result()
	if err != nil {
		return nil, err
	}
	weights := make(map[string]float64, len(zs))
	for _, z := range zs {
		if k, ok := z.Member.(string); ok {
			weights[k] = z.Score
		}
	}
	return ranked(weights, n), nil
}

func ranked(m map[string]float64, n int) []Query {
	qs := make([]Query, 0, len(m))
	for k, w := range m {
		qs = append(qs, Query{Key: k, Weight: w})
	}
	slices.SortFunc(qs, func(a, b Query) int {
		return cmp.Or(cmp.Compare(b.Weight, a.Weight), cmp.Compare(a.Key, b.Key))
	})
	return qs[:min(n, len(qs))]
}

func top(m map[string]float64, n int) map[string]float64 {
	if len(m) <= n {
		return m
	}
	out := make(map[string]float64, n)
	for _, q := range ranked(m, n) {
		out[q.Key] = q.Weight
	}
	return out
}
