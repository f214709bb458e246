package httpapi

import (
	"strconv"
	"time"

	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

// Lifetimes are how long clients and shared caches (CDNs) may keep
// answers, as the legacy API's Cache-Control did: time windows ending more
// than Settled ago change only if a bin is run again, so they keep long;
// the reference lists keep long too; anything that reaches recent data
// keeps briefly, and ETags make revalidating it cheap.
type Lifetimes struct {
	Live      time.Duration
	Settled   time.Duration // age after which a window is settled
	Old       time.Duration // lifetime of settled windows
	Reference time.Duration // lifetime of networks, countries and locations
}

// CacheControl is the Cache-Control header of q's answer at now.
func (l Lifetimes) CacheControl(q *endpoint.Query, now time.Time) string {
	e := q.Endpoint
	age := l.Live
	switch {
	case e.Reference:
		age = l.Reference
	case e.Time != nil && !q.Latest:
		if end, ok := windowEnd(q, e.Time.Param); ok && now.Sub(end) > l.Settled {
			age = l.Old
		}
	}
	return "public, max-age=" + strconv.FormatInt(int64(age/time.Second), 10)
}

// windowEnd is the end of q's time window: its exact time or upper bound.
func windowEnd(q *endpoint.Query, param string) (time.Time, bool) {
	for _, f := range q.Filters {
		if f.Param.Name == param || f.Param.Name == param+"__lte" {
			return f.Values[0].(time.Time), true
		}
	}
	return time.Time{}, false
}
