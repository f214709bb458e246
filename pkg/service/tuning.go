package service

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/ihr-go/ihr/pkg/config"
)

// Tuning sizes the Go runtime of a service's process. The operator's own
// GOMAXPROCS and GOGC always win: each part applies only when its Go
// variable is unset.
type Tuning struct {
	// ProcsPerCore gives the scheduler this many Ps a core when nothing
	// limits the process below its cores. Above 1, the runtime keeps
	// serving when the kernel deschedules one of its threads for another
	// process sharing the cores, instead of leaving the goroutines queued on
	// that thread to wait for it (docs/benchmarks.md measures the p99 this
	// saves). Under a CPU quota below the cores, where Go sizes GOMAXPROCS
	// from the quota, more Ps would only spend the quota sooner: the
	// runtime's choice stays.
	ProcsPerCore float64
	// HeapFloor is the smallest heap goal, in bytes (0: Go's own, 4 MiB).
	// A process whose heap is mostly a cache starts with little live data,
	// and the default GC then runs after every few MB of garbage: about 90
	// times a second for a gateway answering 50,000 requests a second. The
	// floor raises GOGC while the live heap is small and gives it back as
	// the heap grows, so the peak heap is never above max(floor, the
	// default goal).
	HeapFloor int64
}

// readTuning reads the tuning variables, with def's values as defaults.
func readTuning(e *config.Env, def Tuning) Tuning {
	return Tuning{
		ProcsPerCore: e.Float("IHR_PROCS_PER_CORE", cmp.Or(def.ProcsPerCore, 1), 1, 8),
		HeapFloor:    int64(e.Int("IHR_GC_HEAP_FLOOR_BYTES", int(def.HeapFloor), 0, 64<<30)),
	}
}

// procsFor is the GOMAXPROCS for perCore Ps a core, given the machine's
// cores and the runtime's current choice (below cores under a CPU quota).
func procsFor(perCore float64, cores, current int) int {
	if perCore <= 1 || current < cores {
		return current
	}
	return int(math.Ceil(perCore * float64(cores)))
}

// Bounds of the GOGC the heap floor sets: Go's default, and a ceiling for
// an almost empty heap.
const (
	defaultGOGC = 100
	maxGOGC     = 100_000
	// minHeap is what the live heap counts as before the first GC.
	minHeap = 4 << 20
)

// gcPercentFor is the GOGC that puts the heap goal, live × (1 + GOGC/100),
// at floor or above, and never below Go's default.
func gcPercentFor(floor, live uint64) int {
	live = max(live, 1)
	if floor <= live {
		return defaultGOGC
	}
	need := ((floor-live)*100 + live - 1) / live
	return max(defaultGOGC, int(min(need, maxGOGC)))
}

// applied is what apply set, for the log.
type applied struct {
	Procs int   // GOMAXPROCS after apply
	Floor int64 // the heap floor kept, 0 for none
}

// apply sets the process's runtime up for t, and keeps the heap floor until
// ctx is done. getenv tells which Go variables the operator set.
func (t Tuning) apply(ctx context.Context, getenv func(string) string) applied {
	var a applied
	if getenv("GOMAXPROCS") == "" {
		if n := procsFor(t.ProcsPerCore, runtime.NumCPU(), runtime.GOMAXPROCS(0)); n != runtime.GOMAXPROCS(0) {
			runtime.GOMAXPROCS(n)
		}
	}
	a.Procs = runtime.GOMAXPROCS(0)
	if getenv("GOGC") != "" || t.HeapFloor <= 0 {
		return a
	}
	a.Floor = t.HeapFloor
	floor := uint64(t.HeapFloor)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := 0
	adjust := func() {
		metrics.Read(sample)
		live := uint64(minHeap)
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > 0 {
			live = sample[0].Value.Uint64()
		}
		// Small moves are left alone: each change recomputes the pacer.
		if p := gcPercentFor(floor, live); set == 0 || p*10 < set*9 || p*10 > set*11 {
			debug.SetGCPercent(p)
			set = p
		}
	}
	adjust()
	go Every(ctx, time.Second, adjust)
	return a
}
