package freshness

import (
	"testing"
	"time"
)

func ch(seq uint64, dataset string, asns ...int64) *Change {
	return &Change{Seq: seq, Dataset: dataset, Time: time.Unix(int64(seq)*900, 0), Ints: map[string][]int64{"asn": asns}}
}

func always(*Change) bool { return true }

func asn(n int64) func(*Change) bool {
	return func(c *Change) bool {
		for _, v := range c.Ints["asn"] {
			if v == n {
				return true
			}
		}
		return false
	}
}

func TestChangedSince(t *testing.T) {
	l := NewLog(1000)
	l.Start(10) // the stream begins after 10
	for _, c := range []*Change{ch(11, "hegemony", 2497), ch(12, "delay", 174), ch(12, "delay", 174), ch(13, "hegemony", 3356)} {
		l.Apply(c)
	}
	if l.Position() != 13 || l.Floor() != 10 {
		t.Fatalf("position %d floor %d, want 13 and 10", l.Position(), l.Floor())
	}
	for _, c := range []struct {
		seq           uint64
		datasets      []string
		match         func(*Change) bool
		changed, know bool
	}{
		{10, []string{"hegemony"}, asn(2497), true, true},
		{11, []string{"hegemony"}, asn(2497), false, true}, // read after the change
		{10, []string{"delay", "names"}, asn(2497), false, true},
		{10, []string{"delay"}, asn(174), true, true},
		{12, []string{"hegemony"}, always, true, true},
		{13, []string{"hegemony", "delay"}, always, false, true},
		{9, []string{"hegemony"}, always, false, false}, // read before the log begins
	} {
		changed, known, _ := l.ChangedSince("", c.seq, c.datasets, c.match)
		if changed != c.changed || known != c.know {
			t.Errorf("ChangedSince(%d, %v) = %v, %v; want %v, %v", c.seq, c.datasets, changed, known, c.changed, c.know)
		}
	}
}

// TestGapsAndUnknowns: a change past the next sequence means changes were
// lost, and a change that could not be read could be anything; answers
// read before either cannot be checked.
func TestGapsAndUnknowns(t *testing.T) {
	l := NewLog(1000)
	l.Apply(ch(1, "hegemony"))
	l.Apply(ch(5, "hegemony"))
	if _, known, _ := l.ChangedSince("", 3, nil, always); known {
		t.Error("an answer read inside a gap is known")
	}
	if _, known, _ := l.ChangedSince("", 4, nil, always); !known {
		t.Error("an answer read just before the change after the gap is unknown")
	}
	l.Unknown(6)
	if l.Position() != 6 || l.Floor() != 6 {
		t.Errorf("after an unreadable change: position %d floor %d", l.Position(), l.Floor())
	}
}

// TestForgetsOldestFirst: the log holds a bounded number of keys; what it
// forgets moves the floor, so nothing is checked against missing changes.
func TestForgetsOldestFirst(t *testing.T) {
	l := NewLog(10)
	for seq := uint64(1); seq <= 6; seq++ {
		l.Apply(ch(seq, "hegemony", 1, 2)) // 3 units each
	}
	if l.Floor() != 3 {
		t.Fatalf("floor %d after holding 6 changes of 3 units in 10, want 3", l.Floor())
	}
	if _, known, _ := l.ChangedSince("", 2, []string{"hegemony"}, always); known {
		t.Error("an answer read before forgotten changes is known")
	}
	if changed, known, _ := l.ChangedSince("", 3, []string{"hegemony"}, always); !changed || !known {
		t.Errorf("changes kept: changed %v known %v", changed, known)
	}
}

func TestAdvanced(t *testing.T) {
	l := NewLog(100)
	moved := l.Advanced()
	select {
	case <-moved:
		t.Fatal("advanced before any change")
	default:
	}
	l.Apply(ch(1, "hegemony"))
	select {
	case <-moved:
	case <-time.After(time.Second):
		t.Fatal("not told of the change")
	}
}

// TestAnnounced: a change heard of before the stream delivers it counts at
// once; once applied it counts by its sequence, and a repeated
// announcement of it (a de-duplicated publish) does not count again.
func TestAnnounced(t *testing.T) {
	l := NewLog(100)
	l.Apply(&Change{Seq: 1, ID: "a", Dataset: "hegemony"})
	l.Announce(&Change{ID: "b", Dataset: "hegemony", Ints: map[string][]int64{"asn": {2497}}})
	if changed, _, _ := l.ChangedSince("", 1, []string{"hegemony"}, asn(2497)); !changed {
		t.Error("an announced change does not count")
	}
	if changed, _, _ := l.ChangedSince("", 1, []string{"hegemony"}, asn(174)); changed {
		t.Error("an announced change counts for keys it does not hold")
	}
	l.Apply(&Change{Seq: 2, ID: "b", Dataset: "hegemony", Ints: map[string][]int64{"asn": {2497}}})
	if changed, _, _ := l.ChangedSince("", 2, []string{"hegemony"}, always); changed {
		t.Error("an applied change still counts as announced")
	}
	l.Announce(&Change{ID: "a", Dataset: "hegemony"})
	if changed, _, _ := l.ChangedSince("", 2, []string{"hegemony"}, always); changed {
		t.Error("a repeated announcement of an applied change counts")
	}
}

// TestSnapshotAndExpiry: the generation moves with every change known, an
// announcement included, so readings at one generation saw the same
// changes; an announcement never applied is forgotten once expired; a
// position of another stream is never known.
func TestSnapshotAndExpiry(t *testing.T) {
	l := NewLog(100)
	l.reset("IHR_RESULTS@1")
	before := l.Snapshot()
	l.Announce(&Change{ID: "x", Dataset: "hegemony"})
	after := l.Snapshot()
	if after.Gen == before.Gen || after.Pos != before.Pos {
		t.Errorf("announcing: %+v → %+v, want the generation to move alone", before, after)
	}
	l.Announce(&Change{ID: "x", Dataset: "hegemony"})
	if again := l.Snapshot(); again.Gen != after.Gen {
		t.Error("a repeated announcement moved the generation")
	}
	if changed, _, _ := l.ChangedSince("IHR_RESULTS@1", 0, []string{"hegemony"}, always); !changed {
		t.Error("an announced change does not count")
	}
	l.Expire(time.Now().Add(time.Second))
	if changed, _, _ := l.ChangedSince("IHR_RESULTS@1", 0, []string{"hegemony"}, always); changed {
		t.Error("an expired announcement still counts")
	}
	if _, known, _ := l.ChangedSince("IHR_RESULTS@2", 0, []string{"hegemony"}, always); known {
		t.Error("a position of another stream is known")
	}
}
