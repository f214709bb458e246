package stream

import (
	"net/url"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

func TestParse(t *testing.T) {
	q, _ := url.ParseQuery("dataset=hegemony,disco&dataset=names&asn=AS2497,174&country=jp&af=6")
	f, r, err := Parse(q, "41")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Datasets) != 3 || f.AF != 6 || len(f.ASNs) != 2 || f.ASNs[0] != 2497 || f.Countries[0] != "JP" || r.Since != 41 {
		t.Errorf("parsed %+v %+v", f, r)
	}
	if q, _ := url.ParseQuery("since=7"); true {
		if _, r, _ := Parse(q, "41"); r.Since != 7 {
			t.Errorf("since %d, want the parameter's 7 over Last-Event-ID", r.Since)
		}
	}
	q, _ = url.ParseQuery("start=2026-12-05T00:00:00Z")
	if _, r, err := Parse(q, ""); err != nil || !r.Start.Equal(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("start: %v %v", r.Start, err)
	}
	for _, bad := range []string{"dataset=hegemonyx", "asn=-1", "asn=4294967296", "asn=x", "country=J", "af=4x", "since=x", "start=2026-12-05", "limit=3", "since=1&start=2026-12-05T00:00:00Z"} {
		q, _ := url.ParseQuery(bad)
		if _, _, err := Parse(q, ""); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestMatch(t *testing.T) {
	heg := &events.Result{Bin: events.Bin{Dataset: "hegemony", AF: 4}, Keys: map[string][]int64{"asn": {174, 2914}, "originasn": {2497}}}
	country := &events.Result{Bin: events.Bin{Dataset: "hegemony_country", AF: 4}, Keys: map[string][]int64{"asn": {2497}}, TextKeys: map[string][]string{"country": {"FR", "JP"}}}
	tr := &events.Result{Bin: events.Bin{Dataset: "tr_hegemony", AF: 4}, TextKeys: map[string][]string{"origin": {"AS|2497"}, "dependency": {"IX|1"}}}
	disco := &events.Result{Bin: events.Bin{Dataset: "disco"}, TextKeys: map[string][]string{"streamtype": {"asn"}, "streamname": {"2497"}}}
	all := &events.Result{Bin: events.Bin{Dataset: "hegemony", AF: 6}, AllKeys: true}
	for _, c := range []struct {
		name string
		f    Filter
		r    *events.Result
		want bool
	}{
		{"no filter", Filter{}, heg, true},
		{"its dataset", Filter{Datasets: []string{"hegemony"}}, heg, true},
		{"another dataset", Filter{Datasets: []string{"delay"}}, heg, false},
		{"an origin", Filter{ASNs: []int64{2497}}, heg, true},
		{"a dependency", Filter{ASNs: []int64{2914}}, heg, true},
		{"another network", Filter{ASNs: []int64{3356}}, heg, false},
		{"its family", Filter{AF: 4}, heg, true},
		{"another family", Filter{AF: 6}, heg, false},
		{"a family for an event without", Filter{AF: 6}, disco, true},
		{"a country it lists", Filter{Countries: []string{"JP"}}, country, true},
		{"a country it does not list", Filter{Countries: []string{"DE"}}, country, false},
		{"a country for a dataset without", Filter{Countries: []string{"JP"}}, heg, false},
		{"network and country both", Filter{ASNs: []int64{2497}, Countries: []string{"FR"}}, country, true},
		{"network but not country", Filter{ASNs: []int64{2497}, Countries: []string{"DE"}}, country, false},
		{"a traceroute identifier", Filter{ASNs: []int64{2497}}, tr, true},
		{"a traceroute identifier of another network", Filter{ASNs: []int64{1}}, tr, false},
		{"a disco stream", Filter{ASNs: []int64{2497}}, disco, true},
		{"another disco stream", Filter{ASNs: []int64{174}}, disco, false},
		{"too many keys to list", Filter{ASNs: []int64{3356}, Countries: []string{"DE"}}, all, true},
	} {
		if got := c.f.Match(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
