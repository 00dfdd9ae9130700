package djcache

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
)

// Stats are a Cache's counters since New. They count calls on this Cache
// value only, not on other Caches that share the storage.
type Stats struct {
	// Hits and Misses count keys looked up by Get, GetMany, GetOrSet and
	// Has.
	Hits, Misses uint64
	// Sets counts entries written by Set, SetMany, Add (when it stored),
	// GetOrSet (when it filled) and IncrVersion.
	Sets uint64
	// Deletes counts keys passed to Delete and DeleteMany.
	Deletes uint64
	// Errors counts calls that returned an error other than ErrNotFound
	// (backend failures, cancelled contexts, values that would not encode or
	// decode, ErrNotInteger, …).
	Errors uint64
}

const (
	statHits = iota
	statMisses
	statSets
	statDeletes
	statErrors
	numStats
)

// stats are striped counters: concurrent readers on different cores add to
// different cache lines, so counting does not serialise them.
type stats struct {
	stripes []statStripe
	mask    uint32
}

type statStripe struct {
	n [numStats]atomic.Uint64
	_ [64 - (numStats*8)%64]byte // pad to a cache line
}

func newStats() stats {
	n := uint32(1) << bits.Len32(uint32(runtime.GOMAXPROCS(0))*2-1)
	if n > 64 {
		n = 64
	}
	return stats{stripes: make([]statStripe, n), mask: n - 1}
}

func (s *stats) add(i int, n uint64) {
	s.stripes[rand.Uint32()&s.mask].n[i].Add(n)
}

func (s *stats) sum(i int) uint64 {
	var t uint64
	for j := range s.stripes {
		t += s.stripes[j].n[i].Load()
	}
	return t
}

// Stats returns the cache's counters. It is safe to call at any time, also
// after Close.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:    c.stats.sum(statHits),
		Misses:  c.stats.sum(statMisses),
		Sets:    c.stats.sum(statSets),
		Deletes: c.stats.sum(statDeletes),
		Errors:  c.stats.sum(statErrors),
	}
}
