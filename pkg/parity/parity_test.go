package parity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	page := `{"count":2,"next":null,"previous":null,"results":[{"asn":2497,"hege":0.25,"timebin":"2026-12-01T00:00:00Z"},{"asn":15169,"hege":1e-05,"timebin":"2026-12-01T00:00:00Z"}]}`
	for _, tc := range []struct {
		name     string
		a, b     Answer
		paths    []string // the differences, in order
		patterns []string
	}{
		{name: "same bytes", a: Answer{200, []byte(page)}, b: Answer{200, []byte(page)}},
		{name: "key order and spaces", a: Answer{200, []byte(`{"a":1,"b":[1,2]}`)}, b: Answer{200, []byte(`{ "b": [1, 2], "a": 1 }`)}},
		{name: "float within tolerance", a: Answer{200, []byte(`[0.1, 1e300, -0.0, 3]`)}, b: Answer{200, []byte(`[0.10000000000000002, 1.0000000001e300, 0.0, 3.0]`)}},
		{name: "tiny values around zero", a: Answer{200, []byte(`[1e-17]`)}, b: Answer{200, []byte(`[0]`)}},
		{name: "float beyond tolerance", a: Answer{200, []byte(`{"hege":0.25}`)}, b: Answer{200, []byte(`{"hege":0.2500001}`)},
			paths: []string{"$.hege"}},
		{name: "integers exactly", a: Answer{200, []byte(`[9007199254740993]`)}, b: Answer{200, []byte(`[9007199254740992]`)},
			paths: []string{"$[0]"}},
		{name: "string escapes", a: Answer{200, []byte(`["é/"]`)}, b: Answer{200, []byte(`["\u00e9\/"]`)}},
		{name: "links without host, parameters in any order",
			a: Answer{200, []byte(`{"next":"https://www.ihr.live/ihr/api/hegemony/?asn=2497&page=2&af=4","previous":null}`)},
			b: Answer{200, []byte(`{"next":"http://127.0.0.1:8080/ihr/api/hegemony/?af=4&asn=2497&page=2","previous":null}`)}},
		{name: "links that differ",
			a:     Answer{200, []byte(`{"next":"https://a/ihr/api/hegemony/?page=2","previous":null}`)},
			b:     Answer{200, []byte(`{"next":"https://b/ihr/api/hegemony/?page=3","previous":"https://b/ihr/api/hegemony/?page=1"}`)},
			paths: []string{"$.next", "$.previous"}},
		{name: "hosts matter below the envelope", a: Answer{200, []byte(`{"results":[{"next":"https://a/x"}]}`)}, b: Answer{200, []byte(`{"results":[{"next":"https://b/x"}]}`)},
			paths: []string{"$.results[0].next"}},
		{name: "one field of a page", a: Answer{200, []byte(page)}, b: Answer{200, []byte(strings.Replace(page, `"hege":0.25`, `"hege":0.5`, 1))},
			paths: []string{"$.results[0].hege"}, patterns: []string{"$.results[*].hege"}},
		{name: "missing member and odd names", a: Answer{200, []byte(`{"a b":1,"c":null}`)}, b: Answer{200, []byte(`{"c":false}`)},
			paths: []string{`$["a b"]`, "$.c"}},
		{name: "array lengths", a: Answer{200, []byte(`{"results":[1,2,3]}`)}, b: Answer{200, []byte(`{"results":[1,5]}`)},
			paths: []string{"$.results", "$.results[1]"}, patterns: []string{"$.results", "$.results[*]"}},
		{name: "status only", a: Answer{200, []byte(`{}`)}, b: Answer{500, []byte(`{}`)}},
		{name: "not JSON, same", a: Answer{200, []byte("asn,hege\n1,0.5\n")}, b: Answer{200, []byte("asn,hege\n1,0.5\n")}},
		{name: "not JSON on one side", a: Answer{500, []byte("<h1>Server Error</h1>")}, b: Answer{500, []byte(`{"detail":"x"}`)},
			paths: []string{"$"}},
		{name: "types", a: Answer{200, []byte(`[1,"1",true,{}]`)}, b: Answer{200, []byte(`["1",1,1,[]]`)},
			paths: []string{"$[0]", "$[1]", "$[2]", "$[3]"}, patterns: []string{"$[*]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Compare(tc.a, tc.b)
			var paths []string
			for _, d := range r.Diffs {
				paths = append(paths, d.Path)
			}
			if !slices.Equal(paths, tc.paths) || r.Count != len(tc.paths) {
				t.Errorf("differences %v (count %d), want %v", paths, r.Count, tc.paths)
			}
			if tc.patterns != nil && !slices.Equal(r.Patterns, tc.patterns) {
				t.Errorf("patterns %v, want %v", r.Patterns, tc.patterns)
			}
			if want := tc.a.Status == tc.b.Status && len(tc.paths) == 0; r.Equal() != want {
				t.Errorf("Equal() = %v, want %v", r.Equal(), want)
			}
		})
	}
}

func TestDiffValues(t *testing.T) {
	long := strings.Repeat("é", 100)
	r := Compare(Answer{200, []byte(`{"name":"` + long + `","x":1}`)}, Answer{200, []byte(`{"x":2}`)})
	if len(r.Diffs) != 2 || r.Diffs[1] != (Diff{"$.x", "1", "2"}) || r.Diffs[0].B != "(absent)" {
		t.Fatalf("diffs %+v", r.Diffs)
	}
	if a := r.Diffs[0].A; !strings.HasSuffix(a, "…") || len(a) > MaxValue+len("…") || !json.Valid([]byte(`"`+strings.TrimSuffix(a, "…")[1:]+`"`)) {
		t.Errorf("a long value is not cut on a character boundary at %d bytes: %q", MaxValue, a)
	}
	var many []int
	for i := range 50 {
		many = append(many, i)
	}
	a, _ := json.Marshal(many)
	b, _ := json.Marshal(slices.Repeat([]int{-1}, 50))
	if r := Compare(Answer{200, a}, Answer{200, b}); r.Count != 50 || len(r.Diffs) != MaxDiffs || len(r.Patterns) != 1 {
		t.Errorf("50 differences: count %d, %d kept, patterns %v", r.Count, len(r.Diffs), r.Patterns)
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/ihr/api/hegemony/":          "hegemony",
		"/ihr/api/hegemony/alarms":    "hegemony/alarms",
		"/ihr/api/link/delay/alarms/": "link/delay/alarms",
		"/elsewhere":                  "/elsewhere",
	} {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCompare: on any input, Compare does not panic, finds an answer equal
// to itself, and counts the same differences whichever side comes first.
func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{
		{`{"count":1,"next":null,"results":[{"hege":0.5}]}`, `{"results":[{"hege":0.50000000001}],"count":1,"next":null}`},
		{`{"next":"http://a/ihr/api/x/?b=1&a=2"}`, `{"next":"https://b/ihr/api/x/?a=2&b=1"}`},
		{`[1,2,[3,{"a":"\u00e9"}]]`, `[1,2,[3,{"a":"é"}],4]`},
		{`not json`, `{"detail":"x"}`},
		{`1e400`, `-0`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if r := Compare(Answer{200, a}, Answer{200, a}); !r.Equal() {
			t.Fatalf("%q differs from itself: %+v", a, r)
		}
		ab, ba := Compare(Answer{200, a}, Answer{200, b}), Compare(Answer{200, b}, Answer{200, a})
		if ab.Count != ba.Count || len(ab.Diffs) > MaxDiffs || len(ab.Patterns) > MaxPatterns {
			t.Fatalf("%q vs %q: %d differences one way, %d the other", a, b, ab.Count, ba.Count)
		}
		for i, d := range ab.Diffs {
			if d.Path != ba.Diffs[i].Path || d.A != ba.Diffs[i].B {
				t.Fatalf("difference %d: %+v one way, %+v the other", i, d, ba.Diffs[i])
			}
		}
	})
}
