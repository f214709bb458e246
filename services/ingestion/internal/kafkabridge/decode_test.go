package kafkabridge

import (
	"reflect"
	"testing"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/vmihailenco/msgpack/v5"
)

func route(t *testing.T, spec string) Route {
	t.Helper()
	rs, err := ParseRoutes(spec)
	if err != nil {
		t.Fatal(err)
	}
	return rs[0]
}

func pack(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// The messages are shaped as IHR's producers send them (pipelines.md §1.2),
// with the types Python's msgpack gives: numbers as text where producers
// send text, floats where Python computed them.
func TestDecodeEachTopicKind(t *testing.T) {
	raclette := map[string]any{"ts": 1796120100, "startpoint": "AS2497", "endpoint": "CTLondon, England, GBv4", "median": 212.4,
		"minimum": 201.0, "nb_samples": 1900, "nb_tracks": 120, "nb_probes": 14, "entropy": 0.82, "hop": 9.0, "nb_real_rtts": 1800}
	hege := map[string]any{"timestamp": 1796120100, "scope": "-1", "asn": "174", "hege": 0.2, "nb_peers": 300}
	for _, tc := range []struct {
		name, route string
		msg         map[string]any
		want        any
		af          int
		drop        string
	}{
		{"AS hegemony", "t=hegemony:4", map[string]any{"timestamp": 1796120100, "scope": "2497", "asn": "2914", "hege": 0.41, "nb_peers": 312},
			events.HegemonyRow{OriginASN: 2497, ASN: 2914, Hege: 0.41, NbPeers: ptr[int64](312)}, 4, ""},
		{"global scope", "t=hegemony:6", map[string]any{"timestamp": 1796120100, "scope": "-1", "asn": 174, "hege": 1},
			events.HegemonyRow{OriginASN: 0, ASN: 174, Hege: 1}, 6, ""},
		{"hege 0 is not stored", "t=hegemony:4", map[string]any{"scope": "2497", "asn": "3356", "hege": 0.0}, nil, 0, reasonFiltered},
		{"hege missing", "t=hegemony:4", map[string]any{"scope": "2497", "asn": "3356"}, nil, 0, reasonUndecodable},
		{"asn not a number", "t=hegemony:4", map[string]any{"scope": "2497", "asn": "AS3356", "hege": 0.5}, nil, 0, reasonUndecodable},
		{"country hegemony", "t=hegemony_country:4", map[string]any{"ts": 1796083200, "cc": "JP", "weight": "Eyeball", "transit_only": true,
			"asn": 2497, "hege": 0.12, "original_weight": 0.3},
			events.CountryHegemonyRow{Country: "JP", ASN: 2497, Hege: 0.12, Weight: 0.3, WeightScheme: "eyeball", TransitOnly: true}, 4, ""},
		{"raclette diffrtt", "t=atlas_delay:4", raclette,
			events.AtlasDelayRow{Startpoint: events.Location{Type: "AS", Name: "2497", AF: 4}, Endpoint: events.Location{Type: "CT", Name: "London, England, GB", AF: 4},
				Median: 212.4, NbTracks: 120, NbProbes: 14, Entropy: 0.82, Hop: 9, NbRealRTTs: 1800}, 4, ""},
		{"raclette v6 row", "t=atlas_delay:4", map[string]any{"startpoint": "PB1234v6", "endpoint": "IP2001:db8::1v6", "median": 1, "nb_tracks": 1,
			"nb_probes": 1, "entropy": 0, "hop": 2, "nb_real_rtts": 3},
			events.AtlasDelayRow{Startpoint: events.Location{Type: "PB", Name: "1234", AF: 6}, Endpoint: events.Location{Type: "IP", Name: "2001:db8::1", AF: 6},
				Median: 1, NbTracks: 1, NbProbes: 1, Hop: 2, NbRealRTTs: 3}, 6, ""},
		{"bad location", "t=atlas_delay:4", map[string]any{"startpoint": "v4", "endpoint": "AS1", "median": 1, "nb_tracks": 1,
			"nb_probes": 1, "entropy": 0, "hop": 2, "nb_real_rtts": 3}, nil, 0, reasonUndecodable},
		{"hegemony anomaly", "t=hegemony_alarms:4", map[string]any{"datapoint": hege, "deviation": 7.3},
			events.HegemonyAlarmRow{OriginASN: 0, ASN: 174, Deviation: 7.3}, 4, ""},
		{"atlas delay anomaly", "t=atlas_delay_alarms:4", map[string]any{"datapoint": raclette, "deviation": 12.5},
			events.AtlasDelayAlarmRow{Startpoint: events.Location{Type: "AS", Name: "2497", AF: 4}, Endpoint: events.Location{Type: "CT", Name: "London, England, GB", AF: 4},
				Deviation: 12.5}, 4, ""},
		{"anomaly without deviation", "t=hegemony_alarms:4", map[string]any{"datapoint": hege}, nil, 0, reasonUndecodable},
		{"metis ranks", "t=metis_selection:6:rtt", map[string]any{"timestamp": 1796083200, "rank": 1, "asn": 2497, "mean": 31.5},
			events.MetisSelectionRow{Metric: "rtt", Rank: 1, ASN: 2497, Mean: 31.5}, 6, ""},
		{"metis candidates", "t=metis_deployment:4:ip_hops", map[string]any{"timestamp": 1796083200, "rank": 3, "asn": "7922", "mean": 4.25, "num_samples": 24},
			events.MetisDeploymentRow{Metric: "ip_hops", Rank: 3, ASN: 7922, Mean: 4.25, NbSamples: 24}, 4, ""},
		{"TR hegemony, IX member", "t=tr_hegemony:4", map[string]any{"timestamp": 1796083200, "scope": "as|2497", "asn": "ix|42;as|2914", "hege": 0.2, "nb_peers": 40},
			events.TRHegemonyRow{Origin: events.Identifier{Type: "AS", Name: "2497"}, Dependency: events.Identifier{Type: "MB", Name: "42;2914"}, Hege: 0.2, NbSamples: 40}, 4, ""},
		{"TR hegemony, IX and IP", "t=tr_hegemony:6", map[string]any{"scope": "ix|42", "asn": "ip|2001:db8::1", "hege": 0.5, "nb_peers": 10},
			events.TRHegemonyRow{Origin: events.Identifier{Type: "IX", Name: "42"}, Dependency: events.Identifier{Type: "IP", Name: "2001:db8::1"}, Hege: 0.5, NbSamples: 10}, 6, ""},
		{"TR from fewer than 10 peers", "t=tr_hegemony:4", map[string]any{"scope": "as|2497", "asn": "as|174", "hege": 0.2, "nb_peers": 9}, nil, 0, reasonFiltered},
		{"TR member of unknown AS", "t=tr_hegemony:4", map[string]any{"scope": "as|2497", "asn": "ix|42;as|0", "hege": 0.2, "nb_peers": 40}, nil, 0, reasonFiltered},
		{"TR unknown identifier", "t=tr_hegemony:4", map[string]any{"scope": "2497", "asn": "as|174", "hege": 0.2, "nb_peers": 40}, nil, 0, reasonUndecodable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row, af, d := route(t, tc.route).decodeRow(pack(t, tc.msg))
			switch {
			case tc.drop != "":
				if d == nil || d.reason != tc.drop {
					t.Fatalf("got %+v, %v; want dropped as %s", row, d, tc.drop)
				}
			case d != nil:
				t.Fatalf("dropped: %v", d)
			case !reflect.DeepEqual(row, tc.want) || af != tc.af:
				t.Errorf("got %+v (af %d), want %+v (af %d)", row, af, tc.want, tc.af)
			}
		})
	}
}

func TestDecodeNotMsgpack(t *testing.T) {
	for _, v := range [][]byte{nil, []byte(`{"scope":"2497"}`), pack(t, nil)[:0], {0x93, 1, 2, 3}} {
		if _, _, d := route(t, "t=hegemony:4").decodeRow(v); d == nil || d.reason != reasonUndecodable {
			t.Errorf("%q: %v, want undecodable", v, d)
		}
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(pack(f, map[string]any{"scope": "2497", "asn": "2914", "hege": 0.41, "nb_peers": 312}))
	f.Add(pack(f, map[string]any{"datapoint": map[string]any{"startpoint": "AS1v4"}, "deviation": 1}))
	f.Add([]byte{0x81, 0xa1, 'x', 0xc0})
	routes, err := ParseRoutes(DefaultTopics)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		for _, r := range routes {
			row, _, d := r.decodeRow(value)
			if (row == nil) == (d == nil) {
				t.Fatalf("%s: row %v and drop %v", r.Topic, row, d)
			}
		}
	})
}
