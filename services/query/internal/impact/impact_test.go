package impact

import (
	"slices"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/freshness"
	"github.com/ihr-go/ihr/services/query/internal/endpoint"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func change(dataset string, at time.Time, af int, ints map[string][]int64, texts map[string][]string) *freshness.Change {
	return &freshness.Change{Seq: 1, Dataset: dataset, Time: at, AF: af, Ints: ints, Texts: texts}
}

func TestAffects(t *testing.T) {
	window := "&timebin__gte=2026-11-25T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z"
	in, out := t0, t0.Add(48*time.Hour)
	heg := func(origins, asns []int64) map[string][]int64 {
		return map[string][]int64{"originasn": origins, "asn": asns}
	}
	delay := func(start, end string) map[string][]string {
		return map[string][]string{"startpoint": {start}, "endpoint": {end}}
	}
	allKeys := change(events.Hegemony.Name, in, 4, nil, nil)
	allKeys.AllKeys = true
	metis := change(events.MetisSelection.Name, in, 4, map[string][]int64{"asn": {2497}}, nil)
	metis.Part = "rtt"
	for _, c := range []struct {
		name   string
		query  string
		latest time.Time
		change *freshness.Change
		want   bool
	}{
		{"hegemony: the origin's bin in the window", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, change("hegemony", in, 4, heg([]int64{2497}, []int64{174}), nil), true},
		{"hegemony: a bin after the window", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, change("hegemony", out, 4, heg([]int64{2497}, []int64{174}), nil), false},
		{"hegemony: the other address family", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, change("hegemony", in, 6, heg([]int64{2497}, []int64{174}), nil), false},
		{"hegemony: other origins", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, change("hegemony", in, 4, heg([]int64{3356, 15169}, []int64{2497}), nil), false},
		{"hegemony: a bin too large to list its keys", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, allKeys, true},
		{"hegemony: another dataset", "hegemony/?originasn=2497&af=4" + window,
			time.Time{}, change("hegemony_alarms", in, 4, heg([]int64{2497}, []int64{174}), nil), false},
		{"hegemony: a dependency the query names", "hegemony/?asn=174,3356" + window,
			time.Time{}, change("hegemony", in, 4, heg([]int64{2497}, []int64{3356}), nil), true},
		{"hegemony: both lists, one misses", "hegemony/?asn=174&originasn=2497" + window,
			time.Time{}, change("hegemony", in, 4, heg([]int64{2497, 3356}, []int64{2914}), nil), false},
		{"latest: a newer bin of any origin", "hegemony/?originasn=2497&af=4",
			t0, change("hegemony", t0.Add(15*time.Minute), 6, heg([]int64{3356}, []int64{3356}), nil), true},
		{"latest: a re-run of the latest bin", "hegemony/?originasn=2497&af=4",
			t0, change("hegemony", t0, 4, heg([]int64{3356}, []int64{3356}), nil), true},
		{"latest: a re-run of an older bin", "hegemony/?originasn=2497&af=4",
			t0, change("hegemony", t0.Add(-time.Hour), 4, heg([]int64{2497}, []int64{2497}), nil), false},
		{"names: a dependency renamed", "hegemony/?originasn=2497" + window,
			time.Time{}, change(events.Names, time.Now(), 0, map[string][]int64{"asn": {174}}, nil), true},
		{"names: a network the answer cannot show", "hegemony/?originasn=2497&asn=2497" + window,
			time.Time{}, change(events.Names, time.Now(), 0, map[string][]int64{"asn": {174}}, nil), false},
		{"names: the origin renamed", "hegemony/?originasn=2497&asn=2497" + window,
			time.Time{}, change(events.Names, time.Now(), 0, map[string][]int64{"asn": {2497}}, nil), true},
		{"names: countries only", "hegemony/?originasn=2497" + window,
			time.Time{}, change(events.Names, time.Now(), 0, nil, map[string][]string{"country": {"JP"}}), false},
		{"networks: the number renamed", "networks/?number=2497",
			time.Time{}, change(events.Names, time.Now(), 0, map[string][]int64{"asn": {2497}}, nil), true},
		{"networks: another number renamed", "networks/?number=2497",
			time.Time{}, change(events.Names, time.Now(), 0, map[string][]int64{"asn": {3356}}, nil), false},
		{"networks: a bin that may add the number", "networks/?number=2497",
			time.Time{}, change("hegemony", in, 4, heg([]int64{2497}, []int64{2914}), nil), true},
		{"networks: a bin of other numbers", "networks/?number=2497",
			time.Time{}, change("hegemony", in, 4, heg([]int64{3356}, []int64{2914}), nil), false},
		{"networks: new networks have no name yet", "networks/?name=IIJ",
			time.Time{}, allKeys, false},
		{"networks: a search for digits a new number holds", "networks/?search=AS249",
			time.Time{}, change("delay_alarms", in, 0, map[string][]int64{"asn": {12497}}, nil), true},
		{"networks: a search for digits no new number holds", "networks/?search=AS249",
			time.Time{}, change("delay_alarms", in, 0, map[string][]int64{"asn": {3356}}, nil), false},
		{"cones: a hegemony bin rewrites every cone of its bin", "hegemony/cones/?asn=2497&af=4" + window,
			time.Time{}, change("hegemony", in, 4, heg([]int64{3356}, []int64{3356}), nil), true},
		{"cones: not another family's", "hegemony/cones/?asn=2497&af=4" + window,
			time.Time{}, change("hegemony", in, 6, heg([]int64{3356}, []int64{3356}), nil), false},
		{"countries: the country's bin", "hegemony/countries/?country=JP&af=4" + window,
			time.Time{}, change("hegemony_country", in, 4, map[string][]int64{"asn": {2497}}, map[string][]string{"country": {"JP"}}), true},
		{"countries: another country's", "hegemony/countries/?country=JP&af=4" + window,
			time.Time{}, change("hegemony_country", in, 4, map[string][]int64{"asn": {2497}}, map[string][]string{"country": {"FR"}}), false},
		{"delay: the pair asked", "network_delay/?startpoint_name=2497&startpoint_type=AS&endpoint_key=CT4London,%20England,%20GB" + window,
			time.Time{}, change("atlas_delay", in, 4, nil, delay("AS42497", "CT4London, England, GB")), true},
		{"delay: another end point", "network_delay/?startpoint_name=2497&startpoint_type=AS&endpoint_key=CT4Singapore,%20Central%20Singapore,%20SG" + window,
			time.Time{}, change("atlas_delay", in, 4, nil, delay("AS42497", "CT4London, England, GB")), false},
		{"delay: the start point's other family", "network_delay/?startpoint_name=2497&startpoint_af=4" + window,
			time.Time{}, change("atlas_delay", in, 6, nil, delay("AS62497", "CT6London, England, GB")), false},
		{"locations: a new location the name matches", "network_delay/locations/?name=lond",
			time.Time{}, change("atlas_delay", in, 4, nil, delay("AS42497", "CT4London, England, GB")), true},
		{"locations: none the name matches", "network_delay/locations/?name=tokyo",
			time.Time{}, change("atlas_delay", in, 4, nil, delay("AS42497", "CT4London, England, GB")), false},
		{"disco: the stream's event in the window", "disco/events/?streamname=2497&starttime__gte=2026-11-25T00:00:00Z&starttime__lte=2026-11-26T00:00:00Z",
			time.Time{}, change(events.Disco, in, 0, nil, map[string][]string{"streamtype": {"asn"}, "streamname": {"2497"}}), true},
		{"disco: another stream", "disco/events/?streamname=2497&starttime__gte=2026-11-25T00:00:00Z&starttime__lte=2026-11-26T00:00:00Z",
			time.Time{}, change(events.Disco, in, 0, nil, map[string][]string{"streamtype": {"asn"}, "streamname": {"3356"}}), false},
		{"disco: an event that started before the window", "disco/events/?streamname=2497&starttime__gte=2026-11-25T13:00:00Z&starttime__lte=2026-11-26T00:00:00Z",
			time.Time{}, change(events.Disco, in, 0, nil, map[string][]string{"streamtype": {"asn"}, "streamname": {"2497"}}), false},
		{"disco: only end times asked, any start", "disco/events/?endtime__gte=2026-11-27T00:00:00Z",
			time.Time{}, change(events.Disco, in, 0, nil, map[string][]string{"streamtype": {"asn"}, "streamname": {"2497"}}), true},
		{"traceroute hegemony: the origin", "tr_hegemony/?origin_name=2497&origin_type=AS" + window,
			time.Time{}, change("tr_hegemony", in, 4, nil, map[string][]string{"origin": {"AS|2497"}, "dependency": {"IX|JPIX"}}), true},
		{"traceroute hegemony: another origin", "tr_hegemony/?origin_name=2497&origin_type=AS" + window,
			time.Time{}, change("tr_hegemony", in, 4, nil, map[string][]string{"origin": {"AS|3356"}, "dependency": {"IX|JPIX"}}), false},
		{"metis: the metric's bin", "metis/atlas/selection/?metric=rtt&af=4&timebin__gte=2026-11-20T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z",
			time.Time{}, metis, true},
		{"metis: another metric", "metis/atlas/selection/?metric=ip_hops&af=4&timebin__gte=2026-11-20T00:00:00Z&timebin__lte=2026-11-26T00:00:00Z",
			time.Time{}, metis, false},
		{"link alarms: the network", "link/delay/alarms/?asn=2497&timebin=2026-11-25T12:00:00Z",
			time.Time{}, change("delay_alarms", in, 0, map[string][]int64{"asn": {2497}}, nil), true},
		{"link alarms: another hour", "link/delay/alarms/?asn=2497&timebin=2026-11-25T13:00:00Z",
			time.Time{}, change("delay_alarms", in, 0, map[string][]int64{"asn": {2497}}, nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := endpoint.ParseKey(endpoint.All(), c.query)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Compile(q.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Affects(q, c.latest, c.change); got != c.want {
				t.Errorf("%s: Affects = %v, want %v (feeds %+v)", c.query, got, c.want, e.Feeds)
			}
		})
	}
}

// TestEveryDatasetFeedsAnEndpoint: each results event reaches the answers
// built from its table, and every endpoint's FROM clause is understood.
func TestEveryDatasetFeedsAnEndpoint(t *testing.T) {
	fed := map[string]bool{}
	for _, e := range endpoint.All() {
		c, err := Compile(e)
		if err != nil {
			t.Fatalf("%s: %v", e.Path, err)
		}
		if len(c.Datasets) == 0 {
			t.Errorf("%s: no dataset can change it", e.Path)
		}
		for _, d := range c.Datasets {
			fed[d] = true
		}
	}
	for _, d := range events.Datasets() {
		if !fed[d.Name] {
			t.Errorf("dataset %s feeds no endpoint: its changes would never reach a cached answer", d.Name)
		}
	}
	for _, d := range []string{events.Names, events.Disco} {
		if !fed[d] {
			t.Errorf("%s feeds no endpoint", d)
		}
	}
}

// TestDimensionFieldsAreReported: ingestion adds new networks, countries
// and locations from these fields; the reference lists learn of them only
// through the keys the results events report.
func TestDimensionFieldsAreReported(t *testing.T) {
	for _, d := range events.Datasets() {
		for _, f := range d.Fields() {
			if slices.Contains([]events.Kind{events.KindASN, events.KindCountry, events.KindLocation, events.KindIdentifier}, f.Kind) && !f.Report {
				t.Errorf("%s.%s adds %s rows but its values are not reported", d.Name, f.JSON, f.Kind)
			}
		}
	}
}
