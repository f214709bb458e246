package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/service"
	"github.com/ihr-go/ihr/pkg/testkit"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

// hostile are query strings a public API must survive.
var hostile = []string{
	"asn=1;DROP%20TABLE%20ihr_asn--&originasn=1&timebin=2024-05-01T00:00:00Z",
	"originasn=2497%27%20OR%20%271%27=%271&timebin=2024-05-01T00:00:00Z",
	"name=%25&search=_",
	"search=%00%01",
	"originasn=99999999999999999999999999&timebin=2024-05-01T00:00:00Z",
	"asn=1e400&originasn=-0&timebin=2024-05-01T00:00:00Z",
	"hege__gte=NaN&originasn=1&timebin=2024-05-01T00:00:00Z",
	"hege=Infinity&originasn=1&timebin=2024-05-01T00:00:00Z",
	"timebin=9999-12-31T23:59:59Z&originasn=1",
	"timebin=0001-01-01T00:00:00Z&originasn=1",
	"timebin__gte=2024-05-08T00:00:00Z&timebin__lte=2024-05-01T00:00:00Z&originasn=1",
	"page=99999999999999&originasn=1&timebin=2024-05-01T00:00:00Z",
	"page=2147483648&number=1",
	"ordering=-timebin,asn,,,-&originasn=1&timebin=2024-05-01T00:00:00Z",
	"ordering=pg_sleep(10)&number=1",
	"name=" + strings.Repeat("%F0%9F%98%80", 200),
	"startpoint_key=%7C%7C%7C&timebin=2024-05-01T00:00:00Z",
	"startpoint_key=A&timebin=2024-05-01T00:00:00Z",
	"endpoint_key=CT4" + strings.Repeat("x", 1000),
	"asn=1&asn=2&asn=3&originasn=1&originasn=&timebin=2024-05-01T00:00:00Z",
	"%zz=1", "=1", "&&&", "a=%",
	"include_probe_details=maybe&starttime=2024-05-01T00:00:00Z",
	"transitonly=1&country=JP&timebin=2024-05-01T00:00:00Z",
	"format=csv", "format=",
}

// paths are every endpoint, with and without its slash.
func paths() []string {
	var ps []string
	for _, e := range endpoint.All() {
		ps = append(ps, "/ihr/api/"+e.Path+"/", "/ihr/api/"+e.Path)
	}
	return ps
}

func serveForFuzz(t testing.TB) *testkit.Service {
	env := testkit.ServiceEnv(t, testkit.NewDB(t))
	env["IHR_DB_STATEMENT_TIMEOUT"] = "5s"
	return testkit.StartService(t, "query", service.Runner(spec()), env)
}

func checkNo5xx(t testing.TB, base, target string) {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(base + target)
	if err != nil {
		if strings.Contains(err.Error(), "invalid") { // the client refused to send it
			return
		}
		t.Fatalf("%s: %v", target, err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode >= 500 || ct != "application/json" && ct != "text/csv; charset=utf-8" {
		t.Fatalf("%s: %d %s", target, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestHostileQueriesNever5xx(t *testing.T) {
	svc := serveForFuzz(t)
	for _, p := range paths() {
		for _, q := range hostile {
			checkNo5xx(t, svc.URL, p+"?"+q)
		}
	}
}

// FuzzQueryString sends arbitrary query strings to every endpoint: no
// answer may be a 5xx or anything but JSON (or the CSV asked for). `make test` runs the seeds;
// `go test -fuzz FuzzQueryString ./services/query/cmd/query` explores.
func FuzzQueryString(f *testing.F) {
	for _, q := range hostile {
		f.Add(uint8(0), q)
	}
	f.Add(uint8(4), "originasn=2497&timebin__gte=2024-05-01T00:00:00Z&timebin__lte=2024-05-02T00:00:00Z")
	svc := serveForFuzz(f)
	ps := paths()
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		if _, err := url.ParseQuery(raw); err != nil && strings.ContainsAny(raw, " \x7f") {
			return // not sendable on the wire
		}
		for _, r := range raw {
			if r < 0x21 || r == 0x7f || r == '#' {
				return // a client cannot put these in a request line
			}
		}
		checkNo5xx(t, svc.URL, ps[int(which)%len(ps)]+"?"+raw)
	})
}
