package tracing

import (
	"fmt"
	"strings"
	"testing"
)

// tree is the spans of one trace, by id.
type tree struct {
	spans []span
	byID  map[string]span
}

func newTree(spans []span) tree {
	t := tree{spans: spans, byID: make(map[string]span, len(spans))}
	for _, s := range spans {
		t.byID[s.SpanID] = s
	}
	return t
}

func (tr tree) has(is func(span) bool) bool {
	for _, s := range tr.spans {
		if is(s) {
			return true
		}
	}
	return false
}

// first returns a span that is, failing if there is none.
func (tr tree) first(t *testing.T, is func(span) bool) span {
	t.Helper()
	for _, s := range tr.spans {
		if is(s) {
			return s
		}
	}
	t.Fatalf("no such span in the trace:\n%s", tr)
	return span{}
}

// one returns the only span that is, failing unless there is exactly one.
func (tr tree) one(t *testing.T, is func(span) bool) span {
	t.Helper()
	var found []span
	for _, s := range tr.spans {
		if is(s) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d such spans in the trace, want 1: %v\n%s", len(found), found, tr)
	}
	return found[0]
}

// below reports whether an ancestor of s is.
func (tr tree) below(s span, is func(span) bool) bool {
	for p, ok := tr.byID[s.Parent]; ok; p, ok = tr.byID[p.Parent] {
		if is(p) {
			return true
		}
	}
	return false
}

// under fails unless ancestor is an ancestor of s.
func (tr tree) under(t *testing.T, s, ancestor span) {
	t.Helper()
	if !tr.below(s, func(p span) bool { return p.SpanID == ancestor.SpanID }) {
		t.Errorf("%s is not under %s:\n%s", s, ancestor, tr)
	}
}

// parentIs fails unless s is a child of parent.
func (tr tree) parentIs(t *testing.T, s, parent span) {
	t.Helper()
	if s.Parent != parent.SpanID {
		t.Errorf("%s is not a child of %s:\n%s", s, parent, tr)
	}
}

// String draws the tree, one span a line; spans whose parent is not in
// the trace (the test's own) start at the left.
func (tr tree) String() string {
	children := map[string][]span{}
	var roots []span
	for _, s := range tr.spans {
		if _, ok := tr.byID[s.Parent]; ok {
			children[s.Parent] = append(children[s.Parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	var b strings.Builder
	var draw func(s span, depth int)
	draw = func(s span, depth int) {
		fmt.Fprintf(&b, "%s%s: %s [%s]\n", strings.Repeat("  ", depth), s.Service, s.Name, strings.ToLower(s.Kind))
		for _, c := range children[s.SpanID] {
			draw(c, depth+1)
		}
	}
	for _, r := range roots {
		draw(r, 0)
	}
	return b.String()
}
