package redis

import (
	"context"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/tiered"
)

// tieredHarness makes tiers (package tiered) over one namespace. Each
// driver has its own L1, and they share one group: Redis has no
// invalidation channel in this step (CLIENT TRACKING comes next), so two
// tiers outside a group see each other's writes only when their L1 entries
// expire, which the kit, reading at once through one Cache what it wrote
// through another, would take for stale reads. The group makes them share
// invalidations, as the Caches of one URL in one process do;
// TestTieredBoundedStaleness covers tiers outside a group.
type tieredHarness struct {
	harness
}

func (h *tieredHarness) MakeDriver(ctx context.Context) (driver.Driver, error) {
	l2, err := h.harness.MakeDriver(ctx)
	if err != nil {
		return nil, err
	}
	return tiered.NewDriver(nil, l2, &tiered.Options{MaxEntries: 1000, Group: h.ns})
}

func TestTieredConformance(t *testing.T) {
	t.Parallel()
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &tieredHarness{harness{c: singleClient(t), ns: uniqueName("tiered")}}, nil
	}, nil)
}

func TestTieredConformanceCluster(t *testing.T) {
	t.Parallel()
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &tieredHarness{harness{c: clusterClient(t), ns: uniqueName("tiered")}}, nil
	}, nil)
}

// TestTieredBoundedStaleness: two tiers over one namespace, outside a
// group, as two processes: B serves its L1 entry after A's write, but
// never for longer than local_timeout.
func TestTieredBoundedStaleness(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	h := &harness{c: singleClient(t), ns: uniqueName("tiered-bounded")}
	t.Cleanup(h.Close)
	const localTimeout = 300 * time.Millisecond
	open := func() (*djcache.Cache, *tiered.Driver) {
		d, err := tiered.NewDriver(nil, New(h.c, &Options{Namespace: h.ns}), &tiered.Options{Timeout: localTimeout})
		if err != nil {
			t.Fatal(err)
		}
		c, err := djcache.New(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, tiered.Of(d)
	}
	a, _ := open()
	b, tb := open()
	get := func(c *djcache.Cache) string {
		v, found, err := djcache.Get[string](ctx, c, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			return "<miss>"
		}
		return v
	}
	for round, want := range []string{"v1", "v2", "v3"} {
		if err := a.Set(ctx, "k", want); err != nil {
			t.Fatal(err)
		}
		// A reads its own write at once, whatever its L1 held.
		if got := get(a); got != want {
			t.Fatalf("round %d: A read %q right after writing %q", round, got, want)
		}
		// Once local_timeout has passed since the write, B sees it: its L1
		// entry, filled before the write, has expired by then.
		time.Sleep(localTimeout + 50*time.Millisecond)
		if got := get(b); got != want {
			t.Fatalf("round %d: B read %q more than local_timeout after A wrote %q", round, got, want)
		}
		if _, found, _ := tb.L1().Get(ctx, ":1:k"); !found {
			t.Fatalf("round %d: B's L1 does not hold k after B read it", round)
		}
		if tb.Watching() {
			t.Fatal("B reports a channel, and Redis has none in this step")
		}
	}
}
