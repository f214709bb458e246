package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// clock is a settable clock for one goroutine.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock(at string) *clock          { t, _ := time.Parse(time.RFC3339Nano, at); return &clock{t} }
func ms(n float64) time.Duration         { return time.Duration(n * float64(time.Millisecond)) }
func newLimiter(t *testing.T, c *clock, ps ...Policy) *Limiter {
	t.Helper()
	l, err := New(Options{Now: c.now}, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestGCRAStep(t *testing.T) {
	const sec = int64(time.Second)
	// 10 a second (an interval of 100 ms), bursts of 5 (a tolerance of 500 ms).
	const iv, tol = sec / 10, 5 * sec / 10
	for _, c := range []struct {
		name                   string
		tat, now               int64
		allowed                bool
		next, remaining, reset int64
		retry                  int64
	}{
		{name: "a new key, its burst whole", tat: 0, now: 10 * sec, allowed: true, next: 10*sec + iv, remaining: 4, reset: iv},
		{name: "a key long idle is a new key", tat: 3 * sec, now: 10 * sec, allowed: true, next: 10*sec + iv, remaining: 4, reset: iv},
		{name: "two in the burst already", tat: 10*sec + 2*iv, now: 10 * sec, allowed: true, next: 10*sec + 3*iv, remaining: 2, reset: 3 * iv},
		{name: "the last of the burst", tat: 10*sec + 4*iv, now: 10 * sec, allowed: true, next: 10*sec + 5*iv, remaining: 0, reset: 5 * iv},
		{name: "one over the burst", tat: 10*sec + 5*iv, now: 10 * sec, allowed: false, reset: 5 * iv, retry: iv},
		{name: "far over: wait for the tat to come within the tolerance", tat: 10*sec + 8*iv, now: 10 * sec, allowed: false, reset: 8 * iv, retry: 4 * iv},
		{name: "exactly when one interval has drained", tat: 10*sec + 5*iv, now: 10*sec + iv, allowed: true, next: 10*sec + 6*iv, remaining: 0, reset: 5 * iv},
		{name: "a nanosecond early", tat: 10*sec + 5*iv, now: 10*sec + iv - 1, allowed: false, reset: 4*iv + 1, retry: 1},
		{name: "half drained", tat: 10*sec + 5*iv, now: 10*sec + 250*sec/1000, allowed: true, next: 10*sec + 6*iv, remaining: 1, reset: 6*iv - 250*sec/1000},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := gcra(c.tat, c.now, iv, tol)
			want := gcraResult{allowed: c.allowed, tat: c.next, remaining: c.remaining, reset: c.reset, retry: c.retry}
			if g != want {
				t.Errorf("got %+v, want %+v", g, want)
			}
		})
	}
}

// step is one request at a time after the previous one.
type step struct {
	after     time.Duration
	n         int // requests at that time (1 when 0); the checks are of the last
	allowed   bool
	limit     Limit
	remaining int64
	reset     time.Duration
	retry     time.Duration
}

func TestAllowSequences(t *testing.T) {
	for _, c := range []struct {
		name   string
		policy Policy
		start  string
		steps  []step
	}{
		{
			name:   "burst then the sustained rate",
			policy: Policy{Name: "p", Rate: 10, Burst: 3},
			start:  "2026-12-01T12:00:00Z",
			steps: []step{
				{allowed: true, limit: PerSecond, remaining: 2, reset: ms(100)},
				{allowed: true, limit: PerSecond, remaining: 1, reset: ms(200)},
				{allowed: true, limit: PerSecond, remaining: 0, reset: ms(300)},
				{allowed: false, limit: PerSecond, reset: ms(300), retry: ms(100)},
				{after: ms(50), allowed: false, limit: PerSecond, reset: ms(250), retry: ms(50)},
				{after: ms(50), allowed: true, limit: PerSecond, remaining: 0, reset: ms(300)},
				{after: ms(100), allowed: true, limit: PerSecond, remaining: 0, reset: ms(300)},
				{after: ms(250), allowed: true, limit: PerSecond, remaining: 1, reset: ms(150)},
				{after: time.Hour, allowed: true, limit: PerSecond, remaining: 2, reset: ms(100)},
			},
		},
		{
			name:   "a fractional rate",
			policy: Policy{Name: "p", Rate: 0.5, Burst: 1},
			start:  "2026-12-01T12:00:00Z",
			steps: []step{
				{allowed: true, limit: PerSecond, remaining: 0, reset: 2 * time.Second},
				{after: ms(1999), allowed: false, limit: PerSecond, reset: ms(1), retry: ms(1)},
				{after: ms(1), allowed: true, limit: PerSecond, remaining: 0, reset: 2 * time.Second},
			},
		},
		{
			name:   "the daily quota, closest to refusing once fewer remain of it",
			policy: Policy{Name: "p", Rate: 100, Burst: 10, Day: 25},
			start:  "2026-12-01T23:59:00Z",
			steps: []step{
				{allowed: true, limit: PerSecond, remaining: 9, reset: ms(10)},
				{after: time.Second, n: 10, allowed: true, limit: PerSecond, remaining: 0, reset: ms(100)},
				{after: time.Second, n: 5, allowed: true, limit: PerSecond, remaining: 5, reset: ms(50)},
				{after: time.Second, allowed: true, limit: PerDay, remaining: 8, reset: 57 * time.Second},
				{after: time.Second, n: 8, allowed: true, limit: PerDay, remaining: 0, reset: 56 * time.Second},
				{after: ms(900), allowed: false, limit: PerDay, reset: ms(55100), retry: ms(55100)},
				// A new UTC day: a new quota.
				{after: ms(55100), allowed: true, limit: PerSecond, remaining: 9, reset: ms(10)},
			},
		},
		{
			name:   "the per-second limit refuses first",
			policy: Policy{Name: "p", Rate: 1, Burst: 2, Day: 1000},
			start:  "2026-12-01T00:00:00Z",
			steps: []step{
				{n: 2, allowed: true, limit: PerSecond, remaining: 0, reset: 2 * time.Second},
				{allowed: false, limit: PerSecond, reset: 2 * time.Second, retry: time.Second},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock(c.start)
			cl := newLimiter(t, clk, c.policy).Class("p")
			for i, s := range c.steps {
				clk.advance(s.after)
				var d Decision
				for range max(s.n, 1) {
					d = cl.Allow("203.0.113.7")
				}
				want := Decision{Allowed: s.allowed, Limit: s.limit, Remaining: s.remaining, Reset: s.reset, RetryAfter: s.retry}
				want.Quota = int64(c.policy.Burst)
				if s.limit == PerDay {
					want.Quota = c.policy.Day
				}
				if d != want {
					t.Errorf("step %d: got %+v\n\twant %+v", i, d, want)
				}
			}
		})
	}
}

func TestKeysAndPoliciesAreApart(t *testing.T) {
	clk := newClock("2026-12-01T00:00:00Z")
	l := newLimiter(t, clk, Policy{Name: "anonymous", Rate: 1, Burst: 1}, Policy{Name: "user", Rate: 1, Burst: 1})
	if !l.Class("anonymous").Allow("a").Allowed || l.Class("anonymous").Allow("a").Allowed {
		t.Fatal("anonymous a: want one allowed, then refused")
	}
	if !l.Class("anonymous").Allow("b").Allowed {
		t.Error("key b refused because of key a")
	}
	if !l.Class("user").Allow("a").Allowed {
		t.Error("user a refused because of anonymous a")
	}
	if l.Class("admin") != nil {
		t.Error("a policy never given")
	}
}

func TestBadPolicies(t *testing.T) {
	for _, p := range []Policy{
		{Rate: 1, Burst: 1},
		{Name: "p", Rate: 0, Burst: 1},
		{Name: "p", Rate: -1, Burst: 1},
		{Name: "p", Rate: 1, Burst: 0},
		{Name: "p", Rate: 1, Burst: 1, Day: -1},
		{Name: "p", Rate: 1e-9, Burst: 1e9},
	} {
		if _, err := New(Options{}, p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	if _, err := New(Options{}, Policy{Name: "p", Rate: 1, Burst: 1}, Policy{Name: "p", Rate: 2, Burst: 1}); err == nil {
		t.Error("a policy given twice accepted")
	}
}

func TestMemoryIsBounded(t *testing.T) {
	clk := newClock("2026-12-01T00:00:00Z")
	l, err := New(Options{Now: clk.now, MaxKeys: shards * 10}, Policy{Name: "p", Rate: 10, Burst: 2, Day: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Class("p")
	for i := range 10000 {
		c.Allow("k" + strconv.Itoa(i))
	}
	if n := l.Keys(); n > shards*10 {
		t.Errorf("%d keys held, at most %d allowed", n, shards*10)
	}
	// A key close to its quota is kept while idle: forgetting it would
	// let it start again from the total it had at its last flush.
	near := "near"
	for range 995 {
		clk.advance(ms(100))
		c.Allow(near)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute) // every burst whole again
	c.sweep(clk.now())
	if n := l.Keys(); n != 1 {
		t.Errorf("after a sweep %d keys held, want only the one near its quota", n)
	}
	for range 5 {
		clk.advance(ms(100))
		c.Allow(near)
	}
	clk.advance(ms(100))
	if d := c.Allow(near); d.Allowed || d.Limit != PerDay {
		t.Errorf("the key near its quota: %+v", d)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.advance(24 * time.Hour)
	c.sweep(clk.now())
	if n := l.Keys(); n != 0 {
		t.Errorf("a day later %d keys held", n)
	}
}

func TestRejectionsAreCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	clk := newClock("2026-12-01T00:00:00Z")
	l, err := New(Options{Now: clk.now, Meter: meter}, Policy{Name: "anonymous", Rate: 1, Burst: 1, Day: 3})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Class("anonymous")
	c.Allow("a")
	c.Allow("a") // per second
	c.Allow("a") // per second
	clk.advance(time.Second)
	c.Allow("a")
	clk.advance(time.Second)
	c.Allow("a")
	clk.advance(time.Second)
	c.Allow("a") // per day
	got := sums(t, reader, "ihr_ratelimit_rejections")
	if got["anonymous/second"] != 2 || got["anonymous/day"] != 1 {
		t.Errorf("rejections %v", got)
	}
}

// sums reads the counter name's points, by role/limit ("" when unlabelled).
func sums(t *testing.T, r *sdkmetric.ManualReader, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				role, _ := p.Attributes.Value("role")
				limit, _ := p.Attributes.Value("limit")
				k := ""
				if role.AsString() != "" {
					k = role.AsString() + "/" + limit.AsString()
				}
				out[k] += p.Value
			}
		}
	}
	return out
}

func BenchmarkAllow(b *testing.B) {
	l, err := New(Options{}, Policy{Name: "p", Rate: 1e9, Burst: 1000, Day: 1e15})
	if err != nil {
		b.Fatal(err)
	}
	c := l.Class("p")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Allow("198.51.100.23")
		}
	})
}
