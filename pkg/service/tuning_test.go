package service

import (
	"testing"

	"github.com/ihr-go/ihr/pkg/config"
)

func TestProcsFor(t *testing.T) {
	for _, c := range []struct {
		perCore        float64
		cores, current int
		want           int
	}{
		{1, 4, 4, 4},   // Go's choice
		{2, 4, 4, 8},   // no quota: twice the cores
		{1.5, 3, 3, 5}, // rounded up
		{2, 8, 2, 2},   // a CPU quota of 2 on 8 cores: Go's choice stays
		{2, 1, 1, 2},
	} {
		if got := procsFor(c.perCore, c.cores, c.current); got != c.want {
			t.Errorf("procsFor(%g, %d cores, current %d) = %d, want %d", c.perCore, c.cores, c.current, got, c.want)
		}
	}
}

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		floor, live uint64
		want        int
	}{
		{64 * mb, 4 * mb, 1500},   // goal 4 MB × 16 = 64 MB
		{64 * mb, 3 * mb, 2034},   // rounded up: the goal is at the floor or above
		{64 * mb, 32 * mb, 100},   // the default goal reaches the floor
		{64 * mb, 300 * mb, 100},  // a full cache: Go's default
		{64 * mb, 0, maxGOGC},     // no live heap: bounded
		{64 * mb, 40 * mb, 100},   // 60 % would undershoot Go's default
		{64 * mb, 20 * mb, 220},   // 20 MB × 3.2 = 64 MB
		{1 << 36, 1, maxGOGC},     // huge floor, bounded
		{0, 10 * mb, defaultGOGC}, // no floor
	} {
		got := gcPercentFor(c.floor, c.live)
		if got != c.want {
			t.Errorf("gcPercentFor(floor %d, live %d) = %d, want %d", c.floor, c.live, got, c.want)
		}
		if c.live > 0 && got < maxGOGC && c.live+c.live*uint64(got)/100 < c.floor {
			t.Errorf("gcPercentFor(floor %d, live %d) = %d: goal below the floor", c.floor, c.live, got)
		}
	}
}

func TestReadTuning(t *testing.T) {
	e := config.New(lookup(nil))
	if got := readTuning(e, Tuning{}); got != (Tuning{ProcsPerCore: 1}) {
		t.Errorf("no defaults: %+v, want Go's own", got)
	}
	if got := readTuning(e, Tuning{ProcsPerCore: 2, HeapFloor: 64 << 20}); got != (Tuning{ProcsPerCore: 2, HeapFloor: 64 << 20}) {
		t.Errorf("the service's defaults: %+v", got)
	}
	e = config.New(lookup(map[string]string{"IHR_PROCS_PER_CORE": "1.5", "IHR_GC_HEAP_FLOOR_BYTES": "0"}))
	if got := readTuning(e, Tuning{ProcsPerCore: 2, HeapFloor: 64 << 20}); got != (Tuning{ProcsPerCore: 1.5}) || e.Err() != nil {
		t.Errorf("set: %+v (%v)", got, e.Err())
	}
	e = config.New(lookup(map[string]string{"IHR_PROCS_PER_CORE": "0.5", "IHR_GC_HEAP_FLOOR_BYTES": "-1"}))
	readTuning(e, Tuning{})
	if err := e.Err(); err == nil {
		t.Error("IHR_PROCS_PER_CORE=0.5 and IHR_GC_HEAP_FLOOR_BYTES=-1 accepted")
	}
}
