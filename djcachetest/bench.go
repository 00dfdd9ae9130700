package djcachetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/djcache/djcache"
)

// RunBenchmarks runs the standard benchmarks against c: Get of a hit and of
// a miss, Set, GetMany of 100 keys, Incr, and Get from parallel goroutines.
// It writes keys starting with "djcachetest-bench:" and does not close c.
// Compare backends, or versions of one, with benchstat.
func RunBenchmarks(b *testing.B, c *djcache.Cache) {
	ctx := context.Background()
	const prefix = "djcachetest-bench:"
	value := "a short value of about forty bytes......."
	keys := make([]string, 100)
	items := make(map[string]any, len(keys))
	for i := range keys {
		keys[i] = prefix + "k" + strconv.Itoa(i)
		items[keys[i]] = value
	}
	if _, err := c.SetMany(ctx, items, djcache.Forever); err != nil {
		b.Fatalf("SetMany: %v", err)
	}
	if err := c.Set(ctx, prefix+"counter", 0, djcache.Forever); err != nil {
		b.Fatalf("Set: %v", err)
	}

	b.Run("Get/hit", func(b *testing.B) {
		b.ReportAllocs()
		var s string
		for b.Loop() {
			if _, err := c.Get(ctx, keys[0], &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get/miss", func(b *testing.B) {
		b.ReportAllocs()
		var s string
		for b.Loop() {
			if _, err := c.Get(ctx, prefix+"missing", &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Set(ctx, prefix+"set", value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetMany/100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := djcache.GetMany[string](ctx, c, keys)
			if err != nil {
				b.Fatal(err)
			}
			if len(m) != len(keys) {
				b.Fatalf("GetMany found %d of %d keys", len(m), len(keys))
			}
		}
	})
	b.Run("Incr", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Incr(ctx, prefix+"counter", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get/parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(1))
			var s string
			for pb.Next() {
				if _, err := c.Get(ctx, keys[i%len(keys)], &s); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
