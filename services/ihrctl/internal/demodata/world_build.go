package demodata

import (
	"math/rand/v2"
	"slices"
	"time"
)

type dependency struct {
	asn  int64
	hege float64 // base value; the origin itself is always 1.0
}

type location struct {
	id   int32
	name string
	typ  string
	af   int32
}

type pair struct{ start, end int32 }

// world is the fixed cast of a dataset: who exists and who depends on whom.
type world struct {
	seed       uint64
	sz         size
	start, end time.Time
	nets       []network
	origins    []int64 // networks that announce prefixes (includes 0, the global graph)
	deps       map[int64][]dependency
	locations  []location
	pairs      map[int32][]pair // by address family
	trIDs      []location       // traceroute hegemony identifiers
	country    map[int64]string
}

func newWorld(o Options, sz size) *world {
	w := &world{
		seed:    o.Seed,
		sz:      sz,
		end:     o.End,
		start:   o.End.Add(-time.Duration(sz.days)*24*time.Hour + bin),
		deps:    map[int64][]dependency{},
		pairs:   map[int32][]pair{},
		country: map[int64]string{},
	}
	r := w.rng(0)
	w.nets = slices.Clone(networks)
	codes := make([]string, 0, len(countries))
	for _, c := range countries[3:] { // real countries, not regions
		codes = append(codes, c[0])
	}
	for i := range sz.synthetic {
		n := int64(64600 + i*37) // stays clear of the real networks above
		c := codes[r.IntN(len(codes))]
		w.nets = append(w.nets, network{number: n, name: syntheticName(n, c), country: c})
	}
	var transits []int64
	for _, n := range w.nets {
		w.country[n.number] = n.country
		if n.transit {
			transits = append(transits, n.number)
		}
		if n.number > 0 && (sz.origins == nil || slices.Contains(sz.origins, n.number)) {
			w.origins = append(w.origins, n.number)
		}
	}
	w.origins = append([]int64{0}, w.origins...)

	// Each origin depends on itself and on two to four transit providers;
	// the global graph (origin 0) on the largest transits.
	for _, o := range w.origins {
		var ds []dependency
		k := 2 + r.IntN(3)
		if o == 0 {
			k = min(sz.globalDeps, len(transits))
		} else {
			ds = append(ds, dependency{asn: o, hege: 1})
		}
		for _, i := range r.Perm(len(transits)) {
			if len(ds) >= k+boolInt(o != 0) {
				break
			}
			if t := transits[i]; t != o {
				ds = append(ds, dependency{asn: t, hege: 0.02 + 0.9*r.Float64()*r.Float64()})
			}
		}
		w.deps[o] = ds
	}
	w.buildLocations(r)
	return w
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hasV6 says whether an origin also has IPv6 results (most do).
func hasV6(origin int64) bool { return origin%5 != 3 }

func (w *world) buildLocations(r *rand.Rand) {
	add := func(name, typ string, af int32) {
		w.locations = append(w.locations, location{id: int32(len(w.locations) + 1), name: name, typ: typ, af: af})
	}
	for _, af := range []int32{4, 6} {
		for _, n := range []string{"2497", "15169", "7922", "3356", "174", "13335", "25152", "2914"} {
			add(n, "AS", af)
		}
		for _, c := range cities {
			add(c, "CT", af)
		}
		for _, p := range []string{"6001", "12345", "26834"} {
			add(p, "PB", af)
		}
		add("26", "IX", af)
		add("4", "IX", af)
		// K-root's anycast address, a traceroute target
		add(map[int32]string{4: "193.0.14.129", 6: "2001:7fd::1"}[af], "IP", af)
	}
	for _, af := range []int32{4, 6} {
		var all []pair
		for _, a := range w.locations {
			for _, b := range w.locations {
				// IXPs and single addresses are seen on paths, never as where probes are
				if a.af == af && b.af == af && a.id != b.id && a.typ != "IX" && a.typ != "IP" {
					all = append(all, pair{a.id, b.id})
				}
			}
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		n := w.sz.delayPairs
		if af == 6 {
			n /= 3
		}
		w.pairs[af] = all[:min(n, len(all))]
	}
	for _, af := range []int32{4, 6} {
		for _, n := range []string{"2497", "15169", "7922", "3356", "174", "2914", "6939"} {
			w.trIDs = append(w.trIDs, location{id: int32(len(w.trIDs) + 1), name: n, typ: "AS", af: af})
		}
		w.trIDs = append(w.trIDs,
			location{id: int32(len(w.trIDs) + 1), name: "26", typ: "IX", af: af},
			location{id: int32(len(w.trIDs) + 2), name: map[int32]string{4: "192.0.2.0/24", 6: "2001:db8::/48"}[af], typ: "MB", af: af},
			location{id: int32(len(w.trIDs) + 3), name: map[int32]string{4: "192.0.2.1", 6: "2001:db8::1"}[af], typ: "IP", af: af},
		)
	}
}

// cones returns, per address family, the networks that appear in a
// hegemony graph (sorted) and the base size of their customer cone: large
// for transit providers, small for the others, and never less than the
// number of demo origins that depend on them.
func (w *world) cones(af int32) ([]int64, map[int64]int32) {
	dependents := map[int64]int32{}
	for _, o := range w.origins {
		if af == 6 && !hasV6(o) {
			continue
		}
		for _, d := range w.deps[o] {
			if d.asn != o {
				dependents[d.asn]++
			} else if _, ok := dependents[d.asn]; !ok {
				dependents[d.asn] = 0
			}
		}
	}
	keys := make([]int64, 0, len(dependents))
	for k := range dependents {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r := w.rng(19 + uint64(af))
	transit := map[int64]bool{}
	for _, n := range w.nets {
		transit[n.number] = n.transit
	}
	sizes := make(map[int64]int32, len(keys))
	for _, k := range keys {
		var base int32
		if transit[k] {
			base = int32(1500 + r.IntN(45000))
		} else {
			u := r.Float64()
			base = int32(3000 * u * u * u)
		}
		if af == 6 {
			base = base * 2 / 5
		}
		sizes[k] = max(base, dependents[k])
	}
	return keys, sizes
}

// days yields midnight of each day of the window.
func (w *world) days() []time.Time {
	var ds []time.Time
	for t := w.start.Truncate(24 * time.Hour); !t.After(w.end); t = t.Add(24 * time.Hour) {
		if !t.Before(w.start) {
			ds = append(ds, t)
		}
	}
	return ds
}

// weeks returns the weekly time bins (Metis, traceroute hegemony): midnight
// of the window's last day and the weeks before, at least two.
func (w *world) weeks() []time.Time {
	last := w.end.Truncate(24 * time.Hour)
	n := max(2, w.sz.days/7+1)
	ws := make([]time.Time, n)
	for i := range n {
		ws[n-1-i] = last.Add(-time.Duration(7*i) * 24 * time.Hour)
	}
	return ws
}
