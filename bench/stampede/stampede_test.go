package main

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

// The cost of GetOrSet's hot-key paths on a hit, against a plain Get hit,
// on locmem (no network, so the layer itself shows). See ../stampede.md.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./stampede

func openBench(b *testing.B, name string) *djcache.Cache {
	c, err := djcache.Open("locmem://stampede-bench-"+name, &djcache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// benchBoth runs op serially and under RunParallel.
func benchBoth(b *testing.B, op func(ctx context.Context, dst *string) error) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		var s string
		b.ReportAllocs()
		for b.Loop() {
			if err := op(ctx, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var s string
			for pb.Next() {
				if err := op(ctx, &s); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var benchValue = value(1, 1, 1) // 64 bytes, as in the load runs

func fillValue(context.Context) (any, error) { return benchValue, nil }

// BenchmarkGetHit is the baseline: Get of a stored 64-byte string.
func BenchmarkGetHit(b *testing.B) {
	c := openBench(b, "get")
	if err := c.Set(context.Background(), "k", benchValue, djcache.Forever); err != nil {
		b.Fatal(err)
	}
	benchBoth(b, func(ctx context.Context, s *string) error {
		_, err := c.Get(ctx, "k", s)
		return err
	})
}

// benchGetOrSetHit fills "k" once with opts, then measures hits.
func benchGetOrSetHit(b *testing.B, name string, opts ...djcache.Option) {
	c := openBench(b, name)
	var s string
	if err := c.GetOrSet(context.Background(), "k", &s, fillValue, opts...); err != nil {
		b.Fatal(err)
	}
	benchBoth(b, func(ctx context.Context, s *string) error {
		return c.GetOrSet(ctx, "k", s, fillValue, opts...)
	})
}

// BenchmarkGetOrSetHit: no hot-key options (the plain fast path).
func BenchmarkGetOrSetHit(b *testing.B) {
	benchGetOrSetHit(b, "gos", djcache.Timeout(time.Hour))
}

// BenchmarkGetOrSetStaleHit: Stale(30s), a fresh entry (with metadata).
func BenchmarkGetOrSetStaleHit(b *testing.B) {
	benchGetOrSetHit(b, "gos-stale", djcache.Timeout(time.Hour), djcache.Stale(30*time.Second))
}

// BenchmarkGetOrSetFillLockHit: FillLock(2s) on a hit (the hot path, no
// metadata).
func BenchmarkGetOrSetFillLockHit(b *testing.B) {
	benchGetOrSetHit(b, "gos-lock", djcache.Timeout(time.Hour), djcache.FillLock(2*time.Second))
}

// BenchmarkGetOrSetStaleServed: a stale entry served while its refresh may
// not run (it failed, and RetryAfter is an hour): the cost of serving
// stale, with the per-key retry check.
func BenchmarkGetOrSetStaleServed(b *testing.B) {
	c := openBench(b, "gos-stale-served")
	ctx := context.Background()
	opts := []djcache.Option{djcache.Timeout(time.Millisecond), djcache.Stale(time.Hour), djcache.RetryAfter(time.Hour)}
	var s string
	if err := c.GetOrSet(ctx, "k", &s, fillValue, opts...); err != nil {
		b.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // stale now
	failing := func(context.Context) (any, error) { return nil, errors.New("down") }
	if err := c.GetOrSet(ctx, "k", &s, failing, opts...); err != nil {
		b.Fatal(err)
	}
	for c.Stats().RefreshErrors == 0 { // the failed refresh is recorded
		time.Sleep(time.Millisecond)
	}
	benchBoth(b, func(ctx context.Context, s *string) error {
		return c.GetOrSet(ctx, "k", s, failing, opts...)
	})
}
