// Package demodata generates a deterministic, internally consistent demo
// dataset for every legacy ihr_* table: the same seed and options always give
// the same rows, and every row refers only to networks, countries, locations
// and events that exist.
package demodata

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"time"
)

// Options choose the size and content of the dataset.
type Options struct {
	Scale string // "small" or "medium"
	Seed  uint64
	// End is the last 15-minute bin; fixed by default so output is reproducible.
	End time.Time
}

// DefaultEnd is the last time bin when none is given.
var DefaultEnd = time.Date(2026, 11, 30, 23, 45, 0, 0, time.UTC)

// Table is one table's rows, produced on demand so large tables never sit in memory.
type Table struct {
	Name    string
	Columns []string
	// Rows yields the rows; every call yields the same rows.
	Rows iter.Seq[[]any]
	// Serial names the id column whose sequence must follow the explicit ids ("" if none).
	Serial string
}

// size holds what a scale changes.
type size struct {
	days       int
	origins    []int64 // the real networks that are origins; nil: all of them
	synthetic  int     // generated origin networks besides the real ones
	globalDeps int     // dependencies of the global graph (origin 0)
	delayPairs int     // Atlas location pairs with network delay
	metisRanks int
	discoEvts  int
}

// sizeOf returns what a scale holds: small is a few days of the
// best-known networks (tens of thousands of rows), medium two weeks of
// every network plus generated ones (a few million rows).
func sizeOf(scale string) (size, bool) {
	switch scale {
	case "small":
		return size{days: 3, origins: smallOrigins(), globalDeps: 12, delayPairs: 24, metisRanks: 15, discoEvts: 12}, true
	case "medium":
		return size{days: 14, synthetic: 220, globalDeps: 20, delayPairs: 400, metisRanks: 40, discoEvts: 120}, true
	}
	return size{}, false
}

// Scales lists the accepted scale names.
func Scales() []string { return []string{"small", "medium"} }

const bin = 15 * time.Minute

// Generate returns the tables in load order (referenced tables first).
func Generate(o Options) ([]Table, error) {
	sz, ok := sizeOf(o.Scale)
	if !ok {
		return nil, fmt.Errorf("unknown scale %q (want small or medium)", o.Scale)
	}
	if o.End.IsZero() {
		o.End = DefaultEnd
	}
	if !o.End.Equal(o.End.Truncate(bin)) {
		return nil, fmt.Errorf("end %s is not aligned to a 15-minute bin", o.End.Format(time.RFC3339))
	}
	w := newWorld(o, sz)
	return []Table{
		w.asnTable(), w.countryTable(), w.locationTable(), w.identifierTable(),
		w.hegemonyTable(), w.coneTable(), w.hegemonyAlarmTable(), w.countryHegemonyTable(), w.prefixTable(),
		w.magnitudeTable("ihr_delay", 11), w.magnitudeTable("ihr_forwarding", 12),
		w.delayAlarmTable(), w.forwardingAlarmTable(), w.msmsTable("ihr_delay_alarms_msms"), w.msmsTable("ihr_forwarding_alarms_msms"),
		w.atlasDelayTable(), w.atlasDelayAlarmTable(),
		w.discoEventTable(), w.discoProbeTable(),
		w.metisTable("ihr_metis_atlas_selection", false), w.metisTable("ihr_metis_atlas_deployment", true),
		w.trHegemonyTable(),
	}, nil
}

// rng returns the random source of one table: each table has its own stream,
// so changing one generator never changes another table's rows.
func (w *world) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.seed, stream))
}

// wave varies a base value smoothly over the day, with a little noise, within [lo, hi].
func wave(base float64, t time.Time, phase float64, r *rand.Rand, lo, hi float64) float64 {
	day := float64(t.Hour()*60+t.Minute()) / (24 * 60)
	v := base * (1 + 0.08*math.Sin(2*math.Pi*day+phase) + 0.02*(r.Float64()-0.5))
	return math.Min(hi, math.Max(lo, v))
}

// bins yields the time bins of a step from the window's start to its end.
func (w *world) bins(step time.Duration) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for t := w.start; !t.After(w.end); t = t.Add(step) {
			if !yield(t) {
				return
			}
		}
	}
}
