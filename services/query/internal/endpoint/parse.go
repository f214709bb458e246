package endpoint

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxPage bounds page numbers so offsets stay far from overflow.
const MaxPage = 1_000_000_000

// Pair is one query parameter as sent, in request order.
type Pair struct{ Key, Value string }

// Filter is a parameter with its parsed value(s).
type Filter struct {
	Param  Param
	Values []any
}

// OrderTerm is one ORDER BY term: a response field and its column.
type OrderTerm struct {
	Field  string
	Column string
	Desc   bool
}

// Query is a validated request.
type Query struct {
	Endpoint *Endpoint
	Filters  []Filter
	Order    []OrderTerm
	Page     int
	// Latest: no time was given, so the rows at the table's latest time are wanted.
	Latest bool
	// Hidden names fields a Switch parameter turned off: they are null.
	Hidden map[string]bool
	// Format is "json" (the legacy envelope) or "csv" (a header row, then one row per result).
	Format string
}

// LocKey is one location key: a type, and an address family and name when given.
type LocKey struct {
	Type string
	AF   *int64
	Name *string
}

// UnknownParams is the legacy 400 for parameters an endpoint does not take.
type UnknownParams struct{ Unexpected, Allowed []string }

func (e *UnknownParams) Error() string {
	return "unknown query parameters: " + strings.Join(e.Unexpected, ", ")
}

// TypeError is one value that does not parse, reported as FastAPI does (422).
type TypeError struct {
	Type  string    `json:"type"`
	Loc   [2]string `json:"loc"`
	Msg   string    `json:"msg"`
	Input string    `json:"input"`
}

// TypeErrors are all the values of a request that do not parse.
type TypeErrors []TypeError

func (e TypeErrors) Error() string { return fmt.Sprintf("%d invalid parameter values", len(e)) }

// RuleError is a request that parses but breaks a rule (legacy 400 {"detail": ...}).
type RuleError struct{ Detail string }

func (e *RuleError) Error() string { return e.Detail }

// OrderingError names ordering fields that do not exist.
type OrderingError struct{ Unexpected, Allowed []string }

func (e *OrderingError) Error() string {
	return "unknown ordering fields: " + strings.Join(e.Unexpected, ", ")
}

// Parse validates pairs against e: unknown parameters first (400), then
// values (422, all at once), then the endpoint's rules (400).
func Parse(e *Endpoint, pairs []Pair) (*Query, error) {
	allowed := e.Allowed()
	values := map[string]string{}
	var unexpected []string
	for _, p := range pairs {
		if !slices.Contains(allowed, p.Key) {
			if !slices.Contains(unexpected, p.Key) {
				unexpected = append(unexpected, p.Key)
			}
			continue
		}
		values[p.Key] = p.Value // the last value wins, as in the legacy API
	}
	if len(unexpected) > 0 {
		slices.Sort(unexpected)
		slices.Sort(allowed)
		return nil, &UnknownParams{Unexpected: unexpected, Allowed: allowed}
	}
	for k, v := range values {
		if v == "" { // an empty value means the filter is absent
			delete(values, k)
		}
	}
	q := &Query{Endpoint: e, Page: 1, Format: "json"}
	if v, ok := values["format"]; ok {
		if v != "json" && v != "csv" {
			return nil, &RuleError{Detail: "Unsupported format " + strconv.Quote(v) + ": use json or csv."}
		}
		q.Format = v
	}
	var errs TypeErrors
	if v, ok := values["page"]; ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			errs = append(errs, intError("page", v))
		case n < 1:
			errs = append(errs, TypeError{"greater_than_equal", [2]string{"query", "page"}, "Input should be greater than or equal to 1", v})
		case n > MaxPage:
			errs = append(errs, TypeError{"less_than_equal", [2]string{"query", "page"}, "Input should be less than or equal to " + strconv.Itoa(MaxPage), v})
		default:
			q.Page = n
		}
	}
	for _, p := range e.Params {
		v, ok := values[p.Name]
		if !ok {
			continue
		}
		vals, err := parseValues(p, v)
		switch {
		case err != nil:
			errs = append(errs, *err)
		case p.Op == Switch:
			if !vals[0].(bool) {
				q.Hidden = map[string]bool{p.Column: true}
			}
		case p.Op == WhenTrue && !vals[0].(bool):
		case len(vals) > 0:
			q.Filters = append(q.Filters, Filter{Param: p, Values: vals})
		}
	}
	times := map[string]time.Time{}
	if e.Time != nil {
		for _, name := range []string{e.Time.Param, e.Time.Param + "__gte", e.Time.Param + "__lte"} {
			if v, ok := values[name]; ok {
				t, err := ParseTime(v)
				if err != nil {
					errs = append(errs, TypeError{"datetime_from_date_parsing", [2]string{"query", name}, "Input should be a valid datetime or date, " + err.Error(), v})
					continue
				}
				times[name] = t
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	if len(e.OneOf) > 0 && !slices.ContainsFunc(e.OneOf, func(n string) bool { _, ok := values[n]; return ok }) {
		return nil, &RuleError{Detail: e.OneOfMsg}
	}
	if e.Time != nil {
		if err := q.timeWindow(e.Time, times); err != nil {
			return nil, err
		}
	}
	if err := q.ordering(values["ordering"]); err != nil {
		return nil, err
	}
	return q, nil
}

func (q *Query) timeWindow(r *TimeRule, times map[string]time.Time) error {
	exact, hasExact := times[r.Param]
	from, hasFrom := times[r.Param+"__gte"]
	to, hasTo := times[r.Param+"__lte"]
	filter := func(op Op, t time.Time) {
		name := map[Op]string{Eq: r.Param, Gte: r.Param + "__gte", Lte: r.Param + "__lte"}[op]
		q.Filters = append(q.Filters, Filter{Param: Param{Name: name, Column: r.Column, Op: op, Kind: Time}, Values: []any{t}})
	}
	switch {
	case hasExact: // an exact time replaces any range
		filter(Eq, exact)
	case hasFrom != hasTo:
		return &RuleError{Detail: fmt.Sprintf("Invalid %[1]s range. Please provide both %[1]s__lte and %[1]s__gte.", r.Param)}
	case hasFrom:
		if to.Sub(from) > time.Duration(r.MaxDays)*24*time.Hour {
			return &RuleError{Detail: fmt.Sprintf("The given %s range is too large. Should be less than %d days.", r.Param, r.MaxDays)}
		}
		filter(Gte, from)
		filter(Lte, to)
	default:
		q.Latest = true
	}
	return nil
}

// ordering parses "f1,-f2": response field names, "-" for descending.
func (q *Query) ordering(v string) error {
	if v == "" {
		return nil
	}
	var unknown []string
	for _, term := range strings.Split(v, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		name, desc := strings.CutPrefix(term, "-")
		f, ok := q.Endpoint.field(name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		q.Order = append(q.Order, OrderTerm{Field: name, Column: f.Column, Desc: desc})
	}
	if len(unknown) > 0 {
		allowed := make([]string, 0, len(q.Endpoint.Fields))
		for _, f := range q.Endpoint.Fields {
			allowed = append(allowed, f.Name)
		}
		slices.Sort(allowed)
		return &OrderingError{Unexpected: unknown, Allowed: allowed}
	}
	return nil
}

func intError(name, v string) TypeError {
	return TypeError{"int_parsing", [2]string{"query", name}, "Input should be a valid integer, unable to parse string as an integer", v}
}

// parseValues parses a parameter's value; list lookups drop empty items.
func parseValues(p Param, v string) ([]any, *TypeError) {
	items := []string{v}
	list := p.Op == In || p.Op == InPipe || p.Op == LocationKey
	switch p.Op {
	case In:
		items = strings.Split(v, ",")
	case InPipe, LocationKey:
		items = strings.Split(v, "|")
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		if list {
			if it = strings.TrimSpace(it); it == "" {
				continue
			}
		}
		x, err := parseValue(p, it)
		if err != nil {
			err.Input = v
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

func parseValue(p Param, v string) (any, *TypeError) {
	loc := [2]string{"query", p.Name}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return nil, &TypeError{"string_unicode", loc, "Input should be a valid string: UTF-8 without NUL characters", v}
	}
	if p.Op == LocationKey {
		return parseLocKey(loc, v)
	}
	switch p.Kind {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			e := intError(p.Name, v)
			return nil, &e
		}
		return n, nil
	case Float:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &TypeError{"float_parsing", loc, "Input should be a valid number, unable to parse string as a number", v}
		}
		return f, nil
	case Bool:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes", "on", "t", "y":
			return true, nil
		case "false", "0", "no", "off", "f", "n":
			return false, nil
		}
		return nil, &TypeError{"bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v}
	case Time:
		t, err := ParseTime(v)
		if err != nil {
			return nil, &TypeError{"datetime_from_date_parsing", loc, "Input should be a valid datetime or date, " + err.Error(), v}
		}
		return t, nil
	}
	return v, nil
}

// parseLocKey reads "CT4Tokyo, Tokyo, JP": a two-letter type, then the
// address family and the name when present (as the legacy API, a missing
// or non-digit family only drops that condition).
func parseLocKey(loc [2]string, v string) (any, *TypeError) {
	if len(v) < 2 || len(v) > 300 {
		return nil, &TypeError{"value_error", loc, "Value error, a location key is a 2-letter type, an address family digit and a name, e.g. CT4Tokyo, Tokyo, JP", v}
	}
	k := LocKey{Type: v[:2]}
	if len(v) > 2 && v[2] >= '0' && v[2] <= '9' {
		af := int64(v[2] - '0')
		k.AF = &af
	}
	if len(v) > 3 {
		name := v[3:]
		k.Name = &name
	}
	return k, nil
}

// ParseTime reads ISO 8601: with or without fraction, "Z", an offset or
// none (UTC), "T" or a space between date and time, or a date alone (midnight UTC).
func ParseTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if len(v) > 10 && v[10] == ' ' {
		v = v[:10] + "T" + v[11:]
	}
	// A "+" of an offset sent unencoded arrives as a space.
	if i := strings.LastIndexByte(v, ' '); i > 10 && len(v)-i == 6 {
		v = v[:i] + "+" + v[i+1:]
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	if _, err := time.Parse(time.RFC3339, v); err != nil && strings.Contains(err.Error(), "month out of range") {
		return time.Time{}, fmt.Errorf("month value is outside expected range of 1-12")
	}
	return time.Time{}, fmt.Errorf("invalid datetime format")
}
