package djcache_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

// storeSeq makes each test's locmem store name unique, also under
// -count: stores of the same name share their entries.
var storeSeq atomic.Int64

// newStore returns a locmem driver on a store of the test's own.
func newStore(t *testing.T) *locmem.Driver {
	t.Helper()
	d, err := locmem.New(fmt.Sprintf("%s-%d", t.Name(), storeSeq.Add(1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newCacheOn returns a Cache over d (wrapped by wrap, if not nil), closed
// when the test ends.
func newCacheOn(t *testing.T, d driver.Driver, wrap func(driver.Driver) driver.Driver) *djcache.Cache {
	t.Helper()
	if wrap != nil {
		d = wrap(d)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// fillFrom returns a GetOrSetMany fill that records the keys it is asked
// for and returns prefix+key for each.
func fillFrom(prefix string, asked *[][]string) func(context.Context, []string) (map[string]string, error) {
	var mu sync.Mutex
	return func(_ context.Context, missing []string) (map[string]string, error) {
		mu.Lock()
		*asked = append(*asked, slices.Clone(missing))
		mu.Unlock()
		m := map[string]string{}
		for _, k := range missing {
			m[k] = prefix + k
		}
		return m, nil
	}
}

// TestGetOrSetManyLocmem checks GetOrSetMany's result, fill and Stats on
// locmem, with its batch read and with the fallbacks.
func TestGetOrSetManyLocmem(t *testing.T) {
	for _, wrap := range []struct {
		name string
		fn   func(driver.Driver) driver.Driver
	}{{"fast", nil}, {"bare", bare}} {
		t.Run(wrap.name, func(t *testing.T) {
			ctx := t.Context()
			c := newCacheOn(t, newStore(t), wrap.fn)
			if _, err := c.SetMany(ctx, map[string]any{"a": "A", "c": "C"}); err != nil {
				t.Fatal(err)
			}
			var asked [][]string
			got, err := djcache.GetOrSetMany(ctx, c, []string{"a", "b", "c", "d", "a"}, fillFrom("f-", &asked), djcache.Timeout(time.Hour))
			want := map[string]string{"a": "A", "b": "f-b", "c": "C", "d": "f-d"}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("GetOrSetMany = %v, %v; want %v", got, err, want)
			}
			if !reflect.DeepEqual(asked, [][]string{{"b", "d"}}) {
				t.Errorf("fill asked for %v, want [[b d]]", asked)
			}
			s := c.Stats()
			if s.Hits != 2 || s.Misses != 2 || s.Fills != 1 || s.Sets != 4 {
				t.Errorf("Stats = %+v; want 2 hits, 2 misses (distinct keys), 1 fill, 4 sets (2 by SetMany, 2 filled)", s)
			}
			var dst map[string]any
			if err := c.GetOrSetMany(ctx, []string{"b", "e"}, &dst, func(context.Context, []string) (map[string]any, error) {
				return map[string]any{"e": 5}, nil
			}); err != nil || !reflect.DeepEqual(dst, map[string]any{"b": "f-b", "e": int64(5)}) {
				t.Errorf("GetOrSetMany into *map[string]any = %#v, %v", dst, err)
			}
		})
	}
}

// gatedDriver is locmem with a gate: the next GetMany after hold is
// called reports on held and waits for the gate to open before it returns
// what it read.
type gatedDriver struct {
	*locmem.Driver
	reads atomic.Int32
	gate  atomic.Pointer[chan struct{}]
	held  chan struct{}
}

func (d *gatedDriver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	m, err := d.Driver.GetMany(ctx, keys)
	d.reads.Add(1)
	if g := d.gate.Swap(nil); g != nil {
		d.held <- struct{}{}
		<-*g
	}
	return m, err
}

// hold makes the next GetMany wait until the returned channel is closed.
func (d *gatedDriver) hold() chan struct{} {
	g := make(chan struct{})
	d.gate.Store(&g)
	return g
}

func newGated(t *testing.T) (*djcache.Cache, *gatedDriver) {
	t.Helper()
	d := &gatedDriver{Driver: newStore(t), held: make(chan struct{}, 1)}
	return newCacheOn(t, d, nil), d
}

// TestGetOrSetManyChecksAgain forces the interleaving that GetOrSet's
// single flight answers with its check again: A misses k, B fills and
// stores k and ends, and only then does A claim k. A must read k again and
// take B's value rather than fill it a second time.
func TestGetOrSetManyChecksAgain(t *testing.T) {
	ctx := t.Context()
	c, d := newGated(t)
	open := d.hold()
	var askedA, askedB [][]string
	type result struct {
		got map[string]string
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := djcache.GetOrSetMany(ctx, c, []string{"k"}, fillFrom("A-", &askedA))
		done <- result{got, err}
	}()
	<-d.held // A read k and missed; it has not claimed it yet
	got, err := djcache.GetOrSetMany(ctx, c, []string{"k"}, fillFrom("B-", &askedB))
	if err != nil || got["k"] != "B-k" {
		t.Fatalf("B: GetOrSetMany = %v, %v; want B-k", got, err)
	}
	close(open)
	r := <-done
	if r.err != nil || r.got["k"] != "B-k" {
		t.Errorf("A: GetOrSetMany = %v, %v; want B's value B-k", r.got, r.err)
	}
	if askedA != nil {
		t.Errorf("A's fill asked for %v; want no call (B stored k before A claimed it)", askedA)
	}
	if n := d.reads.Load(); n != 3 {
		t.Errorf("%d batch reads, want 3 (A, B, and A's check again)", n)
	}

	// Without an interleaving, no check again: one read per call.
	d.reads.Store(0)
	if _, err := djcache.GetOrSetMany(ctx, c, []string{"k", "k2"}, fillFrom("C-", new([][]string))); err != nil {
		t.Fatal(err)
	}
	if _, err := djcache.GetOrSetMany(ctx, c, []string{"k3"}, fillFrom("D-", new([][]string))); err != nil {
		t.Fatal(err)
	}
	if n := d.reads.Load(); n != 2 {
		t.Errorf("%d batch reads for two calls one after the other, want 2 (a call's own write needs no check again)", n)
	}
}

// TestGetOrSetManyWaiterCancelled checks that a caller waiting for keys
// that another caller is filling returns when its own context ends,
// without ending the other's fill.
func TestGetOrSetManyWaiterCancelled(t *testing.T) {
	ctx := t.Context()
	c, d := newGated(t)
	started, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		_, err := djcache.GetOrSetMany(ctx, c, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
			close(started)
			<-release
			return map[string]string{"k": "first"}, nil
		})
		firstDone <- err
	}()
	<-started
	wctx, cancel := context.WithCancel(ctx)
	open := d.hold()
	waiterDone := make(chan error, 1)
	go func() {
		_, err := djcache.GetOrSetMany(wctx, c, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
			t.Error("the waiter called its fill")
			return nil, nil
		})
		waiterDone <- err
	}()
	<-d.held // the waiter has read k and will wait for the first caller's fill
	cancel()
	close(open)
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled waiter: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Errorf("the filler: %v", err)
	}
	if v, found, err := djcache.Get[string](ctx, c, "k"); err != nil || !found || v != "first" {
		t.Errorf("Get(k) = %q, %v, %v; want the filler's value stored", v, found, err)
	}
}

// TestGetOrSetManyFillerCancelled checks that when the context of the
// caller whose fill others wait for ends, the others fill for themselves:
// one caller's cancellation is never another's error.
func TestGetOrSetManyFillerCancelled(t *testing.T) {
	ctx := t.Context()
	c := newCacheOn(t, newStore(t), nil)
	fctx, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	fillerDone := make(chan error, 1)
	go func() {
		_, err := djcache.GetOrSetMany(fctx, c, []string{"k1", "k2"}, func(ctx context.Context, _ []string) (map[string]string, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
		fillerDone <- err
	}()
	<-started
	var asked [][]string
	ownFilled := make(chan struct{})
	waiterDone := make(chan error, 1)
	var got map[string]string
	go func() {
		fill := fillFrom("w-", &asked)
		var err error
		got, err = djcache.GetOrSetMany(ctx, c, []string{"k2", "k3"}, func(ctx context.Context, missing []string) (map[string]string, error) {
			m, err := fill(ctx, missing)
			if len(asked) == 1 {
				close(ownFilled)
			}
			return m, err
		})
		waiterDone <- err
	}()
	<-ownFilled // the waiter filled k3 and waits for k2
	cancel()
	if err := <-fillerDone; !errors.Is(err, context.Canceled) {
		t.Errorf("the cancelled filler: %v, want context.Canceled", err)
	}
	if err := <-waiterDone; err != nil || !reflect.DeepEqual(got, map[string]string{"k2": "w-k2", "k3": "w-k3"}) {
		t.Errorf("the waiter = %v, %v; want k2 and k3 from its own fill", got, err)
	}
	if !reflect.DeepEqual(asked, [][]string{{"k3"}, {"k2"}}) {
		t.Errorf("the waiter's fill asked for %v, want [k3] then [k2]", asked)
	}
}

// TestGetOrSetManyRefreshStopsAtClose checks that a background refresh of
// stale keys runs on the cache's context: the caller that started it does
// not wait for it, and Close cancels it and waits for it to end.
func TestGetOrSetManyRefreshStopsAtClose(t *testing.T) {
	ctx := t.Context()
	c := newCacheOn(t, newStore(t), nil)
	var fills atomic.Int32
	refreshing := make(chan struct{})
	var ended atomic.Bool
	fill := func(ctx context.Context, missing []string) (map[string]int, error) {
		if fills.Add(1) > 1 {
			close(refreshing)
			<-ctx.Done() // only Close ends the refresh
			ended.Store(true)
			return nil, ctx.Err()
		}
		return map[string]int{"a": 1, "b": 2}, nil
	}
	opts := []djcache.Option{djcache.Timeout(20 * time.Millisecond), djcache.Stale(time.Hour)}
	if _, err := djcache.GetOrSetMany(ctx, c, []string{"a", "b"}, fill, opts...); err != nil {
		t.Fatal(err)
	}
	for c.Stats().StaleServed == 0 { // until the entries are stale
		got, err := djcache.GetOrSetMany(ctx, c, []string{"a", "b"}, fill, opts...)
		if err != nil || !reflect.DeepEqual(got, map[string]int{"a": 1, "b": 2}) {
			t.Fatalf("GetOrSetMany = %v, %v; want the stored values, fresh or stale", got, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-refreshing
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !ended.Load() {
		t.Error("Close returned before the background refresh ended")
	}
	if n := fills.Load(); n != 2 {
		t.Errorf("fill called %d times, want 2 (the first fill, one refresh)", n)
	}
	if _, err := djcache.GetOrSetMany(ctx, c, []string{"a"}, fill); !errors.Is(err, djcache.ErrClosed) {
		t.Errorf("GetOrSetMany after Close: %v, want ErrClosed", err)
	}
}

// TestGetOrSetManyDecodeError checks that a value that does not decode
// into T leaves its key out and names it, and that the others are
// returned.
func TestGetOrSetManyDecodeError(t *testing.T) {
	ctx := t.Context()
	c := newCacheOn(t, newStore(t), nil)
	if err := c.Set(ctx, "text", "not a number"); err != nil {
		t.Fatal(err)
	}
	got, err := djcache.GetOrSetMany(ctx, c, []string{"text", "n"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"n": 7}, nil
	})
	var bad *djcache.ManyDecodeError
	if !errors.As(err, &bad) || !reflect.DeepEqual(bad.Keys, []string{"text"}) {
		t.Errorf("GetOrSetMany[int] over a string: %v, want a *ManyDecodeError naming text", err)
	}
	if !reflect.DeepEqual(got, map[string]int{"n": 7}) {
		t.Errorf("GetOrSetMany[int] = %v, want n: 7", got)
	}
}

// TestGetOrSetManyEarlyRefresh checks EarlyRefresh: with beta 1 and a fill
// far shorter than the timeout no read refreshes (the fill is not called
// on every read), and with a huge beta a read returns the current values
// and refreshes them in the background.
func TestGetOrSetManyEarlyRefresh(t *testing.T) {
	ctx := t.Context()
	c := newCacheOn(t, newStore(t), nil)
	var fills atomic.Int32
	fill := func(_ context.Context, missing []string) (map[string]int, error) {
		n := int(fills.Add(1))
		time.Sleep(2 * time.Millisecond) // a fill that takes time: its duration is stored
		m := map[string]int{}
		for _, k := range missing {
			m[k] = n
		}
		return m, nil
	}
	keys := []string{"a", "b"}
	for range 20 {
		got, err := djcache.GetOrSetMany(ctx, c, keys, fill, djcache.Timeout(time.Hour), djcache.EarlyRefresh(1))
		if err != nil || !reflect.DeepEqual(got, map[string]int{"a": 1, "b": 1}) {
			t.Fatalf("GetOrSetMany(EarlyRefresh(1)) = %v, %v; want the first fill's values", got, err)
		}
	}
	if n := fills.Load(); n != 1 {
		t.Errorf("fill called %d times for 20 reads with EarlyRefresh(1) and a 1h timeout, want 1", n)
	}
	got, err := djcache.GetOrSetMany(ctx, c, keys, fill, djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e12))
	if err != nil || !reflect.DeepEqual(got, map[string]int{"a": 1, "b": 1}) {
		t.Fatalf("GetOrSetMany(EarlyRefresh(1e12)) = %v, %v; want the current values at once", got, err)
	}
	if s := c.Stats(); s.EarlyRefreshes != 2 {
		t.Fatalf("Stats().EarlyRefreshes = %d after a read with EarlyRefresh(1e12), want 2 (a key each): no refresh started", s.EarlyRefreshes)
	}
	for {
		got, err := djcache.GetMany[int](ctx, c, keys)
		if err != nil {
			t.Fatal(err)
		}
		if got["a"] == 2 && got["b"] == 2 {
			break
		}
		time.Sleep(5 * time.Millisecond) // until the refresh has stored its values
	}
	if n := fills.Load(); n != 2 {
		t.Errorf("fill called %d times, want 2 (the first and one refresh of both keys)", n)
	}
}
