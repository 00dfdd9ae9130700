// Regression tests for races in hotkeys.go that the stampede measurements
// (bench/stampede.md) found; each failed before its fix.
package djcache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

// TestHotRegressionEarlyRefreshWithoutStale: EarlyRefresh without Stale stores
// the entry's fresh end as 0 ("never stale", runFill), and xfetch then
// compares now against time.Time{}.UnixNano() (about -6.8e18), so every
// hit starts a refresh: an entry with an hour to live is refilled on
// every read instead of about never.
func TestHotRegressionEarlyRefreshWithoutStale(t *testing.T) {
	c, err := djcache.Open("locmem://" + uniqueStore("early"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	var fills atomic.Int64
	fill := func(context.Context) (any, error) {
		fills.Add(1)
		time.Sleep(time.Millisecond) // delta = 1 ms
		return "v", nil
	}
	opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1)}
	for range 20 {
		var s string
		if err := c.GetOrSet(ctx, "k", &s, fill, opts...); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // let a refresh, if any, finish
	}
	// P(early refresh) = exp(-1h/1ms) per read: 0 in practice.
	if n := fills.Load(); n != 1 {
		t.Errorf("EarlyRefresh(1), 1 h before expiry, 20 reads: %d fills, want 1 (Stats %+v)", n, c.Stats())
	}
}

// TestHotRegressionEarlyRefreshesCountsJoiners: Stats().EarlyRefreshes is
// documented as "the refreshes started early by EarlyRefresh", but it
// grows for every call that finds a refresh already in flight and joins it
// (refreshLater returns a channel either way).
func TestHotRegressionEarlyRefreshesCountsJoiners(t *testing.T) {
	c, err := djcache.Open("locmem://" + uniqueStore("early-count"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	release := make(chan struct{})
	var fills atomic.Int64
	fill := func(context.Context) (any, error) {
		if fills.Add(1) > 1 {
			<-release // the refresh stays in flight
		}
		time.Sleep(time.Millisecond)
		return "v", nil
	}
	// Stale gives the entry a fresh end; a huge beta refreshes at once.
	opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.Stale(time.Hour), djcache.EarlyRefresh(1e18)}
	for range 10 {
		var s string
		if err := c.GetOrSet(ctx, "k", &s, fill, opts...); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	time.Sleep(50 * time.Millisecond)
	st := c.Stats()
	if st.EarlyRefreshes != uint64(fills.Load()-1) {
		t.Errorf("%d early refreshes ran, Stats().EarlyRefreshes = %d", fills.Load()-1, st.EarlyRefreshes)
	}
}

// heldGet is a driver whose Get, for a context carrying holdKey, reads the
// value and then waits for a signal before returning it: a caller that was
// slow between its read and the rest of GetOrSet.
type heldGet struct {
	driver.Driver
	read chan struct{} // closed when the held Get has read
	go_  chan struct{} // close to let it return
	once sync.Once     // only the first Get with holdKey is held
}

type holdKey struct{}

func (d *heldGet) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, found, err := d.Driver.Get(ctx, key)
	if ctx.Value(holdKey{}) != nil {
		d.once.Do(func() {
			close(d.read)
			<-d.go_
		})
	}
	return v, found, err
}

// TestHotRegressionStaleRefreshTwice: with Stale, a caller that read the stale
// entry just before the background refresh stored the new value, and
// reaches refreshLater just after that refresh's flight ended, starts a
// second refresh of an entry that is fresh again: the flight does not
// read the entry again before filling (fillLocked skips the re-read when
// refresh is true). With FillLock the second refresh takes the lock the
// first one released and fills too. Under load (32 goroutines, a 100 ms
// fill) this gave 1.2–1.5 fills per refresh in one process.
func TestHotRegressionStaleRefreshTwice(t *testing.T) {
	ld, err := locmem.New(uniqueStore("stale-twice"), nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &heldGet{Driver: ld, read: make(chan struct{}), go_: make(chan struct{})}
	c, err := djcache.New(drv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	var fills atomic.Int64
	release := make(chan struct{})
	fill := func(context.Context) (any, error) {
		if fills.Add(1) == 2 {
			<-release // the first refresh
		}
		return "v", nil
	}
	opts := []djcache.Option{djcache.Timeout(100 * time.Millisecond), djcache.Stale(time.Hour)}
	var s string
	if err := c.GetOrSet(ctx, "k", &s, fill, opts...); err != nil { // fill 1
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // stale now
	// A: reads the stale entry, starts refresh 1 (fill 2, held), returns.
	if err := c.GetOrSet(ctx, "k", &s, fill, opts...); err != nil {
		t.Fatal(err)
	}
	// B: reads the stale entry too, and is held right after its read.
	bDone := make(chan error, 1)
	go func() {
		var s string
		bDone <- c.GetOrSet(context.WithValue(ctx, holdKey{}, true), "k", &s, fill, opts...)
	}()
	<-drv.read
	// Refresh 1 ends and stores a fresh value; its flight ends.
	close(release)
	for c.Stats().Sets < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	// B goes on with the stale value it read.
	close(drv.go_)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := fills.Load(); n != 2 {
		t.Errorf("one expiry of the fresh life: %d fills, want 2 (the first fill and one refresh); Stats %+v", n, c.Stats())
	}
}

// TestHotRegressionPastFreshDeleteRace: since cc8ad79 a GetOrSet without Stale
// that finds an entry past its fresh end (still stored: a backend rounded
// its expiry up to a whole second, or a caller with Stale wrote it)
// deletes it unconditionally and fills. A second process that read the
// same old entry a moment earlier deletes the NEW value the first one
// has just stored, and fills again; FillLock does not prevent it (the
// lock was released, and the re-read under the lock finds the key
// deleted). Two Caches on one locmem store stand for two processes.
func TestHotRegressionPastFreshDeleteRace(t *testing.T) {
	name := uniqueStore("past-fresh")
	la, err := locmem.New(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := locmem.New(name, nil) // the same store
	if err != nil {
		t.Fatal(err)
	}
	a, err := djcache.New(la, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	drvB := &heldGet{Driver: lb, read: make(chan struct{}), go_: make(chan struct{})}
	b, err := djcache.New(drvB, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	var fills atomic.Int64
	fill := func(context.Context) (any, error) {
		fills.Add(1)
		return "v", nil
	}
	// An entry fresh for 50 ms and stored for an hour more (as a backend
	// that rounds expiries up, or a Stale writer, leaves it).
	var s string
	if err := a.GetOrSet(ctx, "k", &s, fill, djcache.Timeout(50*time.Millisecond), djcache.Stale(time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(80 * time.Millisecond) // past its fresh end
	opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1), djcache.FillLock(2 * time.Second)}
	// B reads the old entry and is held right after its read.
	bDone := make(chan error, 1)
	go func() {
		var s string
		bDone <- b.GetOrSet(context.WithValue(ctx, holdKey{}, true), "k", &s, fill, opts...)
	}()
	<-drvB.read
	// A: past fresh, so a miss: deletes, fills (fill 2) and stores a
	// value fresh for an hour.
	if err := a.GetOrSet(ctx, "k", &s, fill, opts...); err != nil {
		t.Fatal(err)
	}
	// B goes on with the old entry it read.
	close(drvB.go_)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if n := fills.Load(); n != 2 {
		t.Errorf("one expiry, two processes with FillLock: %d fills, want 2 (the first and one refill)", n)
	}
}

// uniqueStore names a locmem store no other test or repeat (-count) uses:
// locmem stores of one name are shared in a process (storeSeq is
// getorsetmany_test.go's).
func uniqueStore(what string) string {
	return fmt.Sprintf("hot-regression-%s-%d", what, storeSeq.Add(1))
}
