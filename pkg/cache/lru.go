package cache

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// LRU holds entries up to a number of bytes, evicting the least recently
// used first. It is split in shards, each with its own lock, so readers on
// many cores rarely wait for each other.
type LRU struct {
	shards  [shardCount]shard
	seed    maphash.Seed
	bytes   atomic.Int64
	entries atomic.Int64
	evicted atomic.Int64
}

const shardCount = 16

type shard struct {
	mu    sync.RWMutex
	items map[string]*list.Element
	order list.List     // front: most recently used
	moves atomic.Uint64 // entries moved to the front so far (written under mu)
	bytes int64
	max   int64
}

type item struct {
	e    *Entry
	size int64
	mark atomic.Uint64 // shard.moves when it last moved to the front
}

// moved marks el as just moved to the front of s (s.mu held).
func (s *shard) moved(el *list.Element) { el.Value.(*item).mark.Store(s.moves.Add(1)) }

// recent reports whether it is among the quarter of s moved to the front
// last (s.mu held, for reading at least): a hot entry read again and again
// stays there without the write lock, which every read of it would
// otherwise wait for.
func (s *shard) recent(it *item) bool {
	return s.moves.Load()-it.mark.Load() <= uint64(len(s.items)/4)
}

// NewLRU returns an LRU holding up to maxBytes.
func NewLRU(maxBytes int64) *LRU {
	c := &LRU{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].items = map[string]*list.Element{}
		c.shards[i].max = max(maxBytes/shardCount, 1)
	}
	return c
}

func (c *LRU) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%shardCount]
}

// Get returns the entry of key, or nil.
func (c *LRU) Get(key string) *Entry {
	s := c.shard(key)
	s.mu.RLock()
	el, ok := s.items[key]
	if !ok {
		s.mu.RUnlock()
		return nil
	}
	it := el.Value.(*item)
	recent := s.recent(it)
	s.mu.RUnlock()
	if !recent {
		s.mu.Lock()
		if s.items[key] == el {
			s.order.MoveToFront(el)
			s.moved(el)
		}
		s.mu.Unlock()
	}
	return it.e
}

// Peek returns the entry of key, or nil, without counting it as used.
func (c *LRU) Peek(key string) *Entry {
	s := c.shard(key)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if el, ok := s.items[key]; ok {
		return el.Value.(*item).e
	}
	return nil
}

// Add stores e under e.Key, replacing what was there. An entry larger
// than a shard is not kept.
func (c *LRU) Add(e *Entry) {
	size := e.Size()
	s := c.shard(e.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[e.Key]; ok {
		c.remove(s, el)
	}
	if size > s.max {
		return
	}
	el := s.order.PushFront(&item{e: e, size: size})
	s.moved(el)
	s.items[e.Key] = el
	s.bytes += size
	c.bytes.Add(size)
	c.entries.Add(1)
	for s.bytes > s.max {
		c.remove(s, s.order.Back())
		c.evicted.Add(1)
	}
}

// Readd accounts for what e grew to, if it is still the entry of its key.
func (c *LRU) Readd(e *Entry) {
	size := e.Size()
	s := c.shard(e.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[e.Key]
	if !ok || el.Value.(*item).e != e {
		return
	}
	it := el.Value.(*item)
	s.bytes += size - it.size
	c.bytes.Add(size - it.size)
	it.size = size
	for s.bytes > s.max && s.order.Len() > 0 {
		c.remove(s, s.order.Back())
		c.evicted.Add(1)
	}
}

// Remove drops the entry of key if it is e (an entry replaced meanwhile stays).
func (c *LRU) Remove(e *Entry) {
	s := c.shard(e.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[e.Key]; ok && el.Value.(*item).e == e {
		c.remove(s, el)
	}
}

func (c *LRU) remove(s *shard, el *list.Element) {
	it := s.order.Remove(el).(*item)
	delete(s.items, it.e.Key)
	s.bytes -= it.size
	c.bytes.Add(-it.size)
	c.entries.Add(-1)
}

// Bytes is what the entries held take, about.
func (c *LRU) Bytes() int64 { return c.bytes.Load() }

// Len is the number of entries held.
func (c *LRU) Len() int64 { return c.entries.Load() }

// Evicted counts the entries dropped to make room.
func (c *LRU) Evicted() int64 { return c.evicted.Load() }
