package observability

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// selector is a metric a PromQL expression names, with its label matchers.
type selector struct {
	name     string
	matchers []matcher
}

type matcher struct {
	label, op, value string
}

// keywords are the words of PromQL that are neither metrics nor functions
// called with parentheses right after them: operators, aggregations
// (which may take `by (...)` before their argument) and modifiers.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true, "inf": true, "nan": true, "start": true, "end": true,
}

// labelLists are the keywords followed by a parenthesised list of label names.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// selectors returns the metrics expr names, in order. It is a tokenizer,
// not a parser: it skips strings, comments, numbers and durations, range
// brackets, Grafana variables ($x, ${x}), label lists after by, without,
// on, ignoring and group_*, and words followed by "(" (functions); every
// other identifier is a metric, with the matchers of the braces after it.
// A bare {__name__="m"} names m. It fails on text it cannot read.
func selectors(expr string) ([]selector, error) {
	var out []selector
	i := 0
	skipSpace := func() {
		for i < len(expr) {
			switch c := expr[i]; {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				i++
			case c == '#': // a comment, to the end of the line
				for i < len(expr) && expr[i] != '\n' {
					i++
				}
			default:
				return
			}
		}
	}
	for {
		skipSpace()
		if i >= len(expr) {
			return out, nil
		}
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := stringEnd(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			i += end + 1
		case c == '{':
			ms, end, err := matchers(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					out = append(out, selector{name: m.value, matchers: ms})
				}
			}
		case c == '$':
			i++
			if i < len(expr) && expr[i] == '{' {
				end := strings.IndexByte(expr[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unclosed ${ at %d", i)
				}
				i += end + 1
			} else {
				i = identEnd(expr, i)
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			// A number or a duration (5m, 1h30m, 1e9, 0x1f).
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			i = identEnd(expr, i)
			word := expr[start:i]
			skipSpace()
			next := byte(0)
			if i < len(expr) {
				next = expr[i]
			}
			lower := strings.ToLower(word)
			switch {
			case labelLists[lower]:
				if next == '(' {
					end := strings.IndexByte(expr[i:], ')')
					if end < 0 {
						return nil, fmt.Errorf("unclosed label list after %s", word)
					}
					i += end + 1
				}
			case keywords[lower]:
			case next == '(': // a function
			default:
				s := selector{name: word}
				if next == '{' {
					ms, end, err := matchers(expr, i)
					if err != nil {
						return nil, err
					}
					s.matchers, i = ms, end
				}
				out = append(out, s)
			}
		case strings.IndexByte("()+-*/%^=!<>,@:", c) >= 0:
			i++
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
}

func isIdent(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func identEnd(s string, i int) int {
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	return i
}

// stringEnd returns the index after the string literal starting at i.
func stringEnd(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at %d", i)
}

// matchers reads the label matchers of the braces at s[i] and returns them
// with the index after the closing brace.
func matchers(s string, i int) ([]matcher, int, error) {
	var out []matcher
	i++ // {
	for {
		for i < len(s) && strings.IndexByte(" \t\n\r,", s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unclosed {")
		}
		if s[i] == '}' {
			return out, i + 1, nil
		}
		start := i
		i = identEnd(s, i)
		label := s[start:i]
		if label == "" {
			return nil, 0, fmt.Errorf("no label name at %d", i)
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		opStart := i
		for i < len(s) && strings.IndexByte("=!~", s[i]) >= 0 {
			i++
		}
		op := s[opStart:i]
		if op != "=" && op != "!=" && op != "=~" && op != "!~" {
			return nil, 0, fmt.Errorf("label %s: operator %q", label, op)
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || strings.IndexByte("\"'`", s[i]) < 0 {
			return nil, 0, fmt.Errorf("label %s: no string value", label)
		}
		end, err := stringEnd(s, i)
		if err != nil {
			return nil, 0, err
		}
		value := s[i+1 : end-1]
		if s[i] != '`' {
			value = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\'`, `'`).Replace(value)
		}
		out = append(out, matcher{label, op, value})
		i = end
	}
}

// grafanaVariable matches the Grafana template queries that name metrics:
// label_values(<selector>, <label>) and query_result(<expr>).
var grafanaVariable = regexp.MustCompile(`^\s*(?:label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)|query_result\((.*)\))\s*$`)

// variableQuery returns the PromQL part of a Grafana template query, if any.
func variableQuery(q string) string {
	m := grafanaVariable.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

func TestSelectors(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string // name, or name{label op value,...}
	}{
		{`up == 0`, []string{"up"}},
		{`sum by (job) (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))`,
			[]string{`http_server_request_duration_seconds_count{http_response_status_code=~5..}`}},
		{`histogram_quantile(0.99, sum by (le) (rate(h_bucket{job="gateway", method!="POST"}[5m]))) > 2.5`,
			[]string{`h_bucket{job=gateway,method!=POST}`}},
		{`time() - max by (dataset) (a{dataset!~".*_alarms"}) > on (dataset) (2 * max by (dataset) (b) + 3600)`,
			[]string{`a{dataset!~.*_alarms}`, "b"}},
		{`sum(x) by (job) / ignoring(le) y unless z and w or v`, []string{"x", "y", "z", "w", "v"}},
		{`a * on (x) group_left (y, z) b`, []string{"a", "b"}},
		{`a * on(x) group_right b offset 1h`, []string{"a", "b"}},
		{`rate(x[$__rate_interval]) / 1e9 + rate(y{job=~"$service"}[${interval}])`, []string{"x", `y{job=~$service}`}},
		{`min_over_time(x[30m:1m]) > 0 # x # not_a_metric`, []string{"x"}},
		{`{__name__="foo", job="q"}`, []string{`foo{__name__=foo,job=q}`}},
		{`count_values("v", ns:rate5m) and topk(3, a) and quantile(0.5, b) and label_replace(c, "d", "$1", "e", "(.*)")`, []string{"ns:rate5m", "a", "b", "c"}},
		{`x{a="}{", b='\'', c=` + "`\\`" + `}`, []string{`x{a=}{,b=',c=\}`}},
		{`sum without (instance) (x) @ end()`, []string{"x"}},
		{`.5 * x > bool 0x1f`, []string{"x"}},
	} {
		got, err := selectors(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var names []string
		for _, s := range got {
			n := s.name
			if len(s.matchers) > 0 {
				var ms []string
				for _, m := range s.matchers {
					ms = append(ms, m.label+m.op+m.value)
				}
				n += "{" + strings.Join(ms, ",") + "}"
			}
			names = append(names, n)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("%s:\n got  %q\n want %q", c.expr, names, c.want)
		}
	}
	for _, bad := range []string{`x{a="b"`, `x{a}`, `x[5m`, `"open`, `x ; y`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("%s: read without error", bad)
		}
	}
	for q, want := range map[string]string{
		`label_values(up{job=~"a|b"}, job)`: `up{job=~"a|b"}`,
		`label_values(job)`:                 "",
		`query_result(topk(5, x))`:          "topk(5, x)",
		`metrics(ihr_.*)`:                   "",
	} {
		if got := variableQuery(q); got != want {
			t.Errorf("variableQuery(%s) = %q, want %q", q, got, want)
		}
	}
}
