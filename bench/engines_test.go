package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/maypok86/otter/v2"
	gocache "github.com/patrickmn/go-cache"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
)

// entryTTL is the lifetime every engine gives each entry: Django's default
// timeout. All engines run with per-entry expiry switched on, as locmem
// needs it (golang-lru's expirable LRU has one TTL for the whole cache).
const entryTTL = 300 * time.Second

var benchCtx = context.Background()

// engine is what the benchmarks need of a cache. Set, len and close may be
// called from any goroutine; a getter belongs to one goroutine.
type engine[V any] interface {
	getter() getter[V]
	set(key string, v V)
	// len is the number of entries held (otter's and ristretto's
	// estimates).
	len() int
	// settle waits until earlier sets are visible (ristretto applies them
	// asynchronously); a no-op elsewhere.
	settle()
	// close releases what can be released. locmem stores live as long as
	// the process (as in Django), so close only empties them.
	close()
}

type getter[V any] interface {
	get(key string) (V, bool)
}

// maker builds one kind of engine with room for capacity entries.
type maker[V any] struct {
	name string
	new  func(capacity int) engine[V]
}

// speedMakers are the engines of the speed and memory benchmarks.
// withDriver adds locmemdrv, the locmem driver without package djcache's
// layer (keys are used as made keys, values as encoded bytes), to show
// where locmem's time goes; it exists for []byte values only.
func speedMakers[V any](withDriver bool) []maker[V] {
	ms := []maker[V]{
		{"locmem", newLocmem[V]},
	}
	if withDriver {
		if f, ok := any(newLocmemDriver).(func(int) engine[V]); ok {
			ms = append(ms, maker[V]{"locmemdrv", f})
		}
	}
	return append(ms,
		maker[V]{"otter", newOtter[V]},
		maker[V]{"gocache", newGoCache[V]},
		maker[V]{"ristretto", newRistretto[V]},
		maker[V]{"golru", newGoLRU[V]},
		maker[V]{"handmade", func(n int) engine[V] { return newHandmade[V](n, 16) }},
	)
}

// hitMakers are the engines of the hit-ratio benchmarks: the bounded ones
// (go-cache never evicts), and the hand-written engine with one shard, so
// that its policy is exactly Django's.
func hitMakers[V any]() []maker[V] {
	return []maker[V]{
		{"locmem", newLocmem[V]},
		{"otter", newOtter[V]},
		{"ristretto", newRistretto[V]},
		{"golru", newGoLRU[V]},
		{"handmade", func(n int) engine[V] { return newHandmade[V](n, 1) }},
	}
}

// locmem, through djcache.Open and the portable *djcache.Cache.

var storeSeq atomic.Int64

type locmemEngine[V any] struct{ c *djcache.Cache }

// Every engine gets a store of its own: stores are shared per name.
func newLocmem[V any](capacity int) engine[V] {
	url := fmt.Sprintf("locmem://bench-%d?max_entries=%d", storeSeq.Add(1), capacity)
	c, err := djcache.Open(url)
	if err != nil {
		panic(err)
	}
	return &locmemEngine[V]{c: c}
}

func (e *locmemEngine[V]) getter() getter[V] { return &locmemGetter[V]{c: e.c} }

func (e *locmemEngine[V]) set(key string, v V) {
	if err := e.c.Set(benchCtx, key, v); err != nil {
		panic(err)
	}
}

func (e *locmemEngine[V]) settle() {}

func (e *locmemEngine[V]) len() int { return e.c.Driver().(*locmem.Driver).Len() }

func (e *locmemEngine[V]) close() {
	e.c.Clear(benchCtx)
	e.c.Close()
}

// locmemGetter decodes into a dst variable of its own, reused by every Get.
type locmemGetter[V any] struct {
	c   *djcache.Cache
	dst V
}

func (g *locmemGetter[V]) get(key string) (V, bool) {
	found, err := g.c.Get(benchCtx, key, &g.dst)
	if err != nil {
		panic(err)
	}
	return g.dst, found
}

// locmemdrv: the locmem driver alone.

type locmemDriverEngine struct{ d *locmem.Driver }

func newLocmemDriver(capacity int) engine[[]byte] {
	d, err := locmem.New(fmt.Sprintf("benchdrv-%d", storeSeq.Add(1)), &locmem.Options{MaxEntries: capacity})
	if err != nil {
		panic(err)
	}
	return locmemDriverEngine{d}
}

func (e locmemDriverEngine) getter() getter[[]byte] { return e }
func (e locmemDriverEngine) get(key string) ([]byte, bool) {
	v, found, err := e.d.Get(benchCtx, key)
	if err != nil {
		panic(err)
	}
	return v, found
}
func (e locmemDriverEngine) set(key string, v []byte) {
	if err := e.d.Set(benchCtx, key, v, time.Now().Add(entryTTL)); err != nil {
		panic(err)
	}
}
func (e locmemDriverEngine) settle()  {}
func (e locmemDriverEngine) len() int { return e.d.Len() }
func (e locmemDriverEngine) close() {
	c, err := djcache.New(e.d, nil) // Clear through the portable type: Clear(benchCtx) empties the store
	if err != nil {
		panic(err)
	}
	c.Clear(benchCtx)
}

// otter v2, with a per-entry expiry calculator as locmem uses.

type otterEngine[V any] struct{ c *otter.Cache[string, V] }

func newOtter[V any](capacity int) engine[V] {
	return otterEngine[V]{otter.Must(&otter.Options[string, V]{
		MaximumSize:      capacity,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(otter.Entry[string, V]) time.Duration { return entryTTL }),
	})}
}

func (e otterEngine[V]) getter() getter[V]        { return e }
func (e otterEngine[V]) get(key string) (V, bool) { return e.c.GetIfPresent(key) }
func (e otterEngine[V]) set(key string, v V)      { e.c.Set(key, v) }
func (e otterEngine[V]) settle()                  {}
func (e otterEngine[V]) len() int                 { return e.c.EstimatedSize() }
func (e otterEngine[V]) close() {
	e.c.InvalidateAll()
	e.c.StopAllGoroutines()
}

// patrickmn/go-cache: unbounded (capacity is ignored), per-entry expiry.

type goCacheEngine[V any] struct{ c *gocache.Cache }

func newGoCache[V any](int) engine[V] {
	return goCacheEngine[V]{gocache.New(entryTTL, 10*time.Minute)}
}

func (e goCacheEngine[V]) getter() getter[V] { return e }
func (e goCacheEngine[V]) get(key string) (V, bool) {
	x, ok := e.c.Get(key)
	if !ok {
		var zero V
		return zero, false
	}
	return x.(V), true
}
func (e goCacheEngine[V]) set(key string, v V) { e.c.Set(key, v, gocache.DefaultExpiration) }
func (e goCacheEngine[V]) settle()             {}
func (e goCacheEngine[V]) len() int            { return e.c.ItemCount() }
func (e goCacheEngine[V]) close()              { e.c.Flush() }

// ristretto v2: cost 1 per entry, MaxCost = capacity, the 10x counters its
// documentation recommends, per-entry TTL.

type ristrettoEngine[V any] struct{ c *ristretto.Cache[string, V] }

func newRistretto[V any](capacity int) engine[V] {
	c, err := ristretto.NewCache(&ristretto.Config[string, V]{
		NumCounters:        int64(capacity) * 10,
		MaxCost:            int64(capacity),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		panic(err)
	}
	return ristrettoEngine[V]{c}
}

func (e ristrettoEngine[V]) getter() getter[V]        { return e }
func (e ristrettoEngine[V]) get(key string) (V, bool) { return e.c.Get(key) }
func (e ristrettoEngine[V]) set(key string, v V)      { e.c.SetWithTTL(key, v, 1, entryTTL) }
func (e ristrettoEngine[V]) settle()                  { e.c.Wait() }
func (e ristrettoEngine[V]) len() int                 { return int(e.c.MaxCost() - e.c.RemainingCost()) } // cost 1 per entry
func (e ristrettoEngine[V]) close()                   { e.c.Close() }

// hashicorp/golang-lru v2, the expirable LRU (one lock, one TTL for the
// whole cache). Its clean-up goroutine never exits, so close purges it.

type goLRUEngine[V any] struct{ c *expirable.LRU[string, V] }

func newGoLRU[V any](capacity int) engine[V] {
	return goLRUEngine[V]{expirable.NewLRU[string, V](capacity, nil, entryTTL)}
}

func (e goLRUEngine[V]) getter() getter[V]        { return e }
func (e goLRUEngine[V]) get(key string) (V, bool) { return e.c.Get(key) }
func (e goLRUEngine[V]) set(key string, v V)      { e.c.Add(key, v) }
func (e goLRUEngine[V]) settle()                  {}
func (e goLRUEngine[V]) len() int                 { return e.c.Len() }
func (e goLRUEngine[V]) close()                   { e.c.Purge() }

// handmade: ShardedLRU, Django's policy.

type handmadeEngine[V any] struct{ c *ShardedLRU[V] }

func newHandmade[V any](capacity, shards int) engine[V] {
	return handmadeEngine[V]{NewShardedLRU[V](capacity, shards, 3)}
}

func (e handmadeEngine[V]) getter() getter[V]        { return e }
func (e handmadeEngine[V]) get(key string) (V, bool) { return e.c.Get(key) }
func (e handmadeEngine[V]) set(key string, v V)      { e.c.Set(key, v, entryTTL) }
func (e handmadeEngine[V]) settle()                  {}
func (e handmadeEngine[V]) len() int                 { return e.c.Len() }
func (e handmadeEngine[V]) close()                   {}
