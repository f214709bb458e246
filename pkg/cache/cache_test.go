package cache

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func entry(key string, body int) *Entry {
	return &Entry{Key: key, Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.Repeat([]byte("x"), body)}
}

func TestMarshalRoundTrip(t *testing.T) {
	e := &Entry{Key: "p100:hegemony/?originasn=2497", Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Total-Count": {"3"}},
		Body:   []byte(`{"count":3}`), ETag: `"abc"`, Stream: "IHR_RESULTS@2026-12-01T00:00:00Z", Seq: 42,
		Read: time.Date(2026, 12, 4, 1, 2, 3, 4, time.UTC), Latest: time.Date(2026, 12, 4, 0, 45, 0, 0, time.UTC),
		Feeds: []string{"hegemony", "names"}}
	e.SetEncoded("gzip", []byte{1, 2, 3})
	got, err := Unmarshal(e.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != e.Key || got.Status != 200 || got.Header.Get("X-Total-Count") != "3" || string(got.Body) != `{"count":3}` ||
		got.ETag != e.ETag || got.Stream != e.Stream || got.Seq != 42 || !got.Read.Equal(e.Read) || !got.Latest.Equal(e.Latest) ||
		fmt.Sprint(got.Feeds) != "[hegemony names]" || !bytes.Equal(got.Encoded("gzip"), []byte{1, 2, 3}) {
		t.Errorf("round trip changed the entry:\n got  %+v\n want %+v", got, e)
	}
	if z, err := Unmarshal((&Entry{Key: "k"}).Marshal()); err != nil || !z.Latest.IsZero() || !z.Read.IsZero() {
		t.Errorf("zero times: %v %v", z, err)
	}
}

// FuzzUnmarshal: what Redis holds is outside input; garbage must give an
// error, never a panic or a huge allocation.
func FuzzUnmarshal(f *testing.F) {
	f.Add(entry("k", 10).Marshal())
	f.Add([]byte(magic))
	f.Add([]byte(magic + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Unmarshal(b)
		if err == nil {
			if _, err := Unmarshal(e.Marshal()); err != nil {
				t.Fatalf("an entry that decoded does not decode again: %v", err)
			}
		}
	})
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewLRU(shardCount * 3000) // each shard holds about two entries of 1 KiB
	var keys []string
	for i := range 200 {
		k := fmt.Sprintf("k%d", i)
		keys = append(keys, k)
		c.Add(entry(k, 1024))
		c.Get(keys[0]) // keep the first one used
	}
	if c.Get(keys[0]) == nil {
		t.Error("the most used entry was evicted")
	}
	if c.Bytes() > shardCount*3000 {
		t.Errorf("holds %d bytes, bound %d", c.Bytes(), shardCount*3000)
	}
	if c.Len() >= 200 || c.Evicted() == 0 {
		t.Errorf("len %d evicted %d: nothing was evicted", c.Len(), c.Evicted())
	}
	if c.Get(keys[1]) != nil && c.Get(keys[2]) != nil && c.Get(keys[3]) != nil {
		t.Error("the oldest unused entries are all still there")
	}
}

// Reading an entry among the most recently moved quarter of its shard does
// not move it (no write lock); reading an older one does.
func TestLRUMovesOnlyEntriesPastTheFrontQuarter(t *testing.T) {
	c := NewLRU(1 << 30)
	first := "k0"
	s := c.shard(first)
	var same []string // keys of first's shard, oldest first
	for i := 0; len(same) < 8; i++ {
		k := fmt.Sprintf("k%d", i)
		if c.shard(k) == s {
			same = append(same, k)
			c.Add(entry(k, 10))
		}
	}
	moves := s.moves.Load()
	for range 100 {
		c.Get(same[7]) // the newest: in the front quarter
	}
	if got := s.moves.Load(); got != moves {
		t.Fatalf("reading the newest entry moved it %d times", got-moves)
	}
	c.Get(same[0]) // the oldest: moved to the front
	if s.moves.Load() != moves+1 || s.order.Front().Value.(*item).e.Key != same[0] {
		t.Fatal("reading the oldest entry did not move it to the front")
	}
}

func TestLRUReplaceRemoveReadd(t *testing.T) {
	c := NewLRU(1 << 20)
	old, cur := entry("k", 10), entry("k", 20)
	c.Add(old)
	c.Add(cur)
	if c.Get("k") != cur || c.Len() != 1 {
		t.Fatal("adding a key again does not replace it")
	}
	c.Remove(old) // a stale handle must not drop the newer entry
	if c.Get("k") != cur {
		t.Fatal("removing a replaced entry dropped its successor")
	}
	before := c.Bytes()
	cur.SetEncoded("br", make([]byte, 5000))
	c.Readd(cur)
	if c.Bytes() != before+5000 {
		t.Errorf("readd accounts %d bytes, want %d", c.Bytes(), before+5000)
	}
	c.Readd(old) // no longer held: nothing happens
	if c.Get("k") != cur {
		t.Error("readd of a replaced entry brought it back")
	}
	c.Remove(cur)
	if c.Get("k") != nil || c.Len() != 0 || c.Bytes() != 0 {
		t.Errorf("after removal: len %d bytes %d", c.Len(), c.Bytes())
	}
	c.Add(entry("huge", 1<<20))
	if c.Get("huge") != nil {
		t.Error("an entry larger than a shard was kept")
	}
}

func TestCaptureSpills(t *testing.T) {
	rec := &recorder{header: http.Header{}}
	c := NewCapture(rec, 10)
	c.Header().Set("Content-Type", "text/plain")
	c.WriteHeader(201)
	_, _ = c.Write([]byte("12345"))
	if c.Spilled || rec.status != 0 {
		t.Fatal("spilled under the limit")
	}
	_, _ = c.Write([]byte("678901"))
	if !c.Spilled || rec.status != 201 || rec.body.String() != "12345678901" || rec.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("spill: %v %d %q %v", c.Spilled, rec.status, rec.body.String(), rec.header)
	}
	alone := NewCapture(nil, 4)
	if _, err := alone.Write([]byte("12345")); err != ErrTooLarge || !alone.Full {
		t.Errorf("a capture with nowhere to spill: %v, full %v", err, alone.Full)
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(s int)           { r.status = s }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
