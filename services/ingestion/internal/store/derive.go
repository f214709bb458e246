package store

import (
	"fmt"
	"reflect"

	"github.com/ihr-go/ihr/pkg/events"
)

// table is rows for another table, derived from a bin and written with it.
// When a dataset of its own writes that table too (cones), owner names it:
// the commit then also holds that dataset's bin lock.
type table struct {
	name    string
	owner   string
	columns []string
	rows    [][]any
}

// derivation is what a dataset adds to a bin before it is written: missing
// values filled in, rows of derived tables (replaced with the bin), and
// rows of a link table that refer to the rows' ids.
type derivation struct {
	fill    func(rows any) error
	derived func(bin events.Bin, rows any) table
	links   *links
}

// links are rows of a table pointing at the bin's rows by id (column
// alarm_id), so the rows get their ids before they are copied.
type links struct {
	table   string
	columns []string
	rows    func(rows reflect.Value, ids []int64) [][]any
}

var derivations = map[string]derivation{
	events.Hegemony.Name:         {derived: cones},
	events.HegemonyPrefix.Name:   {fill: prefixVisibility},
	events.DelayAlarms.Name:      {links: msmLinks(events.DelayAlarms, "ihr_delay_alarms_msms")},
	events.ForwardingAlarms.Name: {links: msmLinks(events.ForwardingAlarms, "ihr_forwarding_alarms_msms")},
}

// msmLinks lists each alarm's measurements and probes in the legacy link
// table the read API reads them from.
func msmLinks(d *events.Dataset, table string) *links {
	var msms *events.Field
	for _, f := range d.Fields() {
		if f.Kind == events.KindMsms {
			msms = &f
		}
	}
	return &links{table: table, columns: []string{"msmid", "probeid", "alarm_id"}, rows: func(rows reflect.Value, ids []int64) [][]any {
		var out [][]any
		for i := range rows.Len() {
			for _, m := range msms.Value(rows.Index(i)).([]events.MsmProbe) {
				out = append(out, []any{m.MsmID, m.ProbeID, ids[i]})
			}
		}
		return out
	}}
}

// cones derives the bin's customer cones: for each network, the origins
// (the global graph aside) that depend on it. Rows are unique per (origin,
// network), so counting rows suffices.
func cones(bin events.Bin, rows any) table {
	sizes := map[int64]int32{}
	for _, r := range rows.([]events.HegemonyRow) {
		if r.OriginASN != 0 && r.Hege > 0 {
			sizes[r.ASN]++
		}
	}
	t := table{name: events.HegemonyCone.Table, owner: events.HegemonyCone.Name, columns: events.HegemonyCone.Columns(), rows: make([][]any, 0, len(sizes))}
	for asn, size := range sizes {
		t.rows = append(t.rows, []any{bin.Timebin, bin.AF, asn, size})
	}
	return t
}

// prefixVisibility fills what a prefix producer left out, as IHR's sink
// did: visibility, the share (in %) of the bin's largest nb_peers a row's
// nb_peers is; moas, whether the prefix has several origins in the bin.
func prefixVisibility(rows any) error {
	rs := rows.([]events.PrefixHegemonyRow)
	var most int64
	origins := map[string]map[int64]bool{}
	for _, r := range rs {
		if r.NbPeers != nil {
			most = max(most, *r.NbPeers)
		}
		if origins[r.Prefix] == nil {
			origins[r.Prefix] = map[int64]bool{}
		}
		origins[r.Prefix][r.OriginASN] = true
	}
	for i := range rs {
		r := &rs[i]
		if r.Visibility == nil {
			if r.NbPeers == nil {
				return &events.Invalid{Reason: fmt.Sprintf("row %d: visibility or nb_peers is needed", i)}
			}
			v := 0.0
			if most > 0 {
				v = 100 * float64(*r.NbPeers) / float64(most)
			}
			r.Visibility = &v
		}
		if r.MOAS == nil {
			moas := len(origins[r.Prefix]) > 1
			r.MOAS = &moas
		}
	}
	return nil
}
