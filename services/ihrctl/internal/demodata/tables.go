package demodata

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// seq turns a generator that calls emit for each row into a Table's Rows.
func seq(gen func(emit func(...any) bool)) iter.Seq[[]any] {
	return func(yield func([]any) bool) {
		gen(func(vals ...any) bool { return yield(vals) })
	}
}

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func (w *world) asnTable() Table {
	return Table{Name: "ihr_asn", Columns: []string{"number", "name", "tartiflette", "disco", "ashash"},
		Rows: seq(func(emit func(...any) bool) {
			for i, n := range w.nets {
				real := i < len(networks)
				if !emit(n.number, n.name, real && n.number > 0 && i%3 != 2, real && n.number > 0 && i%4 != 3, n.number >= 0) {
					return
				}
			}
		})}
}

func (w *world) countryTable() Table {
	return Table{Name: "ihr_country", Columns: []string{"code", "name", "tartiflette", "disco"},
		Rows: seq(func(emit func(...any) bool) {
			for i, c := range countries {
				if !emit(c[0], c[1], i >= 3 && i%2 == 0, i >= 3) {
					return
				}
			}
		})}
}

func locationTable(name string, locs []location) Table {
	return Table{Name: name, Columns: []string{"id", "name", "type", "af"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			for _, l := range locs {
				if !emit(l.id, l.name, l.typ, l.af) {
					return
				}
			}
		})}
}

func (w *world) locationTable() Table   { return locationTable("ihr_atlas_location", w.locations) }
func (w *world) identifierTable() Table { return locationTable("ihr_tr_hegemony_identifier", w.trIDs) }

func (w *world) hegemonyTable() Table {
	return Table{Name: "ihr_hegemony", Columns: []string{"id", "timebin", "hege", "af", "asn_id", "originasn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(1), int64(0)
			for t := range w.bins(bin) {
				for _, af := range []int32{4, 6} {
					for _, o := range w.origins {
						if af == 6 && !hasV6(o) {
							continue
						}
						for j, d := range w.deps[o] {
							h := 1.0
							if d.asn != o {
								h = wave(d.hege, t, float64(j), r, 0.0001, 1)
							}
							id++
							if !emit(id, t, h, af, d.asn, o) {
								return
							}
						}
					}
				}
			}
		})}
}

func (w *world) coneTable() Table {
	return Table{Name: "ihr_hegemonycone", Columns: []string{"id", "timebin", "conesize", "af", "asn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(20), int64(0)
			asns := map[int32][]int64{}
			sizes := map[int32]map[int64]int32{}
			for _, af := range []int32{4, 6} {
				asns[af], sizes[af] = w.cones(af)
			}
			for t := range w.bins(bin) {
				for _, af := range []int32{4, 6} {
					for _, asn := range asns[af] {
						// cones move a little from bin to bin, never below their base
						size := sizes[af][asn]
						size += int32(float64(size) * 0.01 * r.Float64())
						id++
						if !emit(id, t, size, af, asn) {
							return
						}
					}
				}
			}
		})}
}

// sparse yields the bins, each kept with probability p, in order.
func sparse(bins iter.Seq[time.Time], r *rand.Rand, p float64) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for t := range bins {
			if r.Float64() < p && !yield(t) {
				return
			}
		}
	}
}

func signedDeviation(r *rand.Rand, lo, hi float64) float64 {
	d := lo + (hi-lo)*r.Float64()
	if r.IntN(2) == 0 {
		return -d
	}
	return d
}

func (w *world) hegemonyAlarmTable() Table {
	return Table{Name: "ihr_hegemony_alarms", Columns: []string{"id", "timebin", "deviation", "af", "asn_id", "originasn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(2), int64(0)
			for t := range sparse(w.bins(bin), r, 0.12) {
				o := w.origins[1+r.IntN(len(w.origins)-1)]
				ds := w.deps[o]
				af := int32(4)
				if hasV6(o) && r.IntN(3) == 0 {
					af = 6
				}
				id++
				if !emit(id, t, signedDeviation(r, 5, 50), af, ds[r.IntN(len(ds))].asn, o) {
					return
				}
			}
		})}
}

func (w *world) countryHegemonyTable() Table {
	return Table{Name: "ihr_hegemony_country",
		Columns: []string{"id", "timebin", "hege", "af", "weight", "weightscheme", "transitonly", "asn_id", "country_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(3), int64(0)
			for _, day := range w.days() {
				for _, af := range []int32{4, 6} {
					for _, c := range countries[3:] {
						// a country depends on its own networks and on their transits
						var asns []int64
						for _, o := range w.origins {
							if o != 0 && w.country[o] == c[0] && (af == 4 || hasV6(o)) {
								for _, d := range w.deps[o] {
									asns = appendUnique(asns, d.asn)
								}
							}
						}
						for _, asn := range asns {
							for _, scheme := range []string{"as", "eyeball"} {
								for _, transit := range []bool{false, true} {
									id++
									if !emit(id, day, round(r.Float64(), 6), af, r.Float64(), scheme, transit, asn, c[0]) {
										return
									}
								}
							}
						}
					}
				}
			}
		})}
}

func appendUnique(s []int64, v int64) []int64 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// prefixes returns the prefixes an origin announces in an address family.
func prefixes(origin int64, af int32) []string {
	if af == 6 {
		return []string{fmt.Sprintf("2001:db8:%x::/48", origin%0xffff)}
	}
	a, b := 1+origin%223, (origin/223)%256
	return []string{fmt.Sprintf("%d.%d.0.0/16", a, b), fmt.Sprintf("%d.%d.128.0/24", a, b)}
}

var (
	rpkiStatus = []string{"Valid", "Valid", "NotFound", "Invalid", "Unknown"}
	irrStatus  = []string{"Valid", "NotFound", "Invalid", "Unknown"}
	delegation = []string{"allocated", "assigned", "available", "reserved"}
)

func (w *world) prefixTable() Table {
	return Table{Name: "ihr_hegemony_prefix",
		Columns: []string{"id", "timebin", "prefix", "hege", "af", "visibility", "rpki_status", "irr_status",
			"delegated_prefix_status", "delegated_asn_status", "descr", "moas", "asn_id", "originasn_id", "country_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(4), int64(0)
			for _, day := range w.days() {
				for _, af := range []int32{4, 6} {
					for _, o := range w.origins[1:] {
						if af == 6 && !hasV6(o) {
							continue
						}
						for _, p := range prefixes(o, af) {
							rpki, irr := rpkiStatus[r.IntN(len(rpkiStatus))], irrStatus[r.IntN(len(irrStatus))]
							dp, da := delegation[r.IntN(2)], delegation[r.IntN(2)]
							descr, moas := p+" customer block", r.IntN(20) == 0
							for j, d := range w.deps[o] {
								h := 1.0
								if d.asn != o {
									h = wave(d.hege, day, float64(j), r, 0.0001, 1)
								}
								id++
								if !emit(id, day, p, h, af, round(100*r.Float64(), 3), rpki, irr, dp, da, descr, moas, d.asn, o, w.country[o]) {
									return
								}
							}
						}
					}
				}
			}
		})}
}

// linkASNs are the networks whose links tartiflette measures.
func (w *world) linkASNs() []int64 {
	var asns []int64
	for _, n := range networks {
		if n.number != 0 && len(asns) < 14 {
			asns = append(asns, n.number)
		}
	}
	return asns
}

func (w *world) magnitudeTable(name string, stream uint64) Table {
	return Table{Name: name, Columns: []string{"id", "timebin", "magnitude", "asn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(stream), int64(0)
			for t := range w.bins(time.Hour) {
				for _, asn := range w.linkASNs() {
					id++
					if !emit(id, t, math.Abs(r.NormFloat64()*3), asn) {
						return
					}
				}
			}
		})}
}

func ip(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

// probes returns the Atlas measurement and probe ids behind an alarm, as
// the msm_prb_ids JSON column holds them, or nil for alarms without.
func probes(r *rand.Rand) map[string][]int {
	if r.IntN(5) == 0 {
		return nil
	}
	m := map[string][]int{}
	for range 1 + r.IntN(3) {
		var ps []int
		for range 1 + r.IntN(4) {
			ps = append(ps, 1000+r.IntN(60000))
		}
		m[fmt.Sprint(5000+r.IntN(9000))] = ps
	}
	return m
}

// alarmBins yields the hourly bins with an alarm, and the network it is on.
func (w *world) alarmBins(r *rand.Rand) iter.Seq2[time.Time, int64] {
	return func(yield func(time.Time, int64) bool) {
		asns := w.linkASNs()
		for t := range sparse(w.bins(time.Hour), r, 0.3) {
			if !yield(t, asns[r.IntN(len(asns))]) {
				return
			}
		}
	}
}

func (w *world) delayAlarmTable() Table {
	return Table{Name: "ihr_delay_alarms",
		Columns: []string{"id", "timebin", "ip", "link", "medianrtt", "diffmedian", "deviation", "nbprobes", "msm_prb_ids", "asn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(5), int64(0)
			for t, asn := range w.alarmBins(r) {
				a, b := ip(r), ip(r)
				id++
				if !emit(id, t, a, a+"-"+b, 5+200*r.Float64(), signedDeviation(r, 1, 40), 5+45*r.Float64(), int32(2+r.IntN(40)), probes(r), asn) {
					return
				}
			}
		})}
}

func (w *world) forwardingAlarmTable() Table {
	return Table{Name: "ihr_forwarding_alarms",
		Columns: []string{"id", "timebin", "ip", "correlation", "responsibility", "pktdiff", "previoushop", "msm_prb_ids", "asn_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(6), int64(0)
			for t, asn := range w.alarmBins(r) {
				id++
				if !emit(id, t, ip(r), 2*r.Float64()-1, r.Float64(), signedDeviation(r, 1, 100), ip(r), probes(r), asn) {
					return
				}
			}
		})}
}

// msmsTable links alarms to the measurements and probes of their
// msm_prb_ids, so both views of an alarm's evidence agree.
func (w *world) msmsTable(name string) Table {
	alarms := w.delayAlarmTable()
	if name == "ihr_forwarding_alarms_msms" {
		alarms = w.forwardingAlarmTable()
	}
	ids := col(alarms, "id")
	msms := col(alarms, "msm_prb_ids")
	return Table{Name: name, Columns: []string{"id", "msmid", "probeid", "alarm_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			id := int32(0)
			for row := range alarms.Rows {
				m, _ := row[msms].(map[string][]int)
				msmIDs := make([]int64, 0, len(m))
				for k := range m {
					msm, err := strconv.ParseInt(k, 10, 64)
					if err != nil {
						panic("demodata: measurement id " + k + " is not a number")
					}
					msmIDs = append(msmIDs, msm)
				}
				slices.Sort(msmIDs) // not map order: rows must not change between runs
				for _, msm := range msmIDs {
					for _, probe := range m[strconv.FormatInt(msm, 10)] {
						id++
						if !emit(id, msm, int32(probe), int32(row[ids].(int64))) {
							return
						}
					}
				}
			}
		})}
}

// col returns the index of a table's column.
func col(t Table, name string) int {
	return slices.Index(t.Columns, name)
}

func (w *world) atlasDelayTable() Table {
	return Table{Name: "ihr_atlas_delay",
		Columns: []string{"id", "timebin", "median", "nbtracks", "nbprobes", "entropy", "hop", "nbrealrtts", "startpoint_id", "endpoint_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(7), int64(0)
			base := map[pair]float64{}
			for t := range w.bins(30 * time.Minute) {
				for _, af := range []int32{4, 6} {
					for _, p := range w.pairs[af] {
						if base[p] == 0 {
							base[p] = 5 + 250*r.Float64()
						}
						id++
						if !emit(id, t, round(wave(base[p], t, 0, r, 0.1, 1000), 3), int32(20+r.IntN(200)), int32(5+r.IntN(80)),
							r.Float64(), int32(3+r.IntN(20)), int32(50+r.IntN(500)), p.start, p.end) {
							return
						}
					}
				}
			}
		})}
}

func (w *world) atlasDelayAlarmTable() Table {
	return Table{Name: "ihr_atlas_delay_alarms", Columns: []string{"id", "timebin", "deviation", "startpoint_id", "endpoint_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(8), int64(0)
			for t := range sparse(w.bins(30*time.Minute), r, 0.25) {
				ps := w.pairs[4]
				p := ps[r.IntN(len(ps))]
				id++
				if !emit(id, t, 5+45*r.Float64(), p.start, p.end) {
					return
				}
			}
		})}
}

type discoEvent struct {
	id               int32
	streamtype, name string
	start, end       time.Time
	probes           int32
}

// discoEvents are the outages of the window, shared by the event and probe tables.
func (w *world) discoEvents() []discoEvent {
	r := w.rng(9)
	span := w.end.Sub(w.start)
	evs := make([]discoEvent, w.sz.discoEvts)
	for i := range evs {
		e := &evs[i]
		e.id = int32(i + 1)
		switch r.IntN(3) {
		case 0:
			e.streamtype, e.name = "country", countries[3+r.IntN(len(countries)-3)][0]
		case 1:
			e.streamtype, e.name = "admin1", cities[r.IntN(len(cities))]
		default:
			e.streamtype, e.name = "asn", fmt.Sprint(w.origins[1+r.IntN(len(w.origins)-1)])
		}
		e.start = w.start.Add(time.Duration(r.Int64N(int64(span))).Truncate(time.Second))
		e.end = e.start.Add(5*time.Minute + time.Duration(r.Int64N(int64(12*time.Hour))).Truncate(time.Second))
		e.probes = int32(2 + r.IntN(7))
	}
	return evs
}

func (w *world) discoEventTable() Table {
	return Table{Name: "ihr_disco_events",
		Columns: []string{"id", "mongoid", "streamtype", "streamname", "starttime", "endtime", "avglevel", "nbdiscoprobes", "totalprobes", "ongoing"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r := w.rng(10)
			for _, e := range w.discoEvents() {
				mongo := fmt.Sprintf("%08x%08x%08x", r.Uint32(), r.Uint32(), r.Uint32())
				if !emit(e.id, mongo, e.streamtype, e.name, e.start, e.end, round(5+30*r.Float64(), 2), e.probes, e.probes+int32(5+r.IntN(40)), false) {
					return
				}
			}
		})}
}

func (w *world) discoProbeTable() Table {
	return Table{Name: "ihr_disco_probes",
		Columns: []string{"id", "probe_id", "starttime", "endtime", "level", "ipv4", "prefixv4", "lat", "lon", "event_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(15), int32(0)
			for _, e := range w.discoEvents() {
				for range e.probes {
					addr, prefix := "None", "None"
					if r.IntN(6) != 0 {
						a := ip(r)
						addr, prefix = a, a[:lastDot(a)]+".0/24"
					}
					start := e.start.Add(time.Duration(r.IntN(600)) * time.Second)
					id++
					if !emit(id, int32(1000+r.IntN(60000)), start, e.end.Add(time.Duration(r.IntN(600))*time.Second), round(40*r.Float64(), 2),
						addr, prefix, round(180*r.Float64()-90, 4), round(360*r.Float64()-180, 4), e.id) {
						return
					}
				}
			}
		})}
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}

func (w *world) metisTable(name string, deployment bool) Table {
	cols := []string{"id", "timebin", "metric", "rank", "af", "mean", "asn_id"}
	stream := uint64(16)
	if deployment {
		cols = []string{"id", "timebin", "metric", "rank", "af", "mean", "nbsamples", "asn_id"}
		stream = 17
	}
	return Table{Name: name, Columns: cols, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(stream), int64(0)
			for _, t := range w.weeks() {
				for _, metric := range []string{"as_path_length", "ip_hops", "rtt"} {
					for _, af := range []int32{4, 6} {
						order := r.Perm(len(w.origins) - 1)
						for rank := range min(w.sz.metisRanks, len(order)) {
							asn := w.origins[1+order[rank]]
							mean := 1 + 25*r.Float64()
							id++
							vals := []any{id, t, metric, int32(rank + 1), af, mean}
							if deployment {
								vals = append(vals, int32(100+r.IntN(5000)))
							}
							if !emit(append(vals, asn)...) {
								return
							}
						}
					}
				}
			}
		})}
}

func (w *world) trHegemonyTable() Table {
	return Table{Name: "ihr_tr_hegemony", Columns: []string{"id", "timebin", "hege", "af", "nbsamples", "dependency_id", "origin_id"}, Serial: "id",
		Rows: seq(func(emit func(...any) bool) {
			r, id := w.rng(18), int64(0)
			for _, t := range w.weeks() {
				for _, o := range w.trIDs {
					if o.typ != "AS" {
						continue
					}
					for _, d := range w.trIDs {
						if d.af != o.af || (d.id != o.id && r.IntN(3) == 0) {
							continue
						}
						h := 1.0
						if d.id != o.id {
							h = r.Float64()
						}
						id++
						if !emit(id, t, h, o.af, int32(50+r.IntN(400)), d.id, o.id) {
							return
						}
					}
				}
			}
		})}
}
