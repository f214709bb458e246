package endpoint

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key is the canonical form of a validated query: the endpoint's path and
// the parameters that shape the answer, sorted by name, each value
// normalised (numbers and times as parsed, lists sorted without repeats),
// so that requests asking for the same answer share it. It is itself a
// request, relative to /ihr/api/, that parses to the same query.
func (q *Query) Key() string {
	params := make([]string, 0, len(q.Filters)+4)
	add := func(name, value string) {
		params = append(params, url.QueryEscape(name)+"="+url.QueryEscape(value))
	}
	for _, f := range q.Filters {
		add(f.Param.Name, filterValue(f))
	}
	if len(q.Order) > 0 {
		terms := make([]string, len(q.Order))
		for i, o := range q.Order {
			terms[i] = o.Field
			if o.Desc {
				terms[i] = "-" + o.Field
			}
		}
		add("ordering", strings.Join(terms, ","))
	}
	for _, p := range q.Endpoint.Params {
		if p.Op == Switch && q.Hidden[p.Column] {
			add(p.Name, "false")
		}
	}
	if q.Format != "json" {
		add("format", q.Format)
	}
	if q.Page > 1 {
		add("page", strconv.Itoa(q.Page))
	}
	slices.Sort(params)
	return q.Endpoint.Path + "/?" + strings.Join(params, "&")
}

// filterValue spells a filter's values as a request would, lists sorted.
func filterValue(f Filter) string {
	items := make([]string, len(f.Values))
	for i, v := range f.Values {
		items[i] = valueText(v)
	}
	switch f.Param.Op {
	case In:
		if f.Param.Kind == Int {
			slices.SortFunc(items, func(a, b string) int {
				x, _ := strconv.ParseInt(a, 10, 64)
				y, _ := strconv.ParseInt(b, 10, 64)
				return cmp.Compare(x, y)
			})
		} else {
			slices.Sort(items)
		}
		return strings.Join(slices.Compact(items), ",")
	case InPipe, LocationKey:
		slices.Sort(items)
		return strings.Join(slices.Compact(items), "|")
	}
	return items[0]
}

func valueText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case LocKey:
		// "_" stands for a missing address family: parsed again, it drops that condition too.
		s := x.Type
		switch {
		case x.AF != nil:
			s += strconv.FormatInt(*x.AF, 10)
		case x.Name != nil:
			s += "_"
		}
		if x.Name != nil {
			s += *x.Name
		}
		return s
	case string:
		return x
	}
	panic("endpoint: no text for a value of this kind")
}

// Pairs splits a raw query string in order, decoding as forms do.
func Pairs(raw string) ([]Pair, error) {
	var pairs []Pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, Pair{Key: key, Value: val})
	}
	return pairs, nil
}

// ParseKey parses a request relative to /ihr/api/ ("hegemony/?asn=2497"),
// such as a Key, against the endpoints.
func ParseKey(endpoints []*Endpoint, key string) (*Query, error) {
	path, raw, _ := strings.Cut(key, "?")
	path = strings.Trim(path, "/")
	for _, e := range endpoints {
		if e.Path == path {
			pairs, err := Pairs(raw)
			if err != nil {
				return nil, err
			}
			return Parse(e, pairs)
		}
	}
	return nil, fmt.Errorf("no endpoint %q", path)
}
