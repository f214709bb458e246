package store

import (
	"fmt"

	"github.com/ihr-go/ihr/pkg/events"
)

// table is rows for another table, derived from a bin and written with it.
type table struct {
	name    string
	columns []string
	rows    [][]any
}

// derivation is what a dataset adds to a bin before it is written: missing
// values filled in, and rows of derived tables (replaced with the bin).
type derivation struct {
	fill    func(rows any) error
	derived func(bin events.Bin, rows any) table
}

var derivations = map[string]derivation{
	events.Hegemony.Name:       {derived: cones},
	events.HegemonyPrefix.Name: {fill: prefixVisibility},
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
	t := table{name: events.HegemonyCone.Table, columns: events.HegemonyCone.Columns(), rows: make([][]any, 0, len(sizes))}
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
