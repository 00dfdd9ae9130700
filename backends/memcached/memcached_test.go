package memcached_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
)

// closedAddr returns an address where nothing listens: a call that reached
// the network there would fail with "connection refused".
func closedAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// TestInvalidKeysBeforeIO checks Django's key rules on every operation
// that takes keys: a key memcached cannot take fails with ErrInvalidKey and
// Django's InvalidCacheKey message before any I/O (the driver points at a
// port where nothing listens, so I/O would fail differently).
func TestInvalidKeysBeforeIO(t *testing.T) {
	d, err := memcached.New([]string{closedAddr(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	long := strings.Repeat("é", 124) // 248 bytes: 251 with ":1:", though only 127 characters
	keys := map[string]string{
		"key with spaces":              "Cache key contains characters that will cause errors if used with memcached: ':1:key with spaces'",
		"tab\there":                    `Cache key contains characters that will cause errors if used with memcached: ':1:tab\there'`,
		"nul\x00":                      `Cache key contains characters that will cause errors if used with memcached: ':1:nul\x00'`,
		"del\x7f":                      `Cache key contains characters that will cause errors if used with memcached: ':1:del\x7f'`,
		long:                           "Cache key will cause errors if used with memcached: ':1:" + long + "' (longer than 250)",
		strings.Repeat("k", 248) + " ": "Cache key will cause errors if used with memcached: ':1:" + strings.Repeat("k", 248) + " ' (longer than 250)",
	}
	for key, msg := range keys {
		ops := map[string]func() error{
			"Get":        func() error { _, err := c.Get(ctx, key, new(any)); return err },
			"Set":        func() error { return c.Set(ctx, key, 1) },
			"Add":        func() error { _, err := c.Add(ctx, key, 1); return err },
			"Delete":     func() error { _, err := c.Delete(ctx, key); return err },
			"Has":        func() error { _, err := c.Has(ctx, key); return err },
			"Touch":      func() error { _, err := c.Touch(ctx, key); return err },
			"Incr":       func() error { _, err := c.Incr(ctx, key, 1); return err },
			"Decr":       func() error { _, err := c.Decr(ctx, key, 1); return err },
			"GetMany":    func() error { return c.GetMany(ctx, []string{"ok", key}, new(map[string]any)) },
			"SetMany":    func() error { _, err := c.SetMany(ctx, map[string]any{"ok": 1, key: 2}); return err },
			"DeleteMany": func() error { return c.DeleteMany(ctx, []string{"ok", key}) },
			"GetOrSet": func() error {
				return c.GetOrSet(ctx, key, new(any), func(context.Context) (any, error) { return 1, nil })
			},
			"IncrVersion": func() error { _, err := c.IncrVersion(ctx, key, 1); return err },
			"DecrVersion": func() error { _, err := c.DecrVersion(ctx, key, 1); return err },
		}
		for name, op := range ops {
			err := op()
			if !errors.Is(err, djcache.ErrInvalidKey) {
				t.Errorf("%s(%q): %v, want ErrInvalidKey (before any I/O)", name, key, err)
				continue
			}
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("%s(%q): message %q does not hold Django's %q", name, key, err, msg)
			}
		}
	}
	// Non-ASCII keys within 250 bytes are fine, as in Django: the call gets
	// as far as the network.
	if _, err := c.Get(ctx, "清", new(any)); err == nil || errors.Is(err, djcache.ErrInvalidKey) {
		t.Errorf("Get(清) = %v, want a connection error", err)
	}
}

// TestNamespaceLimits checks that the namespace counts toward 250 bytes and
// that a namespace memcached cannot take is refused by New.
func TestNamespaceLimits(t *testing.T) {
	d, err := memcached.New([]string{closedAddr(t)}, &memcached.Options{Namespace: strings.Repeat("n", 10)})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := djcache.New(d, nil)
	defer c.Close()
	key := strings.Repeat("k", 240) // 243 bytes made, 253 on the wire
	_, err = c.Get(context.Background(), key, new(any))
	if !errors.Is(err, djcache.ErrInvalidKey) || !strings.Contains(err.Error(), "'nnnnnnnnnn:1:kkk") {
		t.Errorf("Get of a key the namespace makes too long: %v, want ErrInvalidKey showing the key on the wire", err)
	}
	for _, ns := range []string{"a b", "tab\t", strings.Repeat("x", 250)} {
		if _, err := memcached.New([]string{"127.0.0.1:11211"}, &memcached.Options{Namespace: ns}); err == nil {
			t.Errorf("New with namespace %q: no error", ns)
		}
	}
}

// TestDistribution stores keys through both shared servers and checks that
// each key lives on the server pymemcache's hashing names, and that the two
// servers share them about evenly.
func TestDistribution(t *testing.T) {
	servers := needShared(t)
	c, d := newCache(t, servers, nil, nil)
	ctx := context.Background()
	const n = 400
	for i := range n {
		if err := c.Set(ctx, fmt.Sprintf("user:%d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	per := map[string]int{}
	for _, s := range servers {
		one := memcache.New(s)
		defer one.Close()
		for i := range n {
			wire := d.Namespace() + djcache.DefaultKeyFunc(fmt.Sprintf("user:%d", i), "", 1)
			want := d.Selector().Server(wire)
			_, err := one.Get(wire)
			switch {
			case err == nil && want != s:
				t.Errorf("%s is on %s, the selector says %s", wire, s, want)
			case err == nil:
				per[s]++
			case errors.Is(err, memcache.ErrCacheMiss) && want == s:
				t.Errorf("%s is not on %s, where the selector puts it", wire, s)
			case err != nil && !errors.Is(err, memcache.ErrCacheMiss):
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d keys over two servers: %v", n, per)
	for _, s := range servers {
		if f := float64(per[s]) / n; f < 0.40 || f > 0.60 {
			t.Errorf("server %s holds %.0f%% of the keys, want about half", s, 100*f)
		}
	}
}

// TestFlagsInterop checks the stored form against pymemcache's: what
// djcache writes carries the flags and bytes Django's PyMemcacheCache reads,
// and what Django writes (as DJANGO.md observed it on the wire) reads back
// as the Go values it stands for.
func TestFlagsInterop(t *testing.T) {
	c, d := newCache(t, needShared(t), nil, nil)
	ctx := context.Background()
	raw := d.Client()
	wire := func(key string) string { return d.Namespace() + djcache.DefaultKeyFunc(key, "", 1) }

	written := []struct {
		key   string
		value any
		flags uint32
		bytes string
	}{
		{"by", []byte("raw"), 0, "raw"},
		{"s", "bar", 16, "bar"},
		{"u", "Iñt", 16, "I\xc3\xb1t"},
		{"i", 42, 2, "42"},
		{"neg", -7, 2, "-7"},
		{"b", true, 1, "\x80\x05\x88."},
		{"none", nil, 1, "\x80\x05N."},
		{"f", 1.5, 1, "\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00G\x3f\xf8\x00\x00\x00\x00\x00\x00."},
		{"digits", "12", memcached.FlagEncoded, "\x0212"}, // so that memcached's incr refuses it
		{"struct", struct{ A int }{1}, memcached.FlagCodec, ""},
	}
	for _, w := range written {
		if err := c.Set(ctx, w.key, w.value); err != nil {
			t.Fatal(err)
		}
		it, err := raw.Get(wire(w.key))
		if err != nil {
			t.Fatalf("raw get %s: %v", w.key, err)
		}
		if it.Flags != w.flags || (w.bytes != "" && string(it.Value) != w.bytes) {
			t.Errorf("Set(%q, %#v) stored flags %d %q, want flags %d %q", w.key, w.value, it.Flags, it.Value, w.flags, w.bytes)
		}
	}

	fromDjango := []struct {
		key   string
		flags uint32
		bytes string
		want  any
	}{
		{"dj-i", 2, "42", int64(42)},
		{"dj-long", 4, "43", int64(43)},
		{"dj-b", 1, "\x80\x05\x88.", true},
		{"dj-s", 16, "bar", "bar"},
		{"dj-by", 0, "raw", []byte("raw")},
		{"dj-u", 16, "I\xc3\xb1t", "Iñt"},
		{"dj-none", 1, "\x80\x05N.", nil},
		{"dj-f", 1, "\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00G\x3f\xf8\x00\x00\x00\x00\x00\x00.", 1.5},
		{"dj-digits", 16, "12", "12"},
	}
	for _, w := range fromDjango {
		if err := raw.Set(&memcache.Item{Key: wire(w.key), Flags: w.flags, Value: []byte(w.bytes)}); err != nil {
			t.Fatal(err)
		}
		var got any
		found, err := c.Get(ctx, w.key, &got)
		if err != nil || !found || fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", w.want) {
			t.Errorf("Get of Django's flags %d %q = %#v, %v, %v; want %#v", w.flags, w.bytes, got, found, err, w.want)
		}
	}
	// Any pickle Django writes is read, whatever this cache's serializer:
	// pickle.dumps('bar', 5).
	raw.Set(&memcache.Item{Key: wire("dj-pickle"), Flags: 1, Value: []byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94.")})
	var s string
	if found, err := c.Get(ctx, "dj-pickle", &s); err != nil || !found || s != "bar" {
		t.Errorf("Get of a pickled str = %q, %v, %v; want \"bar\", true, nil", s, found, err)
	}
}

// TestIncrMemcached checks memcached's counters: unsigned, decr stops at 0,
// values written by other programs beyond int64, and memcached's padding.
func TestIncrMemcached(t *testing.T) {
	c, d := newCache(t, needShared(t), nil, nil)
	ctx := context.Background()
	raw := d.Client()
	wire := func(key string) string { return d.Namespace() + djcache.DefaultKeyFunc(key, "", 1) }

	c.Set(ctx, "n", 50)
	if n, err := c.Decr(ctx, "n", 100); n != 0 || err != nil {
		t.Errorf("Decr(100) of 50 = %d, %v; want 0 (memcached stops at 0)", n, err)
	}
	c.Set(ctx, "n", 10)
	if n, err := c.Decr(ctx, "n", 1); n != 9 || err != nil {
		t.Errorf("Decr(1) of 10 = %d, %v; want 9", n, err)
	}
	if v, _, err := djcache.Get[int](ctx, c, "n"); v != 9 || err != nil {
		t.Errorf("Get after memcached padded 9 to %q = %d, %v; want 9", "9 ", v, err)
	}
	c.Set(ctx, "neg", -7)
	if _, err := c.Incr(ctx, "neg", 1); !errors.Is(err, djcache.ErrNotInteger) {
		t.Errorf("Incr of a stored -7: %v, want ErrNotInteger (memcached's counters are unsigned)", err)
	}
	if _, err := c.Incr(ctx, "missing", 1); !errors.Is(err, djcache.ErrNotFound) {
		t.Errorf("Incr of a missing key: %v, want ErrNotFound", err)
	}
	for _, v := range []any{"12", []byte("12"), " 7 apples"} {
		c.Set(ctx, "s", v)
		if _, err := c.Incr(ctx, "s", 1); !errors.Is(err, djcache.ErrNotInteger) {
			t.Errorf("Incr of %#v: %v, want ErrNotInteger", v, err)
		}
	}
	if v, _, _ := djcache.Get[string](ctx, c, "s"); v != " 7 apples" {
		t.Errorf("after a refused Incr, the value is %q", v)
	}
	// Values beyond int64, written by another program: the change is taken
	// back.
	for _, tc := range []struct {
		stored string
		delta  int64
	}{
		{"18446744073709551615", 1},    // incr wraps past 2^64
		{"18446744073709551615", -1},   // decr stays above int64
		{"9223372036854775807", 1},     // MaxInt64 + 1
		{"18446744073709551000", 1000}, // wraps
	} {
		raw.Set(&memcache.Item{Key: wire("big"), Flags: memcached.FlagInteger, Value: []byte(tc.stored)})
		if _, err := c.Incr(ctx, "big", tc.delta); !errors.Is(err, djcache.ErrOverflow) {
			t.Errorf("Incr(%d) of %s: %v, want ErrOverflow", tc.delta, tc.stored, err)
		}
		it, err := raw.Get(wire("big"))
		if err != nil || strings.TrimRight(string(it.Value), " ") != tc.stored {
			t.Errorf("after Incr(%d) overflowed, %s holds %q (%v)", tc.delta, tc.stored, it.Value, err)
		}
	}
	c.Set(ctx, "min", 5)
	if _, err := c.Incr(ctx, "min", math.MinInt64); err != nil {
		t.Errorf("Incr(MinInt64) of 5: %v (decr stops at 0)", err)
	}
}

// TestValueLimit checks the 1 MB limit: the largest value Options allows
// fits with the longest key; a larger one fails before being sent and
// removes the old value; and, with the limit left to the server, the
// server's refusal does the same.
func TestValueLimit(t *testing.T) {
	servers := needShared(t)
	ctx := context.Background()
	c, d := newCache(t, servers, nil, nil)
	longKey := strings.Repeat("k", memcached.MaxKeyLength-len(d.Namespace())-len(":1:"))
	big := make([]byte, memcached.DefaultMaxValueSize-1) // encoded: one byte more
	for i := range big {
		big[i] = byte(i)
	}
	if err := c.Set(ctx, longKey, big); err != nil {
		t.Fatalf("Set of %d bytes under a 250-byte key: %v", len(big)+1, err)
	}
	if v, _, err := djcache.Get[[]byte](ctx, c, longKey); err != nil || len(v) != len(big) || v[len(v)-1] != big[len(big)-1] {
		t.Fatalf("Get of the largest value: %d bytes, %v", len(v), err)
	}
	tooBig := append(big, 0)
	if err := c.Set(ctx, longKey, tooBig); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("Set of %d bytes: %v, want an error about the limit", len(tooBig)+1, err)
	}
	if has, _ := c.Has(ctx, longKey); has {
		t.Error("a Set over the limit left the old value (Django's memcached set deletes it)")
	}
	if added, err := c.Add(ctx, "add", tooBig); added || err == nil {
		t.Errorf("Add over the limit = %v, %v; want an error", added, err)
	}

	// SetMany reports the key it could not store, stores the others, and
	// removes the old value of the failed one.
	c.Set(ctx, "old", "stale")
	failed, err := c.SetMany(ctx, map[string]any{"old": tooBig, "a": 1, "b": 2})
	if len(failed) != 1 || failed[0] != "old" || err == nil {
		t.Errorf("SetMany with one value too large = %v, %v; want [old] and an error", failed, err)
	}
	if has, _ := c.Has(ctx, "old"); has {
		t.Error("SetMany left the old value of the key it failed to store")
	}
	if m, _ := djcache.GetMany[int](ctx, c, []string{"a", "b"}); len(m) != 2 {
		t.Errorf("SetMany stored %v of a and b", m)
	}

	// No client-side limit: the server refuses, and the old value goes.
	s, _ := newCache(t, servers, &memcached.Options{MaxValueSize: -1}, nil)
	s.Set(ctx, "k", "old")
	err = s.Set(ctx, "k", make([]byte, 2<<20))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Set of 2 MB with the server deciding: %v, want the server's refusal", err)
	}
	if has, _ := s.Has(ctx, "k"); has {
		t.Error("a Set the server refused left the old value")
	}
}

// TestClearScoped checks that Clear removes this cache's entries on both
// servers and spares everything else: another prefix in the same
// namespace, keys shaped almost like this cache's, and keys written by
// other programs.
func TestClearScoped(t *testing.T) {
	servers := needShared(t)
	ctx := context.Background()
	a, d := newCache(t, servers, nil, &djcache.Options{KeyPrefix: "a"})
	b, err := djcache.New(mustNew(t, servers, d.Namespace()), &djcache.Options{KeyPrefix: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	raw := d.Client()
	ns := d.Namespace()
	foreign := []string{ns + "a:x:1", ns + "a:1", ns + "a:12x:k", ns + "ab:1:k", ns + "a", "other" + ns + "a:1:k"}
	for _, k := range foreign {
		if err := raw.Set(&memcache.Item{Key: k, Value: []byte("foreign")}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, k := range foreign {
			raw.Delete(k)
		}
	}()
	for i := range 50 {
		k := fmt.Sprintf("k%d", i)
		a.Set(ctx, k, i)
		a.Set(ctx, k, i, djcache.Version(-3))
		b.Set(ctx, k, i)
	}
	if err := a.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		k := fmt.Sprintf("k%d", i)
		if has, _ := a.Has(ctx, k); has {
			t.Errorf("after Clear, %s of the cache is still there", k)
		}
		if has, _ := a.Has(ctx, k, djcache.Version(-3)); has {
			t.Errorf("after Clear, %s at version -3 is still there", k)
		}
		if has, _ := b.Has(ctx, k); !has {
			t.Errorf("Clear of prefix a removed %s of prefix b", k)
		}
	}
	for _, k := range foreign {
		if _, err := raw.Get(k); err != nil {
			t.Errorf("Clear removed %q, which is not the cache's: %v", k, err)
		}
	}
}

func mustNew(t *testing.T, servers []string, ns string) *memcached.Driver {
	t.Helper()
	d, err := memcached.New(servers, &memcached.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestClearCustomKeyFunc checks Clear with a custom key function: without
// a namespace it refuses (it cannot tell the cache's keys), with one it
// empties the namespace.
func TestClearCustomKeyFunc(t *testing.T) {
	servers := needShared(t)
	ctx := context.Background()
	keyFunc := func(key, prefix string, version int) string { return "custom-" + key }
	c, _ := newCache(t, servers, nil, &djcache.Options{KeyFunc: keyFunc})
	c.Set(ctx, "x", 1)
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if has, _ := c.Has(ctx, "x"); has {
		t.Error("Clear with a custom key function left the namespace's key")
	}
	d2, err := memcached.New(servers, nil)
	if err != nil {
		t.Fatal(err)
	}
	bare, _ := djcache.New(d2, &djcache.Options{KeyFunc: keyFunc})
	defer bare.Close()
	if err := bare.Clear(ctx); err == nil || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("Clear with a custom key function and no namespace: %v, want an error saying to set a namespace", err)
	}
}
