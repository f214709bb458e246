package demodata

import (
	"fmt"
	"hash/fnv"
	"testing"
	"time"
)

func tables(t *testing.T, seed uint64) map[string]Table {
	t.Helper()
	ts, err := Generate(Options{Scale: "small", Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Table{}
	for _, tb := range ts {
		m[tb.Name] = tb
	}
	return m
}

func col(tb Table, name string) int {
	for i, c := range tb.Columns {
		if c == name {
			return i
		}
	}
	panic("no column " + name + " in " + tb.Name)
}

func digest(tb Table) uint64 {
	h := fnv.New64a()
	for row := range tb.Rows {
		fmt.Fprintln(h, row...)
	}
	return h.Sum64()
}

func TestEveryLegacyTableIsFilled(t *testing.T) {
	want := []string{"ihr_asn", "ihr_country", "ihr_atlas_location", "ihr_tr_hegemony_identifier", "ihr_hegemony",
		"ihr_hegemonycone", "ihr_hegemony_alarms", "ihr_hegemony_country", "ihr_hegemony_prefix", "ihr_delay",
		"ihr_forwarding", "ihr_delay_alarms", "ihr_forwarding_alarms", "ihr_delay_alarms_msms", "ihr_forwarding_alarms_msms",
		"ihr_atlas_delay", "ihr_atlas_delay_alarms", "ihr_disco_events", "ihr_disco_probes",
		"ihr_metis_atlas_selection", "ihr_metis_atlas_deployment", "ihr_tr_hegemony"}
	ts := tables(t, 1)
	if len(ts) != len(want) {
		t.Errorf("%d tables, want %d", len(ts), len(want))
	}
	for _, name := range want {
		n := 0
		for range ts[name].Rows {
			n++
		}
		if n == 0 {
			t.Errorf("%s is empty", name)
		}
	}
}

func TestSameSeedSameRows(t *testing.T) {
	a, b, c := tables(t, 7), tables(t, 7), tables(t, 8)
	differs := false
	for name, tb := range a {
		if digest(tb) != digest(b[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		if digest(tb) != digest(c[name]) {
			differs = true
		}
	}
	if !differs {
		t.Error("another seed gives the same data")
	}
}

func TestHegemonyInvariants(t *testing.T) {
	ts := tables(t, 1)
	asns := map[int64]bool{}
	for row := range ts["ihr_asn"].Rows {
		asns[row[0].(int64)] = true
	}
	for _, known := range []int64{0, 2497, 15169, 13335, 3356, 174, 7922} {
		if !asns[known] {
			t.Errorf("well-known AS%d missing", known)
		}
	}
	h := ts["ihr_hegemony"]
	ti, hi, ai, asni, oi := col(h, "timebin"), col(h, "hege"), col(h, "af"), col(h, "asn_id"), col(h, "originasn_id")
	type key struct {
		t      time.Time
		af     int32
		o, asn int64
	}
	seen := map[key]bool{}
	for row := range h.Rows {
		tb, hege, af := row[ti].(time.Time), row[hi].(float64), row[ai].(int32)
		asn, o := row[asni].(int64), row[oi].(int64)
		if !tb.Equal(tb.Truncate(15*time.Minute)) || tb.Location() != time.UTC {
			t.Fatalf("timebin %s not a UTC 15-minute bin", tb)
		}
		if hege < 0 || hege > 1 || (asn == o && hege != 1) {
			t.Fatalf("hege %v for AS%d in AS%d's graph", hege, asn, o)
		}
		if af != 4 && af != 6 {
			t.Fatalf("af %d", af)
		}
		if !asns[asn] || !asns[o] {
			t.Fatalf("AS%d or AS%d not in ihr_asn", asn, o)
		}
		k := key{tb, af, o, asn}
		if seen[k] {
			t.Fatalf("duplicate hegemony key %+v", k)
		}
		seen[k] = true
	}
	if !seen[key{DefaultEnd, 4, 2497, 2497}] {
		t.Error("no AS2497 result in the last bin")
	}
}

func TestReferencesExist(t *testing.T) {
	ts := tables(t, 1)
	ids := func(name string) map[any]bool {
		m := map[any]bool{}
		for row := range ts[name].Rows {
			m[row[0]] = true
		}
		return m
	}
	asns, locs, trIDs, events := ids("ihr_asn"), ids("ihr_atlas_location"), ids("ihr_tr_hegemony_identifier"), ids("ihr_disco_events")
	delayAlarms, fwdAlarms := ids("ihr_delay_alarms"), ids("ihr_forwarding_alarms")
	checks := []struct {
		table, column string
		in            map[any]bool
		conv          func(any) any
	}{
		{"ihr_hegemonycone", "asn_id", asns, nil},
		{"ihr_hegemony_alarms", "originasn_id", asns, nil},
		{"ihr_hegemony_prefix", "asn_id", asns, nil},
		{"ihr_hegemony_country", "asn_id", asns, nil},
		{"ihr_delay", "asn_id", asns, nil},
		{"ihr_metis_atlas_deployment", "asn_id", asns, nil},
		{"ihr_atlas_delay", "startpoint_id", locs, nil},
		{"ihr_atlas_delay", "endpoint_id", locs, nil},
		{"ihr_atlas_delay_alarms", "endpoint_id", locs, nil},
		{"ihr_tr_hegemony", "origin_id", trIDs, nil},
		{"ihr_tr_hegemony", "dependency_id", trIDs, nil},
		{"ihr_disco_probes", "event_id", events, nil},
		{"ihr_delay_alarms_msms", "alarm_id", delayAlarms, func(v any) any { return int64(v.(int32)) }},
		{"ihr_forwarding_alarms_msms", "alarm_id", fwdAlarms, func(v any) any { return int64(v.(int32)) }},
	}
	for _, c := range checks {
		tb := ts[c.table]
		i := col(tb, c.column)
		for row := range tb.Rows {
			v := row[i]
			if c.conv != nil {
				v = c.conv(v)
			}
			if !c.in[v] {
				t.Errorf("%s.%s = %v refers to nothing", c.table, c.column, v)
				break
			}
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	if _, err := Generate(Options{Scale: "huge"}); err == nil {
		t.Error("unknown scale accepted")
	}
	if _, err := Generate(Options{Scale: "small", End: DefaultEnd.Add(time.Minute)}); err == nil {
		t.Error("unaligned end accepted")
	}
}
