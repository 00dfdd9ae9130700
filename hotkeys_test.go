package djcache_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/pickle"
)

// TestCloseStopsRefreshes: a background refresh in flight when Close is
// called sees its context cancelled, and no goroutine of the Cache
// outlives Close.
func TestCloseStopsRefreshes(t *testing.T) {
	ctx := t.Context()
	c, err := djcache.Open("locmem://hot-close")
	if err != nil {
		t.Fatal(err)
	}
	c.Has(ctx, "k") // a locmem store's own goroutines live as long as its NAME
	before := runtime.NumGoroutine()
	first := true
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	fill := func(ctx context.Context) (any, error) {
		if first {
			first = false
			return "v1", nil
		}
		close(entered)
		<-ctx.Done() // only Close ends this refresh
		close(cancelled)
		return nil, ctx.Err()
	}
	// EarlyRefresh with a huge beta refreshes on the first fresh read.
	opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e18)}
	var s string
	if err := c.GetOrSet(ctx, "k", &s, func(ctx context.Context) (any, error) {
		time.Sleep(time.Millisecond) // a fill that takes time
		return fill(ctx)
	}, opts...); err != nil || s != "v1" {
		t.Fatalf("GetOrSet = %q, %v", s, err)
	}
	if err := c.GetOrSet(ctx, "k", &s, fill, opts...); err != nil || s != "v1" {
		t.Fatalf("GetOrSet with a refresh starting = %q, %v", s, err)
	}
	<-entered
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cancelled:
	default:
		t.Fatal("Close returned while the refresh was still running")
	}
	deadline := time.Now().Add(time.Minute) // catches a leak, not slowness
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before the first GetOrSet:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHotURLParams: the hot-key defaults come from the URL (and so from
// Django's OPTIONS), and bad values are errors that name the parameter.
func TestHotURLParams(t *testing.T) {
	c, err := djcache.Open("locmem://hot-url?stale=30&early_refresh=1&fill_lock=5&soft_timeout=0.1&hard_timeout=10&absent_timeout=60&retry_after=2&jitter=0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The defaults apply: a stale read is served (Stale), with metadata
	// stored.
	var s string
	if err := c.GetOrSet(t.Context(), "k", &s, func(context.Context) (any, error) { return "v", nil }); err != nil || s != "v" {
		t.Fatalf("GetOrSet = %q, %v", s, err)
	}
	for _, bad := range []string{"stale=-1", "early_refresh=-0.5", "early_refresh=nan", "jitter=1", "jitter=x", "fill_lock=-2", "retry_after=none"} {
		_, err := djcache.Open("locmem://hot-url-bad?" + bad)
		name := bad[:strings.IndexByte(bad, '=')]
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Open(?%s): %v, want an error naming %s", bad, err, name)
		}
	}
	if _, err := djcache.New(nil, &djcache.Options{Stale: -time.Second}); err == nil {
		t.Error("New with Options.Stale < 0: no error")
	}
}

// TestMetaPickleForDjango: with the pickle serializer, an entry written by
// GetOrSet with Stale is the value's pickle followed by metadata, and
// Python's pickle.loads (package pickle's decoder stops at STOP too)
// reads the value; an absence reads as None.
func TestMetaPickleForDjango(t *testing.T) {
	c, err := djcache.Open("locmem://hot-pickle?serializer=pickle")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	var n int
	if err := c.GetOrSet(ctx, "n", &n, func(context.Context) (any, error) { return 42, nil }, djcache.Stale(time.Minute)); err != nil || n != 42 {
		t.Fatalf("GetOrSet = %d, %v", n, err)
	}
	raw, found, err := c.Driver().Get(ctx, ":1:n")
	if err != nil || !found {
		t.Fatalf("raw Get: %v, %v", found, err)
	}
	want, _ := pickle.Marshal(42)
	if !bytes.HasPrefix(raw, want) || !bytes.HasSuffix(raw, []byte("\x00djM")) {
		t.Errorf("stored %q, want the pickle of 42 (%q) then the metadata", raw, want)
	}
	var v any
	if err := pickle.Unmarshal(raw, &v); err != nil || v != int64(42) {
		t.Errorf("the stored bytes read as a plain pickle: %v, %v; want 42", v, err)
	}
	err = c.GetOrSet(ctx, "none", &v, func(context.Context) (any, error) { return nil, djcache.ErrAbsent })
	if !errors.Is(err, djcache.ErrAbsent) {
		t.Fatalf("GetOrSet of an absent row: %v", err)
	}
	raw, _, _ = c.Driver().Get(ctx, ":1:none")
	v = "untouched"
	if err := pickle.Unmarshal(raw, &v); err != nil || v != nil {
		t.Errorf("a stored absence read as a plain pickle: %v, %v; want None", v, err)
	}
}

// TestEarlyRefreshIsRare: with beta 1, an entry far from its expiry is
// not refreshed early (XFetch's probability is e^-(time left / fill
// duration), here e^-1800000); an early refresh on every read would show
// as fills.
func TestEarlyRefreshIsRare(t *testing.T) {
	c, err := djcache.Open("locmem://hot-early-rare")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fills := 0
	fill := func(context.Context) (any, error) {
		fills++
		time.Sleep(2 * time.Millisecond) // a fill that takes time: its duration is stored
		return "v", nil
	}
	for range 100 {
		var s string
		if err := c.GetOrSet(t.Context(), "k", &s, fill, djcache.Timeout(time.Hour), djcache.EarlyRefresh(1)); err != nil || s != "v" {
			t.Fatalf("GetOrSet = %q, %v", s, err)
		}
	}
	c.Close() // waits for any background refresh
	if fills != 1 || c.Stats().EarlyRefreshes != 0 {
		t.Errorf("%d fills and %d early refreshes for 100 reads an hour from expiry, want 1 and 0", fills, c.Stats().EarlyRefreshes)
	}
}

// TestRefreshOutlivesCaller: the background refresh that a stale read
// starts runs on the cache's own context, so the caller's cancellation
// (its request ended) does not cancel it; its value is stored.
func TestRefreshOutlivesCaller(t *testing.T) {
	c, err := djcache.Open("locmem://hot-outlives")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	opts := []djcache.Option{djcache.Timeout(time.Millisecond), djcache.Stale(time.Hour)}
	var s string
	if err := c.GetOrSet(ctx, "k", &s, func(context.Context) (any, error) { return "old", nil }, opts...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past the 1ms fresh life: stale
	release := make(chan struct{})
	refreshErr := make(chan error, 1)
	callerCtx, cancel := context.WithCancel(ctx)
	err = c.GetOrSet(callerCtx, "k", &s, func(fctx context.Context) (any, error) {
		<-release
		refreshErr <- fctx.Err()
		return "new", nil
	}, opts...)
	if err != nil || s != "old" {
		t.Fatalf("stale GetOrSet = %q, %v; want the stale \"old\"", s, err)
	}
	cancel() // the caller's request ends while its refresh runs
	close(release)
	if err := <-refreshErr; err != nil {
		t.Fatalf("the refresh's context was cancelled with its caller's: %v", err)
	}
	limit := time.Now().Add(time.Minute) // catches a lost refresh, not slowness
	for {
		if v, _, err := djcache.Get[string](ctx, c, "k"); err != nil || v == "new" {
			break
		}
		if time.Now().After(limit) {
			t.Fatal("the refreshed value was never stored")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHotDjangoOptions: the hot-key defaults come from a pasted Django
// CACHES setting's OPTIONS as well (Django ignores keys it does not know).
func TestHotDjangoOptions(t *testing.T) {
	s, err := djcache.ParseSettings([]byte(`{"default": {
		"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hot-options",
		"OPTIONS": {"STALE": 30, "EARLY_REFRESH": 1, "FILL_LOCK": 5, "JITTER": 0.1, "RETRY_AFTER": 2}}}`))
	if err != nil {
		t.Fatal(err)
	}
	caches, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer caches.Close()
	c, err := caches.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var v string
	if err := c.GetOrSet(ctx, "k", &v, func(context.Context) (any, error) { return "v", nil }, djcache.Timeout(time.Millisecond)); err != nil || v != "v" {
		t.Fatalf("GetOrSet = %q, %v", v, err)
	}
	time.Sleep(5 * time.Millisecond) // past the fresh life; the stale window (30 s) keeps it
	if err := c.GetOrSet(ctx, "k", &v, func(context.Context) (any, error) { return "v2", nil }, djcache.Timeout(time.Millisecond)); err != nil || v != "v" {
		t.Errorf("GetOrSet past the fresh life = %q, %v; want the stale \"v\" (OPTIONS STALE)", v, err)
	}
	if st := c.Stats(); st.StaleServed != 1 {
		t.Errorf("Stats().StaleServed = %d, want 1", st.StaleServed)
	}
	bad, _ := djcache.ParseSettings([]byte(`{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hot-options-bad", "OPTIONS": {"JITTER": 2}}}`))
	if bc, err := djcache.NewCaches(bad, nil); err == nil {
		if _, err := bc.Default(); err == nil || !strings.Contains(err.Error(), "jitter") {
			t.Errorf("OPTIONS JITTER 2: %v, want an error naming jitter", err)
		}
		bc.Close()
	}
}
