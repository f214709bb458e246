package stream

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// Filter selects the events a subscriber gets. Each kind of filter given
// narrows the selection (dataset and af and asn and country); the values of
// one kind are alternatives. An event whose keys were too many to list
// (all_keys) matches any network and country.
type Filter struct {
	Datasets  []string
	AF        int // 0: both
	ASNs      []int64
	Countries []string
}

// Resume is where a subscription starts: after sequence Since, or at the
// first event stored at or after Start; neither: with the next event.
type Resume struct {
	Since uint64 // the last sequence the subscriber has; 0: none
	Start time.Time
}

// maxValues bounds the values of one filter parameter.
const maxValues = 1000

// params lists the query parameters a subscription takes.
var params = []string{"dataset", "af", "asn", "country", "since", "start"}

// Parse reads a subscription from query parameters and, for SSE, the
// Last-Event-ID header (since wins over it when both are given).
func Parse(q url.Values, lastEventID string) (Filter, Resume, error) {
	var f Filter
	var r Resume
	for k := range q {
		if !slices.Contains(params, k) {
			return f, r, fmt.Errorf("unknown parameter %q; the parameters are %s", k, strings.Join(params, ", "))
		}
	}
	for _, d := range list(q, "dataset") {
		if !streamed(d) {
			return f, r, fmt.Errorf("dataset %q: no such dataset", d)
		}
		f.Datasets = append(f.Datasets, d)
	}
	if v := q.Get("af"); v != "" {
		if v != "4" && v != "6" {
			return f, r, fmt.Errorf("af must be 4 or 6, got %q", v)
		}
		f.AF, _ = strconv.Atoi(v)
	}
	for _, v := range list(q, "asn") {
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 64)
		if err != nil || n < 0 || n > 1<<32-1 {
			return f, r, fmt.Errorf("asn %q is not an AS number", v)
		}
		f.ASNs = append(f.ASNs, n)
	}
	for _, v := range list(q, "country") {
		if len(v) < 2 || len(v) > 4 {
			return f, r, fmt.Errorf("country %q is not a country code", v)
		}
		f.Countries = append(f.Countries, strings.ToUpper(v))
	}
	if len(f.Datasets) > maxValues || len(f.ASNs) > maxValues || len(f.Countries) > maxValues {
		return f, r, fmt.Errorf("at most %d values per parameter", maxValues)
	}
	since := cmp.Or(q.Get("since"), lastEventID)
	if since != "" {
		n, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return f, r, fmt.Errorf("since must be an event id (a stream sequence), got %q", since)
		}
		r.Since = n
	}
	if v := q.Get("start"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, r, fmt.Errorf("start must be an RFC 3339 time, got %q", v)
		}
		if r.Since != 0 {
			return f, r, fmt.Errorf("give since (or Last-Event-ID) or start, not both")
		}
		r.Start = t
	}
	return f, r, nil
}

// list reads a parameter given as a comma-separated list, repeated, or both.
func list(q url.Values, key string) []string {
	var out []string
	for _, v := range q[key] {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// streamed reports whether results events of dataset d exist.
func streamed(d string) bool {
	_, ok := events.Lookup(d)
	return ok || d == events.Disco || d == events.Names
}

// Subject is the one subject that holds every event f can match, before
// the deployment prefix: a single dataset's, or all results.
func (f Filter) Subject() string {
	if len(f.Datasets) == 1 {
		return events.ResultsSubject(f.Datasets[0])
	}
	return "ihr.results.>"
}

// Match reports whether r is one of the events f selects.
func (f Filter) Match(r *events.Result) bool {
	if len(f.Datasets) > 0 && !slices.Contains(f.Datasets, r.Dataset) {
		return false
	}
	if f.AF != 0 && r.AF != 0 && r.AF != f.AF {
		return false
	}
	if len(f.ASNs) > 0 && !r.AllKeys && !slices.ContainsFunc(f.ASNs, func(n int64) bool { return hasASN(r, n) }) {
		return false
	}
	if len(f.Countries) > 0 && !r.AllKeys && !slices.ContainsFunc(f.Countries, func(c string) bool { return hasCountry(r, c) }) {
		return false
	}
	return true
}

// hasASN reports whether r lists AS n among the networks it concerns:
// keys of the dataset's AS number fields, traceroute identifiers AS|n, and
// disco events of stream AS n.
func hasASN(r *events.Result, n int64) bool {
	for _, field := range fieldsOf(r.Dataset, events.KindASN) {
		if _, ok := slices.BinarySearch(r.Keys[field], n); ok {
			return true
		}
	}
	for _, field := range fieldsOf(r.Dataset, events.KindIdentifier) {
		if _, ok := slices.BinarySearch(r.TextKeys[field], "AS|"+strconv.FormatInt(n, 10)); ok {
			return true
		}
	}
	return isDiscoStream(r, "asn", strconv.FormatInt(n, 10))
}

// hasCountry reports whether r lists country c.
func hasCountry(r *events.Result, c string) bool {
	for _, field := range fieldsOf(r.Dataset, events.KindCountry) {
		if _, ok := slices.BinarySearch(r.TextKeys[field], c); ok {
			return true
		}
	}
	return isDiscoStream(r, "country", c)
}

func isDiscoStream(r *events.Result, kind, name string) bool {
	return r.Dataset == events.Disco && slices.Contains(r.TextKeys["streamtype"], kind) && slices.Contains(r.TextKeys["streamname"], name)
}

// fieldsOf names the reported fields of dataset d that hold kind.
func fieldsOf(d string, kind events.Kind) []string { return reported()[d][kind] }

// reported maps each dataset to its reported fields by kind; a names
// update reports networks as asn and countries as country.
var reported = sync.OnceValue(func() map[string]map[events.Kind][]string {
	m := map[string]map[events.Kind][]string{
		events.Names: {events.KindASN: {"asn"}, events.KindCountry: {"country"}},
	}
	for _, ds := range events.Datasets() {
		m[ds.Name] = map[events.Kind][]string{}
		for _, f := range ds.Fields() {
			if f.Report {
				m[ds.Name][f.Kind] = append(m[ds.Name][f.Kind], f.JSON)
			}
		}
	}
	return m
})
