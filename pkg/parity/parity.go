// Package parity tells whether two answers of the read API say the same
// thing: the gateway's shadow traffic compares ours with the legacy API's,
// and `ihrctl compare` two deployments, with this one definition.
//
// Two answers are equal when their statuses are, and their bodies are
// after normalisation:
//   - JSON bodies are compared as JSON: object key order does not matter,
//     array order does (it is the requested ordering);
//   - numbers are equal within Tolerance (integers exactly);
//   - the top-level `next` and `previous` links are compared without their
//     scheme and host (each deployment names itself) and with their query
//     parameters in any order;
//   - bodies that are not JSON (CSV, HTML error pages) are compared byte for
//     byte.
package parity

import (
	"bytes"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tolerance bounds how far two JSON numbers may be apart and still be
// equal: within RelTol of the larger magnitude, or within AbsTol. Both
// implementations print float64 values the same way (Python's repr, the
// shortest text that reads back), so a value read from the same column is
// identical; what differs is arithmetic done in another order (a sum in SQL
// rather than in Python), a few units in the last place, about 1e-16
// relative. 1e-9 is far above that and far below any real change in IHR's
// data (hegemony and delays carry at most 6 significant digits); AbsTol
// lets values around zero (-0.0 and 1e-17) be equal.
const (
	RelTol = 1e-9
	AbsTol = 1e-12
)

// Limits of what a Result holds: the first differences with their values,
// the distinct paths that differ, and each value's text.
const (
	MaxDiffs    = 10
	MaxPatterns = 100
	MaxValue    = 120
)

// Answer is one side's answer.
type Answer struct {
	Status int
	Body   []byte
}

// Diff is one difference: the JSON path (`$.results[3].hege`; `$` for the
// whole body) and each side's value as JSON text, truncated to MaxValue.
type Diff struct {
	Path string `json:"path"`
	A    string `json:"a"`
	B    string `json:"b"`
}

// Result is what Compare found.
type Result struct {
	StatusA, StatusB int
	// Count is the number of differences in the bodies; Diffs the first
	// MaxDiffs of them.
	Count int
	Diffs []Diff
	// Patterns are the distinct paths that differ with array indices
	// replaced by `*` (`$.results[*].hege`), in the order found, at most
	// MaxPatterns: what to count across many comparisons.
	Patterns []string
}

// Equal reports whether the answers say the same thing.
func (r *Result) Equal() bool { return r.StatusA == r.StatusB && r.Count == 0 }

// Compare compares a and b.
func Compare(a, b Answer) Result {
	c := &comparer{res: Result{StatusA: a.Status, StatusB: b.Status}}
	ja, jb := json.Valid(a.Body), json.Valid(b.Body)
	switch {
	case ja && jb:
		c.value("$", a.Body, b.Body, true)
	case !bytes.Equal(a.Body, b.Body):
		c.diff("$", a.Body, b.Body)
	}
	return c.res
}

type comparer struct {
	res Result
}

func (c *comparer) diff(path string, a, b []byte) {
	c.res.Count++
	if len(c.res.Diffs) < MaxDiffs {
		c.res.Diffs = append(c.res.Diffs, Diff{Path: path, A: show(a), B: show(b)})
	}
	if p := Pattern(path); len(c.res.Patterns) < MaxPatterns && !slices.Contains(c.res.Patterns, p) {
		c.res.Patterns = append(c.res.Patterns, p)
	}
}

// absent stands for a member one side does not have.
var absent = []byte("(absent)")

// value compares two valid JSON values; top tells the body's own object,
// whose links are compared as links.
func (c *comparer) value(path string, a, b []byte, top bool) {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	ka, kb := kind(a), kind(b)
	switch {
	case ka != kb:
		c.diff(path, a, b)
	case ka == '{':
		c.object(path, a, b, top)
	case ka == '[':
		c.array(path, a, b)
	case ka == '0':
		if !sameNumber(string(a), string(b)) {
			c.diff(path, a, b)
		}
	case ka == '"':
		var sa, sb string
		_ = json.Unmarshal(a, &sa) // valid: checked by Compare
		_ = json.Unmarshal(b, &sb)
		if sa != sb {
			c.diff(path, a, b)
		}
	default: // true, false, null
		if !bytes.Equal(a, b) {
			c.diff(path, a, b)
		}
	}
}

// kind is a JSON value's first byte, '0' for every number.
func kind(v []byte) byte {
	if len(v) == 0 {
		return 0
	}
	switch v[0] {
	case '{', '[', '"', 't', 'f', 'n':
		return v[0]
	}
	return '0'
}

// object compares members by name. Each level is decoded to raw members
// only, so a large page never becomes a tree of Go values at once: the
// items are decoded one by one as they are compared.
func (c *comparer) object(path string, a, b []byte, top bool) {
	var ma, mb map[string]json.RawMessage
	_ = json.Unmarshal(a, &ma)
	_ = json.Unmarshal(b, &mb)
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // differences in a stable order
	for _, k := range keys {
		va, inA := ma[k]
		vb, inB := mb[k]
		p := member(path, k)
		switch {
		case !inA:
			c.diff(p, absent, vb)
		case !inB:
			c.diff(p, va, absent)
		case top && (k == "next" || k == "previous"):
			if !sameLink(va, vb) {
				c.diff(p, va, vb)
			}
		default:
			c.value(p, va, vb, false)
		}
	}
}

func (c *comparer) array(path string, a, b []byte) {
	var la, lb []json.RawMessage
	_ = json.Unmarshal(a, &la)
	_ = json.Unmarshal(b, &lb)
	if len(la) != len(lb) {
		c.diff(path, []byte(strconv.Itoa(len(la))+" items"), []byte(strconv.Itoa(len(lb))+" items"))
	}
	for i := range min(len(la), len(lb)) {
		c.value(path+"["+strconv.Itoa(i)+"]", la[i], lb[i], false)
	}
}

// member is the path of member k of the object at path.
func member(path, k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return path + "." + k
	}
	q, _ := json.Marshal(k)
	return path + "[" + string(q) + "]"
}

// sameNumber compares two JSON numbers: integers exactly (ids beyond 2^53
// must not be equal by rounding), anything else within Tolerance.
func sameNumber(a, b string) bool {
	if a == b {
		return true
	}
	if integer(a) && integer(b) {
		return strings.TrimPrefix(a, "-") == "0" && strings.TrimPrefix(b, "-") == "0"
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil { // out of float64's range: only the same text is equal
		return false
	}
	d := math.Abs(fa - fb)
	return d <= AbsTol || d <= RelTol*math.Max(math.Abs(fa), math.Abs(fb))
}

func integer(n string) bool { return !strings.ContainsAny(n, ".eE") }

// sameLink compares two link values: null or URLs, the latter without
// scheme and host and with query parameters in any order (the Django API
// sorts them, the FastAPI one and ours keep the request's order).
func sameLink(a, b json.RawMessage) bool {
	var sa, sb *string
	if json.Unmarshal(a, &sa) != nil || json.Unmarshal(b, &sb) != nil {
		return bytes.Equal(a, b)
	}
	if sa == nil || sb == nil {
		return sa == nil && sb == nil
	}
	return link(*sa) == link(*sb)
}

func link(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path + "?" + q.Encode() // Encode sorts by name
}

// show is a value as diffs carry it: compact, at most MaxValue bytes.
func show(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) <= MaxValue {
		return string(v)
	}
	n := MaxValue
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return string(v[:n]) + "…"
}

// Pattern is path with its array indices replaced by `*`.
func Pattern(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '[' && i+1 < len(path) && path[i+1] >= '0' && path[i+1] <= '9' {
			j := strings.IndexByte(path[i:], ']')
			if j > 0 {
				b.WriteString("[*]")
				i += j
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

// Endpoint names the endpoint of an API path: `/ihr/api/hegemony/alarms/`
// is `hegemony/alarms`; a path outside the API is returned as it is.
func Endpoint(path string) string {
	name, ok := strings.CutPrefix(path, "/ihr/api/")
	if !ok {
		return path
	}
	return strings.TrimSuffix(name, "/")
}
