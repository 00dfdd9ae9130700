package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// hotCases check GetOrSet under load: stale-while-revalidate, fail-safe,
// cached absence, the cross-process fill lock, early refresh and jitter.
// Two Caches over two drivers of one Harness share the storage but not
// their in-process single flights: they stand for two processes.
func hotCases() []testCase {
	return []testCase{
		{
			name:        "get-or-set-stale-while-revalidate",
			explanation: "With Stale(d), an entry whose timeout has passed stays stored for d more. During that window GetOrSet returns the old value at once and refreshes it in the background, once however many callers ask (so no request waits for the slow query); the refreshed value replaces it. With FillTimeout(soft, 0) a caller waits up to soft for the refresh before taking the stale value.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				var fills atomic.Int32
				release := make(chan struct{})
				fill := func(ctx context.Context) (any, error) {
					if fills.Add(1) == 1 {
						return "v1", nil
					}
					select { // the refresh waits until the case lets it go
					case <-release:
						return "v2", nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				ttl := e.shortTTL()
				opts := []djcache.Option{djcache.Timeout(ttl), djcache.Stale(time.Hour)}
				wantGetOrSet(t, e, c, "k", fill, "v1", opts...)
				e.sleep(t, ttl+e.o.ExpiryResolution+300*time.Millisecond) // from the write's return: its expiry is earlier
				for range 5 {
					wantGetOrSet(t, e, c, "k", fill, "v1", opts...)
				}
				wantGetOrSet(t, e, c, "k", fill, "v1", append(opts, djcache.FillTimeout(10*time.Millisecond, 0))...)
				close(release)
				waitUntil(t, e, "the refreshed value is stored", func() bool {
					v, found := get[string](t, e.ctx, c, "k")
					return found && v == "v2"
				})
				if n := fills.Load(); n != 2 {
					t.Errorf("fill called %d times, want 2 (the first fill and one refresh for six stale reads)", n)
				}
				if s := c.Stats(); s.StaleServed < 6 {
					t.Errorf("Stats().StaleServed = %d, want at least 6", s.StaleServed)
				}
			},
		},
		{
			name:        "get-or-set-fail-safe",
			explanation: "With Stale(d), a background refresh that fails leaves the stale value in place: GetOrSet keeps serving it without an error (fail-safe), the failure is logged and counted in Stats().RefreshErrors, and the next refresh waits RetryAfter, so a database that is down is not hammered.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				rec := &logRecorder{}
				c := e.cache(t, &djcache.Options{Logger: rec.logger()})
				var fills atomic.Int32
				fill := func(context.Context) (any, error) {
					if fills.Add(1) == 1 {
						return "good", nil
					}
					return nil, errors.New("database down")
				}
				ttl := e.shortTTL()
				opts := []djcache.Option{djcache.Timeout(ttl), djcache.Stale(time.Hour), djcache.RetryAfter(time.Hour)}
				wantGetOrSet(t, e, c, "k", fill, "good", opts...)
				e.sleep(t, ttl+e.o.ExpiryResolution+300*time.Millisecond) // from the write's return: its expiry is earlier
				wantGetOrSet(t, e, c, "k", fill, "good", opts...)
				waitUntil(t, e, "the failed refresh is counted", func() bool { return c.Stats().RefreshErrors == 1 })
				for range 3 {
					wantGetOrSet(t, e, c, "k", fill, "good", opts...)
				}
				if n := fills.Load(); n != 2 {
					t.Errorf("fill called %d times, want 2 (one refresh, then none within RetryAfter)", n)
				}
				logged := false
				for _, m := range messages(rec.take()) {
					logged = logged || strings.Contains(m, "background refresh failed")
				}
				if !logged {
					t.Error("the failed refresh was not logged")
				}
			},
		},
		{
			name:        "get-or-set-absent",
			explanation: "A fill that returns ErrAbsent (\"there is no such row\") has its answer cached: GetOrSet returns an error wrapping ErrAbsent, and later calls return it without calling the fill until AbsentTimeout passes. Get sees the stored absence as a stored nil (Django's None).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				var fills atomic.Int32
				fill := func(context.Context) (any, error) {
					fills.Add(1)
					return nil, fmt.Errorf("no product 7: %w", djcache.ErrAbsent)
				}
				for i := range 2 {
					var s string
					err := c.GetOrSet(e.ctx, "k", &s, fill, djcache.AbsentTimeout(time.Hour))
					if !errors.Is(err, djcache.ErrAbsent) {
						t.Errorf("GetOrSet #%d of an absent row: %v, want an error wrapping ErrAbsent", i+1, err)
					}
				}
				if n := fills.Load(); n != 1 {
					t.Errorf("fill called %d times, want 1 (the absence is cached)", n)
				}
				var v any = "untouched"
				if found, err := c.Get(e.ctx, "k", &v); err != nil || !found || v != nil {
					t.Errorf("Get of a cached absence = %v, %v, %v; want nil, found", v, found, err)
				}
			},
		},
		{
			name:        "get-or-set-fill-lock",
			explanation: "With FillLock(d), at most one fill of a key runs at a time across processes sharing the storage: a second process that misses while the first fills does not call its own fill, it waits and gets the first one's value; the lock is released when the fill ends. Without it, every process would query the database when a hot key expires.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				ca, cb := e.cache(t, nil), e.cache(t, nil)
				entered, release := make(chan struct{}), make(chan struct{})
				var fillsB atomic.Int32
				fillA := func(context.Context) (any, error) {
					close(entered)
					<-release
					return "from-a", nil
				}
				fillB := func(context.Context) (any, error) {
					fillsB.Add(1)
					return "from-b", nil
				}
				lock := djcache.FillLock(time.Minute)
				errA := make(chan error, 1)
				var sa, sb string
				go func() { errA <- ca.GetOrSet(e.ctx, "k", &sa, fillA, lock) }()
				<-entered
				errB := make(chan error, 1)
				go func() { errB <- cb.GetOrSet(e.ctx, "k", &sb, fillB, lock) }()
				waitUntil(t, e, "the second process waits for the lock", func() bool { return cb.Stats().LockWaits == 1 })
				close(release)
				if err := <-errA; err != nil || sa != "from-a" {
					t.Errorf("GetOrSet of the lock holder = %q, %v; want \"from-a\"", sa, err)
				}
				if err := <-errB; err != nil || sb != "from-a" {
					t.Errorf("GetOrSet of the waiting process = %q, %v; want the holder's \"from-a\"", sb, err)
				}
				if n := fillsB.Load(); n != 0 {
					t.Errorf("the waiting process called its fill %d times, want 0", n)
				}
				if _, found, err := ca.Driver().Get(e.ctx, made("k")+":djcache-fill-lock"); err != nil || found {
					t.Errorf("the fill lock after the fill: found %v, %v; want it released", found, err)
				}
			},
		},
		{
			name:        "get-or-set-fill-panics",
			explanation: "A fill that panics makes GetOrSet return an error (the process does not crash) and releases the fill lock, so the next caller fills at once.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				lock := djcache.FillLock(time.Hour)
				var s string
				err := c.GetOrSet(e.ctx, "k", &s, func(context.Context) (any, error) { panic("boom") }, lock)
				if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "boom") {
					t.Errorf("GetOrSet with a fill that panics: %v, want an error saying the fill panicked (boom)", err)
				}
				wantGetOrSet(t, e, c, "k", func(context.Context) (any, error) { return "ok", nil }, "ok", lock)
			},
		},
		{
			name:        "get-or-set-early-refresh",
			explanation: "With EarlyRefresh(beta), a read of a fresh entry may refresh it early, in the background, with a probability that grows with the last fill's duration (stored with the entry), beta and the nearness of the expiry (XFetch). With a huge beta every read refreshes; the reader still gets the current value at once.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				var fills atomic.Int32
				fill := func(context.Context) (any, error) {
					n := fills.Add(1)
					time.Sleep(2 * time.Millisecond) // a fill that takes time: its duration is stored
					return fmt.Sprintf("v%d", n), nil
				}
				opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e12)}
				wantGetOrSet(t, e, c, "k", fill, "v1", opts...)
				wantGetOrSet(t, e, c, "k", fill, "v1", opts...)
				waitUntil(t, e, "the early refresh stores v2", func() bool {
					v, found := get[string](t, e.ctx, c, "k")
					return found && v == "v2"
				})
				if s := c.Stats(); s.EarlyRefreshes < 1 {
					t.Errorf("Stats().EarlyRefreshes = %d, want at least 1", s.EarlyRefreshes)
				}
			},
		},
		{
			name:        "jitter",
			explanation: "With Jitter(f), each stored timeout is drawn within ±f of itself, so that keys written together (a SetMany, a deploy that warms the cache) do not all expire in the same second.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				items := map[string]any{}
				for i := range 20 {
					items[fmt.Sprintf("k%d", i)] = i
				}
				before := time.Now()
				if failed, err := c.SetMany(e.ctx, items, djcache.Timeout(time.Hour), djcache.Jitter(0.5)); err != nil || len(failed) > 0 {
					t.Fatalf("SetMany with Jitter: %v, %v", failed, err)
				}
				set(t, e.ctx, c, "single", "v", djcache.Timeout(time.Hour), djcache.Jitter(0.5))
				if _, ok := c.Driver().(driver.ExpiryReader); !ok {
					wantValue(t, e.ctx, c, "single", "v")
					return
				}
				keys := make([]string, 0, len(items))
				for k := range items {
					keys = append(keys, k)
				}
				e.checkJitterSpread(t, c, keys, before)
			},
		},
		{
			name:        "hot-options-invalid",
			explanation: "A negative duration, a NaN or negative beta and a jitter outside [0, 1) are errors that name the option, and nothing is written.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				fill := func(context.Context) (any, error) { return "v", nil }
				for _, o := range []djcache.Option{djcache.Stale(-time.Second), djcache.EarlyRefresh(math.NaN()), djcache.EarlyRefresh(-1), djcache.FillLock(-1), djcache.FillTimeout(-1, 0), djcache.AbsentTimeout(-time.Minute), djcache.RetryAfter(-1), djcache.Jitter(1)} {
					var s string
					if err := c.GetOrSet(e.ctx, "k", &s, fill, o); err == nil || !strings.Contains(err.Error(), o.String()) {
						t.Errorf("GetOrSet with %v: %v, want an error naming it", o, err)
					}
				}
				for _, o := range []djcache.Option{djcache.Jitter(1.5), djcache.Jitter(-0.1)} {
					if err := c.Set(e.ctx, "k", "v", o); err == nil || !strings.Contains(err.Error(), o.String()) {
						t.Errorf("Set with %v: %v, want an error naming it", o, err)
					}
				}
				if e.o.supports(Storage) {
					wantMiss(t, e.ctx, c, "k")
				}
			},
		},
	}
}

// checkJitterSpread checks that keys, written with Timeout(1h) and
// Jitter(0.5) after before, expire within 0.5h to 1.5h of the write and
// not all at once.
func (e *env) checkJitterSpread(t *testing.T, c *djcache.Cache, keys []string, before time.Time) {
	t.Helper()
	lo, hi := math.MaxFloat64, 0.0
	for _, k := range keys {
		exp, found, _ := e.expiryOf(t, c, made(k))
		if !found {
			t.Fatalf("%s: not found", k)
		}
		h := exp.Sub(before).Hours()
		lo, hi = min(lo, h), max(hi, h)
	}
	slack := (e.expiryTolerance() + time.Since(before)).Hours()
	if lo < 0.5-slack || hi > 1.5+slack {
		t.Errorf("jittered expiries from %.3fh to %.3fh after the write, want within 0.5h to 1.5h", lo, hi)
	}
	if hi-lo < 2*e.expiryTolerance().Hours() {
		t.Errorf("%d keys written together with Jitter all expire within %.4fh of each other: not spread", len(keys), hi-lo)
	}
}

// wantGetOrSet checks that GetOrSet of key gives want.
func wantGetOrSet(t *testing.T, e *env, c *djcache.Cache, key string, fill func(context.Context) (any, error), want string, opts ...djcache.Option) {
	t.Helper()
	var s string
	if err := c.GetOrSet(e.ctx, key, &s, fill, opts...); err != nil || s != want {
		t.Errorf("GetOrSet(%q, %v) = %q, %v; want %q", key, opts, s, err, want)
	}
}

// waitUntil polls cond until it holds. It waits for something that must
// happen, not for a time: a slow machine makes the wait longer, and only a
// minute without it (far beyond any machine's delay; the work waited for
// takes milliseconds) fails the case, so that a bug fails it rather than
// hanging the test binary.
func waitUntil(t *testing.T, e *env, what string, cond func() bool) {
	t.Helper()
	limit := time.After(time.Minute)
	for !cond() {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-limit:
			t.Fatalf("still waiting after a minute: %s", what)
		case <-e.ctx.Done():
			t.Fatalf("the test ended before: %s", what)
		}
	}
}
