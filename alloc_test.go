//go:build !race

// The race detector makes sync.Pool drop items at random, which changes
// allocation counts; this test runs in the plain (non -race) run.

package djcache_test

import (
	"context"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
)

// TestAllocations pins the allocation budget of the hot paths on locmem: a
// call without options allocates nothing for them, a per-call option costs
// nothing either, and a Get hit allocates only what dst needs.
func TestAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	d, err := locmem.New(t.Name(), &locmem.Options{MaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := djcache.New(d, nil)
	ctx := context.Background()
	c.Set(ctx, "n", 42)
	c.Set(ctx, "b", make([]byte, 64))

	var n int
	var b []byte
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		{"Get hit into *int", 0, func() { c.Get(ctx, "n", &n) }},
		{"Get hit into *int with Version", 0, func() { c.Get(ctx, "n", &n, djcache.Version(1)) }},
		{"Get hit into *[]byte (reuses the slice)", 0, func() { c.Get(ctx, "b", &b) }},
		{"Get miss", 0, func() { c.Get(ctx, "missing", &n) }},
		{"Has", 1, func() { c.Has(ctx, "n") }}, // the made key
	} {
		if got := testing.AllocsPerRun(200, tc.f); got > tc.max {
			t.Errorf("%s: %v allocations per call, want at most %v", tc.name, got, tc.max)
		}
	}
	// An attached Observer costs no allocation either: the Event is a value.
	od, err := locmem.New(t.Name()+"-observed", &locmem.Options{MaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	oc, _ := djcache.New(od, &djcache.Options{Observer: &nopObserver{}})
	oc.Set(ctx, "n", 42)
	if got := testing.AllocsPerRun(200, func() { oc.Get(ctx, "n", &n) }); got > 0 {
		t.Errorf("Get hit into *int with an Observer: %v allocations per call, want 0", got)
	}
	// Options are values: the same call with and without one allocates the same.
	plain := testing.AllocsPerRun(200, func() { c.Set(ctx, "k", 1) })
	withOpt := testing.AllocsPerRun(200, func() { c.Set(ctx, "k", 1, djcache.Timeout(time.Minute)) })
	if withOpt != plain {
		t.Errorf("Set allocates %v times with a Timeout option and %v without", withOpt, plain)
	}
}
