package kafkabridge

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// record is what the bridge needs of a Kafka record.
type record struct {
	partition int32
	offset    int64
	timestamp time.Time
	value     []byte
}

// entry is an accepted row and the record it came from.
type entry struct {
	partition int32
	offset    int64
	af        int
	row       any
}

// span is the offsets of a bin's records in one partition.
type span struct{ first, last int64 }

// pendingBin is a time bin of a topic still receiving records.
type pendingBin struct {
	timebin time.Time
	spans   map[int32]span
	entries []entry
	// dropped counts the rows left out, by reason; example keeps the
	// first of each, for the log line of the bin.
	dropped map[string]int
	example map[string]string
}

func (b *pendingBin) drop(d *dropped) {
	if b.dropped[d.reason] == 0 {
		b.example[d.reason] = d.detail
	}
	b.dropped[d.reason]++
}

// topicState is what the bridge knows of one topic's assigned partitions.
// It is owned by the bridge's loop; nothing else touches it.
type topicState struct {
	route    Route
	assigned map[int32]bool
	// newest is the newest bin seen per partition: a partition whose newest
	// bin is after T has moved past T.
	newest map[int32]time.Time
	// next is the offset after the last record consumed, per partition.
	next map[int32]int64
	// expect is where consumption of a partition should start (its
	// committed offset, or 0): a first record beyond it means the broker
	// deleted records the bridge never read (retention).
	expect  map[int32]int64
	pending map[time.Time]*pendingBin
	// published is the newest bin completed: a record of a bin not after
	// it is late. It travels with the committed offsets (their metadata).
	published   time.Time
	lastRecord  time.Time
	committed   map[int32]int64
	committedHW time.Time
}

func newTopicState(r Route, published time.Time) *topicState {
	return &topicState{route: r, assigned: map[int32]bool{}, newest: map[int32]time.Time{}, next: map[int32]int64{},
		expect: map[int32]int64{}, pending: map[time.Time]*pendingBin{}, published: published, committed: map[int32]int64{},
		committedHW: published}
}

// timebin is the bin a record's timestamp names, if the dataset has such a bin.
func (t *topicState) timebin(ts time.Time) (time.Time, error) {
	tb := time.UnixMilli(ts.UnixMilli()).UTC()
	return tb, t.route.Dataset.CheckBin(t.route.bin(tb, t.route.AF, "probe"))
}

// add takes one record into its bin. The record's offset always counts as
// consumed; its row is published only when nil is returned.
func (t *topicState) add(rec record, now time.Time) *dropped {
	t.lastRecord = now
	t.next[rec.partition] = rec.offset + 1
	tb, err := t.timebin(rec.timestamp)
	if err != nil {
		return drop(reasonMisaligned, "%v", err)
	}
	if tb.After(t.newest[rec.partition]) {
		t.newest[rec.partition] = tb
	}
	t.checkGap(rec, tb)
	if !tb.After(t.published) {
		return drop(reasonLate, "bin %s was published before this record came", tb.Format(time.RFC3339))
	}
	b := t.pending[tb]
	if b == nil {
		b = &pendingBin{timebin: tb, spans: map[int32]span{}, dropped: map[string]int{}, example: map[string]string{}}
		t.pending[tb] = b
	}
	s, ok := b.spans[rec.partition]
	if !ok {
		s.first = rec.offset
	}
	s.last = rec.offset
	b.spans[rec.partition] = s
	row, af, d := t.route.decodeRow(rec.value)
	if d == nil {
		d = checkRow(t.route, tb, af, row)
	}
	if d != nil {
		b.drop(d)
		return d
	}
	b.entries = append(b.entries, entry{partition: rec.partition, offset: rec.offset, af: af, row: row})
	return nil
}

// checkGap handles the first record of a partition: when it lies beyond
// where consumption should start, the broker deleted the records before it,
// so its bin may have lost rows. Such a bin is never published (it would
// replace a whole bin with a part): it is treated as published already.
func (t *topicState) checkGap(rec record, tb time.Time) {
	want, ok := t.expect[rec.partition]
	if !ok {
		return
	}
	delete(t.expect, rec.partition)
	if rec.offset <= want || !tb.After(t.published) {
		return
	}
	t.published = tb
	for at := range t.pending {
		if !at.After(tb) {
			delete(t.pending, at)
		}
	}
}

func checkRow(r Route, tb time.Time, af int, row any) *dropped {
	d := r.Dataset
	one := reflect.MakeSlice(reflect.SliceOf(d.RowType()), 1, 1)
	one.Index(0).Set(reflect.ValueOf(row))
	if err := d.CheckRows(r.bin(tb, af, "probe"), one.Interface()); err != nil {
		return drop(reasonInvalid, "%v", strings.TrimPrefix(err.Error(), "invalid message: row 0: "))
	}
	return nil
}

var endOfTime = time.Unix(1<<62, 0)

// ready returns the complete bins, oldest first: those every assigned
// partition has moved past, or all of them when the topic has been idle
// for idle. Bins complete in time order, so a bin is never published
// after a newer one.
func (t *topicState) ready(now time.Time, idle time.Duration) []*pendingBin {
	var horizon time.Time
	if now.Sub(t.lastRecord) >= idle {
		horizon = endOfTime
	} else if len(t.assigned) > 0 {
		horizon = endOfTime
		for p := range t.assigned {
			n, ok := t.newest[p]
			if !ok {
				return nil // a partition that has given nothing yet holds every bin
			}
			if n.Before(horizon) {
				horizon = n
			}
		}
	}
	var out []*pendingBin
	for tb, b := range t.pending {
		if tb.Before(horizon) {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *pendingBin) int { return a.timebin.Compare(b.timebin) })
	return out
}

// done forgets a bin once it is published.
func (t *topicState) done(b *pendingBin) {
	delete(t.pending, b.timebin)
	if b.timebin.After(t.published) {
		t.published = b.timebin
	}
}

// toCommit returns the offsets to commit: per partition, the offset after
// the last record consumed, but never past the first record of a bin not
// published yet. Nil when nothing changed since the last commit.
func (t *topicState) toCommit() map[int32]int64 {
	out := map[int32]int64{}
	for p, next := range t.next {
		for _, b := range t.pending {
			if s, ok := b.spans[p]; ok && s.first < next {
				next = s.first
			}
		}
		out[p] = next
	}
	if maps.Equal(out, t.committed) && t.published.Equal(t.committedHW) {
		return nil
	}
	return out
}

// commitDone records a successful commit.
func (t *topicState) commitDone(offsets map[int32]int64, hw time.Time) {
	maps.Copy(t.committed, offsets)
	t.committedHW = hw
}

// runID names the run of a bin's rows of one family, from where its
// records lie: consuming the same records again (after a restart before
// the offsets were committed) gives the same run, which JetStream
// de-duplicates and ingestion skips; other records give a new run, which
// replaces the bin.
func (t *topicState) runID(b *pendingBin, af int) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%d", t.route.Topic, t.route.Dataset.Name, t.route.Part, af, b.timebin.Unix())
	for _, p := range slices.Sorted(maps.Keys(b.spans)) {
		fmt.Fprintf(h, "\x00%d:%d-%d", p, b.spans[p].first, b.spans[p].last)
	}
	return "kafka-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// rows returns the bin's rows by address family, each a slice of the
// dataset's row type in partition and offset order, so that a re-consumed
// bin is cut into the very same batches. A row whose natural key came
// before in that order is dropped (a producer's retry sends a message
// twice) and counted.
func (b *pendingBin) rows(d *events.Dataset) map[int]reflect.Value {
	slices.SortFunc(b.entries, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.partition, y.partition), cmp.Compare(x.offset, y.offset))
	})
	out := map[int]reflect.Value{}
	seen := map[string]bool{}
	for _, e := range b.entries {
		rv := reflect.ValueOf(e.row)
		if k := naturalKey(d, e.af, rv); k != "" {
			if seen[k] {
				b.drop(drop(reasonDuplicate, "the key of the row at offset %d of partition %d came before", e.offset, e.partition))
				continue
			}
			seen[k] = true
		}
		s, ok := out[e.af]
		if !ok {
			s = reflect.MakeSlice(reflect.SliceOf(d.RowType()), 0, len(b.entries))
		}
		out[e.af] = reflect.Append(s, rv)
	}
	return out
}

// naturalKey is the af and the row's key fields ("" when the dataset declares none).
func naturalKey(d *events.Dataset, af int, row reflect.Value) string {
	k, keyed := strconv.Itoa(af), false
	for _, f := range d.Fields() {
		if f.Key {
			k, keyed = fmt.Sprintf("%s\x00%v", k, f.Value(row)), true
		}
	}
	if !keyed {
		return ""
	}
	return k
}
