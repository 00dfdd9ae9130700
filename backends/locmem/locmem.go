// Package locmem is djcache's in-process backend, Django's LocMemCache:
// entries live in this process's memory, and every Cache opened with the
// same name shares one store.
//
//	import _ "github.com/djcache/djcache/backends/locmem"
//
//	c, err := djcache.Open("locmem://sessions?max_entries=10000")
//
// # Engine and eviction
//
// The store is an [otter] v2 cache (W-TinyLFU eviction, lock-free reads,
// per-entry expiry). The benchmarks in the repository's bench module chose it
// over a hand-written sharded LRU: it reads as fast, scales across cores, and
// keeps more of the working set on real traces than Django's LRU-plus-cull
// (which drops a third of the store whenever it fills).
//
// max_entries bounds the number of entries. When a new entry would exceed
// it, the least valuable entry by frequency and recency is evicted, one at a
// time, so the store stays full instead of dropping to two thirds.
// cull_frequency=0 keeps Django's meaning: when the store holds max_entries
// entries, a write clears it entirely. Any other cull_frequency is accepted
// for settings compatibility and changes nothing, since eviction no longer
// works in batches.
//
// # Values
//
// The store keeps encoded bytes, never the caller's values, so values are
// copies (Django pickles in locmem too). Incr replaces the entry's bytes and
// keeps its expiry; Touch replaces only the expiry; neither revives an
// expired entry.
//
// [otter]: https://github.com/maypok86/otter
package locmem

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/djcache/djcache/driver"
)

// Options bounds a store. A nil *Options means the defaults.
type Options struct {
	// MaxEntries is the most entries the store holds (Django's
	// MAX_ENTRIES). Zero means 300.
	MaxEntries int
	// ClearWhenFull reproduces Django's CULL_FREQUENCY 0: when the store
	// holds MaxEntries entries, the next write clears it. By default the
	// store evicts one entry at a time instead.
	ClearWhenFull bool
}

// DefaultMaxEntries is the bound of a store whose Options leave MaxEntries
// zero (Django's default).
const DefaultMaxEntries = 300

func (o *Options) bounds() (Options, error) {
	var b Options
	if o != nil {
		b = *o
	}
	if b.MaxEntries < 0 {
		return b, fmt.Errorf("djcache: locmem: MaxEntries %d is negative", b.MaxEntries)
	}
	if b.MaxEntries == 0 {
		b.MaxEntries = DefaultMaxEntries
	}
	return b, nil
}

// entry is one stored value. v is never modified after it is stored
// (GetShared lends it); exp is a Unix time in nanoseconds, 0 for never.
type entry struct {
	v   []byte
	exp int64
}

// ttl is the entry's remaining lifetime for otter, at least a nanosecond.
// otter adds it to its own (coarse) clock, so it is measured on that clock:
// measured on the precise one, an entry written while the coarse clock lags
// (its goroutine waits for a CPU under load, 100ms and more) would expire
// early by that lag.
func (e entry) ttl(clock *otter.CoarseClock) time.Duration {
	if e.exp == 0 {
		return math.MaxInt64
	}
	return max(time.Duration(e.exp-clock.NowNano()), 1)
}

// lagWindow is how close to its expiry, on otter's coarse clock, an entry
// must be to be checked against the precise clock. otter decides expiry on
// the coarse clock, which lags real time by up to a millisecond, and by a
// hundred milliseconds or more when its goroutine waits for a busy CPU; an
// entry that otter still holds but whose expiry has passed on the precise
// clock is treated as expired everywhere, so a timeout is never overrun.
// Entries far from their expiry (nearly all) cost nothing more.
const lagWindow = int64(time.Second)

// live reports whether e has not expired on the precise clock, reading it
// only when e is within lagWindow of its expiry.
func (e entry) live(clock *otter.CoarseClock) bool {
	if e.exp == 0 || e.exp-clock.NowNano() > lagWindow {
		return true
	}
	return e.exp > time.Now().UnixNano()
}

func expNano(exp time.Time) int64 {
	if exp.IsZero() {
		return 0
	}
	return exp.UnixNano()
}

// store is one named store, shared by every Driver of that name.
type store struct {
	name   string
	bounds Options
	c      *otter.Cache[string, entry]
	clock  *otter.CoarseClock // coarseClock(), kept here: reads are on the hot path

	private bool // made by NewPrivate: Close releases it
}

// coarseClock is the clock of every store: reading the precise time was a
// fifth of a cache hit, and a clock read once a millisecond by one goroutine
// costs about as much as reading a variable. Entries never expire early
// (their lifetime is measured on this clock) and never show after their
// expiry (see lagWindow).
var coarseClock = sync.OnceValue(func() *otter.CoarseClock { return otter.NewCoarseClock(time.Millisecond) })

var (
	storesMu sync.Mutex // protects stores
	stores   = map[string]*store{}
)

// Driver is a handle on a named store. It is safe for concurrent use.
type Driver struct {
	s *store
}

var (
	_ driver.Driver           = (*Driver)(nil)
	_ driver.GetManyDriver    = (*Driver)(nil)
	_ driver.DeleteManyDriver = (*Driver)(nil)
	_ driver.HasDriver        = (*Driver)(nil)
	_ driver.GetSharedDriver  = (*Driver)(nil)
	_ driver.ExpiryReader     = (*Driver)(nil)
)

// New returns a Driver on the store called name, creating the store with
// the bounds in o (nil means the defaults) on first use. As in Django, every
// Driver of one name in a process shares the store, and "" is a name like
// any other. The bounds are set by the first New; a later New of the same
// name with different bounds is an error. Stores live as long as the
// process, as Django's do; Clear empties one.
func New(name string, o *Options) (*Driver, error) {
	b, err := o.bounds()
	if err != nil {
		return nil, err
	}
	storesMu.Lock()
	defer storesMu.Unlock()
	if s, ok := stores[name]; ok {
		if s.bounds != b {
			return nil, fmt.Errorf("djcache: locmem: store %q is open with max_entries=%d, cull_frequency=%s; it cannot be opened again with max_entries=%d, cull_frequency=%s",
				name, s.bounds.MaxEntries, cullName(s.bounds), b.MaxEntries, cullName(b))
		}
		return &Driver{s: s}, nil
	}
	s, err := newStore(name, b)
	if err != nil {
		return nil, err
	}
	stores[name] = s
	return &Driver{s: s}, nil
}

// newStore makes a store with bounds b.
func newStore(name string, b Options) (*store, error) {
	clock := coarseClock()
	c, err := otter.New(&otter.Options[string, entry]{
		MaximumSize:      b.MaxEntries,
		Clock:            clock,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration { return e.Value.ttl(clock) }),
	})
	if err != nil {
		return nil, fmt.Errorf("djcache: locmem: %w", err)
	}
	return &store{name: name, bounds: b, c: c, clock: clock}, nil
}

func cullName(b Options) string {
	if b.ClearWhenFull {
		return "0"
	}
	return "3"
}

// Name returns the store's name.
func (d *Driver) Name() string { return d.s.name }

// Len returns the number of entries in the store, counting expired entries
// not yet removed.
func (d *Driver) Len() int { return d.s.c.EstimatedSize() }

// Get implements driver.Driver.
func (d *Driver) Get(_ context.Context, key string) ([]byte, bool, error) {
	e, ok := d.s.c.GetIfPresent(key)
	if !ok || !e.live(d.s.clock) {
		return nil, false, nil
	}
	return clone(e.v), true, nil
}

// GetShared implements driver.GetSharedDriver: it lends the stored bytes,
// which the store never modifies.
func (d *Driver) GetShared(_ context.Context, key string) ([]byte, bool, error) {
	e, ok := d.s.c.GetIfPresent(key)
	if !ok || !e.live(d.s.clock) {
		return nil, false, nil
	}
	return e.v, true, nil
}

// GetWithExpiry implements driver.ExpiryReader.
func (d *Driver) GetWithExpiry(_ context.Context, key string) ([]byte, time.Time, bool, error) {
	e, ok := d.s.c.GetIfPresent(key)
	if !ok || !e.live(d.s.clock) {
		return nil, time.Time{}, false, nil
	}
	var exp time.Time
	if e.exp != 0 {
		exp = time.Unix(0, e.exp)
	}
	return clone(e.v), exp, true, nil
}

// GetMany implements driver.GetManyDriver.
func (d *Driver) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	m := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if e, ok := d.s.c.GetIfPresent(k); ok && e.live(d.s.clock) {
			m[k] = clone(e.v)
		}
	}
	return m, nil
}

// Has implements driver.HasDriver. Like Django's has_key, it does not count
// as a use of the entry for eviction.
func (d *Driver) Has(_ context.Context, key string) (bool, error) {
	return d.present(key), nil
}

// Set implements driver.Driver.
func (d *Driver) Set(_ context.Context, key string, value []byte, exp time.Time) error {
	if d.expired(exp) {
		d.s.c.Invalidate(key)
		return nil
	}
	d.cull()
	if _, inserted := d.s.c.Set(key, entry{v: clone(value), exp: expNano(exp)}); inserted {
		d.bound()
	}
	return nil
}

// Add implements driver.Driver.
func (d *Driver) Add(_ context.Context, key string, value []byte, exp time.Time) (bool, error) {
	if d.expired(exp) {
		// Nothing may stay visible: report what an Add would have done.
		return !d.present(key), nil
	}
	if d.present(key) {
		return false, nil // the common loser, without a copy
	}
	d.cull()
	added := false
	e := entry{v: clone(value), exp: expNano(exp)}
	d.s.c.Compute(key, func(old entry, found bool) (entry, otter.ComputeOp) {
		if found && old.live(d.s.clock) {
			return old, otter.CancelOp
		}
		added = true
		return e, otter.WriteOp
	})
	if added {
		d.bound()
	}
	return added, nil
}

// expired reports whether an expiry given to a write has passed, on the
// coarse clock (which never runs ahead of real time, so a live expiry is
// never taken for a passed one; one that passed a moment ago is stored and
// expires at once).
func (d *Driver) expired(exp time.Time) bool {
	return !exp.IsZero() && exp.UnixNano() <= d.s.clock.NowNano()
}

// present reports whether key holds a live entry, without counting as a
// use of it.
func (d *Driver) present(key string) bool {
	e, ok := d.s.c.GetEntryQuietly(key)
	return ok && e.Value.live(d.s.clock)
}

// bound evicts at once when a new key took the store past its bound.
// otter evicts in the background, so without it a burst of writes would
// leave the store over MaxEntries until that maintenance ran (Django's
// test_cull counts the entries right after the writes: 49 into a store of
// 30 left all 49). Evicting on the writer's goroutine at every insert into
// a full store made parallel churn four times slower, so a store may run
// over by MaxEntries/32 (none below 32 entries) before a writer steps in.
func (d *Driver) bound() {
	if d.s.c.EstimatedSize() > d.s.bounds.MaxEntries+d.s.bounds.MaxEntries/32 {
		d.s.c.CleanUp()
	}
}

// cull reproduces Django's CULL_FREQUENCY 0 (clear the store when it is
// full, before a write); otherwise otter evicts as entries arrive.
func (d *Driver) cull() {
	if d.s.bounds.ClearWhenFull && d.s.c.EstimatedSize() >= d.s.bounds.MaxEntries {
		d.s.c.InvalidateAll()
	}
}

// Touch implements driver.Driver.
func (d *Driver) Touch(_ context.Context, key string, exp time.Time) (bool, error) {
	if d.expired(exp) {
		old, found := d.s.c.Invalidate(key)
		return found && old.live(d.s.clock), nil
	}
	touched := false
	d.s.c.Compute(key, func(old entry, found bool) (entry, otter.ComputeOp) {
		if !found || !old.live(d.s.clock) {
			return old, otter.CancelOp
		}
		touched = true
		return entry{v: old.v, exp: expNano(exp)}, otter.WriteOp
	})
	return touched, nil
}

// Delete implements driver.Driver.
func (d *Driver) Delete(_ context.Context, key string) (bool, error) {
	old, found := d.s.c.Invalidate(key)
	return found && old.live(d.s.clock), nil
}

// DeleteMany implements driver.DeleteManyDriver.
func (d *Driver) DeleteMany(_ context.Context, keys []string) error {
	for _, k := range keys {
		d.s.c.Invalidate(k)
	}
	return nil
}

// Incr implements driver.Driver: the sum replaces the entry's bytes under
// otter's per-key lock, and the expiry is kept.
func (d *Driver) Incr(_ context.Context, key string, delta int64) (int64, error) {
	var (
		sum int64
		err = driver.ErrNotFound
	)
	d.s.c.Compute(key, func(old entry, found bool) (entry, otter.ComputeOp) {
		if !found || !old.live(d.s.clock) {
			return old, otter.CancelOp
		}
		var nv []byte
		if nv, sum, err = driver.AddInt(old.v, delta); err != nil {
			return old, otter.CancelOp
		}
		return entry{v: nv, exp: old.exp}, otter.WriteOp
	})
	return sum, err
}

// Clear implements driver.Driver: it empties the store, for every Driver
// that shares it.
func (d *Driver) Clear(context.Context, driver.Scope) error {
	d.s.c.InvalidateAll()
	return nil
}

// Close implements driver.Driver. A named store outlives its Drivers, as
// in Django (close() is a no-op there), and Close releases nothing; a
// private store (NewPrivate) is emptied and its background work stopped.
func (d *Driver) Close() error {
	if d.s.private {
		d.s.c.InvalidateAll()
		d.s.c.StopAllGoroutines()
	}
	return nil
}

func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
