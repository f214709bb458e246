// Package freshness knows what changed in the data, and when, from the
// results events ingestion publishes after every commit. Caches keep the
// stream position at which each answer was read and ask the Log whether
// anything that answer depends on changed since; nothing here knows what
// an answer depends on: callers pass a matcher.
package freshness

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ihr-go/ihr/pkg/events"
)

// Change is what one results event says changed: a bin of a dataset
// (its time, address family and part) and the keys of the rows replaced
// or added, or AllKeys when the event could not list them.
type Change struct {
	Seq     uint64 // stream sequence of the event (0 while only announced, see Log.Announce)
	ID      string // the event's message id
	Dataset string
	Time    time.Time // the bin; a disco event's start time
	AF      int
	Part    string
	Ints    map[string][]int64  // sorted
	Texts   map[string][]string // sorted
	AllKeys bool
}

// FromResult is the change a results event with message id id announces.
func FromResult(seq uint64, id string, r *events.Result) *Change {
	// The database keeps microseconds; a finer time would miss a filter on the stored one.
	c := &Change{Seq: seq, ID: id, Dataset: r.Dataset, Time: r.Timebin.UTC().Truncate(time.Microsecond), AF: r.AF, Part: r.Part,
		Ints: r.Keys, Texts: r.TextKeys, AllKeys: r.AllKeys}
	for _, v := range c.Ints {
		slices.Sort(v)
	}
	for _, v := range c.Texts {
		slices.Sort(v)
	}
	return c
}

func (c *Change) size() int {
	n := 1
	for _, v := range c.Ints {
		n += len(v)
	}
	for _, v := range c.Texts {
		n += len(v)
	}
	return n
}

// Log holds the changes of the results stream in stream order, per
// dataset, from a floor on: every change after the floor is known, so an
// answer read at a position at or above the floor can be checked.
//
// It also holds changes announced but not yet applied: a plain NATS
// subscription hears of an event as it is published, before the stream's
// consumers deliver it, so a cache knows of a change no later than any
// subscriber of the stream could learn of it and ask for the new data.
type Log struct {
	mu       sync.RWMutex
	identity string // the stream followed: its name and creation time
	datasets map[string][]*Change
	order    []*Change // every change held, oldest first, for trimming
	pos      uint64    // the last sequence applied
	gen      uint64    // moves with every change known, applied or announced
	floor    uint64
	keys     int
	maxKeys  int
	advanced chan struct{} // closed and replaced when pos moves
	// announced are changes heard of and not yet applied, by dataset and
	// message id; applied remembers recent ids, so a repeated announcement
	// of an applied change (a de-duplicated publish) is not taken for a new one.
	announced map[string]map[string]announcement
	applied   map[string]bool
	recent    []string // applied ids, oldest first

	barrier atomic.Pointer[barrier] // set while the follower subscribes
	ready   atomic.Bool             // caught up with the stream once
	healthy atomic.Bool             // following, and not behind
}

// keepApplied is how many applied message ids are remembered: days of
// results events, far more than the stream's two-hour duplicate window.
const keepApplied = 10000

type announcement struct {
	c  *Change
	at time.Time
}

// NewLog returns an empty log that holds changes carrying up to maxKeys
// keys in all; older changes are forgotten first (the floor moves up).
func NewLog(maxKeys int) *Log {
	return &Log{datasets: map[string][]*Change{}, maxKeys: max(maxKeys, 1), advanced: make(chan struct{}),
		announced: map[string]map[string]announcement{}, applied: map[string]bool{}}
}

// Start sets where the log begins: nothing before seq will come (the
// stream no longer holds it), so the floor and position move up to it.
func (l *Log) Start(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq > l.pos {
		l.floor, l.pos = max(l.floor, seq), seq
		l.moved()
	}
}

// reset empties the log for another stream.
func (l *Log) reset(identity string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.identity = identity
	l.datasets, l.order, l.keys, l.pos, l.floor = map[string][]*Change{}, nil, 0, 0, 0
	l.announced, l.applied, l.recent = map[string]map[string]announcement{}, map[string]bool{}, nil
	l.ready.Store(false)
	l.moved()
}

// Apply adds a change. A change at or below the position is a copy and
// ignored; a change past the next sequence means some were lost (deleted
// from the stream before they were read), so the floor moves up to it.
func (l *Log) Apply(c *Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.Seq <= l.pos {
		return
	}
	if c.Seq > l.pos+1 {
		l.floor = max(l.floor, c.Seq-1)
	}
	l.pos = c.Seq
	l.settle(c)
	l.datasets[c.Dataset] = append(l.datasets[c.Dataset], c)
	l.order = append(l.order, c)
	l.keys += c.size()
	for l.keys > l.maxKeys && len(l.order) > 1 {
		l.forgetOldest()
	}
	l.moved()
}

// Announce records change c (Seq 0), heard of before the stream delivers it.
func (l *Log) Announce(c *Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.ID == "" || l.applied[c.ID] {
		return
	}
	byID := l.announced[c.Dataset]
	if byID == nil {
		byID = map[string]announcement{}
		l.announced[c.Dataset] = byID
	}
	if _, ok := byID[c.ID]; !ok {
		byID[c.ID] = announcement{c, time.Now()}
		l.gen++
	}
}

// Expire forgets the announcements heard before t, once the log holds
// every change the stream had at some time after t: their events were
// applied, or never stored (a publish the stream refused still reached
// plain subscribers).
func (l *Log) Expire(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for d, byID := range l.announced {
		for id, a := range byID {
			if a.at.Before(t) {
				delete(byID, id)
			}
		}
		if len(byID) == 0 {
			delete(l.announced, d)
		}
	}
}

// settle marks the change c as applied.
func (l *Log) settle(c *Change) {
	if c.ID == "" {
		return
	}
	if byID := l.announced[c.Dataset]; byID != nil {
		delete(byID, c.ID)
	}
	if !l.applied[c.ID] {
		l.applied[c.ID] = true
		l.recent = append(l.recent, c.ID)
		if len(l.recent) > keepApplied {
			delete(l.applied, l.recent[0])
			l.recent = l.recent[1:]
		}
	}
}

// Unknown records that the change at seq could not be read: anything may
// have changed then, so nothing read before it can be checked any more.
func (l *Log) Unknown(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq > l.pos {
		l.pos, l.floor = seq, seq
		l.moved()
	}
}

func (l *Log) forgetOldest() {
	old := l.order[0]
	l.order[0] = nil
	l.order = l.order[1:]
	l.keys -= old.size()
	l.floor = max(l.floor, old.Seq)
	list := l.datasets[old.Dataset]
	if len(list) > 0 && list[0] == old {
		list[0] = nil
		l.datasets[old.Dataset] = list[1:]
	}
}

func (l *Log) moved() {
	l.gen++
	close(l.advanced)
	l.advanced = make(chan struct{})
}

// Snapshot is what the log knows at one moment.
type Snapshot struct {
	Stream string // the stream followed
	Pos    uint64 // every change up to it is applied
	// Gen moves with every change known, applied or only announced: two
	// readings at one Gen saw the same changes.
	Gen uint64
}

// Snapshot returns what the log knows now. An answer read after it holds
// every change up to Pos of Stream.
func (l *Log) Snapshot() Snapshot {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return Snapshot{l.identity, l.pos, l.gen}
}

// Position is the sequence of the last change applied.
func (l *Log) Position() uint64 { return l.Snapshot().Pos }

// Identity names the stream the log follows (its name and creation time),
// so two services can tell whether their positions compare.
func (l *Log) Identity() string { return l.Snapshot().Stream }

// Floor is the position below which answers can no longer be checked.
func (l *Log) Floor() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.floor
}

// Advanced returns a channel closed when the position next moves.
func (l *Log) Advanced() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.advanced
}

// ChangedSince reports whether, in stream, a change of one of datasets
// after seq, or announced and not yet applied, matches; known is false
// when seq is below the floor (changes after it may be missing) or stream
// is not the one followed. When neither, what was checked holds through
// position pos.
func (l *Log) ChangedSince(stream string, seq uint64, datasets []string, match func(*Change) bool) (changed, known bool, pos uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if stream != l.identity || seq < l.floor {
		return false, false, l.pos
	}
	for _, d := range datasets {
		for _, a := range l.announced[d] {
			if match(a.c) {
				return true, true, l.pos
			}
		}
		list := l.datasets[d]
		for i := len(list) - 1; i >= 0 && list[i].Seq > seq; i-- {
			if match(list[i]) {
				return true, true, l.pos
			}
		}
	}
	return false, true, l.pos
}

// Sync makes the log know of every results event published before the
// call (announced at least), waiting for a round trip to the server unless
// one came back lately enough; false when it cannot tell: not following,
// the connection down, or ctx done.
func (l *Log) Sync(ctx context.Context) bool {
	b := l.barrier.Load()
	return b != nil && b.wait(ctx)
}

// Ready reports whether the log caught up with the stream once since it
// started: before that, changes it holds are not all there is.
func (l *Log) Ready() bool { return l.ready.Load() }

// Healthy reports whether the log is following the stream and not behind.
func (l *Log) Healthy() bool { return l.healthy.Load() }
