package djcache_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

// newLocmem returns a Cache on a locmem store of the test's own, closed when
// the test ends. wrap, if not nil, wraps the driver first.
func newLocmem(t *testing.T, o *djcache.Options, wrap func(driver.Driver) driver.Driver) *djcache.Cache {
	t.Helper()
	d, err := locmem.New(t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var dd driver.Driver = d
	if wrap != nil {
		dd = wrap(d)
	}
	c, err := djcache.New(dd, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// bare hides every optional interface and capability of a driver.
func bare(d driver.Driver) driver.Driver { return struct{ driver.Driver }{d} }

func TestPing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		wrap func(driver.Driver) driver.Driver
	}{
		{"pinger", nil},
		{"fallback", bare},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLocmem(t, nil, tc.wrap)
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			if s := c.Stats(); s != (djcache.Stats{}) {
				t.Errorf("Stats after Ping = %+v, want zero (Ping counts nothing)", s)
			}
			// Ping stores nothing, not even under its reserved key.
			if _, found, err := c.Driver().Get(ctx, "djcache-ping"); err != nil || found {
				t.Errorf("the driver holds djcache-ping after Ping: %v, %v", found, err)
			}

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			err := c.Ping(cancelled)
			var oe *djcache.OpError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "ping" || (tc.wrap == nil && oe.Backend != "locmem") {
				t.Errorf("Ping with a cancelled context: %v; want an *OpError ping wrapping context.Canceled", err)
			}
			c.Close()
			if err := c.Ping(ctx); !errors.Is(err, djcache.ErrClosed) {
				t.Errorf("Ping after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestTTL(t *testing.T) {
	ctx := context.Background()
	c := newLocmem(t, nil, nil)

	before := time.Now()
	if err := c.Set(ctx, "k", "v", djcache.Timeout(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TTL(ctx, "k")
	if lo := time.Hour - time.Since(before); err != nil || ttl < lo || ttl > time.Hour {
		t.Errorf("TTL(k) = %v, %v; want between %v and 1h", ttl, err, lo)
	}

	c.Set(ctx, "forever", nil, djcache.Forever)
	if ttl, err := c.TTL(ctx, "forever"); err != nil || ttl != djcache.NeverExpires {
		t.Errorf("TTL(forever) = %v, %v; want NeverExpires", ttl, err)
	}
	if ttl, err := c.TTL(ctx, "forever"); err == nil && !(ttl > 100*365*24*time.Hour) {
		t.Errorf("NeverExpires = %v is not longer than any real lifetime", ttl)
	}

	// Timeouts of 100 years and more count as Forever.
	c.Set(ctx, "century", 1, djcache.Timeout(100*365*24*time.Hour))
	if ttl, err := c.TTL(ctx, "century"); err != nil || ttl != djcache.NeverExpires {
		t.Errorf("TTL(century) = %v, %v; want NeverExpires", ttl, err)
	}

	ttl, err = c.TTL(ctx, "missing")
	var oe *djcache.OpError
	if ttl != 0 || !errors.Is(err, djcache.ErrNotFound) || !errors.As(err, &oe) || oe.Op != "ttl" || oe.Key != ":1:missing" {
		t.Errorf("TTL(missing) = %v, %v; want 0 and an *OpError ttl \":1:missing\" wrapping ErrNotFound", ttl, err)
	}
	if want := `djcache: locmem: ttl ":1:missing": key not found`; err == nil || err.Error() != want {
		t.Errorf("TTL(missing) error %q, want %q", err, want)
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != 0 || s.Errors != 0 {
		t.Errorf("Stats after TTL calls = %+v; want no hits, misses or errors", s)
	}

	c.Set(ctx, "v2", "v", djcache.Version(2), djcache.Timeout(time.Minute))
	if _, err := c.TTL(ctx, "v2"); !errors.Is(err, djcache.ErrNotFound) {
		t.Errorf("TTL(v2) at version 1: %v, want ErrNotFound", err)
	}
	if ttl, err := c.TTL(ctx, "v2", djcache.Version(2)); err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("TTL(v2, Version(2)) = %v, %v; want at most 1m", ttl, err)
	}

	// A key the backend refuses fails before anything else. Locmem accepts
	// any key, with a warning, so this checks only that TTL makes keys.
	cp := newLocmem(t, &djcache.Options{KeyPrefix: "p"}, nil)
	_, err = cp.TTL(ctx, "k")
	if !errors.As(err, &oe) || oe.Key != "p:1:k" {
		t.Errorf("TTL with a key prefix: %v; want the made key p:1:k", err)
	}
}

func TestTTLNotSupported(t *testing.T) {
	ctx := context.Background()
	c := newLocmem(t, nil, bare)
	c.Set(ctx, "k", "v")
	ttl, err := c.TTL(ctx, "k")
	if ttl != 0 || !errors.Is(err, djcache.ErrNotSupported) {
		t.Fatalf("TTL without driver.ExpiryReader = %v, %v; want 0, ErrNotSupported", ttl, err)
	}
	var oe *djcache.OpError
	if !errors.As(err, &oe) || oe.Op != "ttl" || !strings.Contains(err.Error(), oe.Backend) || !strings.Contains(err.Error(), "expiry") {
		t.Errorf("TTL without driver.ExpiryReader: error %q; want an *OpError naming the backend and why", err)
	}
}

func TestGetPointers(t *testing.T) {
	ctx := context.Background()
	for _, ser := range []djcache.Serializer{djcache.NativeSerializer, djcache.PickleSerializer} {
		t.Run(string(ser), func(t *testing.T) {
			c := newLocmem(t, &djcache.Options{Serializer: ser}, nil)
			if _, err := c.SetMany(ctx, map[string]any{"x": nil, "y": 1}); err != nil {
				t.Fatal(err)
			}
			var got map[string]*int
			if err := c.GetMany(ctx, []string{"x", "y"}, &got); err != nil {
				t.Fatalf("GetMany into map[string]*int: %v", err)
			}
			if p, ok := got["x"]; !ok || p != nil || got["y"] == nil || *got["y"] != 1 {
				t.Errorf("GetMany into map[string]*int = %v; want x: nil, y: pointer to 1", got)
			}
			var p *int
			if found, err := c.Get(ctx, "y", &p); err != nil || !found || p == nil || *p != 1 {
				t.Errorf("Get(y) into **int = %v, %v, %v; want a pointer to 1", found, err, p)
			}
			type point struct{ X, Y int }
			c.Set(ctx, "pt", point{1, 2})
			var pp *point
			if found, err := c.Get(ctx, "pt", &pp); err != nil || !found || pp == nil || *pp != (point{1, 2}) {
				t.Errorf("Get(pt) into **point = %v, %v, %v; want &{1 2}", found, err, pp)
			}
			gm, err := djcache.GetMany[*point](ctx, c, []string{"pt", "x"})
			if err != nil || len(gm) != 2 || gm["x"] != nil || gm["pt"] == nil || *gm["pt"] != (point{1, 2}) {
				t.Errorf("GetMany[*point] = %v, %v; want pt: &{1 2}, x: nil", gm, err)
			}
		})
	}
}

func TestGetManyPartialDecode(t *testing.T) {
	ctx := context.Background()
	c := newLocmem(t, nil, nil)
	c.SetMany(ctx, map[string]any{"a": 1, "b": "bee", "c": 3, "d": []string{"dee"}})

	got, err := djcache.GetMany[int](ctx, c, []string{"a", "b", "c", "d", "e"})
	if want := map[string]int{"a": 1, "c": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("GetMany[int] = %v, want %v", got, want)
	}
	want := `djcache: locmem: get_many: 2 of 4 values did not decode: "b": cannot decode stored text value into *int; "d": cannot decode stored codec value into *int: json: cannot unmarshal array into Go value of type int`
	if err == nil || err.Error() != want {
		t.Errorf("GetMany[int] error:\n%v\nwant\n%s", err, want)
	}
	var me *djcache.ManyDecodeError
	if !errors.As(err, &me) || !slices.Equal(me.Keys, []string{"b", "d"}) || len(me.Errs) != 2 || me.Found != 4 {
		t.Fatalf("GetMany[int] error %#v; want a *ManyDecodeError for b and d", err)
	}
	for i, e := range me.Errs {
		var de *djcache.DecodeError
		if !errors.As(e, &de) || de.Type != reflect.TypeFor[*int]() {
			t.Errorf("error of %q = %v; want a *DecodeError for *int", me.Keys[i], e)
		}
	}
	if s := c.Stats(); s.Errors != 1 {
		t.Errorf("Stats.Errors = %d after one partly failed GetMany, want 1", s.Errors)
	}

	// (*Cache).GetMany: the same error, the map gets the values that
	// decode, and the failed keys' entries stay.
	m := map[string]int{"b": -1}
	err = c.GetMany(ctx, []string{"a", "b", "c", "d", "e"}, &m)
	if !errors.As(err, &me) || !slices.Equal(me.Keys, []string{"b", "d"}) {
		t.Errorf("GetMany error %v; want a *ManyDecodeError for b and d", err)
	}
	if want := map[string]int{"a": 1, "b": -1, "c": 3}; !reflect.DeepEqual(m, want) {
		t.Errorf("GetMany into a map = %v, want %v", m, want)
	}

	// One bad value out of one.
	_, err = djcache.GetMany[int](ctx, c, []string{"b"})
	if want := `djcache: locmem: get_many: 1 of 1 value did not decode: "b": cannot decode stored text value into *int`; err == nil || err.Error() != want {
		t.Errorf("GetMany[int](b) error %v, want %s", err, want)
	}
}
