package djcache

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"
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

	// GetOrSet under load (see Stale, EarlyRefresh and FillLock). Fills
	// counts calls of fill functions, FillErrors those that failed (an
	// ErrAbsent is not a failure). StaleServed counts GetOrSet calls
	// answered with a stale value, RefreshErrors the background refreshes
	// that failed (each is also logged), EarlyRefreshes the refreshes
	// started early by EarlyRefresh, and LockWaits the fills that waited
	// for another caller's fill lock.
	Fills, FillErrors, StaleServed, RefreshErrors, EarlyRefreshes, LockWaits uint64
}

const (
	statHits = iota
	statMisses
	statSets
	statDeletes
	statErrors
	statFills
	statFillErrors
	statStaleServed
	statRefreshErrors
	statEarlyRefreshes
	statLockWaits
	numStats
)

// stats are striped counters: concurrent readers on different cores add to
// different cache lines, so counting does not serialise them.
type stats struct {
	stripes []statStripe
	shift   uint8 // 32 - log2(len(stripes))
}

type statStripe struct {
	n [numStats]atomic.Uint64
	_ [128 - numStats*8]byte // a stripe never shares a cache line (or its prefetched pair) with another
}

func newStats() stats {
	lg := min(bits.Len32(uint32(runtime.GOMAXPROCS(0))*8-1), 7)
	return stats{stripes: make([]statStripe, 1<<lg), shift: uint8(32 - lg)}
}

// add adds n to counter i on the stripe of the calling goroutine, found
// from the address of its stack: goroutines have distinct stacks, so
// goroutines running at once mostly hit distinct stripes, and one goroutine
// keeps hitting the same one. That costs a multiplication, where a random
// stripe would cost a random number.
func (s *stats) add(i int, n uint64) {
	var probe byte
	h := uint32(uintptr(unsafe.Pointer(&probe))>>12) * 0x9E3779B9
	s.stripes[h>>s.shift&uint32(len(s.stripes)-1)].n[i].Add(n)
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

		Fills:          c.stats.sum(statFills),
		FillErrors:     c.stats.sum(statFillErrors),
		StaleServed:    c.stats.sum(statStaleServed),
		RefreshErrors:  c.stats.sum(statRefreshErrors),
		EarlyRefreshes: c.stats.sum(statEarlyRefreshes),
		LockWaits:      c.stats.sum(statLockWaits),
	}
}
