package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// getOrSetManyCases check GetOrSetMany: one read for every key, one fill
// for the keys that missed, one write, and fills shared per key between
// concurrent callers.
func getOrSetManyCases() []testCase {
	return []testCase{
		{
			name:        "get-or-set-many",
			explanation: "GetOrSetMany returns the keys found as they are and calls fill once, with exactly the keys that missed (each once, in the caller's order), stores what fill returns and returns it too. A key fill leaves out is neither stored nor returned, so the next call asks for it again. This is get_or_set for a page of rows: one query for the rows the cache lacks, not one per row.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "a", "cached-a")
				set(t, e.ctx, c, "c", "cached-c")
				var asked [][]string
				fill := func(_ context.Context, missing []string) (map[string]any, error) {
					asked = append(asked, slices.Clone(missing))
					m := map[string]any{}
					for _, k := range missing {
						if k != "gone" {
							m[k] = "filled-" + k
						}
					}
					m["not-asked"] = "ignored"
					return m, nil
				}
				got := map[string]string{"other": "kept"}
				err := c.GetOrSetMany(e.ctx, []string{"a", "b", "c", "d", "b", "gone"}, &got, fill)
				want := map[string]string{"other": "kept", "a": "cached-a", "b": "filled-b", "c": "cached-c", "d": "filled-d"}
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("GetOrSetMany = %v, %v; want %v", got, err, want)
				}
				if !reflect.DeepEqual(asked, [][]string{{"b", "d", "gone"}}) {
					t.Errorf("fill asked for %v, want one call for [b d gone] (the keys that missed, each once, in order)", asked)
				}
				stored, err := djcache.GetMany[string](e.ctx, c, []string{"a", "b", "c", "d", "gone", "not-asked"})
				wantStored := map[string]string{"a": "cached-a", "b": "filled-b", "c": "cached-c", "d": "filled-d"}
				if err != nil || !reflect.DeepEqual(stored, wantStored) {
					t.Errorf("GetMany after GetOrSetMany = %v, %v; want %v (the filled keys stored, the others not)", stored, err, wantStored)
				}

				asked = nil
				typed, err := djcache.GetOrSetMany(e.ctx, c, []string{"b", "d", "gone"}, func(_ context.Context, missing []string) (map[string]string, error) {
					asked = append(asked, slices.Clone(missing))
					return nil, nil
				})
				if err != nil || !reflect.DeepEqual(typed, map[string]string{"b": "filled-b", "d": "filled-d"}) {
					t.Errorf("GetOrSetMany[string] again = %v, %v; want b and d from the cache", typed, err)
				}
				if !reflect.DeepEqual(asked, [][]string{{"gone"}}) {
					t.Errorf("fill asked for %v the second time, want [gone] only (it was not stored)", asked)
				}

				asked = nil
				n, err := djcache.GetOrSetMany(e.ctx, c, []string{"n1", "n2"}, func(_ context.Context, missing []string) (map[string]int, error) {
					asked = append(asked, missing)
					return map[string]int{"n1": 1, "n2": 2}, nil
				})
				if err != nil || !reflect.DeepEqual(n, map[string]int{"n1": 1, "n2": 2}) {
					t.Errorf("GetOrSetMany[int] = %v, %v; want n1: 1, n2: 2", n, err)
				}
				if v, err := c.Incr(e.ctx, "n2", 1); err != nil || v != 3 {
					t.Errorf("Incr(n2) after GetOrSetMany[int] = %d, %v; want 3 (stored as an integer)", v, err)
				}
				all := []string{"a", "b", "c"}
				asked = nil
				if _, err := djcache.GetOrSetMany(e.ctx, c, all, func(_ context.Context, missing []string) (map[string]string, error) {
					asked = append(asked, missing)
					return nil, nil
				}); err != nil || asked != nil {
					t.Errorf("GetOrSetMany with every key cached: %v, fill asked for %v; want no fill call", err, asked)
				}
				empty := map[string]any(nil)
				if err := c.GetOrSetMany(e.ctx, nil, &empty, fill); err != nil || empty == nil || len(empty) != 0 {
					t.Errorf("GetOrSetMany of no keys = %v, %v; want an empty map, allocated", empty, err)
				}
			},
		},
		{
			name:        "get-or-set-many-shared-fills",
			explanation: "Concurrent GetOrSetMany calls on one Cache share fills per key: a call fills only the keys no other call is filling and waits for the others' values, so that each key is filled once however the calls overlap (sturdyc's batch coalescing). A call never waits for another to start: it fills its own keys while the other's fill runs.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				const n = 8
				fills := map[string]*atomic.Int32{}
				for _, k := range []string{"a", "b", "c", "y"} {
					fills[k] = new(atomic.Int32)
				}
				for i := range n {
					fills[fmt.Sprintf("x%d", i)] = new(atomic.Int32)
				}
				values := func(missing []string) map[string]any {
					m := map[string]any{}
					for _, k := range missing {
						fills[k].Add(1)
						m[k] = "v-" + k
					}
					return m
				}
				started, release := make(chan struct{}), make(chan struct{})
				type result struct {
					got map[string]string
					err error
				}
				first := make(chan result, 1)
				go func() {
					got := map[string]string{}
					err := c.GetOrSetMany(e.ctx, []string{"a", "b", "c"}, &got, func(ctx context.Context, missing []string) (map[string]any, error) {
						m := values(missing)
						close(started)
						select {
						case <-release:
							return m, nil
						case <-ctx.Done():
							return nil, ctx.Err()
						}
					})
					first <- result{got, err}
				}()
				<-started // a, b and c are being filled

				asked := make(chan []string, n)
				others := make(chan result, n)
				for i := range n {
					go func() {
						keys := []string{"b", "c", fmt.Sprintf("x%d", i), "y"}
						got := map[string]string{}
						err := c.GetOrSetMany(e.ctx, keys, &got, func(_ context.Context, missing []string) (map[string]any, error) {
							asked <- slices.Clone(missing)
							return values(missing), nil
						})
						others <- result{got, err}
					}()
				}
				// Each of the n calls fills its own x while b and c are
				// still being filled by the first: none may ask for them.
				for range n {
					if m := <-asked; slices.Contains(m, "b") || slices.Contains(m, "c") {
						t.Errorf("a concurrent call's fill asked for %v, want neither b nor c (being filled by the first call)", m)
					}
				}
				close(release)
				if r := <-first; r.err != nil || !reflect.DeepEqual(r.got, map[string]string{"a": "v-a", "b": "v-b", "c": "v-c"}) {
					t.Errorf("the first GetOrSetMany = %v, %v", r.got, r.err)
				}
				for range n {
					r := <-others
					if r.err != nil || len(r.got) != 4 || r.got["b"] != "v-b" || r.got["c"] != "v-c" || r.got["y"] != "v-y" {
						t.Errorf("a concurrent GetOrSetMany = %v, %v; want b, c, y and its x", r.got, r.err)
					}
					for k, v := range r.got {
						if v != "v-"+k {
							t.Errorf("a concurrent GetOrSetMany gave %s = %q, want %q", k, v, "v-"+k)
						}
					}
				}
				for k, f := range fills {
					if got := f.Load(); got != 1 {
						t.Errorf("key %s was filled %d times, want 1", k, got)
					}
				}
			},
		},
		{
			name:        "get-or-set-many-fill-fails",
			explanation: "A fill error is returned (errors.Is finds it), dst is left alone and nothing is stored, not even the values fill returned with the error. A fill that panics is an error, not a crash. A call that waited for keys another call failed to fill fills them itself, so one caller's failure is not another's. A nil fill and an invalid option are errors, and fill is not called.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				boom := errors.New("boom")
				got := map[string]string{"pre": "filled"}
				err := c.GetOrSetMany(e.ctx, []string{"k1", "k2"}, &got, func(context.Context, []string) (map[string]any, error) {
					return map[string]any{"k1": "ignored"}, boom
				})
				if !errors.Is(err, boom) {
					t.Errorf("GetOrSetMany with a failing fill: error %v, want one that wraps the fill's", err)
				}
				if !reflect.DeepEqual(got, map[string]string{"pre": "filled"}) {
					t.Errorf("dst after a fill error = %v, want it unchanged", got)
				}
				if has(t, e.ctx, c, "k1") {
					t.Error("Has(k1) after a fill error = true, want false")
				}
				err = c.GetOrSetMany(e.ctx, []string{"k1"}, &got, func(context.Context, []string) (map[string]any, error) { panic("kaboom") })
				if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "kaboom") {
					t.Errorf("GetOrSetMany with a fill that panics: %v, want an error saying the fill panicked (kaboom)", err)
				}
				if _, err := djcache.GetOrSetMany(e.ctx, c, []string{"k1"}, func(context.Context, []string) (map[string]int, error) { return nil, boom }); !errors.Is(err, boom) {
					t.Errorf("GetOrSetMany[int] with a failing fill: error %v, want one that wraps the fill's", err)
				}
				if err := c.GetOrSetMany(e.ctx, []string{"k1"}, &got, nil); err == nil {
					t.Error("GetOrSetMany with a nil fill: no error")
				}
				if _, err := djcache.GetOrSetMany[int](e.ctx, c, []string{"k1"}, nil); err == nil {
					t.Error("GetOrSetMany[int] with a nil fill: no error")
				}
				if err := c.GetOrSetMany(e.ctx, []string{"k1"}, got, nil); err == nil {
					t.Error("GetOrSetMany into a map, not a pointer to one: no error")
				}
				called := false
				never := func(context.Context, []string) (map[string]any, error) { called = true; return nil, nil }
				for _, o := range []djcache.Option{djcache.Stale(-time.Second), djcache.Jitter(1), djcache.EarlyRefresh(math.NaN())} {
					if err := c.GetOrSetMany(e.ctx, []string{"k1"}, &got, never, o); err == nil || !strings.Contains(err.Error(), o.String()) {
						t.Errorf("GetOrSetMany with %v: %v, want an error naming it", o, err)
					}
				}
				if called {
					t.Error("fill called despite an invalid option")
				}

				// The first call fails to fill k2 while the second waits for it.
				started, release := make(chan struct{}), make(chan struct{})
				firstErr := make(chan error, 1)
				go func() {
					var got map[string]string
					firstErr <- c.GetOrSetMany(e.ctx, []string{"w1", "w2"}, &got, func(ctx context.Context, _ []string) (map[string]any, error) {
						close(started)
						select {
						case <-release:
						case <-ctx.Done():
						}
						return nil, boom
					})
				}()
				<-started
				var (
					mu    sync.Mutex // protects asked
					asked [][]string
				)
				ownFilled := make(chan struct{})
				second := make(chan error, 1)
				var got2 map[string]string
				go func() {
					second <- c.GetOrSetMany(e.ctx, []string{"w2", "w3"}, &got2, func(_ context.Context, missing []string) (map[string]any, error) {
						mu.Lock()
						asked = append(asked, slices.Clone(missing))
						if len(asked) == 1 {
							close(ownFilled)
						}
						mu.Unlock()
						m := map[string]any{}
						for _, k := range missing {
							m[k] = "mine-" + k
						}
						return m, nil
					})
				}()
				<-ownFilled // the second call filled w3 and waits for w2
				close(release)
				if err := <-firstErr; !errors.Is(err, boom) {
					t.Errorf("the failing call: error %v, want boom", err)
				}
				if err := <-second; err != nil || !reflect.DeepEqual(got2, map[string]string{"w2": "mine-w2", "w3": "mine-w3"}) {
					t.Errorf("the waiting call = %v, %v; want w2 and w3 from its own fill", got2, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if !reflect.DeepEqual(asked, [][]string{{"w3"}, {"w2"}}) {
					t.Errorf("the waiting call's fill asked for %v, want [w3] then [w2] (after the other's fill failed)", asked)
				}
			},
		},
		{
			name:        "get-or-set-many-options",
			explanation: "GetOrSetMany honours the per-call options: Timeout(0) returns fill's values and stores nothing (every call fills again), Version stores under that version, Jitter draws each key's timeout on its own so that keys filled together do not expire together, and an absence that GetOrSet cached (ErrAbsent) is not filled again.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				fill := func(_ context.Context, missing []string) (map[string]any, error) {
					calls++
					m := map[string]any{}
					for _, k := range missing {
						m[k] = "v-" + k
					}
					return m, nil
				}
				for i := range 2 {
					got, err := djcache.GetOrSetMany(e.ctx, c, []string{"z1", "z2"}, func(ctx context.Context, missing []string) (map[string]string, error) {
						m, err := fill(ctx, missing)
						out := map[string]string{}
						for k, v := range m {
							out[k] = v.(string)
						}
						return out, err
					}, djcache.Timeout(0))
					if err != nil || !reflect.DeepEqual(got, map[string]string{"z1": "v-z1", "z2": "v-z2"}) {
						t.Errorf("GetOrSetMany(Timeout(0)) #%d = %v, %v; want fill's values", i+1, got, err)
					}
				}
				if calls != 2 {
					t.Errorf("fill called %d times with Timeout(0), want 2 (nothing stored)", calls)
				}
				if has(t, e.ctx, c, "z1") {
					t.Error("Has(z1) after GetOrSetMany(Timeout(0)) = true, want false")
				}
				if !e.o.supports(Storage) {
					return
				}

				var got map[string]string
				if err := c.GetOrSetMany(e.ctx, []string{"v"}, &got, fill, djcache.Version(2)); err != nil {
					t.Fatal(err)
				}
				wantValue(t, e.ctx, c, "v", "v-v", djcache.Version(2))
				wantMiss(t, e.ctx, c, "v")

				absent := func(context.Context) (any, error) { return nil, djcache.ErrAbsent }
				var s string
				if err := c.GetOrSet(e.ctx, "none", &s, absent, djcache.Stale(time.Hour)); !errors.Is(err, djcache.ErrAbsent) {
					t.Fatalf("GetOrSet with a fill returning ErrAbsent: %v", err)
				}
				var asked []string
				got = nil
				err := c.GetOrSetMany(e.ctx, []string{"none", "some"}, &got, func(ctx context.Context, missing []string) (map[string]any, error) {
					asked = append(asked, missing...)
					return fill(ctx, missing)
				})
				if err != nil || !reflect.DeepEqual(got, map[string]string{"some": "v-some"}) || !reflect.DeepEqual(asked, []string{"some"}) {
					t.Errorf("GetOrSetMany over a cached absence = %v, %v, fill asked for %v; want some only, and none neither filled nor returned", got, err, asked)
				}

				keys := make([]string, 20)
				for i := range keys {
					keys[i] = fmt.Sprintf("j%d", i)
				}
				before := time.Now()
				if err := c.GetOrSetMany(e.ctx, keys, &got, fill, djcache.Timeout(time.Hour), djcache.Jitter(0.5)); err != nil {
					t.Fatal(err)
				}
				if _, ok := c.Driver().(driver.ExpiryReader); !ok {
					return
				}
				e.checkJitterSpread(t, c, keys, before)
			},
		},
		{
			name:        "get-or-set-many-stale",
			explanation: "With Stale(d), GetOrSetMany stores its values with the metadata GetOrSet writes; once their timeout has passed, it returns the stale values at once and refreshes them in the background with one fill call for all of them, so that no request waits for the slow query, and the refreshed values replace them.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				var fills atomic.Int32
				refreshing := make(chan []string, 1)
				release := make(chan struct{})
				fill := func(ctx context.Context, missing []string) (map[string]string, error) {
					v := "v1"
					if fills.Add(1) > 1 {
						refreshing <- slices.Clone(missing)
						select { // the refresh waits until the case lets it go
						case <-release:
						case <-ctx.Done():
							return nil, ctx.Err()
						}
						v = "v2"
					}
					m := map[string]string{}
					for _, k := range missing {
						m[k] = v
					}
					return m, nil
				}
				ttl := e.shortTTL()
				opts := []djcache.Option{djcache.Timeout(ttl), djcache.Stale(time.Hour)}
				keys := []string{"s1", "s2"}
				want := map[string]string{"s1": "v1", "s2": "v1"}
				if got, err := djcache.GetOrSetMany(e.ctx, c, keys, fill, opts...); err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("GetOrSetMany = %v, %v; want %v", got, err, want)
				}
				e.sleep(t, ttl+e.o.ExpiryResolution+300*time.Millisecond) // from the write's return: its expiry is earlier
				for range 3 {
					if got, err := djcache.GetOrSetMany(e.ctx, c, keys, fill, opts...); err != nil || !reflect.DeepEqual(got, want) {
						t.Errorf("GetOrSetMany of stale keys = %v, %v; want the stale values %v at once", got, err, want)
					}
				}
				// Each call that served the stale values counted them before
				// returning; without them no refresh started, and waiting for
				// one would hang.
				if s := c.Stats(); s.StaleServed < 6 {
					t.Fatalf("Stats().StaleServed = %d, want at least 6 (2 keys × 3 calls)", s.StaleServed)
				}
				if m := <-refreshing; !reflect.DeepEqual(m, keys) {
					t.Errorf("the background refresh asked for %v, want %v in one call", m, keys)
				}
				close(release)
				waitUntil(t, e, "the refreshed values are stored", func() bool {
					got, err := djcache.GetMany[string](e.ctx, c, keys)
					return err == nil && got["s1"] == "v2" && got["s2"] == "v2"
				})
				if n := fills.Load(); n != 2 {
					t.Errorf("fill called %d times, want 2 (the first fill and one refresh for three stale reads)", n)
				}
			},
		},
	}
}
