package bench

import (
	"hash/maphash"
	"sync"
	"time"
)

// ShardedLRU is the hand-written baseline engine of the benchmarks: a
// sharded map with an intrusive LRU list per shard, evicting with Django's
// LocMemCache policy. On every set, when a shard holds its maximum number of
// entries (even if the key is already present, as in Django), it first drops
// len/cullFrequency of its least recently used entries, or all of them when
// cullFrequency is 0. Get moves an entry to the front, as Django's
// OrderedDict.move_to_end does, and treats an expired entry as absent.
//
// With one shard the policy is exactly Django's. With more shards each
// shard culls on its own, which spreads the lock over cores at the cost of a
// policy that is only roughly global LRU.
//
// It is safe for concurrent use.
type ShardedLRU[V any] struct {
	shards []lruShard[V]
	mask   uint64
	seed   maphash.Seed
}

type lruShard[V any] struct {
	mu   sync.Mutex             // protects the fields below and the nodes
	m    map[string]*lruNode[V] // all entries of the shard
	head lruNode[V]             // sentinel: head.next is the most recently used
	max  int                    // entries before a set culls
	cull int                    // Django's CULL_FREQUENCY
	free *lruNode[V]            // culled nodes, reused by later sets
	_    [64]byte               // keep neighbouring shards' locks on separate cache lines
}

type lruNode[V any] struct {
	key        string
	val        V
	exp        int64 // monotonic nanoseconds (see clock); 0 never expires
	prev, next *lruNode[V]
}

// base is the zero of clock.
var base = time.Now()

// clock returns monotonic nanoseconds since base; time.Since reads only the
// monotonic clock.
func clock() int64 { return int64(time.Since(base)) }

// NewShardedLRU returns an empty cache that holds about maxEntries entries
// (each of the shards holds ceil(maxEntries/shards)). shards is rounded up to
// a power of two; cullFrequency is Django's CULL_FREQUENCY (3 by default
// there; 0 clears a full shard).
func NewShardedLRU[V any](maxEntries, shards, cullFrequency int) *ShardedLRU[V] {
	n := 1
	for n < shards {
		n <<= 1
	}
	per := max((maxEntries+n-1)/n, 1)
	c := &ShardedLRU[V]{shards: make([]lruShard[V], n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
	for i := range c.shards {
		s := &c.shards[i]
		s.m = make(map[string]*lruNode[V], per)
		s.head.next, s.head.prev = &s.head, &s.head
		s.max = per
		s.cull = cullFrequency
	}
	return c
}

func (c *ShardedLRU[V]) shard(key string) *lruShard[V] {
	if c.mask == 0 {
		return &c.shards[0]
	}
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

// Get returns the live value under key and marks it most recently used.
func (c *ShardedLRU[V]) Get(key string) (V, bool) {
	s := c.shard(key)
	s.mu.Lock()
	n, ok := s.m[key]
	if !ok {
		s.mu.Unlock()
		var zero V
		return zero, false
	}
	if n.exp != 0 && clock() >= n.exp {
		s.remove(n)
		s.mu.Unlock()
		var zero V
		return zero, false
	}
	s.moveToFront(n)
	v := n.val
	s.mu.Unlock()
	return v, true
}

// Set stores v under key for ttl (0 never expires), culling first if the
// shard is full.
func (c *ShardedLRU[V]) Set(key string, v V, ttl time.Duration) {
	var exp int64
	if ttl > 0 {
		exp = clock() + int64(ttl)
	}
	s := c.shard(key)
	s.mu.Lock()
	if len(s.m) >= s.max {
		s.evict()
	}
	if n, ok := s.m[key]; ok {
		n.val, n.exp = v, exp
		s.moveToFront(n)
		s.mu.Unlock()
		return
	}
	n := s.free
	if n != nil {
		s.free = n.next
	} else {
		n = new(lruNode[V])
	}
	n.key, n.val, n.exp = key, v, exp
	s.m[key] = n
	s.pushFront(n)
	s.mu.Unlock()
}

// Delete removes key.
func (c *ShardedLRU[V]) Delete(key string) {
	s := c.shard(key)
	s.mu.Lock()
	if n, ok := s.m[key]; ok {
		s.remove(n)
	}
	s.mu.Unlock()
}

// Len returns the number of entries, expired ones included.
func (c *ShardedLRU[V]) Len() int {
	t := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		t += len(s.m)
		s.mu.Unlock()
	}
	return t
}

// evict is Django's _cull for one shard.
func (s *lruShard[V]) evict() {
	if s.cull == 0 {
		clear(s.m)
		s.head.next, s.head.prev = &s.head, &s.head
		return
	}
	for k := len(s.m) / s.cull; k > 0; k-- {
		s.remove(s.head.prev)
	}
}

func (s *lruShard[V]) remove(n *lruNode[V]) {
	delete(s.m, n.key)
	n.prev.next, n.next.prev = n.next, n.prev
	var zero V
	n.key, n.val, n.prev = "", zero, nil
	n.next, s.free = s.free, n
}

func (s *lruShard[V]) pushFront(n *lruNode[V]) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

func (s *lruShard[V]) moveToFront(n *lruNode[V]) {
	if s.head.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	s.pushFront(n)
}
