package demodata

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var legacyTables = []string{"ihr_asn", "ihr_country", "ihr_atlas_location", "ihr_tr_hegemony_identifier", "ihr_hegemony",
	"ihr_hegemonycone", "ihr_hegemony_alarms", "ihr_hegemony_country", "ihr_hegemony_prefix", "ihr_delay",
	"ihr_forwarding", "ihr_delay_alarms", "ihr_forwarding_alarms", "ihr_delay_alarms_msms", "ihr_forwarding_alarms_msms",
	"ihr_atlas_delay", "ihr_atlas_delay_alarms", "ihr_disco_events", "ihr_disco_probes",
	"ihr_metis_atlas_selection", "ihr_metis_atlas_deployment", "ihr_tr_hegemony"}

func tables(t *testing.T, o Options) map[string]Table {
	t.Helper()
	ts, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]Table{}
	for _, tb := range ts {
		m[tb.Name] = tb
	}
	return m
}

func small(t *testing.T) map[string]Table {
	t.Helper()
	return tables(t, Options{Scale: "small", Seed: 1})
}

// column returns the values of one column, failing when there is no such column.
func column(t *testing.T, tb Table, name string) []any {
	t.Helper()
	i := col(tb, name)
	if i < 0 {
		t.Fatalf("%s has no column %s", tb.Name, name)
	}
	var vs []any
	for row := range tb.Rows {
		vs = append(vs, row[i])
	}
	return vs
}

func set(vs []any) map[any]bool {
	m := map[any]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func digest(tb Table) uint64 {
	h := fnv.New64a()
	for row := range tb.Rows {
		fmt.Fprintln(h, row...)
	}
	return h.Sum64()
}

func TestEveryLegacyTableIsFilled(t *testing.T) {
	ts, err := Generate(Options{Scale: "small", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	total := 0
	for _, tb := range ts {
		names = append(names, tb.Name)
		n := 0
		for row := range tb.Rows {
			if len(row) != len(tb.Columns) {
				t.Fatalf("%s: row of %d values for %d columns", tb.Name, len(row), len(tb.Columns))
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s is empty", tb.Name)
		}
		total += n
	}
	if !slices.Equal(names, legacyTables) {
		t.Errorf("tables %v, want %v", names, legacyTables)
	}
	if total < 10_000 || total > 100_000 {
		t.Errorf("small holds %d rows, want tens of thousands", total)
	}
}

func TestSameSeedSameRows(t *testing.T) {
	end := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	a, b := tables(t, Options{Scale: "small", Seed: 7}), tables(t, Options{Scale: "small", Seed: 7})
	others := []map[string]Table{tables(t, Options{Scale: "small", Seed: 8}), tables(t, Options{Scale: "small", Seed: 7, End: end})}
	for _, name := range legacyTables {
		if digest(a[name]) != digest(b[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
		// iterating a table twice gives the same rows too
		if digest(a[name]) != digest(a[name]) {
			t.Errorf("%s changes between two iterations", name)
		}
	}
	for i, o := range others {
		if digest(a["ihr_hegemony"]) == digest(o["ihr_hegemony"]) {
			t.Errorf("variant %d (another seed or end) gives the same hegemony rows", i)
		}
	}
}

func TestTimebins(t *testing.T) {
	ts := small(t)
	start := DefaultEnd.Add(-3*24*time.Hour + bin)
	tests := []struct {
		table, column string
		step          time.Duration
		weekly        bool // weekly bins may start before the window
	}{
		{"ihr_hegemony", "timebin", 15 * time.Minute, false},
		{"ihr_hegemonycone", "timebin", 15 * time.Minute, false},
		{"ihr_hegemony_alarms", "timebin", 15 * time.Minute, false},
		{"ihr_hegemony_country", "timebin", 24 * time.Hour, false},
		{"ihr_hegemony_prefix", "timebin", 24 * time.Hour, false},
		{"ihr_delay", "timebin", time.Hour, false},
		{"ihr_forwarding", "timebin", time.Hour, false},
		{"ihr_delay_alarms", "timebin", time.Hour, false},
		{"ihr_forwarding_alarms", "timebin", time.Hour, false},
		{"ihr_atlas_delay", "timebin", 30 * time.Minute, false},
		{"ihr_atlas_delay_alarms", "timebin", 30 * time.Minute, false},
		{"ihr_metis_atlas_selection", "timebin", 24 * time.Hour, true},
		{"ihr_metis_atlas_deployment", "timebin", 24 * time.Hour, true},
		{"ihr_tr_hegemony", "timebin", 24 * time.Hour, true},
		{"ihr_disco_events", "starttime", time.Second, false},
		{"ihr_disco_probes", "starttime", time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			last := time.Time{}
			for _, v := range column(t, ts[tt.table], tt.column) {
				tb := v.(time.Time)
				if tb.Location() != time.UTC || !tb.Equal(tb.Truncate(tt.step)) {
					t.Fatalf("%s %s is not a UTC bin of %s", tt.column, tb, tt.step)
				}
				if tb.After(DefaultEnd.Add(bin)) || (!tt.weekly && tb.Before(start)) {
					t.Fatalf("%s %s outside the window %s..%s", tt.column, tb, start, DefaultEnd)
				}
				if tb.After(last) {
					last = tb
				}
			}
			if tt.step >= time.Hour && !tt.weekly && tt.table != "ihr_delay_alarms" && tt.table != "ihr_forwarding_alarms" &&
				DefaultEnd.Sub(last) >= tt.step {
				t.Errorf("last bin %s, want the window's last %s bin", last, tt.step)
			}
		})
	}
}

func TestHegemonyInvariants(t *testing.T) {
	ts := small(t)
	asns := set(column(t, ts["ihr_asn"], "number"))
	for _, known := range []int64{0, 2497, 15169, 13335, 3356, 174, 7922, -4, -26} {
		if !asns[known] {
			t.Errorf("AS%d missing from ihr_asn", known)
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
	selfOf := map[key]bool{} // (bin, af, origin) has its self-dependency
	for row := range h.Rows {
		tb, hege, af := row[ti].(time.Time), row[hi].(float64), row[ai].(int32)
		asn, o := row[asni].(int64), row[oi].(int64)
		if hege <= 0 || hege > 1 || (asn == o && hege != 1) {
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
		if asn == o {
			selfOf[key{tb, af, o, 0}] = true
		}
	}
	for k := range seen {
		if k.o != 0 && !selfOf[key{k.t, k.af, k.o, 0}] {
			t.Fatalf("AS%d has no self-dependency at %s af %d", k.o, k.t, k.af)
		}
	}
	for _, k := range []key{{DefaultEnd, 4, 2497, 2497}, {DefaultEnd, 6, 2497, 2497}} {
		if !seen[k] {
			t.Errorf("no %+v in the last bin", k)
		}
	}
	global := 0
	for k := range seen {
		if k.o == 0 && k.t.Equal(DefaultEnd) && k.af == 4 {
			global++
		}
	}
	if global == 0 {
		t.Error("no global graph (originasn 0)")
	}
}

func TestValueRanges(t *testing.T) {
	ts := small(t)
	tests := []struct {
		table, column string
		lo, hi        float64
	}{
		{"ihr_hegemony_prefix", "hege", 0, 1},
		{"ihr_hegemony_prefix", "visibility", 0, 100},
		{"ihr_hegemony_country", "hege", 0, 1},
		{"ihr_hegemony_country", "weight", 0, 1},
		{"ihr_tr_hegemony", "hege", 0, 1},
		{"ihr_hegemonycone", "conesize", 0, 1e6},
		{"ihr_atlas_delay", "median", 0, 1000},
		{"ihr_atlas_delay", "entropy", 0, 1},
		{"ihr_forwarding_alarms", "correlation", -1, 1},
		{"ihr_forwarding_alarms", "responsibility", 0, 1},
		{"ihr_delay", "magnitude", 0, 1e3},
		{"ihr_disco_probes", "lat", -90, 90},
		{"ihr_disco_probes", "lon", -180, 180},
	}
	for _, tt := range tests {
		t.Run(tt.table+"."+tt.column, func(t *testing.T) {
			for _, v := range column(t, ts[tt.table], tt.column) {
				var f float64
				switch x := v.(type) {
				case float64:
					f = x
				case int32:
					f = float64(x)
				default:
					t.Fatalf("unexpected %T", v)
				}
				if f < tt.lo || f > tt.hi {
					t.Fatalf("%v outside [%v, %v]", f, tt.lo, tt.hi)
				}
			}
		})
	}
	for _, metis := range []string{"ihr_metis_atlas_selection", "ihr_metis_atlas_deployment"} {
		for _, m := range column(t, ts[metis], "metric") {
			if !slices.Contains([]string{"as_path_length", "ip_hops", "rtt"}, m.(string)) {
				t.Fatalf("%s metric %q", metis, m)
			}
		}
	}
}

func TestReferencesExist(t *testing.T) {
	ts := small(t)
	ids := func(table, column string) map[any]bool { return set(columnOf(t, ts, table, column)) }
	asns, countries := ids("ihr_asn", "number"), ids("ihr_country", "code")
	locs, trIDs := ids("ihr_atlas_location", "id"), ids("ihr_tr_hegemony_identifier", "id")
	events := ids("ihr_disco_events", "id")
	alarmIDs := func(table string) map[any]bool {
		m := map[any]bool{}
		for id := range ids(table, "id") {
			m[int32(id.(int64))] = true
		}
		return m
	}
	tests := []struct {
		table, column string
		in            map[any]bool
	}{
		{"ihr_hegemony", "asn_id", asns},
		{"ihr_hegemony", "originasn_id", asns},
		{"ihr_hegemonycone", "asn_id", asns},
		{"ihr_hegemony_alarms", "asn_id", asns},
		{"ihr_hegemony_alarms", "originasn_id", asns},
		{"ihr_hegemony_prefix", "asn_id", asns},
		{"ihr_hegemony_prefix", "originasn_id", asns},
		{"ihr_hegemony_prefix", "country_id", countries},
		{"ihr_hegemony_country", "asn_id", asns},
		{"ihr_hegemony_country", "country_id", countries},
		{"ihr_delay", "asn_id", asns},
		{"ihr_forwarding", "asn_id", asns},
		{"ihr_delay_alarms", "asn_id", asns},
		{"ihr_forwarding_alarms", "asn_id", asns},
		{"ihr_metis_atlas_selection", "asn_id", asns},
		{"ihr_metis_atlas_deployment", "asn_id", asns},
		{"ihr_atlas_delay", "startpoint_id", locs},
		{"ihr_atlas_delay", "endpoint_id", locs},
		{"ihr_atlas_delay_alarms", "startpoint_id", locs},
		{"ihr_atlas_delay_alarms", "endpoint_id", locs},
		{"ihr_tr_hegemony", "origin_id", trIDs},
		{"ihr_tr_hegemony", "dependency_id", trIDs},
		{"ihr_disco_probes", "event_id", events},
		{"ihr_delay_alarms_msms", "alarm_id", alarmIDs("ihr_delay_alarms")},
		{"ihr_forwarding_alarms_msms", "alarm_id", alarmIDs("ihr_forwarding_alarms")},
	}
	for _, tt := range tests {
		t.Run(tt.table+"."+tt.column, func(t *testing.T) {
			for _, v := range columnOf(t, ts, tt.table, tt.column) {
				if !tt.in[v] {
					t.Fatalf("%v refers to nothing", v)
				}
			}
		})
	}
}

func columnOf(t *testing.T, ts map[string]Table, table, name string) []any {
	t.Helper()
	return column(t, ts[table], name)
}

func TestPrimaryKeysAreUnique(t *testing.T) {
	for name, tb := range small(t) {
		key := []string{"id"}
		switch name {
		case "ihr_asn":
			key = []string{"number"}
		case "ihr_country":
			key = []string{"code"}
		}
		seen := map[string]bool{}
		for row := range tb.Rows {
			var k []string
			for _, c := range key {
				k = append(k, fmt.Sprint(row[col(tb, c)]))
			}
			if s := strings.Join(k, "|"); seen[s] {
				t.Fatalf("%s: duplicate key %s", name, s)
			} else {
				seen[s] = true
			}
		}
	}
}

func TestLocations(t *testing.T) {
	ts := small(t)
	countries := set(columnOf(t, ts, "ihr_country", "code"))
	types := map[string]bool{}
	for row := range ts["ihr_atlas_location"].Rows {
		name, typ, af := row[1].(string), row[2].(string), row[3].(int32)
		types[typ] = true
		if af != 4 && af != 6 {
			t.Errorf("location %q af %d", name, af)
		}
		switch typ {
		case "CT":
			parts := strings.Split(name, ", ")
			if len(parts) != 3 || !countries[parts[2]] {
				t.Errorf("city %q is not \"City, Region, CC\" with a known country", name)
			}
		case "AS", "PB", "IX":
			if _, err := strconv.Atoi(name); err != nil {
				t.Errorf("%s location %q is not a number", typ, name)
			}
		}
	}
	for _, want := range []string{"AS", "CT", "PB", "IP"} {
		if !types[want] {
			t.Errorf("no %s location", want)
		}
	}
}

func TestAlarmMeasurementsMatch(t *testing.T) {
	ts := small(t)
	for _, pair := range [][2]string{{"ihr_delay_alarms", "ihr_delay_alarms_msms"}, {"ihr_forwarding_alarms", "ihr_forwarding_alarms_msms"}} {
		alarms, msms := ts[pair[0]], ts[pair[1]]
		want := map[string]bool{}
		for row := range alarms.Rows {
			m, _ := row[col(alarms, "msm_prb_ids")].(map[string][]int)
			for msm, probes := range m {
				for _, p := range probes {
					want[fmt.Sprintf("%v %v %v", row[0], msm, p)] = true
				}
			}
		}
		got := map[string]bool{}
		for row := range msms.Rows {
			got[fmt.Sprintf("%v %v %v", int64(row[3].(int32)), row[1], row[2])] = true
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Errorf("%s holds %d (alarm, msm, probe) links, %s lists %d", pair[1], len(got), pair[0], len(want))
		}
		for k := range got {
			if !want[k] {
				t.Errorf("%s link %s is not in the alarm's msm_prb_ids", pair[1], k)
			}
		}
	}
}

func TestCountryHegemonyCoversEverySchemeAndFamily(t *testing.T) {
	tb := small(t)["ihr_hegemony_country"]
	seen := map[string]bool{}
	for row := range tb.Rows {
		seen[fmt.Sprintf("%v %v %v", row[col(tb, "weightscheme")], row[col(tb, "transitonly")], row[col(tb, "af")])] = true
	}
	for _, s := range []string{"as", "eyeball"} {
		for _, tr := range []bool{false, true} {
			for _, af := range []int32{4, 6} {
				if k := fmt.Sprintf("%v %v %v", s, tr, af); !seen[k] {
					t.Errorf("no country hegemony for %s", k)
				}
			}
		}
	}
}

func TestDiscoProbesMatchTheirEvent(t *testing.T) {
	ts := small(t)
	ev, pr := ts["ihr_disco_events"], ts["ihr_disco_probes"]
	probes := map[int32]int32{}
	for row := range pr.Rows {
		probes[row[col(pr, "event_id")].(int32)]++
	}
	for row := range ev.Rows {
		id, n := row[0].(int32), row[col(ev, "nbdiscoprobes")].(int32)
		if probes[id] != n {
			t.Errorf("event %d has %d probes, nbdiscoprobes %d", id, probes[id], n)
		}
		if start, end := row[col(ev, "starttime")].(time.Time), row[col(ev, "endtime")].(time.Time); end.Before(start) {
			t.Errorf("event %d ends before it starts", id)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"unknown scale", Options{Scale: "huge"}},
		{"unaligned end", Options{Scale: "small", End: DefaultEnd.Add(time.Minute)}},
	}
	for _, tt := range tests {
		if _, err := Generate(tt.o); err == nil {
			t.Errorf("%s accepted", tt.name)
		}
	}
	for _, s := range Scales() {
		if _, err := Generate(Options{Scale: s}); err != nil {
			t.Errorf("scale %s: %v", s, err)
		}
	}
}
