package cache

// The near tier (L1): values kept in the process in front of Redis, so a hot
// read costs no network round trip. It is bounded in bytes (LRU per shard)
// and in time (Options.NearTTL), and trusted only while the invalidation
// channel (nearsync.go) is subscribed: a write anywhere reaches every
// replica's near tier through Redis, and while that path is down nothing is
// served from it.
//
// A value read from Redis or loaded is kept only if no invalidation of its
// shard arrived since the read began (the shard's epoch): otherwise a read
// that raced a write on another replica could keep the old value after the
// invalidation that should have removed it.

import (
	"container/list"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

const nearShards = 64

// nearEntryOverhead approximates the bookkeeping of one entry (map slot,
// list element, entry struct) so that many small values cannot exceed the
// bound that their bytes alone would fit.
const nearEntryOverhead = 160

type near struct {
	seed     maphash.Seed
	ttl      time.Duration
	perShard int // bytes
	now      func() time.Time
	healthy  atomic.Bool // the invalidation channel is subscribed
	shards   [nearShards]nearShard
}

type nearShard struct {
	mu    sync.Mutex
	m     map[string]*list.Element
	lru   list.List // front: most recently used
	bytes int
	// epoch moves on every invalidation of a key of this shard and on clear.
	epoch uint64
}

type nearEntry struct {
	key      string
	val      []byte
	notFound bool
	expires  int64 // unix ns
	size     int
}

func newNear(maxBytes int, ttl time.Duration, now func() time.Time) *near {
	n := &near{seed: maphash.MakeSeed(), ttl: ttl, perShard: max(maxBytes/nearShards, 1), now: now}
	for i := range n.shards {
		n.shards[i].m = make(map[string]*list.Element)
	}
	return n
}

func (n *near) shard(key string) *nearShard {
	return &n.shards[maphash.String(n.seed, key)%nearShards]
}

// get returns the value of key if the tier holds a live one and is trusted;
// otherwise the shard's epoch as of now, for put: a miss reads the shard
// once, under one lock, for both.
func (n *near) get(key string) (val []byte, notFound, ok bool, epoch uint64) {
	s := n.shard(key)
	now := n.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !n.healthy.Load() {
		return nil, false, false, s.epoch
	}
	el, found := s.m[key]
	if !found {
		return nil, false, false, s.epoch
	}
	e := el.Value.(*nearEntry)
	if now >= e.expires {
		s.remove(el)
		return nil, false, false, s.epoch
	}
	s.lru.MoveToFront(el)
	return e.val, e.notFound, true, 0
}

// put keeps a value fetched after get returned epoch, unless an invalidation of
// its shard came in meanwhile or the channel is down. It reports whether the
// value was kept.
func (n *near) put(key string, val []byte, notFound bool, epoch uint64) bool {
	size := len(key) + len(val) + nearEntryOverhead
	if !n.healthy.Load() || size > n.perShard {
		return false
	}
	s := n.shard(key)
	expires := n.now().Add(n.ttl).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return false
	}
	if el, found := s.m[key]; found {
		s.remove(el)
	}
	for s.bytes+size > n.perShard {
		s.remove(s.lru.Back())
	}
	s.m[key] = s.lru.PushFront(&nearEntry{key: key, val: val, notFound: notFound, expires: expires, size: size})
	s.bytes += size
	return true
}

// invalidate drops key and moves its shard's epoch, so no read in flight
// keeps what it fetched before.
func (n *near) invalidate(key string) {
	s := n.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if el, found := s.m[key]; found {
		s.remove(el)
	}
}

// clear drops everything: the channel was down, so any entry may have missed
// its invalidation.
func (n *near) clear() {
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		s.epoch++
		clear(s.m)
		s.lru.Init()
		s.bytes = 0
		s.mu.Unlock()
	}
}

// size is the bytes held, for the gauge and tests.
func (n *near) size() (bytes, entries int) {
	for i := range n.shards {
		s := &n.shards[i]
		s.mu.Lock()
		bytes += s.bytes
		entries += len(s.m)
		s.mu.Unlock()
	}
	return bytes, entries
}

func (s *nearShard) remove(el *list.Element) {
	e := s.lru.Remove(el).(*nearEntry)
	delete(s.m, e.key)
	s.bytes -= e.size
}
