package kafkabridge

import (
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

var (
	t0   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	idle = 10 * time.Minute
)

// feed is a hegemony topic of two assigned partitions, fed records offset
// by offset.
type feed struct {
	t    *testing.T
	st   *topicState
	next map[int32]int64
}

func newFeed(t *testing.T) *feed {
	st := newTopicState(route(t, "hege=hegemony:4"), time.Time{})
	st.assigned[0], st.assigned[1] = true, true
	return &feed{t: t, st: st, next: map[int32]int64{}}
}

func hegeMsg(t testing.TB, scope, asn int, hege float64) []byte {
	return pack(t, map[string]any{"timestamp": 0, "scope": fmt.Sprint(scope), "asn": fmt.Sprint(asn), "hege": hege, "nb_peers": 100})
}

// add feeds the next record of partition p, at bin tb, and returns why it was dropped ("" if kept).
func (f *feed) add(p int32, tb time.Time, value []byte) string {
	f.t.Helper()
	off := f.next[p]
	f.next[p]++
	if d := f.st.add(record{partition: p, offset: off, timestamp: tb, value: value}, now); d != nil {
		return d.reason
	}
	return ""
}

// bin feeds n rows of bin tb to partition p.
func (f *feed) bin(p int32, tb time.Time, n int) {
	f.t.Helper()
	for i := range n {
		if why := f.add(p, tb, hegeMsg(f.t, 100+int(p), 1000+i, 0.5)); why != "" {
			f.t.Fatalf("row dropped: %s", why)
		}
	}
}

func timebins(bins []*pendingBin) []time.Time {
	var out []time.Time
	for _, b := range bins {
		out = append(out, b.timebin)
	}
	return out
}

func TestBinCompletesWhenEveryPartitionMovedPast(t *testing.T) {
	f := newFeed(t)
	t1 := t0.Add(15 * time.Minute)
	f.bin(0, t0, 3)
	f.bin(1, t0, 2)
	f.bin(0, t1, 1)
	if got := f.st.ready(now, idle); len(got) != 0 {
		t.Fatalf("ready %v while partition 1 is still in %s", timebins(got), t0)
	}
	f.bin(1, t1, 1)
	got := f.st.ready(now, idle)
	if len(got) != 1 || !got[0].timebin.Equal(t0) || len(got[0].entries) != 5 {
		t.Fatalf("ready %v, want the first bin with its 5 rows", timebins(got))
	}
	if spans := got[0].spans; spans[0] != (span{0, 2}) || spans[1] != (span{0, 1}) {
		t.Errorf("spans %v", spans)
	}
}

func TestIdleCompletesEveryPendingBinInOrder(t *testing.T) {
	f := newFeed(t)
	f.bin(0, t0.Add(15*time.Minute), 1)
	f.bin(0, t0, 1) // out of order within the partition: still its bin
	if got := f.st.ready(now.Add(idle-time.Second), idle); len(got) != 0 {
		t.Fatalf("ready %v before the idle timeout (partition 1 gave nothing)", timebins(got))
	}
	got := timebins(f.st.ready(now.Add(idle), idle))
	if len(got) != 2 || !got[0].Equal(t0) || !got[1].Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("ready %v, want both bins, oldest first", got)
	}
}

func TestCommitNeverPassesAnUnpublishedBin(t *testing.T) {
	f := newFeed(t)
	t1 := t0.Add(15 * time.Minute)
	f.bin(0, t0, 3) // offsets 0-2
	f.bin(1, t0, 2) // 0-1
	f.bin(0, t1, 2) // 3-4
	f.bin(1, t1, 1) // 2
	if got := f.st.toCommit(); !maps.Equal(got, map[int32]int64{0: 0, 1: 0}) {
		t.Fatalf("commit %v before any bin is published, want the first offsets", got)
	}
	f.st.done(f.st.ready(now, idle)[0])
	if got := f.st.toCommit(); !maps.Equal(got, map[int32]int64{0: 3, 1: 2}) {
		t.Fatalf("commit %v, want just past the published bin", got)
	}
	f.st.commitDone(f.st.toCommit(), f.st.published)
	if got := f.st.toCommit(); got != nil {
		t.Errorf("commit %v again with nothing new", got)
	}
	// A record the bridge drops is consumed, but never moves the commit
	// past the pending bin before it.
	if why := f.add(0, t0.Add(time.Minute), hegeMsg(t, 1, 2, 0.5)); why != reasonMisaligned {
		t.Fatalf("misaligned record: %q", why)
	}
	if got := f.st.toCommit(); got != nil {
		t.Errorf("commit %v past the pending bin", got)
	}
	f.st.done(f.st.ready(now.Add(idle), idle)[0])
	if got := f.st.toCommit(); !maps.Equal(got, map[int32]int64{0: 6, 1: 3}) {
		t.Errorf("commit %v, want everything consumed", got)
	}
}

func TestLateAndMisalignedRecordsAreDropped(t *testing.T) {
	f := newFeed(t)
	f.bin(0, t0, 1)
	f.bin(1, t0, 1)
	f.st.done(f.st.ready(now.Add(idle), idle)[0])
	if why := f.add(1, t0, hegeMsg(t, 1, 2, 0.5)); why != reasonLate {
		t.Errorf("record of a published bin: %q, want late", why)
	}
	if why := f.add(1, t0.Add(-15*time.Minute), hegeMsg(t, 1, 2, 0.5)); why != reasonLate {
		t.Errorf("record of an older bin: %q, want late", why)
	}
	for _, ts := range []time.Time{t0.Add(16 * time.Minute), t0.Add(15*time.Minute + time.Millisecond), {}} {
		if why := f.add(1, ts, hegeMsg(t, 1, 2, 0.5)); why != reasonMisaligned {
			t.Errorf("timestamp %s: %q, want misaligned", ts, why)
		}
	}
	if len(f.st.pending) != 0 {
		t.Errorf("%d pending bins, want none", len(f.st.pending))
	}
}

func TestRowsThatFailAreCountedAndTheBinGoesOn(t *testing.T) {
	f := newFeed(t)
	for _, c := range []struct {
		value []byte
		why   string
	}{
		{hegeMsg(t, 2497, 2497, 1), ""},
		{hegeMsg(t, 2497, 3356, 1.7), reasonInvalid},
		{hegeMsg(t, 2497, 174, 0), reasonFiltered},
		{[]byte("not msgpack"), reasonUndecodable},
		{hegeMsg(t, 2497, 2497, 0.9), ""}, // a duplicate: dropped when the bin is published
	} {
		if why := f.add(0, t0, c.value); why != c.why {
			t.Errorf("%q: dropped as %q, want %q", c.value, why, c.why)
		}
	}
	b := f.st.ready(now.Add(idle), idle)[0]
	rows := b.rows(events.Hegemony)[4].Interface().([]events.HegemonyRow)
	if len(rows) != 1 || rows[0].Hege != 1 {
		t.Errorf("rows %+v, want the first of the duplicates only", rows)
	}
	want := map[string]int{reasonInvalid: 1, reasonFiltered: 1, reasonUndecodable: 1, reasonDuplicate: 1}
	if !maps.Equal(b.dropped, want) || b.example[reasonInvalid] != "hege must be between 0 and 1, got 1.7" {
		t.Errorf("dropped %v %q", b.dropped, b.example)
	}
}

// The same records, interleaved differently across partitions, give the
// same run and the same rows in the same order: a bin read again after a
// restart publishes the very same batches.
func TestRunIsDerivedFromTheRecords(t *testing.T) {
	a, b := newFeed(t), newFeed(t)
	a.bin(0, t0, 3)
	a.bin(1, t0, 2)
	b.bin(1, t0, 2)
	b.bin(0, t0, 3)
	ba, bb := a.st.ready(now.Add(idle), idle)[0], b.st.ready(now.Add(idle), idle)[0]
	ra, rb := a.st.runID(ba, 4), b.st.runID(bb, 4)
	if ra != rb || len(ra) > 64 || ra[:6] != "kafka-" {
		t.Fatalf("runs %q and %q", ra, rb)
	}
	if err := events.Hegemony.CheckBin(a.st.route.bin(t0, 4, ra)); err != nil {
		t.Errorf("run id refused: %v", err)
	}
	if !reflect.DeepEqual(ba.rows(events.Hegemony)[4].Interface(), bb.rows(events.Hegemony)[4].Interface()) {
		t.Error("the same records give rows in another order")
	}
	if a.st.runID(ba, 6) == ra {
		t.Error("another af, same run")
	}
	c := newFeed(t)
	c.bin(0, t0, 3)
	c.bin(1, t0, 3)
	if c.st.runID(c.st.ready(now.Add(idle), idle)[0], 4) == ra {
		t.Error("other records, same run")
	}
}

// After a restart, the committed offsets' metadata says which bins were
// published, so a straggler of one of them is late, not a new run that
// would replace the whole bin with itself.
func TestRestoredStateKeepsPublishedBinsClosed(t *testing.T) {
	meta := metaPrefix + t0.Format(time.RFC3339)
	f := newFeed(t)
	f.st.restore(0, 7, &meta)
	f.st.restore(1, -1, nil)
	if !f.st.published.Equal(t0) || f.st.committed[0] != 7 || f.st.expect[1] != 0 {
		t.Fatalf("restored %+v", f.st)
	}
	f.next[0] = 7
	if why := f.add(0, t0, hegeMsg(t, 1, 2, 0.5)); why != reasonLate {
		t.Errorf("straggler of a published bin: %q", why)
	}
	if got, ok := parseMetadata(&meta); !ok || !got.Equal(t0) {
		t.Errorf("metadata %q parsed as %v %v", meta, got, ok)
	}
	for _, bad := range []string{"", "member-1", metaPrefix + "yesterday"} {
		if _, ok := parseMetadata(&bad); ok {
			t.Errorf("metadata %q accepted", bad)
		}
	}
}

// When the first record of a partition lies beyond where consumption
// should start, retention deleted records before it: its bin may lack
// them, so it is not published (it would replace a whole bin).
func TestBinCutByRetentionIsNotPublished(t *testing.T) {
	f := newFeed(t)
	f.st.restore(0, -1, nil)
	f.st.restore(1, -1, nil)
	t1 := t0.Add(15 * time.Minute)
	f.bin(1, t0, 2) // partition 1 starts at offset 0: nothing lost
	f.next[0] = 40  // partition 0 starts at 40: offsets 0-39 are gone
	if why := f.add(0, t0, hegeMsg(t, 1, 2, 0.5)); why != reasonLate {
		t.Fatalf("first record after a gap: %q, want its bin closed", why)
	}
	f.bin(0, t1, 1)
	f.bin(1, t1, 1)
	if got := timebins(f.st.ready(now.Add(idle), idle)); len(got) != 1 || !got[0].Equal(t1) {
		t.Errorf("ready %v, want only the bin after the gap", got)
	}
}

func TestAtlasRowsAreBinnedByTheirStartpointFamily(t *testing.T) {
	st := newTopicState(route(t, "diffrtt=atlas_delay:4"), time.Time{})
	msg := func(start, end string) []byte {
		return pack(t, map[string]any{"startpoint": start, "endpoint": end, "median": 1.5, "nb_tracks": 1, "nb_probes": 1,
			"entropy": 0.1, "hop": 3, "nb_real_rtts": 2})
	}
	for i, m := range [][]byte{msg("AS2497", "CTTokyo, Tokyo, JP"), msg("AS2497v6", "CTTokyo, Tokyo, JPv6"), msg("AS2497v6", "AS174v4")} {
		st.add(record{partition: 0, offset: int64(i), timestamp: t0, value: m}, now)
	}
	b := st.ready(now.Add(idle), idle)[0]
	rows := b.rows(events.AtlasDelay)
	if len(rows) != 2 || rows[4].Len() != 1 || rows[6].Len() != 1 || b.dropped[reasonInvalid] != 1 {
		t.Errorf("rows by af %v, dropped %v (a v6 startpoint with a v4 endpoint is invalid)", rows, b.dropped)
	}
}
