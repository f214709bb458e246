// Package ratelimit limits requests per key (a client) without waiting on
// Redis in the request path. Each Policy has two limits:
//
//   - a per-second limit (a rate and a burst), kept with the generic cell
//     rate algorithm (GCRA) in this process's memory. It is exact within one
//     process and shared by none: with N replicas behind a load balancer a
//     client can get up to N times it, so it is configured per replica.
//   - a per-day quota (UTC days), global across replicas through Redis.
//     Requests are counted here and the counts added to Redis in batches
//     (Run, every second: one INCRBY and EXPIREAT per key touched), whose
//     replies bring back every replica's total. A request is refused once
//     the last total known plus what this process counted since reaches the
//     quota. While Redis is down the local counts alone decide, and they
//     are added to Redis once it answers again.
//
// Memory is bounded: keys live in sharded maps, a key is dropped once it is
// idle (its burst whole again and nothing left to flush, unless it is near
// its daily quota), and each policy holds at most MaxKeys keys, an arbitrary
// one making room for a new one when full.
package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Limit names one of a policy's limits.
type Limit uint8

// The limits of a policy.
const (
	PerSecond Limit = iota + 1
	PerDay
)

// String is the limit's name in metrics and error messages: second or day.
func (l Limit) String() string {
	switch l {
	case PerSecond:
		return "second"
	case PerDay:
		return "day"
	}
	return "none"
}

// Policy is the limits of one class of clients (the gateway has one per role).
type Policy struct {
	// Name names the class; metrics carry it as their role.
	Name string
	// Rate is the sustained requests a second a key may send (> 0).
	Rate float64
	// Burst is how many requests a key may send at once (≥ 1).
	Burst int
	// Day is the requests a key may send in a UTC day, across every
	// process sharing Redis; 0 for no daily quota.
	Day int64
}

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// Limit is the limit that refused the request or, when allowed, the
	// one closest to refusing (the fewer requests remaining).
	Limit Limit
	// Quota is that limit's size: the burst, or the daily quota.
	Quota int64
	// Remaining is how many more requests that limit allows now.
	Remaining int64
	// Reset is how long until that limit is whole again: the burst
	// refilled, or the next UTC midnight.
	Reset time.Duration
	// RetryAfter is, when refused, how long until a request can be allowed.
	RetryAfter time.Duration
}

// Options are a Limiter's dependencies and bounds.
type Options struct {
	// Redis holds the daily counts shared by every process; nil keeps
	// them in this process only.
	Redis *redis.Client
	// Prefix starts the Redis keys: <Prefix>rl:<policy>:<yyyymmdd>:<key>.
	Prefix string
	// Meter makes the limiter's metrics; nil for none.
	Meter metric.Meter
	// Log reports Redis failing and recovering; nil for none.
	Log *slog.Logger
	// MaxKeys bounds the keys each policy holds (1,000,000 when 0).
	MaxKeys int
	// Flush is how often Run adds the daily counts to Redis (1 s when 0).
	Flush time.Duration
	// Now is the clock (time.Now when nil); tests set their own.
	Now func() time.Time
}

// shards per policy: enough that the cores rarely wait for one another.
const shards = 64

// Limiter decides requests of every policy it was made with.
type Limiter struct {
	opt     Options
	epoch   time.Time // GCRA times are nanoseconds since this
	seed    maphash.Seed
	classes []*Class
	metrics metrics
	failing atomic.Bool // the last flush to Redis failed
	flushMu sync.Mutex  // one flush at a time
}

// Class is one policy's limiter, from Limiter.Class.
type Class struct {
	l         *Limiter
	p         Policy
	interval  int64 // ns between requests at the sustained rate
	tolerance int64 // interval × burst: how far ahead of now a key may be
	margin    int64 // most requests a key can make before a flush tells another replica's total
	perShard  int
	key       string // <prefix>rl:<name>:
	rejected  [PerDay + 1]metric.MeasurementOption
	shards    [shards]shard
}

type shard struct {
	mu    sync.Mutex
	keys  map[string]*entry
	dirty []*entry // entries with counts to flush
	_     [64]byte // keeps shards on their own cache lines
}

// entry is one key's state.
type entry struct {
	key string
	tat int64 // theoretical arrival time of the next request, ns since the epoch
	// day is the UTC day of the counts below (days since 1970-01-01).
	day      int64
	known    int64 // the day's total in Redis as last read: every process's flushed counts
	pending  int64 // counted here, not sent yet
	flushing int64 // sent, not confirmed yet
	dirty    bool  // in its shard's dirty list: counts to flush, or a total to read again
}

// New returns a limiter for policies; start Run to keep the daily counts
// flowing to Redis (and, without Redis, to keep them in bounds).
func New(opt Options, policies ...Policy) (*Limiter, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxKeys <= 0 {
		opt.MaxKeys = 1_000_000
	}
	if opt.Flush <= 0 {
		opt.Flush = time.Second
	}
	if opt.Meter == nil {
		opt.Meter = noop.NewMeterProvider().Meter("")
	}
	l := &Limiter{opt: opt, epoch: opt.Now(), seed: maphash.MakeSeed()}
	var errs []error
	for _, p := range policies {
		if err := p.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if l.Class(p.Name) != nil {
			errs = append(errs, fmt.Errorf("policy %q given twice", p.Name))
			continue
		}
		interval := max(int64(math.Round(float64(time.Second)/p.Rate)), 1)
		c := &Class{l: l, p: p, interval: interval, tolerance: interval * int64(p.Burst),
			margin:   int64(p.Burst) + int64(math.Ceil(p.Rate*2*opt.Flush.Seconds())),
			perShard: max(opt.MaxKeys/shards, 1), key: opt.Prefix + "rl:" + p.Name + ":"}
		l.classes = append(l.classes, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var err error
	if l.metrics, err = newMetrics(opt.Meter, l); err != nil {
		return nil, err
	}
	for _, c := range l.classes {
		for _, lim := range []Limit{PerSecond, PerDay} {
			c.rejected[lim] = l.metrics.rejectedAs(c.p.Name, lim)
		}
	}
	return l, nil
}

func (p Policy) validate() error {
	switch {
	case p.Name == "":
		return errors.New("a policy has no name")
	case !(p.Rate > 0) || math.IsInf(p.Rate, 0):
		return fmt.Errorf("policy %s: rate %v must be a positive number", p.Name, p.Rate)
	case p.Burst < 1:
		return fmt.Errorf("policy %s: burst %d must be at least 1", p.Name, p.Burst)
	case p.Day < 0:
		return fmt.Errorf("policy %s: daily quota %d must be 0 (none) or more", p.Name, p.Day)
	case float64(p.Burst)/p.Rate > 100*365*24*3600:
		return fmt.Errorf("policy %s: a burst of %d at %v a second takes over a century to refill", p.Name, p.Burst, p.Rate)
	}
	return nil
}

// Class returns the limiter of the named policy, or nil.
func (l *Limiter) Class(name string) *Class {
	for _, c := range l.classes {
		if c.p.Name == name {
			return c
		}
	}
	return nil
}

// Policy returns the class's policy.
func (c *Class) Policy() Policy { return c.p }

// Allow decides one request of key, and counts it when allowed. Refused
// requests count against no limit.
func (c *Class) Allow(key string) Decision {
	s := &c.shards[maphash.String(c.l.seed, key)&(shards-1)]
	s.mu.Lock()
	// The clock is read under the lock, so a key's requests are decided in
	// the order of their times: a request that read it, then waited for
	// the lock behind later ones, would be judged late by a whole wait.
	now := c.l.opt.Now()
	mono := int64(now.Sub(c.l.epoch))
	e := s.keys[key]
	if e == nil {
		e = s.add(key, c.perShard)
	}
	if c.p.Day > 0 {
		if day := unixDay(now); e.day != day {
			e.day, e.known, e.pending, e.flushing = day, 0, 0, 0
		}
		if e.known+e.pending+e.flushing >= c.p.Day {
			// The next flush reads the total again: an operator may have
			// lifted the quota by deleting the key.
			if !e.dirty {
				e.dirty = true
				s.dirty = append(s.dirty, e)
			}
			s.mu.Unlock()
			c.l.metrics.reject(c.rejected[PerDay])
			left := untilMidnight(now)
			return Decision{Limit: PerDay, Quota: c.p.Day, Reset: left, RetryAfter: left}
		}
	}
	g := gcra(e.tat, mono, c.interval, c.tolerance)
	if !g.allowed {
		s.mu.Unlock()
		c.l.metrics.reject(c.rejected[PerSecond])
		return Decision{Limit: PerSecond, Quota: int64(c.p.Burst), Reset: time.Duration(g.reset), RetryAfter: time.Duration(g.retry)}
	}
	e.tat = g.tat
	d := Decision{Allowed: true, Limit: PerSecond, Quota: int64(c.p.Burst), Remaining: g.remaining, Reset: time.Duration(g.reset)}
	if c.p.Day > 0 {
		e.pending++
		if !e.dirty {
			e.dirty = true
			s.dirty = append(s.dirty, e)
		}
		if left := c.p.Day - e.known - e.pending - e.flushing; left < d.Remaining {
			d = Decision{Allowed: true, Limit: PerDay, Quota: c.p.Day, Remaining: left, Reset: untilMidnight(now)}
		}
	}
	s.mu.Unlock()
	return d
}

// add makes key's entry, making room first when the shard holds max.
func (s *shard) add(key string, max int) *entry {
	if s.keys == nil {
		s.keys = map[string]*entry{}
	}
	if len(s.keys) >= max {
		// Map iteration starts anywhere: an arbitrary victim, one with no
		// counts in flight when one of the first few has none. A victim
		// still to flush is flushed all the same (its dirty list holds it).
		var victim string
		n := 0
		for k, e := range s.keys {
			clean := !e.dirty && e.flushing == 0
			if n == 0 || clean {
				victim = k
			}
			if n++; clean || n == 8 {
				break
			}
		}
		delete(s.keys, victim)
	}
	e := &entry{key: key}
	s.keys[key] = e
	return e
}

// gcraResult is one step of GCRA.
type gcraResult struct {
	allowed   bool
	tat       int64 // the key's theoretical arrival time after the request (allowed)
	remaining int64 // requests still allowed at once (allowed)
	reset     int64 // ns until the burst is whole again
	retry     int64 // ns until a request can be allowed (refused)
}

// gcra decides a request at now of a key whose theoretical arrival time is
// tat: each request moves it interval further; a request is allowed while
// it stays within tolerance (interval × burst) of now.
func gcra(tat, now, interval, tolerance int64) gcraResult {
	tat = max(tat, now)
	next := tat + interval
	if allowAt := next - tolerance; now < allowAt {
		return gcraResult{reset: tat - now, retry: allowAt - now}
	}
	return gcraResult{allowed: true, tat: next, remaining: (now + tolerance - next) / interval, reset: next - now}
}

func unixDay(t time.Time) int64 { return t.Unix() / 86400 }

func untilMidnight(t time.Time) time.Duration {
	return time.Unix((unixDay(t)+1)*86400, 0).Sub(t)
}

// idle reports whether e can be forgotten at mono (ns since the epoch) on
// day today: its burst is whole again, it has no counts to flush, and its
// daily total (if any) is far enough from the quota that the counts it
// makes before a flush reads the total back again cannot cross it.
func (c *Class) idle(e *entry, mono, today int64) bool {
	if e.tat > mono || e.dirty || e.pending > 0 || e.flushing > 0 {
		return false
	}
	return c.p.Day == 0 || e.day != today || e.known+c.margin < c.p.Day
}

// sweep drops the idle keys.
func (c *Class) sweep(now time.Time) {
	mono, today := int64(now.Sub(c.l.epoch)), unixDay(now)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.keys {
			if c.idle(e, mono, today) {
				delete(s.keys, k)
			}
		}
		s.mu.Unlock()
	}
}

// Keys returns how many keys the limiter holds, for every policy.
func (l *Limiter) Keys() int {
	n := 0
	for _, c := range l.classes {
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			n += len(s.keys)
			s.mu.Unlock()
		}
	}
	return n
}
