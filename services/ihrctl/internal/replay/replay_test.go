package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadRequests(t *testing.T) {
	got, err := ReadRequests(strings.NewReader("# hegemony\n/ihr/api/hegemony/?asn=2497\n\n  /ihr/api/networks/  \n"))
	if err != nil || len(got) != 2 || got[1] != "/ihr/api/networks/" {
		t.Errorf("read %q, %v", got, err)
	}
	for in, want := range map[string]string{
		"/ihr/api/networks/\nhttp://host/ihr/api/x/\n": "line 2",
		"/ihr/api/a b\n":      "line 1",
		"# only comments\n\n": "no request",
	} {
		if _, err := ReadRequests(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// TestRun: two deployments that agree on networks, differ on one field of
// hegemony and on the status of alarms, and one that cannot answer.
func TestRun(t *testing.T) {
	page := func(hege string) string {
		return `{"count":1,"next":null,"previous":null,"results":[{"asn":2497,"hege":` + hege + `}]}`
	}
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, page("0.25"))
	}))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/ihr/api/hegemony/alarms"):
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, page("0.25"))
		case strings.HasPrefix(r.URL.Path, "/ihr/api/hegemony"):
			fmt.Fprint(w, page("0.5"))
		default:
			fmt.Fprint(w, page("0.25000000000001"))
		}
	}))
	defer b.Close()
	reqs := []string{"/ihr/api/networks/?number=2497", "/ihr/api/networks", "/ihr/api/hegemony/?asn=1", "/ihr/api/hegemony/?asn=2",
		"/ihr/api/hegemony/alarms/"}
	r, err := Run(context.Background(), Options{A: a.URL, B: b.URL, Requests: reqs, Concurrency: 3, MaxBody: 1 << 20, Client: a.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != (Counts{Requests: 5, Equal: 2, Differing: 3, StatusMismatches: 1}) || len(r.Endpoints) != 3 {
		t.Fatalf("report %+v", r)
	}
	heg := r.Endpoints[0]
	if heg.Name != "hegemony" || heg.Differing != 2 || len(heg.Paths) != 1 || heg.Paths[0] != (PathCount{"$.results[*].hege", 2}) ||
		heg.Example == nil || heg.Example.Diffs[0].A != "0.25" || heg.Example.Diffs[0].B != "0.5" || heg.LatencyA.P99 <= 0 {
		t.Errorf("hegemony %+v", heg)
	}
	if al := r.Endpoints[1]; al.Name != "hegemony/alarms" || al.StatusMismatches != 1 || al.Example.StatusB != 400 || len(al.Paths) != 0 {
		t.Errorf("alarms %+v", al)
	}
	if nw := r.Endpoints[2]; nw.Name != "networks" || nw.Equal != 2 || nw.Example != nil {
		t.Errorf("networks %+v", nw)
	}

	b.Close()
	r, err = Run(context.Background(), Options{A: a.URL, B: b.URL, Requests: reqs[:1], Concurrency: 1, MaxBody: 1 << 20, Client: a.Client()})
	if err != nil || r.Total.Errors != 1 || !strings.HasPrefix(r.Endpoints[0].Example.Error, "b: ") {
		t.Errorf("a deployment down: %+v, %v", r, err)
	}
	r, _ = Run(context.Background(), Options{A: a.URL, B: a.URL, Requests: reqs[:1], Concurrency: 1, MaxBody: 10, Client: a.Client()})
	if r.Total.Errors != 1 || !strings.Contains(r.Endpoints[0].Example.Error, "over 10 bytes") {
		t.Errorf("a body over the limit: %+v", r.Endpoints[0])
	}
}
