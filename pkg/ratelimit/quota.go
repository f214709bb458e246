package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// flushItem is one key's counts on their way to Redis.
type flushItem struct {
	c     *Class
	s     *shard
	e     *entry
	n     int64
	day   int64
	total *redis.IntCmd // the day's total after adding n; nil without Redis
}

// flushBatch bounds the commands of one pipeline.
const flushBatch = 2000

// Flush adds the daily counts made since the last flush to Redis and reads
// back each key's total (and that of each key refused since, so that a
// quota lifted in Redis is heard of). Requests are never held up by it: shards are
// locked only to take the counts and to apply the totals. When Redis
// fails, the counts are kept for the next flush (the local counts decide
// meanwhile) and the error is returned.
func (l *Limiter) Flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	var items []flushItem
	for _, c := range l.classes {
		if c.p.Day == 0 {
			continue
		}
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			for _, e := range s.dirty {
				e.dirty = false
				// n may be 0: a refused key whose total is read again.
				items = append(items, flushItem{c: c, s: s, e: e, n: e.pending, day: e.day})
				e.flushing += e.pending
				e.pending = 0
			}
			clear(s.dirty)
			s.dirty = s.dirty[:0]
			s.mu.Unlock()
		}
	}
	if len(items) == 0 {
		return nil
	}
	var err error
	if l.opt.Redis != nil {
		err = l.send(ctx, items)
	}
	l.apply(items)
	if l.opt.Redis != nil {
		l.synced(err)
	}
	return err
}

// send adds items' counts to Redis, a pipeline per flushBatch keys.
func (l *Limiter) send(ctx context.Context, items []flushItem) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	days := map[int64]string{}
	var first error
	for start := 0; start < len(items); start += flushBatch {
		batch := items[start:min(start+flushBatch, len(items))]
		p := l.opt.Redis.Pipeline()
		for i := range batch {
			it := &batch[i]
			d, ok := days[it.day]
			if !ok {
				d = time.Unix(it.day*86400, 0).UTC().Format("20060102")
				days[it.day] = d
			}
			key := it.c.key + d + ":" + it.e.key
			it.total = p.IncrBy(ctx, key, it.n)
			// Kept an hour past its day, so late flushes of other replicas still land.
			p.ExpireAt(ctx, key, time.Unix((it.day+1)*86400+3600, 0))
		}
		if _, err := p.Exec(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// apply settles items: each key's total as Redis returned it, or its
// counts back to pending when Redis did not take them.
func (l *Limiter) apply(items []flushItem) {
	var locked *shard
	for _, it := range items {
		if it.s != locked {
			if locked != nil {
				locked.mu.Unlock()
			}
			locked = it.s
			locked.mu.Lock()
		}
		e := it.e
		if e.day != it.day {
			continue // a new day began meanwhile: these counts no longer matter here
		}
		e.flushing -= it.n
		switch {
		case it.total == nil:
			e.known += it.n // no Redis: this process's counts are the total
		case it.total.Err() == nil:
			e.known = it.total.Val()
		default:
			e.pending += it.n
			if !e.dirty {
				e.dirty = true
				it.s.dirty = append(it.s.dirty, e)
			}
		}
	}
	if locked != nil {
		locked.mu.Unlock()
	}
}

// synced records how a flush to Redis went, logging when that changes.
func (l *Limiter) synced(err error) {
	if err != nil {
		l.metrics.syncFailed()
	}
	was := l.failing.Swap(err != nil)
	switch {
	case l.opt.Log == nil || was == (err != nil):
	case err != nil:
		l.opt.Log.Warn("rate limit: daily counts not added to Redis; local counts decide until it answers", "err", err)
	default:
		l.opt.Log.Info("rate limit: daily counts added to Redis again")
	}
}

// sweepEvery is how many flushes pass between sweeps of idle keys.
const sweepEvery = 5

// Run flushes the daily counts every Options.Flush and drops idle keys,
// until ctx is done; then it flushes once more.
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(l.opt.Flush)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = l.Flush(fctx)
			cancel()
			return
		case <-t.C:
			_ = l.Flush(ctx) // failures are counted and logged, and the counts kept
			if n%sweepEvery == 0 {
				now := l.opt.Now()
				for _, c := range l.classes {
					c.sweep(now)
				}
			}
		}
	}
}

// DayKey is the Redis key of key's count of the UTC day of t under policy:
// what operators look at (or delete, to lift a quota).
func (l *Limiter) DayKey(policy, key string, t time.Time) string {
	return l.opt.Prefix + "rl:" + policy + ":" + t.UTC().Format("20060102") + ":" + key
}
