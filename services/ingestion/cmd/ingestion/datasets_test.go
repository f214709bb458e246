package main

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
	"github.com/ihr-go/ihr/pkg/testkit"
)

// binOf is a bin of d at t0 (plus the dataset's offset) for its example's part.
func binOf(d *events.Dataset, run string) events.Bin {
	b := d.NewBin(4, t0.Truncate(time.Duration(d.AlignSeconds())*time.Second).Add(time.Duration(d.Offset)*time.Second), run)
	if d.AF == events.AFNone {
		b.AF = 0
	}
	if p := d.PartField(); p != nil {
		b.Part = reflect.ValueOf(d.Example).FieldByName(fieldName(d, p.JSON)).String()
	}
	return b
}

func fieldName(d *events.Dataset, json string) string {
	t := d.RowType()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("json"); tag == json || len(tag) > len(json) && tag[:len(json)+1] == json+"," {
			return t.Field(i).Name
		}
	}
	return ""
}

// TestEveryDataset publishes each dataset's example row as a bin, then a
// second run of the same bin: the row lands in its table with its
// dimension rows, the second run replaces the first, and each commit is
// announced with the row's keys.
func TestEveryDataset(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	ctx := context.Background()
	for _, d := range events.Datasets() {
		rows := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, 1)
		rows = reflect.Append(rows, reflect.ValueOf(d.Example))
		for _, run := range []string{"first", "second"} {
			if _, err := r.pub.Bin(ctx, binOf(d, run), rows.Interface()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, d := range events.Datasets() {
		testkit.Eventually(t, d.Name+" committed twice", func() bool {
			return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_runs WHERE dataset = $1", d.Name) == 2
		})
	}
	testkit.Eventually(t, "two results events per dataset", func() bool { return len(r.results(t)) == 2*len(events.Datasets()) })
	results := map[string][]events.Result{}
	for _, res := range r.results(t) {
		results[res.Dataset] = append(results[res.Dataset], res)
	}
	for _, d := range events.Datasets() {
		t.Run(d.Name, func(t *testing.T) {
			if n := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM "+d.Table); n != 1 {
				t.Errorf("%s holds %d rows, want 1 (the second run replaces the first)", d.Table, n)
			}
			if tb := testkit.Scalar[time.Time](t, r.db, "SELECT timebin FROM "+d.Table); !tb.Equal(binOf(d, "x").Timebin) {
				t.Errorf("timebin %v", tb)
			}
			got := results[d.Name]
			if len(got) != 2 || got[0].Replaced || !got[1].Replaced || got[1].PreviousRunID != "first" || got[1].RowCount != 1 {
				t.Fatalf("results events %+v", got)
			}
			if len(got[1].Keys)+len(got[1].TextKeys) == 0 {
				t.Errorf("no keys reported: %+v", got[1])
			}
		})
	}
	checks := []struct{ what, sql string }{
		{"the hegemony example's networks exist", "SELECT count(*)::int FROM ihr_asn WHERE number IN (2497, 2914)"},
		{"the cone of 2914 was derived (hegemony committed after hegemony_cone, or the reverse: one row)", "SELECT count(*)::int FROM ihr_hegemonycone WHERE asn_id = 2914"},
		{"the country JP exists", "SELECT count(*)::int FROM ihr_country WHERE code = 'JP'"},
		{"two Atlas locations, each once", "SELECT count(DISTINCT (type, name, af))::int FROM ihr_atlas_location WHERE (type, name) IN (('AS', '2497'), ('CT', 'London, England, GB'))"},
		{"two traceroute identifiers", "SELECT count(*)::int FROM ihr_tr_hegemony_identifier WHERE (type, name, af) IN (('AS', '2497', 4), ('IX', 'JPIX', 4))"},
		{"atlas delay points at them", "SELECT count(*)::int FROM ihr_atlas_delay d JOIN ihr_atlas_location s ON s.id = d.startpoint_id JOIN ihr_atlas_location e ON e.id = d.endpoint_id WHERE s.name = '2497' AND e.type = 'CT'"},
		{"prefix visibility derived from nb_peers, moas from origins", "SELECT count(*)::int FROM ihr_hegemony_prefix WHERE visibility = 100 AND NOT moas"},
		{"delay alarm kept its msm_prb_ids", `SELECT count(*)::int FROM ihr_delay_alarms WHERE msm_prb_ids = '{"5001":[1001,1002]}'::jsonb`},
		{"the delay alarm's two measurements link to it, the replaced run's are gone", "SELECT count(*)::int FROM ihr_delay_alarms_msms m JOIN ihr_delay_alarms a ON a.id = m.alarm_id WHERE (SELECT count(*) FROM ihr_delay_alarms_msms) = 2"},
		{"the forwarding alarm's measurement links to it", "SELECT count(*)::int FROM ihr_forwarding_alarms_msms m JOIN ihr_forwarding_alarms a ON a.id = m.alarm_id WHERE m.msmid = 5051 AND m.probeid = 1003 AND (SELECT count(*) FROM ihr_forwarding_alarms_msms) = 1"},
	}
	for _, c := range checks {
		want := 1
		switch c.what {
		case "the hegemony example's networks exist", "two Atlas locations, each once", "two traceroute identifiers",
			"the delay alarm's two measurements link to it, the replaced run's are gone":
			want = 2
		}
		if n := testkit.Scalar[int](t, r.db, c.sql); n != want {
			t.Errorf("%s: %d, want %d", c.what, n, want)
		}
	}
	if n := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_atlas_location"); n != 2 {
		t.Errorf("%d Atlas locations: the same location was added twice", n)
	}
	loc := results[events.AtlasDelay.Name][1].TextKeys["endpoint"]
	if !slices.Equal(loc, []string{"CT4London, England, GB"}) {
		t.Errorf("atlas delay endpoint keys %q", loc)
	}
}

// TestMetisPartsAreSeparateBins: the metric splits metis bins, so one
// metric's run does not replace another's.
func TestMetisPartsAreSeparateBins(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.start(t)
	ctx := context.Background()
	for _, metric := range []string{"rtt", "ip_hops", "rtt"} {
		b := binOf(events.MetisSelection, "run-"+metric)
		b.Part = metric
		rows := []events.MetisSelectionRow{{Metric: metric, Rank: 1, ASN: 2497, Mean: 1}, {Metric: metric, Rank: 2, ASN: 7922, Mean: 2}}
		if _, err := r.pub.Bin(ctx, b, rows); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, "both metrics committed", func() bool {
		return testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ingest_runs WHERE dataset = 'metis_selection'") == 2
	})
	for _, metric := range []string{"rtt", "ip_hops"} {
		if n := testkit.Scalar[int](t, r.db, "SELECT count(*)::int FROM ihr_metis_atlas_selection WHERE metric = $1", metric); n != 2 {
			t.Errorf("%s: %d rows, want 2", metric, n)
		}
	}
}
