package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// Profile is the small struct value of the benchmarks.
type Profile struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
}

// The serial benchmarks use a warm cache of capacity serialCapacity
// holding serialKeys keys, so nothing is evicted.
const (
	serialKeys     = 1024 // a power of two
	serialCapacity = 32768
)

func serialKeyset() []string {
	keys := make([]string, serialKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%08d", i)
	}
	return keys
}

func bytes64(i int) []byte {
	v := make([]byte, 64)
	for j := range v {
		v[j] = byte(i + j)
	}
	return v
}

func newProfile(i int) Profile {
	return Profile{ID: int64(i), Name: fmt.Sprintf("user-%06d", i), Score: float64(i) * 1.5, Tags: []string{"go", "django", "cache"}}
}

// fillEngine stores keys[i] = val(i) and checks that every key reads back (a
// ristretto set may be dropped: it is tried again).
func fillEngine[V any](b *testing.B, e engine[V], keys []string, val func(int) V) []V {
	vals := make([]V, len(keys))
	for i, k := range keys {
		vals[i] = val(i)
		e.set(k, vals[i])
	}
	e.settle()
	g := e.getter()
	for try := 0; ; try++ {
		missing := 0
		for i, k := range keys {
			if _, ok := g.get(k); !ok {
				missing++
				e.set(k, vals[i])
			}
		}
		e.settle()
		if missing == 0 {
			return vals
		}
		if try == 3 {
			b.Fatalf("%d of %d keys do not read back after fill", missing, len(keys))
		}
	}
}

// BenchmarkGetHit: a serial Get of a present key. locmem decodes into a
// reused dst variable, so its one allocation is the copy of the value.
func BenchmarkGetHit(b *testing.B) {
	b.Run("value=bytes64", func(b *testing.B) { benchGetHit(b, speedMakers[[]byte](true), bytes64) })
	b.Run("value=struct", func(b *testing.B) { benchGetHit(b, speedMakers[Profile](false), newProfile) })
}

func benchGetHit[V any](b *testing.B, makers []maker[V], val func(int) V) {
	for _, m := range makers {
		b.Run("engine="+m.name, func(b *testing.B) {
			e := m.new(serialCapacity)
			defer e.close()
			keys := serialKeyset()
			fillEngine(b, e, keys, val)
			g := e.getter()
			b.ReportAllocs()
			b.ResetTimer()
			miss := 0
			for i := 0; i < b.N; i++ {
				if _, ok := g.get(keys[i&(serialKeys-1)]); !ok {
					miss++
				}
			}
			b.StopTimer()
			if miss > 0 {
				b.Fatalf("%d misses in %d gets of present keys", miss, b.N)
			}
		})
	}
}

// BenchmarkSet: a serial Set that replaces the value of a present key.
func BenchmarkSet(b *testing.B) {
	b.Run("value=bytes64", func(b *testing.B) { benchSet(b, speedMakers[[]byte](true), bytes64) })
	b.Run("value=struct", func(b *testing.B) { benchSet(b, speedMakers[Profile](false), newProfile) })
}

func benchSet[V any](b *testing.B, makers []maker[V], val func(int) V) {
	for _, m := range makers {
		b.Run("engine="+m.name, func(b *testing.B) {
			e := m.new(serialCapacity)
			defer e.close()
			keys := serialKeyset()
			vals := fillEngine(b, e, keys, val)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i & (serialKeys - 1)
				e.set(keys[j], vals[j])
			}
			b.StopTimer()
			e.settle()
		})
	}
}

// The throughput benchmark: a full cache of zipfKeys keys (and as much
// capacity), read and written by b.RunParallel goroutines along a fixed
// Zipf stream.
const (
	zipfKeys   = 32768
	zipfStream = 1 << 20 // requests in the precomputed stream (a power of two)
	zipfS      = 1.01    // Zipf exponent (math/rand/v2 needs s > 1)
)

var zipfData = sync.OnceValues(func() ([]string, []uint32) {
	keys := make([]string, zipfKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%08d", i)
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), zipfS, 1, zipfKeys-1)
	stream := make([]uint32, zipfStream)
	for i := range stream {
		stream[i] = uint32(z.Uint64())
	}
	return keys, stream
})

// BenchmarkThroughput: 100%, 75% and 25% Gets (the rest Sets of a 64-byte
// value) from GOMAXPROCS goroutines; run it with -cpu 1,2. ns/op is wall
// time per operation over all goroutines; Mops/s is its inverse.
func BenchmarkThroughput(b *testing.B) {
	for _, reads := range []int{100, 75, 25} {
		b.Run(fmt.Sprintf("reads=%d", reads), func(b *testing.B) {
			for _, m := range speedMakers[[]byte](false) {
				b.Run("engine="+m.name, func(b *testing.B) { benchThroughput(b, m, reads) })
			}
		})
	}
}

func benchThroughput(b *testing.B, m maker[[]byte], reads int) {
	keys, stream := zipfData()
	e := m.new(zipfKeys)
	defer e.close()
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = bytes64(i)
		e.set(k, vals[i])
	}
	e.settle()
	var seed sync.Mutex
	r := rand.New(rand.NewPCG(3, 4))
	readsOf4 := reads / 25 // of every 4 operations, this many are Gets
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		seed.Lock()
		i := r.Uint32() // each goroutine starts elsewhere in the stream
		seed.Unlock()
		g := e.getter()
		for pb.Next() {
			k := stream[i&(zipfStream-1)]
			if int(i&3) < readsOf4 {
				g.get(keys[k])
			} else {
				e.set(keys[k], vals[k])
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mops/s")
}

// BenchmarkBytesPerEntry: heap growth (after GC) of a cache of capacity
// memEntries filled with memEntries fresh keys and fresh 64-byte values,
// divided by the entries it kept. Keys, values and the cache's fixed
// structures are all counted. ns/op is the time to build and fill it.
func BenchmarkBytesPerEntry(b *testing.B) {
	for _, m := range speedMakers[[]byte](false) {
		b.Run("engine="+m.name, func(b *testing.B) {
			const n = memEntries
			var perEntry, kept float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				e := m.new(n)
				for j := 0; j < n; j++ {
					e.set(memKey(j), bytes64(j))
					if j%1024 == 1023 {
						e.settle() // ristretto would drop sets its buffers cannot take
					}
				}
				e.settle()
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				live := 0
				g := e.getter()
				for j := 0; j < n; j++ {
					if _, ok := g.get(memKey(j)); ok {
						live++
					}
				}
				perEntry = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(live)
				kept = float64(live) / n * 100
				e.close()
				b.StartTimer()
			}
			b.ReportMetric(perEntry, "B/entry")
			b.ReportMetric(kept, "kept%")
		})
	}
}

const memEntries = 100_000

func memKey(i int) string { return "user:" + strconv.Itoa(i) }
