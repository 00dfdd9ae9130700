package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

func concurrencyCases() []testCase {
	return []testCase{
		{
			name:        "concurrent-add",
			explanation: "Add is atomic: when 50 goroutines Add the same key at once, exactly one reports true and its value is the one stored. Locks and once-only jobs built on Django's add depend on this.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				const n = 50
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					wins  [n]bool
				)
				for i := range n {
					wg.Go(func() {
						<-start
						added, err := c.Add(e.ctx, "lock", i)
						if err != nil {
							t.Errorf("Add #%d: %v", i, err)
						}
						wins[i] = added
					})
				}
				close(start)
				wg.Wait()
				var winners []int
				for i, w := range wins {
					if w {
						winners = append(winners, i)
					}
				}
				if len(winners) != 1 {
					t.Fatalf("%d concurrent Adds of one key reported true for %v, want exactly one", n, winners)
				}
				wantValue(t, e.ctx, c, "lock", winners[0])
			},
		},
		{
			name:        "concurrent-incr",
			explanation: "Incr is atomic: N goroutines each incrementing M times leave exactly N×M, and every call returns a distinct value. Django's base incr is get-then-set and loses updates; SPEC requires better on every backend.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "n", 0)
				const goroutines, each = 10, 40
				results := make(chan int64, goroutines*each)
				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Go(func() {
						for range each {
							var v int64
							var err error
							if g%2 == 0 {
								v, err = c.Incr(e.ctx, "n", 1)
							} else {
								v, err = c.Decr(e.ctx, "n", -1)
							}
							if err != nil {
								t.Errorf("Incr: %v", err)
								return
							}
							results <- v
						}
					})
				}
				wg.Wait()
				close(results)
				var got []int64
				for v := range results {
					got = append(got, v)
				}
				slices.Sort(got)
				for i, v := range got {
					if v != int64(i+1) {
						t.Errorf("the values Incr returned are not 1..%d: position %d holds %d (lost or repeated update)", goroutines*each, i, v)
						break
					}
				}
				wantValue(t, e.ctx, c, "n", goroutines*each)
			},
		},
		{
			name:        "concurrent-get-or-set",
			explanation: "Concurrent GetOrSet misses of one key on one Cache call fill once (a single flight) and every caller gets the same value, so an expensive computation is not repeated by every request that arrives while it runs (a cache stampede).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				const n = 50
				var (
					calls    atomic.Int32
					early    atomic.Int32 // fills begun before the first fill was released
					released atomic.Bool
					entered  = make(chan struct{}, 1)
					release  = make(chan struct{})
					started  sync.WaitGroup
					wg       sync.WaitGroup
					got      [n]string
				)
				fill := func(context.Context) (any, error) {
					k := calls.Add(1)
					if !released.Load() {
						early.Add(1)
					}
					select {
					case entered <- struct{}{}:
					default:
					}
					<-release
					return "fill-" + strconv.Itoa(int(k)), nil
				}
				started.Add(n)
				for i := range n {
					wg.Go(func() {
						started.Done()
						if err := c.GetOrSet(e.ctx, "k", &got[i], fill); err != nil {
							t.Errorf("GetOrSet #%d: %v", i, err)
						}
					})
				}
				started.Wait()
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					t.Error("fill was not called within 10s")
				}
				time.Sleep(50 * time.Millisecond) // let the stragglers join the flight
				released.Store(true)
				close(release)
				wg.Wait()
				// While the first fill runs, no other may start. A
				// goroutine the scheduler kept away until the flight had
				// ended may miss and fill again (its Add then loses to the
				// stored value): that is a later miss, not a stampede.
				if k := early.Load(); k != 1 {
					t.Errorf("fill called %d times while one fill was running, by %d concurrent GetOrSets; want 1 (%d calls in all)", k, n, calls.Load())
				}
				for i, s := range got {
					if s != "fill-1" {
						t.Errorf("GetOrSet #%d got %q, want \"fill-1\" like every caller", i, s)
					}
				}
				wantValue(t, e.ctx, c, "k", "fill-1")
			},
		},
		{
			name:        "get-or-set-cancelled-leader",
			explanation: "If the caller whose fill is running gives up (its context is cancelled), callers waiting for the same key are not failed by that cancellation: they fill again with their own context and get a value.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				var calls atomic.Int32
				entered := make(chan struct{})
				fill := func(ctx context.Context) (any, error) {
					if calls.Add(1) == 1 {
						close(entered)
						<-ctx.Done()
						return nil, ctx.Err()
					}
					return "second", nil
				}
				ctxA, cancelA := context.WithCancel(e.ctx)
				defer cancelA()
				errA := make(chan error, 1)
				go func() {
					var s string
					errA <- c.GetOrSet(ctxA, "k", &s, fill)
				}()
				select {
				case <-entered:
				case <-time.After(10 * time.Second):
					t.Fatal("fill was not called within 10s")
				}
				var s string
				errB := make(chan error, 1)
				go func() { errB <- c.GetOrSet(e.ctx, "k", &s, fill) }()
				time.Sleep(50 * time.Millisecond) // let B join A's flight
				cancelA()
				if err := <-errA; !errors.Is(err, context.Canceled) {
					t.Errorf("GetOrSet of the cancelled caller: error %v, want context.Canceled", err)
				}
				if err := <-errB; err != nil || s != "second" {
					t.Errorf("GetOrSet of the waiting caller = %q, %v; want \"second\", nil", s, err)
				}
				wantValue(t, e.ctx, c, "k", "second")
			},
		},
		{
			name:        "concurrent-mixed",
			explanation: "Every method is safe for concurrent use: goroutines mixing Set, Get, Add, Delete, Incr, Touch, Has and the many-key calls on shared keys get no errors other than the documented ones (run it with -race).",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				keys := []string{"k0", "k1", "k2", "k3", "k4"}
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Go(func() {
						for i := range 100 {
							k := keys[(g+i)%len(keys)]
							var err error
							switch i % 9 {
							case 0:
								err = c.Set(e.ctx, k, i)
							case 1:
								var n int
								_, err = c.Get(e.ctx, k, &n)
							case 2:
								_, err = c.Add(e.ctx, k, i)
							case 3:
								_, err = c.Delete(e.ctx, k)
							case 4:
								_, err = c.Incr(e.ctx, k, 1)
								err = ignoreNotFound(err)
							case 5:
								_, err = c.Touch(e.ctx, k)
							case 6:
								_, err = c.Has(e.ctx, k)
							case 7:
								_, err = djcache.GetMany[int](e.ctx, c, keys)
							case 8:
								_, err = c.SetMany(e.ctx, map[string]any{k: i, keys[0]: g})
							}
							if err != nil {
								t.Errorf("goroutine %d, call %d on %s: %v", g, i, k, err)
								return
							}
						}
					})
				}
				wg.Wait()
			},
		},
	}
}

func lifecycleCases() []testCase {
	return []testCase{
		{
			name:        "close",
			explanation: "Close is idempotent (a second Close returns nil) and after it every method fails with ErrClosed (errors.Is), instead of touching released connections; Django calls close() at the end of every request.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if err := c.Close(); err != nil {
					t.Errorf("second Close: %v, want nil", err)
				}
				filled := false
				fill := func(context.Context) (any, error) { filled = true; return "v", nil }
				for name, call := range allCalls(e.ctx, c, fill) {
					wantErr(t, name+" after Close", call(), djcache.ErrClosed)
				}
				if filled {
					t.Error("GetOrSet called fill after Close")
				}
			},
		},
		{
			name:        "close-leaves-other-caches",
			explanation: "Closing one Cache does not disturb another over the same storage: it keeps reading and writing the shared entries (Django closes the caches used by a request while other threads go on).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c1, c2 := e.cache(t, nil), e.cache(t, nil)
				set(t, e.ctx, c1, "k", "v")
				if err := c1.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantValue(t, e.ctx, c2, "k", "v")
				set(t, e.ctx, c2, "k2", "v2")
				c3 := e.cache(t, nil)
				wantValue(t, e.ctx, c3, "k2", "v2")
			},
		},
		{
			name:        "cancelled-context",
			explanation: "A cancelled context makes every call fail with an error that wraps context.Canceled, before it writes anything or calls fill, so that request cancellation stops cache work promptly.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				ctx, cancel := context.WithCancel(e.ctx)
				cancel()
				filled := false
				fill := func(context.Context) (any, error) { filled = true; return "v", nil }
				for name, call := range allCalls(ctx, c, fill) {
					wantErr(t, name+" with a cancelled context", call(), context.Canceled)
				}
				if filled {
					t.Error("GetOrSet called fill with a cancelled context")
				}
				for _, k := range []string{"set", "add", "many", "getorset"} {
					if has(t, e.ctx, c, k) {
						t.Errorf("Has(%s) = true after a write with a cancelled context", k)
					}
				}
			},
		},
		{
			name:        "stats",
			explanation: "Stats counts this Cache's hits, misses, sets, deletes and errors as documented on djcache.Stats, so operators can see the hit rate; a new Cache on the same storage starts at zero.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if s := c.Stats(); s != (djcache.Stats{}) {
					t.Errorf("Stats of a new Cache = %+v, want zero", s)
				}
				var s string
				c.Get(e.ctx, "k", &s)                                           // miss 1
				set(t, e.ctx, c, "k", "v")                                      // set 1
				c.Get(e.ctx, "k", &s)                                           // hit 1
				c.Has(e.ctx, "k")                                               // hit 2
				djcache.GetMany[string](e.ctx, c, []string{"k", "x", "y"})      // hit 3, miss 3
				c.Add(e.ctx, "a", 1)                                            // set 2
				c.Add(e.ctx, "a", 2)                                            // not stored
				c.SetMany(e.ctx, map[string]any{"b": 1, "c": 2})                // sets 4
				c.GetOrSet(e.ctx, "g", &s, func(context.Context) (any, error) { // miss 4, set 5, fill 1
					return "v", nil
				})
				c.Delete(e.ctx, "k")                    // delete 1
				c.DeleteMany(e.ctx, []string{"b", "c"}) // deletes 3
				var n int
				c.Get(e.ctx, "g", &n) // hit 4 and a decode error
				c.Incr(e.ctx, "missing", 1)
				want := djcache.Stats{Hits: 4, Misses: 4, Sets: 5, Deletes: 3, Errors: 1, Fills: 1}
				if got := c.Stats(); got != want {
					t.Errorf("Stats = %+v, want %+v", got, want)
				}
				if got := e.cache(t, nil).Stats(); got != (djcache.Stats{}) {
					t.Errorf("Stats of another Cache on the same storage = %+v, want zero", got)
				}
			},
		},
	}
}

// allCalls returns one call of every method of c (and the generic
// helpers), by name, each returning its error. The writes use the keys
// "set", "add", "many" and "getorset".
func allCalls(ctx context.Context, c *djcache.Cache, fill func(context.Context) (any, error)) map[string]func() error {
	return map[string]func() error{
		"Get":          func() error { var s string; _, err := c.Get(ctx, "k", &s); return err },
		"Set":          func() error { return c.Set(ctx, "set", "v") },
		"Add":          func() error { _, err := c.Add(ctx, "add", "v"); return err },
		"Delete":       func() error { _, err := c.Delete(ctx, "k"); return err },
		"Has":          func() error { _, err := c.Has(ctx, "k"); return err },
		"Touch":        func() error { _, err := c.Touch(ctx, "k"); return err },
		"Incr":         func() error { _, err := c.Incr(ctx, "k", 1); return err },
		"Decr":         func() error { _, err := c.Decr(ctx, "k", 1); return err },
		"IncrVersion":  func() error { _, err := c.IncrVersion(ctx, "k", 1); return err },
		"DecrVersion":  func() error { _, err := c.DecrVersion(ctx, "k", 1); return err },
		"GetMany":      func() error { var m map[string]string; return c.GetMany(ctx, []string{"k"}, &m) },
		"GetMany(nil)": func() error { var m map[string]string; return c.GetMany(ctx, nil, &m) },
		"SetMany":      func() error { _, err := c.SetMany(ctx, map[string]any{"many": "v"}); return err },
		"SetMany({})":  func() error { _, err := c.SetMany(ctx, nil); return err },
		"DeleteMany":   func() error { return c.DeleteMany(ctx, []string{"k"}) },
		"GetOrSet":     func() error { var s string; return c.GetOrSet(ctx, "getorset", &s, fill) },
		"Clear":        func() error { return c.Clear(ctx) },
		"Get[T]":       func() error { _, _, err := djcache.Get[string](ctx, c, "k"); return err },
		"GetMany[T]":   func() error { _, err := djcache.GetMany[string](ctx, c, []string{"k"}); return err },
		"GetOrSet[T]": func() error {
			_, err := djcache.GetOrSet(ctx, c, "getorset", func(ctx context.Context) (any, error) { return fill(ctx) })
			return err
		},
	}
}

// dummyCases assert Django's DummyCache (DJANGO.md §3.8); they run only for
// backends that declare Storage unsupported.
func dummyCases() []testCase {
	return []testCase{
		{
			name:        "dummy-stores-nothing",
			explanation: "A backend without storage (Django's DummyCache) accepts writes and forgets them: Get misses and leaves dst alone, Has is false, GetMany returns nothing and SetMany reports no failed keys.",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				s := "default"
				if found, err := c.Get(e.ctx, "k", &s); err != nil || found || s != "default" {
					t.Errorf("Get(k) after Set = %q, %v, %v; want \"default\", false, nil", s, found, err)
				}
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) = true, want false")
				}
				if failed, err := c.SetMany(e.ctx, map[string]any{"a": 1, "b": 2}); err != nil || len(failed) > 0 {
					t.Errorf("SetMany = %v, %v; want no failed keys, nil", failed, err)
				}
				m := map[string]int{"keep": 1}
				if err := c.GetMany(e.ctx, []string{"a", "b", "k"}, &m); err != nil || !reflect.DeepEqual(m, map[string]int{"keep": 1}) {
					t.Errorf("GetMany = %v, %v; want map[keep:1] (nothing found), nil", m, err)
				}
			},
		},
		{
			name:        "dummy-add",
			explanation: "DummyCache's add always returns True and stores nothing, so code that takes a lock with Add proceeds (and every caller gets it).",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for i := range 2 {
					if added, err := c.Add(e.ctx, "k", "v"); err != nil || !added {
						t.Errorf("Add(k) #%d = %v, %v; want true, nil", i+1, added, err)
					}
				}
				wantMiss(t, e.ctx, c, "k")
			},
		},
		{
			name:        "dummy-touch-delete",
			explanation: "DummyCache's touch and delete return False (there is never an entry), delete_many and clear succeed and do nothing.",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				for _, opt := range []djcache.Option{{}, djcache.Forever, djcache.Timeout(0)} {
					if touched, err := c.Touch(e.ctx, "k", opt); err != nil || touched {
						t.Errorf("Touch(k, %v) = %v, %v; want false, nil", opt, touched, err)
					}
				}
				if deleted, err := c.Delete(e.ctx, "k"); err != nil || deleted {
					t.Errorf("Delete(k) = %v, %v; want false, nil", deleted, err)
				}
				if err := c.DeleteMany(e.ctx, []string{"k", "x"}); err != nil {
					t.Errorf("DeleteMany: %v", err)
				}
				if err := c.Clear(e.ctx); err != nil {
					t.Errorf("Clear: %v", err)
				}
			},
		},
		{
			name:        "dummy-incr",
			explanation: "DummyCache's incr, decr, incr_version and decr_version raise ValueError (the key is never there): ErrNotFound, even right after a Set.",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", 1)
				_, err := c.Incr(e.ctx, "k", 1)
				wantErr(t, "Incr(k)", err, djcache.ErrNotFound)
				_, err = c.Decr(e.ctx, "k", 1)
				wantErr(t, "Decr(k)", err, djcache.ErrNotFound)
				_, err = c.IncrVersion(e.ctx, "k", 1)
				wantErr(t, "IncrVersion(k)", err, djcache.ErrNotFound)
				_, err = c.DecrVersion(e.ctx, "k", 1, djcache.Version(2))
				wantErr(t, "DecrVersion(k)", err, djcache.ErrNotFound)
			},
		},
		{
			name:        "dummy-get-or-set",
			explanation: "DummyCache's get_or_set returns the default every time, calling a callable default on every call (get_or_set(k, None) returns None).",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				for i := range 3 {
					var s string
					err := c.GetOrSet(e.ctx, "k", &s, func(context.Context) (any, error) {
						calls++
						return fmt.Sprintf("fill-%d", calls), nil
					})
					if want := fmt.Sprintf("fill-%d", i+1); err != nil || s != want {
						t.Errorf("GetOrSet #%d = %q, %v; want %q, nil", i+1, s, err, want)
					}
				}
				s := "pre-filled"
				if err := c.GetOrSet(e.ctx, "null", &s, func(context.Context) (any, error) { return nil, nil }); err != nil || s != "" {
					t.Errorf("GetOrSet filling nil = %q, %v; want \"\", nil", s, err)
				}
				n, err := djcache.GetOrSet(e.ctx, c, "n", func(context.Context) (int, error) { return 7, nil })
				if err != nil || n != 7 {
					t.Errorf("GetOrSet[int] = %d, %v; want 7, nil", n, err)
				}
			},
		},
	}
}
