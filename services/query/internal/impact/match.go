package impact

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

// Endpoint is what the matcher knows of one endpoint: its feeds and the
// columns its joins make equal.
type Endpoint struct {
	Feeds    []Feed
	Datasets []string // the feeds' datasets, once each
	equal    map[string][]string
}

// Compile prepares e for matching: which datasets feed it, and how.
func Compile(e *endpoint.Endpoint) (*Endpoint, error) {
	s, err := parseFrom(e.From)
	if err != nil {
		return nil, err
	}
	feeds := s.feeds()
	c := &Endpoint{Feeds: feeds, equal: map[string][]string{}}
	for _, j := range s.joins {
		c.equal[j.col] = append(c.equal[j.col], j.ref)
		c.equal[j.ref] = append(c.equal[j.ref], j.col)
	}
	for _, f := range feeds {
		if !slices.Contains(c.Datasets, f.Dataset) {
			c.Datasets = append(c.Datasets, f.Dataset)
		}
	}
	return c, nil
}

// Affects reports whether change c can alter the answer to q, read when
// latest was the newest bin (for a query of the latest bin; zero when the
// table was empty). It errs on the side of yes.
func (e *Endpoint) Affects(q *endpoint.Query, latest time.Time, c *freshness.Change) bool {
	for i := range e.Feeds {
		if f := &e.Feeds[i]; f.Dataset == c.Dataset && e.via(f, q, latest, c) {
			return true
		}
	}
	return false
}

func (e *Endpoint) via(f *Feed, q *endpoint.Query, latest time.Time, c *freshness.Change) bool {
	if q.Latest && f.Time != "" {
		// The answer is the newest bin: any bin as new or newer may replace it.
		return !c.Time.Before(latest)
	}
	base := row{}
	if f.Time != "" {
		e.set(base, f.Time, c.Time)
	}
	for _, col := range f.AF {
		e.set(base, col, int64(c.AF))
	}
	if f.Part != "" {
		e.set(base, f.Part, c.Part)
	}
	for col, v := range f.Const {
		e.set(base, col, v)
	}
	if !base.passes(q.Filters) {
		return false
	}
	if f.Unbounded || c.AllKeys {
		return true
	}
	for _, g := range f.Groups {
		if !e.groupPasses(g, q, base, c) {
			return false
		}
	}
	return true
}

// groupPasses reports whether one of the change's values for the group
// makes a row that passes q's filters.
func (e *Endpoint) groupPasses(g []Key, q *endpoint.Query, base row, c *freshness.Change) bool {
	for _, k := range g {
		if ints, ok := c.Ints[k.Event]; ok {
			for _, v := range e.candidates(q, k.Column, ints) {
				if e.with(base, k.Column, v).passes(q.Filters) {
					return true
				}
			}
		}
		for _, v := range c.Texts[k.Event] {
			r := base.clone()
			if k.Decode != nil {
				for col, x := range k.Decode(v) {
					e.set(r, col, x)
				}
			} else {
				e.set(r, k.Column, v)
			}
			if r.passes(q.Filters) {
				return true
			}
		}
	}
	return false
}

// candidates narrows a change's sorted values to those a list or exact
// filter on col (or a column equal to it) allows, which spares testing
// thousands of keys one by one; without such a filter, all of them.
func (e *Endpoint) candidates(q *endpoint.Query, col string, values []int64) []int64 {
	for _, f := range q.Filters {
		if (f.Param.Op != endpoint.In && f.Param.Op != endpoint.Eq) || f.Param.Kind != endpoint.Int ||
			(f.Param.Column != col && !slices.Contains(e.equal[col], f.Param.Column)) {
			continue
		}
		var out []int64
		for _, v := range f.Values {
			if _, found := slices.BinarySearch(values, v.(int64)); found {
				out = append(out, v.(int64))
			}
		}
		return out
	}
	return values
}

func (e *Endpoint) with(base row, col string, v any) row {
	r := base.clone()
	e.set(r, col, v)
	return r
}

// set gives col and the columns joins make equal to it the value v.
func (e *Endpoint) set(r row, col string, v any) {
	r[col] = v
	for _, other := range e.equal[col] {
		r[other] = v
	}
}

// row is what is known of a changed row: column → value. Filters on
// columns it does not hold pass.
type row map[string]any

func (r row) clone() row {
	c := make(row, len(r)+3)
	for k, v := range r {
		c[k] = v
	}
	return c
}

func (r row) passes(filters []endpoint.Filter) bool {
	for i := range filters {
		if !r.pass(&filters[i]) {
			return false
		}
	}
	return true
}

func (r row) pass(f *endpoint.Filter) bool {
	col := f.Param.Column
	switch f.Param.Op {
	case endpoint.Search:
		return r.search(col, f.Values[0].(string))
	case endpoint.LocationKey:
		return r.locationKey(col, f.Values)
	case endpoint.WhenTrue:
		return true
	}
	v, ok := r[col]
	if !ok {
		return true
	}
	switch f.Param.Op {
	case endpoint.Eq, endpoint.In, endpoint.InPipe:
		return slices.ContainsFunc(f.Values, func(w any) bool { return compare(v, w) == 0 })
	case endpoint.Gte:
		return compare(v, f.Values[0]) >= 0
	case endpoint.Lte:
		return compare(v, f.Values[0]) <= 0
	case endpoint.Contains:
		s, ok := v.(string)
		return !ok || strings.Contains(s, f.Values[0].(string))
	case endpoint.IContains:
		s, ok := v.(string)
		return !ok || iContains(s, f.Values[0].(string))
	}
	return true
}

// compare orders two values of one kind; values it cannot order compare
// equal, so that the filter passes.
func compare(a, b any) int {
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return cmpOrdered(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmpOrdered(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case bool:
		if y, ok := b.(bool); ok && x != y {
			return 1
		}
	}
	return 0
}

func cmpOrdered[T int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// iContains is ILIKE '%sub%' for ASCII; beyond ASCII the database's case
// rules may differ from Go's, so it passes.
func iContains(s, sub string) bool {
	if !ascii(s) || !ascii(sub) {
		return true
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// search is the networks' search filter (see store.whereClause) on a
// network whose number and name are known.
func (r row) search(alias, term string) bool {
	n, okN := r[alias+".number"].(int64)
	name, okName := r[alias+".name"].(string)
	if !okN || !okName {
		return true
	}
	number := term
	if len(term) > 2 && (strings.EqualFold(term[:2], "AS") || strings.EqualFold(term[:2], "IX")) {
		if _, err := strconv.ParseInt(term[2:], 10, 64); err == nil {
			number = term[2:]
		}
	}
	digits := strconv.FormatInt(n, 10)
	return iContains(digits+" "+name, number) && (strings.Contains(digits, number) || iContains(name, term))
}

// locationKey is the *_key filter: one of the keys matches the location's
// type, and its af and name when the key gives them.
func (r row) locationKey(alias string, keys []any) bool {
	for _, v := range keys {
		k := v.(endpoint.LocKey)
		if t, ok := r[alias+".type"]; ok && t != k.Type {
			continue
		}
		if af, ok := r[alias+".af"]; ok && k.AF != nil && af != *k.AF {
			continue
		}
		if name, ok := r[alias+".name"]; ok && k.Name != nil && name != *k.Name {
			continue
		}
		return true
	}
	return false
}
