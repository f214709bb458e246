package main

import (
	"context"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

func ptr[T any](v T) *T { return &v }

// TestDiscoLifecycle: an event opens with its probes, is re-sent unchanged
// (no duplicate), closes (end times), then is dropped; a close published
// before its open waits for it. Each change is announced.
func TestDiscoLifecycle(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	ctx := context.Background()
	start := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	open := events.DiscoEvent{Op: events.DiscoOpen, StreamType: "asn", StreamName: "2497", StartTime: start,
		AvgLevel: ptr(7.5), TotalProbes: ptr(int64(40)), Probes: []events.DiscoProbe{
			{ProbeID: 1001, StartTime: start, Level: 8, IPv4: "202.232.0.9", PrefixV4: "202.232.0.0/17", Lat: 35.6, Lon: 139.7},
			{ProbeID: 1002, StartTime: start.Add(time.Minute), Level: 7, Lat: 35.7, Lon: 139.8}}}
	event := func(where string) int {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_disco_events WHERE streamname = '2497' AND "+where)
	}
	probes := func(where string) int {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_disco_probes WHERE "+where)
	}
	publish := func(e events.DiscoEvent) {
		t.Helper()
		if _, err := r.pub.Disco(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	publish(open)
	testkit.Eventually(t, "the open event", func() bool { return event("ongoing AND endtime = starttime AND nbdiscoprobes = 2") == 1 })
	if probes("ipv4 = 'None' AND prefixv4 = 'None' AND probe_id = 1002 AND endtime = starttime") != 1 {
		t.Error("probe 1002 without its placeholders or open end")
	}
	open.AvgLevel = ptr(9.0) // an update of the open event: same key
	publish(open)
	testkit.Eventually(t, "the update", func() bool { return event("avglevel = 9") == 1 })
	if n := event("true"); n != 1 || probes("true") != 2 {
		t.Fatalf("%d events, %d probes after the update", n, probes("true"))
	}
	end := start.Add(2 * time.Hour)
	publish(events.DiscoEvent{Op: events.DiscoClose, StreamType: "asn", StreamName: "2497", StartTime: start, EndTime: &end,
		Probes: []events.DiscoProbe{{ProbeID: 1001, EndTime: ptr(end.Add(-time.Minute))}}})
	testkit.Eventually(t, "the close", func() bool { return event("NOT ongoing AND endtime = '2026-12-01T05:00:00Z'") == 1 })
	if probes("probe_id = 1001 AND endtime = '2026-12-01T04:59:00Z' AND level = 8") != 1 {
		t.Error("probe 1001's end time not set (or its other fields lost)")
	}

	// A close before its open: it waits, then applies.
	later := start.Add(24 * time.Hour)
	publish(events.DiscoEvent{Op: events.DiscoClose, StreamType: "asn", StreamName: "2497", StartTime: later, EndTime: ptr(later.Add(time.Hour))})
	time.Sleep(300 * time.Millisecond)
	if event("starttime = '2026-12-02T03:00:00Z'") != 0 {
		t.Fatal("a close created an event")
	}
	publish(events.DiscoEvent{Op: events.DiscoOpen, StreamType: "asn", StreamName: "2497", StartTime: later, AvgLevel: ptr(7.0), TotalProbes: ptr(int64(10))})
	testkit.Eventually(t, "the early close applied after its open", func() bool {
		return event("starttime = '2026-12-02T03:00:00Z' AND endtime = '2026-12-02T04:00:00Z' AND NOT ongoing") == 1
	})

	drop := events.DiscoEvent{Op: events.DiscoDrop, StreamType: "asn", StreamName: "2497", StartTime: start}
	publish(drop)
	testkit.Eventually(t, "the drop", func() bool { return event("starttime = '2026-12-01T03:00:00Z'") == 0 })
	if n := probes("true"); n != 0 {
		t.Errorf("%d probes left after the drop", n)
	}
	var ops []string
	testkit.Eventually(t, "six results events", func() bool {
		ops = ops[:0]
		for _, res := range r.results(t) {
			if res.Dataset == events.Disco {
				ops = append(ops, res.Op)
				if res.TextKeys["streamname"][0] != "2497" {
					t.Fatalf("results keys %v", res.TextKeys)
				}
			}
		}
		return len(ops) == 6
	})
	if len(r.dlq(t)) != 0 {
		t.Errorf("dead letters: %q", r.dlq(t))
	}
}

// TestNames: names fill the rows bins created with empty names, flags left
// out keep their values, and the update is announced.
func TestNames(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	testkit.Exec(t, r.db, `INSERT INTO ihr_asn VALUES (2497, '', true, false, true); INSERT INTO ihr_country VALUES ('JP', '', false, false)`)
	if _, err := r.pub.Names(context.Background(), events.NamesUpdate{
		Networks:  []events.NetworkName{{Number: 2497, Name: "IIJ Internet Initiative Japan Inc., JP", Disco: ptr(true)}, {Number: -12, Name: "JPIX"}},
		Countries: []events.CountryName{{Code: "JP", Name: "Japan"}, {Code: "FR", Name: "France", Disco: ptr(true)}},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the names", func() bool {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_country WHERE name <> ''") == 2
	})
	checks := map[string]int{
		"SELECT count(*)::int FROM ihr_asn WHERE number = 2497 AND name LIKE 'IIJ%' AND tartiflette AND disco AND ashash": 1,
		"SELECT count(*)::int FROM ihr_asn WHERE number = -12 AND name = 'JPIX' AND NOT disco":                            1,
		"SELECT count(*)::int FROM ihr_country WHERE code = 'FR' AND disco AND NOT tartiflette":                           1,
	}
	for q, want := range checks {
		if n := testkit.Scalar[int](t, r.db, q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	testkit.Eventually(t, "the names results event", func() bool {
		for _, res := range r.results(t) {
			if res.Dataset == events.Names {
				if len(res.Keys["asn"]) != 2 || res.Keys["asn"][0] != -12 || len(res.TextKeys["country"]) != 2 || res.RowCount != 4 {
					t.Fatalf("names results %+v", res)
				}
				return true
			}
		}
		return false
	})
}
