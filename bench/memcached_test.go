package bench

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/internal/testenv"
)

// The memcached benchmarks put djcache and raw gomemcache side by side on
// the same client (one connection pool) and the same keys: each
// sub-benchmark "X/djcache" has an "X/gomemcache" twin that sends the same
// commands directly. The ratio of the two is djcache's overhead per call
// (target: at most 1.05). See memcached.md.

const memcachedHowTo = "run .ci/services as root to start memcached on 127.0.0.1:11211 and 127.0.0.1:11212"

const memcachedBenchValue = "a short value of about forty bytes......."

func BenchmarkMemcached(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11211", memcachedHowTo)
		benchMemcached(b, []string{"127.0.0.1:11211"})
	})
	b.Run("two", func(b *testing.B) {
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11211", memcachedHowTo)
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11212", memcachedHowTo)
		benchMemcached(b, []string{"127.0.0.1:11211", "127.0.0.1:11212"})
	})
}

// BenchmarkMemcachedKit runs the conformance kit's standard benchmarks on
// one server, for comparison with the other backends.
func BenchmarkMemcachedKit(b *testing.B) {
	testenv.NeedTCP(b, "memcached", "127.0.0.1:11211", memcachedHowTo)
	d, err := memcached.New([]string{"127.0.0.1:11211"}, &memcached.Options{Namespace: benchPrefix() + "."})
	if err != nil {
		b.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(context.Background())
	djcachetest.RunBenchmarks(b, c)
}

// BenchmarkMemcachedPaired measures the same pairs as BenchmarkMemcached,
// but alternates one djcache call and one gomemcache call in every
// iteration (in both orders) and reports each side's median time and their
// ratio. On a shared, busy machine the load drifts by more than the 5%
// being measured between two separate benchmarks; alternating cancels the
// drift.
func BenchmarkMemcachedPaired(b *testing.B) {
	b.Run("one", func(b *testing.B) {
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11211", memcachedHowTo)
		benchMemcachedPaired(b, []string{"127.0.0.1:11211"})
	})
	b.Run("two", func(b *testing.B) {
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11211", memcachedHowTo)
		testenv.NeedTCP(b, "memcached", "127.0.0.1:11212", memcachedHowTo)
		benchMemcachedPaired(b, []string{"127.0.0.1:11211", "127.0.0.1:11212"})
	})
}

// memcachedFixture is a Cache in a namespace of its own with 100 keys and
// a counter, and the gomemcache client under it.
type memcachedFixture struct {
	c        *djcache.Cache
	d        *memcached.Driver
	mc       *memcache.Client
	keys     []string // the caller's keys
	wireKeys []string // the same keys as memcached sees them
}

func newMemcachedFixture(b *testing.B, servers []string) *memcachedFixture {
	ctx := context.Background()
	d, err := memcached.New(servers, &memcached.Options{Namespace: benchPrefix() + "."})
	if err != nil {
		b.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Clear(ctx)
		c.Close()
	})
	f := &memcachedFixture{c: c, d: d, mc: d.Client(), keys: make([]string, 100), wireKeys: make([]string, 100)}
	items := make(map[string]any, len(f.keys))
	for i := range f.keys {
		f.keys[i] = "k" + strconv.Itoa(i)
		f.wireKeys[i] = f.wire(f.keys[i])
		items[f.keys[i]] = memcachedBenchValue
	}
	if _, err := c.SetMany(ctx, items, djcache.Timeout(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if err := c.Set(ctx, "counter", 0, djcache.Forever); err != nil {
		b.Fatal(err)
	}
	return f
}

func (f *memcachedFixture) wire(k string) string {
	return f.d.Namespace() + djcache.DefaultKeyFunc(k, "", 1)
}

// memcachedPairNames are the pairs, in the order they run.
var memcachedPairNames = []string{"Get", "Get-cancelable-ctx", "Get-deadline-1s", "Set", "Incr", "GetMany100"}

// The calls of each pair, djcache's first.
func (f *memcachedFixture) pairs(b *testing.B) map[string][2]func() {
	ctx := context.Background()
	setKey, counterKey := f.wire("set"), f.wire("counter")
	// A context that can be cancelled, as a request's (djcache checks it
	// before the call), and one whose deadline is near enough for djcache
	// to run the call in a goroutine so as to return when it passes.
	cctx, cancel := context.WithCancel(ctx)
	b.Cleanup(cancel)
	dctx, dcancel := context.WithTimeout(ctx, time.Hour)
	b.Cleanup(dcancel)
	d1s := func() (context.Context, context.CancelFunc) { return context.WithTimeout(dctx, time.Second) }
	return map[string][2]func(){
		"Get-deadline-1s": {
			func() {
				ctx, cancel := d1s()
				defer cancel()
				var s string
				if found, err := f.c.Get(ctx, f.keys[0], &s); err != nil || !found {
					b.Fatal(found, err)
				}
			},
			func() {
				_, cancel := d1s() // the same context work, for a fair pair
				defer cancel()
				it, err := f.mc.Get(f.wireKeys[0])
				if err != nil {
					b.Fatal(err)
				}
				_ = string(it.Value)
			},
		},
		"Get-cancelable-ctx": {
			func() {
				var s string
				if found, err := f.c.Get(cctx, f.keys[0], &s); err != nil || !found {
					b.Fatal(found, err)
				}
			},
			func() {
				it, err := f.mc.Get(f.wireKeys[0])
				if err != nil {
					b.Fatal(err)
				}
				_ = string(it.Value)
			},
		},
		"Get": {
			func() {
				var s string
				if found, err := f.c.Get(ctx, f.keys[0], &s); err != nil || !found {
					b.Fatal(found, err)
				}
			},
			func() {
				it, err := f.mc.Get(f.wireKeys[0])
				if err != nil {
					b.Fatal(err)
				}
				_ = string(it.Value)
			},
		},
		"Set": {
			func() {
				if err := f.c.Set(ctx, "set", memcachedBenchValue); err != nil {
					b.Fatal(err)
				}
			},
			func() {
				if err := f.mc.Set(&memcache.Item{Key: setKey, Value: []byte(memcachedBenchValue), Flags: memcached.FlagText, Expiration: 300}); err != nil {
					b.Fatal(err)
				}
			},
		},
		"Incr": {
			func() {
				if _, err := f.c.Incr(ctx, "counter", 1); err != nil {
					b.Fatal(err)
				}
			},
			func() {
				if _, err := f.mc.Increment(counterKey, 1); err != nil {
					b.Fatal(err)
				}
			},
		},
		"GetMany100": {
			func() {
				m, err := djcache.GetMany[string](ctx, f.c, f.keys)
				if err != nil || len(m) != len(f.keys) {
					b.Fatal(len(m), err)
				}
			},
			func() {
				items, err := f.mc.GetMulti(f.wireKeys)
				if err != nil || len(items) != len(f.wireKeys) {
					b.Fatal(len(items), err)
				}
				// The same result djcache gives: strings under the caller's keys.
				m := make(map[string]string, len(items))
				for i, k := range f.wireKeys {
					if it, ok := items[k]; ok {
						m[f.keys[i]] = string(it.Value)
					}
				}
			},
		},
	}
}

func benchMemcachedPaired(b *testing.B, servers []string) {
	f := newMemcachedFixture(b, servers)
	pairs := f.pairs(b)
	for _, name := range memcachedPairNames {
		dj, raw := pairs[name][0], pairs[name][1]
		b.Run(name, func(b *testing.B) {
			tdj := make([]time.Duration, 0, 1024)
			traw := make([]time.Duration, 0, 1024)
			odd := false
			for b.Loop() {
				first, second := dj, raw
				if odd {
					first, second = raw, dj
				}
				t0 := time.Now()
				first()
				t1 := time.Now()
				second()
				t2 := time.Now()
				if odd {
					traw, tdj = append(traw, t1.Sub(t0)), append(tdj, t2.Sub(t1))
				} else {
					tdj, traw = append(tdj, t1.Sub(t0)), append(traw, t2.Sub(t1))
				}
				odd = !odd
			}
			// Medians: a busy machine adds rare pauses of milliseconds
			// that swamp a mean.
			mdj, mraw := memcachedMedian(tdj), memcachedMedian(traw)
			b.ReportMetric(float64(mdj.Nanoseconds()), "djcache-median-ns")
			b.ReportMetric(float64(mraw.Nanoseconds()), "gomemcache-median-ns")
			b.ReportMetric(float64(mdj)/float64(mraw), "ratio")
		})
	}
}

func memcachedMedian(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchMemcached runs each pair as two ordinary benchmarks, X/djcache and
// X/gomemcache, for benchstat.
func benchMemcached(b *testing.B, servers []string) {
	f := newMemcachedFixture(b, servers)
	pairs := f.pairs(b)
	for _, name := range memcachedPairNames {
		for i, side := range []string{"djcache", "gomemcache"} {
			call := pairs[name][i]
			b.Run(name+"/"+side, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					call()
				}
			})
		}
	}
}
