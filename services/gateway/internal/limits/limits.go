// Package limits bounds what one client can ask of the gateway: requests a
// second and a day, by role (pkg/ratelimit), and the size of request
// bodies.
package limits

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ihr-go/ihr/pkg/apierr"
	"github.com/ihr-go/ihr/pkg/authn"
	"github.com/ihr-go/ihr/pkg/ratelimit"
)

// Identify tells who sent r: the key its requests are counted under (a
// client address, an account) and its role (authn's roles; each has a
// policy of its own).
type Identify func(r *http.Request) (key string, role authn.Role)

// ByClient identifies every request as anonymous, keyed by its client's
// address (see Proxies.Client).
func ByClient(ps Proxies) Identify {
	return func(r *http.Request) (string, authn.Role) { return ps.Client(r), authn.Anonymous }
}

// ByPrincipal identifies a request by the principal authn.Identify found:
// its subject and role, or, anonymous, its client's address.
func ByPrincipal(ps Proxies) Identify {
	return func(r *http.Request) (string, authn.Role) {
		if p := authn.FromContext(r.Context()); p.Role != authn.Anonymous {
			return p.Subject, p.Role
		}
		return ps.Client(r), authn.Anonymous
	}
}

// Rate limits requests by their role's policy, and tells every client
// where it stands: RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
// (IETF draft httpapi-ratelimit-headers) of the limit closest to refusing,
// and for a refusal 429 with Retry-After.
type Rate struct {
	identify Identify
	classes  map[authn.Role]*class
	fallback *class // a role without a policy of its own is limited as anonymous
	numbers  [][]string
}

// class is one role's limiter and the header values that never change.
type class struct {
	rl    *ratelimit.Class
	role  authn.Role
	quota [ratelimit.PerDay + 1][]string // RateLimit-Limit, by limit
}

// numbersKept is how many small numbers have their header value made once.
const numbersKept = 2048

// NewRate returns the middleware of l, whose policies are named after the
// roles; it must hold the anonymous one.
func NewRate(l *ratelimit.Limiter, identify Identify) (*Rate, error) {
	m := &Rate{identify: identify, classes: map[authn.Role]*class{}, numbers: make([][]string, numbersKept)}
	for i := range m.numbers {
		m.numbers[i] = []string{strconv.Itoa(i)}
	}
	for _, role := range authn.Roles {
		rl := l.Class(string(role))
		if rl == nil {
			continue
		}
		c := &class{rl: rl, role: role}
		c.quota[ratelimit.PerSecond] = []string{strconv.Itoa(rl.Policy().Burst)}
		c.quota[ratelimit.PerDay] = []string{strconv.FormatInt(rl.Policy().Day, 10)}
		m.classes[role] = c
	}
	if m.fallback = m.classes[authn.Anonymous]; m.fallback == nil {
		return nil, errors.New("rate limits: no policy for anonymous clients")
	}
	return m, nil
}

// number is n as a header value; the small ones are made once.
func (m *Rate) number(n int64) []string {
	if n >= 0 && n < numbersKept {
		return m.numbers[n]
	}
	return []string{strconv.FormatInt(n, 10)}
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// Wrap limits next.
func (m *Rate) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, role := m.identify(r)
		c := m.classes[role]
		if c == nil {
			c = m.fallback
		}
		d := c.rl.Allow(key)
		h := w.Header()
		h["Ratelimit-Limit"] = c.quota[d.Limit]
		h["Ratelimit-Remaining"] = m.number(d.Remaining)
		h["Ratelimit-Reset"] = m.number(seconds(d.Reset))
		if d.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		retry := max(seconds(d.RetryAfter), 1)
		h["Retry-After"] = m.number(retry)
		apierr.Write(w, c.refusal(d.Limit, retry))
	})
}

// refusal is the error a refused client reads.
func (c *class) refusal(lim ratelimit.Limit, retry int64) error {
	p := c.rl.Policy()
	var msg string
	if lim == ratelimit.PerDay {
		msg = fmt.Sprintf("Daily quota reached: %s clients may send %d requests a day (UTC). Retry in %d s, after midnight UTC.",
			c.role, p.Day, retry)
	} else {
		msg = fmt.Sprintf("Too many requests: %s clients may send %s requests a second, in bursts of up to %d. Retry in %d s.",
			c.role, strconv.FormatFloat(p.Rate, 'f', -1, 64), p.Burst, retry)
	}
	return apierr.New(apierr.RateLimited, "rate_limited", msg).With("limit", lim.String()).With("retry_after", retry)
}
