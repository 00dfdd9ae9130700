package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/pickle"
)

// storage is the needs of a case that reads back what it wrote.
var storage = []Feature{Storage}

// record is a structured value, encoded by the cache's codec.
type record struct {
	Name  string
	Tags  []string `json:",omitempty"`
	Count int      `json:",omitempty"`
}

// Named basic types take the fast encodings of their underlying types.
type (
	score int
	label string
)

// portableCases are the cases that go through the portable type.
func portableCases() []testCase {
	var all []testCase
	for _, group := range [][]testCase{
		basicCases(),
		sharingCases(),
		deleteHasCases(),
		incrCases(),
		touchCases(),
		expiryCases(),
		valueCases(),
		manyCases(),
		versionCases(),
		getOrSetCases(),
		keyCases(),
		concurrencyCases(),
		lifecycleCases(),
		dummyCases(),
		apiCases(),
		hotCases(),
		getOrSetManyCases(),
	} {
		all = append(all, group...)
	}
	return all
}

func basicCases() []testCase {
	return []testCase{
		{
			name:        "simple-get-set",
			explanation: "Set stores a value and Get returns it, as Django's cache.set(key, value) then cache.get(key); a missing key is a miss with no error. Everything else builds on this.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "key", "value")
				var s string
				found, err := c.Get(e.ctx, "key", &s)
				if err != nil || !found || s != "value" {
					t.Errorf(`Get("key") = %q, %v, %v; want "value", true, nil`, s, found, err)
				}
				wantMiss(t, e.ctx, c, "does-not-exist")
			},
		},
		{
			name:        "get-miss-leaves-dst",
			explanation: "On a miss Get leaves dst untouched, so a pre-filled dst is Django's get(key, default): the caller sees the default, not a zero value.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				s := "default"
				n := 42
				r := record{Name: "default", Tags: []string{"t"}}
				for _, dst := range []any{&s, &n, &r} {
					found, err := c.Get(e.ctx, "missing", dst)
					if err != nil || found {
						t.Errorf("Get(missing, %T) = %v, %v; want false, nil", dst, found, err)
					}
				}
				if s != "default" || n != 42 || !reflect.DeepEqual(r, record{Name: "default", Tags: []string{"t"}}) {
					t.Errorf("after a miss dst holds %q, %d, %+v; want the pre-filled values", s, n, r)
				}
			},
		},
		{
			name:        "get-replaces-struct",
			explanation: "Get replaces what a struct dst held instead of merging into it: Django returns a fresh unpickled object, so a field missing from the stored value must come out zero, not stale.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "rec", record{Name: "new"})
				dst := record{Name: "old", Tags: []string{"stale"}, Count: 9}
				if found, err := c.Get(e.ctx, "rec", &dst); err != nil || !found {
					t.Fatalf("Get(rec) = %v, %v", found, err)
				}
				if want := (record{Name: "new"}); !reflect.DeepEqual(dst, want) {
					t.Errorf("Get(rec) into a pre-filled struct = %+v, want %+v (no merging)", dst, want)
				}
			},
		},
		{
			name:        "get-replaces-map",
			explanation: "Get replaces what a map dst held instead of merging into it: Django returns a fresh dict, so keys that are not in the stored map must not survive.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "map", map[string]int{"a": 1})
				dst := map[string]int{"b": 2}
				if found, err := c.Get(e.ctx, "map", &dst); err != nil || !found {
					t.Fatalf("Get(map) = %v, %v", found, err)
				}
				if want := map[string]int{"a": 1}; !reflect.DeepEqual(dst, want) {
					t.Errorf("Get(map) into a pre-filled map = %v, want %v (no merging)", dst, want)
				}
			},
		},
		{
			name:        "value-types",
			explanation: "Every Go value the cache can encode comes back equal, read into its own type: strings, bytes, integers of every size (including the int64 and uint64 limits), floats, bools, named types, structs, maps and slices. Django round-trips any picklable value.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				values := []any{
					"text", "", []byte{1, 2, 3}, []byte{},
					0, 42, -7, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64),
					int8(-8), int16(16), int32(-32), uint(7), uint8(255), uint16(65535), uint32(1 << 31),
					3.5, 0.1, -2.25e300, float32(1.25), true, false,
					score(5), label("gold"),
					record{Name: "r", Tags: []string{"a", "b"}, Count: 3},
					map[string]any{"s": "x", "b": true, "f": 1.5, "n": nil},
					[]int{1, 2, 3}, []string{}, map[string][]int{"k": {1}},
				}
				for i, v := range values {
					key := "v" + strconv.Itoa(i)
					set(t, e.ctx, c, key, v)
					wantValue(t, e.ctx, c, key, v)
				}
			},
		},
		{
			name:        "integers-as-decimal-text",
			explanation: "Integers reach the driver as plain decimal text (\"42\", \"-7\"), with no tag, so that Redis INCRBY and memcached incr work on them natively and other languages, Django included, read them as numbers. With the pickle serializer they reach it as Django's backend stores them: decimal text for a driver that keeps integers outside pickle (driver.Pickler: Redis, memcached), else the pickle of a Python int (Django's file and database backends).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				// Which kinds the backend keeps outside pickle: ask a
				// driver of its own (UsePickle is called once per driver).
				keepsInts := false
				if d := e.driver(t); d != nil {
					if p, ok := d.(driver.Pickler); ok {
						keepsInts = p.UsePickle().Has(driver.KindInt)
					}
					d.Close()
				}
				for v, want := range map[any]string{42: "42", int64(-7): "-7", uint8(0): "0", score(12): "12"} {
					if e.mode.pickle && !keepsInts {
						n, _ := strconv.ParseInt(want, 10, 64)
						p, err := pickle.Marshal(n)
						if err != nil {
							t.Fatal(err)
						}
						want = string(p)
					}
					set(t, e.ctx, c, "n", v)
					got, found, err := c.Driver().Get(e.ctx, ":1:n")
					if err != nil || !found || string(got) != want {
						t.Errorf("Set(n, %T(%v)); the driver holds %q, %v, %v; want %q", v, v, got, found, err, want)
					}
				}
			},
		},
		{
			name:        "get-into-any",
			explanation: "Reading into an *any gives each value's natural Go type (int64 for integers, string, []byte, float64, bool, nil for a stored nil, and the codec's generic form for structures), so code that does not know the type can still read what was stored.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				cases := []struct {
					v, want any
				}{
					{42, int64(42)}, {int64(-1), int64(-1)}, {"s", "s"}, {[]byte("b"), []byte("b")},
					{1.5, 1.5}, {true, true}, {nil, nil},
					{record{Name: "n"}, map[string]any{"Name": "n"}},
				}
				for i, tc := range cases {
					key := "any" + strconv.Itoa(i)
					set(t, e.ctx, c, key, tc.v)
					var got any = "pre-filled"
					found, err := c.Get(e.ctx, key, &got)
					if err != nil || !found || !reflect.DeepEqual(got, tc.want) {
						t.Errorf("Set(%#v); Get into *any = %#v (%T), %v, %v; want %#v (%T)", tc.v, got, got, found, err, tc.want, tc.want)
					}
				}
			},
		},
		{
			name:        "set-replaces",
			explanation: "Set stores unconditionally: a second Set of the same key replaces the value, even with a value of another type, as Django's set does.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "first")
				set(t, e.ctx, c, "k", "second")
				wantValue(t, e.ctx, c, "k", "second")
				set(t, e.ctx, c, "k", 3)
				wantValue(t, e.ctx, c, "k", 3)
			},
		},
		{
			name:        "nil-value",
			explanation: "nil is a storable value, like Django's None: after Set(key, nil) Get reports found and sets dst to its zero value, Has is true, GetMany includes the key, and Incr says the value is not an integer. Code that caches \"no result\" relies on this.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "null", nil)
				s := "pre-filled"
				if found, err := c.Get(e.ctx, "null", &s); err != nil || !found || s != "" {
					t.Errorf(`Get(null) into *string = %q, %v, %v; want "", true, nil`, s, found, err)
				}
				var a any = "pre-filled"
				if found, err := c.Get(e.ctx, "null", &a); err != nil || !found || a != nil {
					t.Errorf("Get(null) into *any = %#v, %v, %v; want nil, true, nil", a, found, err)
				}
				r := record{Name: "pre-filled"}
				if found, err := c.Get(e.ctx, "null", &r); err != nil || !found || !reflect.DeepEqual(r, record{}) {
					t.Errorf("Get(null) into *record = %+v, %v, %v; want the zero record, true, nil", r, found, err)
				}
				if !has(t, e.ctx, c, "null") {
					t.Error("Has(null) = false after Set(null, nil), want true")
				}
				m := map[string]any{}
				if err := c.GetMany(e.ctx, []string{"null"}, &m); err != nil {
					t.Errorf("GetMany([null]): %v", err)
				} else if v, ok := m["null"]; !ok || v != nil {
					t.Errorf("GetMany([null]) = %#v, want map[null:<nil>]", m)
				}
				_, err := c.Incr(e.ctx, "null", 1)
				wantErr(t, "Incr(null)", err, djcache.ErrNotInteger)
			},
		},
		{
			name:        "empty-key",
			explanation: "The empty string is a valid key, as in Django (its made key is \":1:\"); it must be stored like any other.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "", "empty")
				wantValue(t, e.ctx, c, "", "empty")
				wantMiss(t, e.ctx, c, "other")
			},
		},
		{
			name:        "add",
			explanation: "Add stores only if the key is absent and reports whether it did; over a live entry it reports false and leaves the value alone. Django's add is the building block for locks and once-only work.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				added, err := c.Add(e.ctx, "k", "first")
				if err != nil || !added {
					t.Errorf("Add(k) on an absent key = %v, %v; want true, nil", added, err)
				}
				added, err = c.Add(e.ctx, "k", "second")
				if err != nil || added {
					t.Errorf("Add(k) over a live entry = %v, %v; want false, nil", added, err)
				}
				wantValue(t, e.ctx, c, "k", "first")
			},
		},
		{
			name:        "add-over-expired",
			explanation: "Add treats an expired entry as absent: it stores the new value and reports true. Django's locmem checks _has_expired before add; a lock whose holder's entry expired must be takeable.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "old", djcache.Timeout(e.briefTTL()))
				e.sleep(t, e.afterBrief())
				added, err := c.Add(e.ctx, "k", "new")
				if err != nil || !added {
					t.Errorf("Add(k) over an expired entry = %v, %v; want true, nil", added, err)
				}
				wantValue(t, e.ctx, c, "k", "new")
			},
		},
		{
			name:        "add-timeout-zero",
			explanation: "Add with Timeout(0) on an absent key reports true and leaves nothing visible (Django's timeout 0: store and expire at once); over a live entry it reports false and keeps the value.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for i := range 2 {
					added, err := c.Add(e.ctx, "k", "v", djcache.Timeout(0))
					if err != nil || !added {
						t.Errorf("Add(k, Timeout(0)) #%d on an absent key = %v, %v; want true, nil", i+1, added, err)
					}
					wantMiss(t, e.ctx, c, "k")
				}
				if !e.o.supports(Storage) {
					return
				}
				set(t, e.ctx, c, "live", "kept")
				added, err := c.Add(e.ctx, "live", "other", djcache.Timeout(0))
				if err != nil || added {
					t.Errorf("Add(live, Timeout(0)) over a live entry = %v, %v; want false, nil", added, err)
				}
				wantValue(t, e.ctx, c, "live", "kept")
			},
		},
	}
}

func sharingCases() []testCase {
	return []testCase{
		{
			name:        "drivers-share-storage",
			explanation: "Two caches over drivers of the same storage see each other's entries, as two Django processes with the same LOCATION do; this is what makes a shared cache useful (and what the Harness promises).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c1, c2 := e.cache(t, nil), e.cache(t, nil)
				set(t, e.ctx, c1, "shared", "v")
				wantValue(t, e.ctx, c2, "shared", "v")
				if deleted, err := c2.Delete(e.ctx, "shared"); err != nil || !deleted {
					t.Errorf("Delete(shared) on the second cache = %v, %v; want true, nil", deleted, err)
				}
				wantMiss(t, e.ctx, c1, "shared")
			},
		},
		{
			name:        "prefix-isolation",
			explanation: "KEY_PREFIX separates caches on the same storage: the same key under two prefixes is two entries (Django's made key is prefix:version:key), so a deploy or a tenant can have its own key space.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				ca := e.cache(t, &djcache.Options{KeyPrefix: "alpha"})
				cb := e.cache(t, &djcache.Options{KeyPrefix: "beta"})
				cn := e.cache(t, nil)
				set(t, e.ctx, ca, "k", "a")
				set(t, e.ctx, cb, "k", "b")
				set(t, e.ctx, cn, "k", "none")
				wantValue(t, e.ctx, ca, "k", "a")
				wantValue(t, e.ctx, cb, "k", "b")
				wantValue(t, e.ctx, cn, "k", "none")
				if _, err := ca.Delete(e.ctx, "k"); err != nil {
					t.Fatal(err)
				}
				wantMiss(t, e.ctx, ca, "k")
				wantValue(t, e.ctx, cb, "k", "b")
				wantValue(t, e.ctx, cn, "k", "none")
				set(t, e.ctx, ca, "only-alpha", 1)
				wantMiss(t, e.ctx, cb, "only-alpha")
				if has(t, e.ctx, cn, "only-alpha") {
					t.Error("Has(only-alpha) without a prefix = true, want false")
				}
			},
		},
		{
			name:        "version-isolation",
			explanation: "Versions separate entries of the same key (made key :1:k vs :2:k): Django's version argument and VERSION setting select one, and a cache whose default VERSION is 2 sees the version-2 entries.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v1")
				set(t, e.ctx, c, "k", "v2", djcache.Version(2))
				wantValue(t, e.ctx, c, "k", "v1")
				wantValue(t, e.ctx, c, "k", "v1", djcache.Version(1))
				wantValue(t, e.ctx, c, "k", "v2", djcache.Version(2))
				wantMiss(t, e.ctx, c, "k", djcache.Version(3))
				c2 := e.cache(t, &djcache.Options{Version: 2})
				wantValue(t, e.ctx, c2, "k", "v2")
				wantValue(t, e.ctx, c2, "k", "v1", djcache.Version(1))
				if _, err := c2.Delete(e.ctx, "k"); err != nil {
					t.Fatal(err)
				}
				wantMiss(t, e.ctx, c, "k", djcache.Version(2))
				wantValue(t, e.ctx, c, "k", "v1")
			},
		},
		{
			name:        "key-func",
			explanation: "A custom KeyFunc (Django's KEY_FUNCTION) decides the stored key: caches with the same function share entries, and a cache with the default function does not see them.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				kf := func(key, prefix string, version int) string {
					return "custom|" + prefix + "|" + strconv.Itoa(version) + "|" + key
				}
				ca := e.cache(t, &djcache.Options{KeyFunc: kf})
				cb := e.cache(t, &djcache.Options{KeyFunc: kf})
				cd := e.cache(t, nil)
				set(t, e.ctx, ca, "k", "custom")
				wantValue(t, e.ctx, cb, "k", "custom")
				wantMiss(t, e.ctx, cd, "k")
				got, err := djcache.GetMany[string](e.ctx, cb, []string{"k", "missing"})
				if err != nil || !reflect.DeepEqual(got, map[string]string{"k": "custom"}) {
					t.Errorf("GetMany with a KeyFunc = %v, %v; want map[k:custom]", got, err)
				}
			},
		},
	}
}

func deleteHasCases() []testCase {
	return []testCase{
		{
			name:        "delete",
			explanation: "Delete removes the entry and reports true for a live entry and false for a missing one (Django 3.1+ returns a bool), so callers can tell whether they removed something.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				set(t, e.ctx, c, "other", "v")
				if deleted, err := c.Delete(e.ctx, "k"); err != nil || !deleted {
					t.Errorf("Delete(k) of a live entry = %v, %v; want true, nil", deleted, err)
				}
				wantMiss(t, e.ctx, c, "k")
				wantValue(t, e.ctx, c, "other", "v")
				if deleted, err := c.Delete(e.ctx, "k"); err != nil || deleted {
					t.Errorf("Delete(k) again = %v, %v; want false, nil", deleted, err)
				}
				if deleted, err := c.Delete(e.ctx, "never-set"); err != nil || deleted {
					t.Errorf("Delete(never-set) = %v, %v; want false, nil", deleted, err)
				}
			},
		},
		{
			name:        "delete-expired",
			explanation: "Delete of an expired entry reports false: the entry was already gone for every reader, so nothing live was removed (SPEC; Django's locmem says true here, which leaks its lazy expiry).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Timeout(e.briefTTL()))
				e.sleep(t, e.afterBrief())
				if deleted, err := c.Delete(e.ctx, "k"); err != nil || deleted {
					t.Errorf("Delete(k) of an expired entry = %v, %v; want false, nil", deleted, err)
				}
			},
		},
		{
			name:        "has",
			explanation: "Has (Django's has_key) reports a live entry, including a stored nil, and false for a missing or deleted key.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) before Set = true, want false")
				}
				set(t, e.ctx, c, "k", "v")
				set(t, e.ctx, c, "null", nil)
				if !has(t, e.ctx, c, "k") {
					t.Error("Has(k) after Set = false, want true")
				}
				if !has(t, e.ctx, c, "null") {
					t.Error("Has(null) after Set(null, nil) = false, want true")
				}
				if _, err := c.Delete(e.ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) after Delete = true, want false")
				}
			},
		},
		{
			name:        "has-expired",
			explanation: "Has reports false for an expired entry, exactly as Get misses it: Django's has_key checks expiry, and a check-then-get must not disagree.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Timeout(e.briefTTL()))
				e.sleep(t, e.afterBrief())
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) of an expired entry = true, want false")
				}
				wantMiss(t, e.ctx, c, "k")
			},
		},
	}
}

func incrCases() []testCase {
	return []testCase{
		{
			name:        "incr-decr",
			explanation: "Incr and Decr add to and subtract from an integer and return the new value (Django's incr/decr with delta), and Get then reads the new integer; counters are the cache's most common use after get/set.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "n", 1)
				steps := []struct {
					op    string
					delta int64
					want  int64
				}{{"incr", 1, 2}, {"incr", 10, 12}, {"decr", 1, 11}, {"decr", 10, 1}}
				for _, s := range steps {
					var got int64
					var err error
					if s.op == "incr" {
						got, err = c.Incr(e.ctx, "n", s.delta)
					} else {
						got, err = c.Decr(e.ctx, "n", s.delta)
					}
					if err != nil || got != s.want {
						t.Errorf("%s(n, %d) = %d, %v; want %d, nil", s.op, s.delta, got, err, s.want)
					}
				}
				wantValue(t, e.ctx, c, "n", 1)
				wantValue(t, e.ctx, c, "n", int64(1))
				var a any
				if found, err := c.Get(e.ctx, "n", &a); err != nil || !found || a != int64(1) {
					t.Errorf("Get(n) into *any after Incr = %#v, %v, %v; want int64(1)", a, found, err)
				}
				set(t, e.ctx, c, "u8", uint8(7))
				if got, err := c.Incr(e.ctx, "u8", 1); err != nil || got != 8 {
					t.Errorf("Incr of a stored uint8(7) = %d, %v; want 8, nil", got, err)
				}
			},
		},
		{
			name:        "incr-missing",
			explanation: "Incr and Decr of a missing key fail with ErrNotFound (Django raises ValueError \"Key ':1:k' not found\", naming the made key, as the *OpError does) and create nothing: a counter must be created explicitly, usually with Add.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				_, err := c.Incr(e.ctx, "missing", 1)
				wantErr(t, "Incr(missing)", err, djcache.ErrNotFound)
				var oe *djcache.OpError
				if !errors.As(err, &oe) || oe.Op != "incr" || oe.Key != ":1:missing" {
					t.Errorf("Incr(missing): error %#v, want an *OpError with Op \"incr\" and the made key \":1:missing\"", err)
				}
				_, err = c.Decr(e.ctx, "missing", 1)
				wantErr(t, "Decr(missing)", err, djcache.ErrNotFound)
				if has(t, e.ctx, c, "missing") {
					t.Error("Has(missing) after a failed Incr = true, want false")
				}
			},
		},
		{
			name:        "incr-expired",
			explanation: "Incr of an expired entry fails with ErrNotFound, as of a missing one, and does not revive it (Django's locmem deletes it and raises ValueError).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "n", 5, djcache.Timeout(e.briefTTL()))
				e.sleep(t, e.afterBrief())
				_, err := c.Incr(e.ctx, "n", 1)
				wantErr(t, "Incr of an expired entry", err, djcache.ErrNotFound)
				wantMiss(t, e.ctx, c, "n")
			},
		},
		{
			name:        "incr-not-integer",
			explanation: "Incr of a value that is not an integer (a string, even \"12\"; nil; a float; a bool; bytes; a struct) fails with ErrNotInteger and leaves the value unchanged, where Django raises TypeError. (With the pickle serializer, memcached counts numeric text as Django's memcached does: Feature PickledTextIsNotACounter.)",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				values := []any{"text", "12", nil, 1.5, true, []byte("12"), record{Name: "r"}}
				if e.mode.pickle && !e.o.supports(PickledTextIsNotACounter) {
					values = []any{"text", nil, 1.5, true, []byte("twelve"), record{Name: "r"}}
				}
				for i, v := range values {
					key := "x" + strconv.Itoa(i)
					set(t, e.ctx, c, key, v)
					_, err := c.Incr(e.ctx, key, 1)
					wantErr(t, fmt.Sprintf("Incr of a stored %T", v), err, djcache.ErrNotInteger)
					_, err = c.Decr(e.ctx, key, 1)
					wantErr(t, fmt.Sprintf("Decr of a stored %T", v), err, djcache.ErrNotInteger)
					if v == nil {
						var a any = "pre-filled"
						if found, err := c.Get(e.ctx, key, &a); err != nil || !found || a != nil {
							t.Errorf("Get(%s) after a failed Incr = %#v, %v, %v; want nil, true, nil", key, a, found, err)
						}
						continue
					}
					wantValue(t, e.ctx, c, key, v)
				}
			},
		},
		{
			name:        "incr-negative-delta",
			explanation: "A negative delta counts the other way: Incr(-3) subtracts and Decr(-3) adds, as Django's decr is incr(-delta).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "n", 10)
				if got, err := c.Incr(e.ctx, "n", -3); err != nil || got != 7 {
					t.Errorf("Incr(n, -3) on 10 = %d, %v; want 7, nil", got, err)
				}
				if got, err := c.Decr(e.ctx, "n", -3); err != nil || got != 10 {
					t.Errorf("Decr(n, -3) on 7 = %d, %v; want 10, nil", got, err)
				}
				if got, err := c.Incr(e.ctx, "n", 0); err != nil || got != 10 {
					t.Errorf("Incr(n, 0) on 10 = %d, %v; want 10, nil", got, err)
				}
			},
		},
		{
			name:        "negative-counters",
			explanation: "Counters go below zero and negative integers count like any other (Python ints are signed); a stock level or a balance may be negative.",
			needs:       []Feature{Storage, NegativeCounters},
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "n", -5)
				if got, err := c.Incr(e.ctx, "n", 2); err != nil || got != -3 {
					t.Errorf("Incr(n, 2) on -5 = %d, %v; want -3, nil", got, err)
				}
				if got, err := c.Decr(e.ctx, "n", 10); err != nil || got != -13 {
					t.Errorf("Decr(n, 10) on -3 = %d, %v; want -13, nil", got, err)
				}
				set(t, e.ctx, c, "z", 0)
				if got, err := c.Decr(e.ctx, "z", 1); err != nil || got != -1 {
					t.Errorf("Decr(z, 1) on 0 = %d, %v; want -1, nil", got, err)
				}
				wantValue(t, e.ctx, c, "z", -1)
			},
		},
		{
			name:        "incr-overflow",
			explanation: "An Incr past the int64 range fails with ErrOverflow and leaves the value unchanged; wrapping around would turn a large counter negative without a word (Python ints never overflow, so Django has no such case to copy).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "max", int64(math.MaxInt64-1))
				if got, err := c.Incr(e.ctx, "max", 1); err != nil || got != math.MaxInt64 {
					t.Errorf("Incr(max, 1) on MaxInt64-1 = %d, %v; want MaxInt64, nil", got, err)
				}
				_, err := c.Incr(e.ctx, "max", 1)
				wantErr(t, "Incr(max, 1) on MaxInt64", err, djcache.ErrOverflow)
				_, err = c.Decr(e.ctx, "max", -1)
				wantErr(t, "Decr(max, -1) on MaxInt64", err, djcache.ErrOverflow)
				wantValue(t, e.ctx, c, "max", int64(math.MaxInt64))
				set(t, e.ctx, c, "five", 5)
				_, err = c.Decr(e.ctx, "five", math.MinInt64)
				wantErr(t, "Decr(five, MinInt64)", err, djcache.ErrOverflow)
				wantValue(t, e.ctx, c, "five", 5)
			},
		},
		{
			name:        "decr-overflow",
			explanation: "A Decr past the bottom of the int64 range fails with ErrOverflow and leaves the value unchanged, as at the top.",
			needs:       []Feature{Storage, NegativeCounters},
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "min", int64(math.MinInt64))
				_, err := c.Decr(e.ctx, "min", 1)
				wantErr(t, "Decr(min, 1) on MinInt64", err, djcache.ErrOverflow)
				_, err = c.Incr(e.ctx, "min", -1)
				wantErr(t, "Incr(min, -1) on MinInt64", err, djcache.ErrOverflow)
				wantValue(t, e.ctx, c, "min", int64(math.MinInt64))
			},
		},
		{
			name:        "incr-keeps-expiry",
			explanation: "Incr keeps the entry's expiry (Django's locmem, memcached and Redis do; its base incr resets the timeout, which SPEC asks us to do better than): a rate-limit counter set for one minute must still expire after that minute however often it is incremented.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, nil)
					a.begin()
					set(t, e.ctx, c, "short", 1, djcache.Timeout(a.ttl))
					got, err := c.Incr(e.ctx, "short", 1)
					if err != nil && (!errors.Is(err, djcache.ErrNotFound) || !a.late(t)) {
						t.Fatalf("Incr(short): %v", err)
					}
					if got != 2 {
						t.Errorf("Incr(short) = %d, want 2", got)
					}
					a.checkExpiry(t, c, made("short"))
					set(t, e.ctx, c, "forever", 1, djcache.Forever)
					if _, err := c.Incr(e.ctx, "forever", 1); err != nil {
						t.Fatalf("Incr(forever): %v", err)
					}
					e.checkForever(t, c, made("forever"))
					a.afterExpiry(t)
					wantMiss(t, e.ctx, c, "short")
					if _, err := c.Incr(e.ctx, "short", 1); !errors.Is(err, djcache.ErrNotFound) {
						t.Errorf("Incr(short) after its timeout: error %v, want ErrNotFound (Incr must not have reset the expiry)", err)
					}
					wantValue(t, e.ctx, c, "forever", 2)
				})
			},
		},
	}
}

func touchCases() []testCase {
	return []testCase{
		{
			name:        "touch",
			explanation: "Touch reports true for a live entry and keeps its value, and false for a missing key without creating it (Django's touch returns a bool).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				if touched, err := c.Touch(e.ctx, "k"); err != nil || !touched {
					t.Errorf("Touch(k) of a live entry = %v, %v; want true, nil", touched, err)
				}
				wantValue(t, e.ctx, c, "k", "v")
				if touched, err := c.Touch(e.ctx, "missing"); err != nil || touched {
					t.Errorf("Touch(missing) = %v, %v; want false, nil", touched, err)
				}
				if has(t, e.ctx, c, "missing") {
					t.Error("Has(missing) after Touch = true, want false")
				}
			},
		},
		{
			name:        "touch-expired",
			explanation: "Touch of an expired entry reports false and never revives it (SPEC; Django's database backend revives expired rows, which resurrects stale data).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Timeout(e.briefTTL()))
				e.sleep(t, e.afterBrief())
				if touched, err := c.Touch(e.ctx, "k", djcache.Forever); err != nil || touched {
					t.Errorf("Touch(k, Forever) of an expired entry = %v, %v; want false, nil", touched, err)
				}
				wantMiss(t, e.ctx, c, "k")
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) after touching an expired entry = true, want false")
				}
			},
		},
		{
			name:        "touch-timeout-zero",
			explanation: "Touch with Timeout(0) (or a negative timeout) of a live entry reports true and expires it at once, so the next Get misses (Django's touch(key, 0)).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for _, opt := range []djcache.Option{djcache.Timeout(0), djcache.Timeout(-time.Second)} {
					set(t, e.ctx, c, "k", "v")
					if touched, err := c.Touch(e.ctx, "k", opt); err != nil || !touched {
						t.Errorf("Touch(k, %v) of a live entry = %v, %v; want true, nil", opt, touched, err)
					}
					wantMiss(t, e.ctx, c, "k")
				}
			},
		},
		{
			name:        "touch-extends-life",
			explanation: "Touch sets a new expiry from now: a longer one keeps an entry past its old timeout, Forever keeps it for good, and a shorter one ends it sooner. Sessions are kept alive this way.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, nil)
					ttl := a.ttl
					a.begin()
					set(t, e.ctx, c, "longer", "v", djcache.Timeout(ttl))
					set(t, e.ctx, c, "forever", "v", djcache.Timeout(ttl))
					set(t, e.ctx, c, "shorter", "v", djcache.Forever)
					for _, tc := range []struct {
						key string
						opt djcache.Option
					}{{"longer", djcache.Timeout(20 * ttl)}, {"forever", djcache.Forever}, {"shorter", djcache.Timeout(ttl)}} {
						touched, err := c.Touch(e.ctx, tc.key, tc.opt)
						if err != nil {
							t.Fatalf("Touch(%s, %v): %v", tc.key, tc.opt, err)
						}
						if !touched && !a.late(t) {
							t.Errorf("Touch(%s, %v) = false, want true", tc.key, tc.opt)
						}
					}
					e.checkForever(t, c, made("forever"))
					a.afterExpiry(t)
					wantValue(t, e.ctx, c, "longer", "v")
					wantValue(t, e.ctx, c, "forever", "v")
					wantMiss(t, e.ctx, c, "shorter")
				})
			},
		},
		{
			name:        "touch-default-timeout",
			explanation: "Touch without a timeout option gives the entry the cache's default timeout (Django's DEFAULT_TIMEOUT), here 300 s, even if it had none.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Forever)
				before := time.Now()
				if touched, err := c.Touch(e.ctx, "k"); err != nil || !touched {
					t.Fatalf("Touch(k) = %v, %v; want true, nil", touched, err)
				}
				e.checkLife(t, c, made("k"), before, djcache.DefaultTimeout)
				wantValue(t, e.ctx, c, "k", "v")
			},
		},
	}
}

func expiryCases() []testCase {
	return []testCase{
		{
			name:        "expiry",
			explanation: "An entry written with a timeout is alive until it passes and gone after, for every writer (Set, Add, SetMany, GetOrSet) and every reader (Get, Has, GetMany); a later Set replaces the old expiry along with the value.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, nil)
					opt := djcache.Timeout(a.ttl)
					a.begin()
					set(t, e.ctx, c, "set", "v", opt)
					if added, err := c.Add(e.ctx, "add", "v", opt); err != nil || !added {
						t.Fatalf("Add(add) = %v, %v", added, err)
					}
					if failed, err := c.SetMany(e.ctx, map[string]any{"many": "v"}, opt); err != nil || len(failed) > 0 {
						t.Fatalf("SetMany = %v, %v", failed, err)
					}
					var s string
					if err := c.GetOrSet(e.ctx, "getorset", &s, func(context.Context) (any, error) { return "v", nil }, opt); err != nil {
						t.Fatalf("GetOrSet: %v", err)
					}
					set(t, e.ctx, c, "made-forever", "v", opt)
					set(t, e.ctx, c, "made-forever", "v2", djcache.Forever)
					set(t, e.ctx, c, "made-short", "v", djcache.Forever)
					set(t, e.ctx, c, "made-short", "v2", opt)
					keys := []string{"set", "add", "many", "getorset", "made-short"}
					for _, k := range keys {
						if !has(t, e.ctx, c, k) && !a.late(t) {
							t.Errorf("Has(%s) at once = false, want true", k)
						}
					}
					a.checkExpiry(t, c, made("set"))
					e.checkForever(t, c, made("made-forever"))
					a.afterExpiry(t)
					for _, k := range keys {
						wantMiss(t, e.ctx, c, k)
						if has(t, e.ctx, c, k) {
							t.Errorf("Has(%s) after its timeout = true, want false", k)
						}
					}
					got, err := djcache.GetMany[string](e.ctx, c, append(keys, "made-forever"))
					if err != nil || !reflect.DeepEqual(got, map[string]string{"made-forever": "v2"}) {
						t.Errorf("GetMany after the timeout = %v, %v; want map[made-forever:v2]", got, err)
					}
				})
			},
		},
		{
			name:        "set-timeout-zero",
			explanation: "Set with Timeout(0) stores nothing visible and removes any earlier value (Django's timeout 0 means \"don't cache\"; ticket 21147 makes it expire at once).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "old")
				set(t, e.ctx, c, "k", "new", djcache.Timeout(0))
				wantMiss(t, e.ctx, c, "k")
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) after Set(k, Timeout(0)) = true, want false")
				}
				set(t, e.ctx, c, "absent", "v", djcache.Timeout(0))
				wantMiss(t, e.ctx, c, "absent")
			},
		},
		{
			name:        "negative-timeout",
			explanation: "A negative timeout is Django's \"expired already\", like 0: Set removes the earlier value and stores nothing visible; Add on an absent key reports true and leaves nothing.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				neg := djcache.Timeout(-time.Second)
				set(t, e.ctx, c, "k", "old")
				set(t, e.ctx, c, "k", "new", neg)
				wantMiss(t, e.ctx, c, "k")
				if added, err := c.Add(e.ctx, "a", "v", neg); err != nil || !added {
					t.Errorf("Add(a, Timeout(-1s)) = %v, %v; want true, nil", added, err)
				}
				wantMiss(t, e.ctx, c, "a")
				set(t, e.ctx, c, "m", "v", djcache.Timeout(-100*24*time.Hour))
				wantMiss(t, e.ctx, c, "m")
			},
		},
		{
			name:        "forever",
			explanation: "Forever (Django's timeout=None) stores an entry that never expires; a driver sees the zero expiry time.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Forever)
				wantValue(t, e.ctx, c, "k", "v")
				e.checkForever(t, c, made("k"))
				if added, err := c.Add(e.ctx, "a", "v", djcache.Forever); err != nil || !added {
					t.Errorf("Add(a, Forever) = %v, %v; want true, nil", added, err)
				}
				e.checkForever(t, c, made("a"))
				wantValue(t, e.ctx, c, "a", "v")
			},
		},
		{
			name:        "long-timeout",
			explanation: "Timeouts longer than 30 days work as relative durations (Django's test_long_timeout: memcached reads such numbers as absolute times, so its backend must convert them).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for _, d := range []time.Duration{30*24*time.Hour + time.Second, 31 * 24 * time.Hour, 365 * 24 * time.Hour, 50 * 365 * 24 * time.Hour} {
					key := "d" + strconv.FormatInt(int64(d/time.Second), 10)
					before := time.Now()
					set(t, e.ctx, c, key, "v", djcache.Timeout(d))
					wantValue(t, e.ctx, c, key, "v")
					e.checkLife(t, c, made(key), before, d)
				}
			},
		},
		{
			name:        "timeout-100-years-is-forever",
			explanation: "A timeout of 100 years or more is treated as Forever, so that every backend can store it (an absolute time that far out overflows some stores); such timeouts mean \"never\" in practice.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for i, d := range []time.Duration{100 * 365 * 24 * time.Hour, 200 * 365 * 24 * time.Hour, math.MaxInt64} {
					key := "y" + strconv.Itoa(i)
					set(t, e.ctx, c, key, "v", djcache.Timeout(d))
					wantValue(t, e.ctx, c, key, "v")
					e.checkForever(t, c, made(key))
				}
			},
		},
		{
			name:        "fractional-timeout",
			explanation: "A fractional timeout such as 1.5 s works (Django's test_float_timeout) and, on backends with sub-second expiry, is not rounded to whole seconds.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				// 1.5 s, then 4.5 s and 13.5 s if the machine is too busy:
				// always a whole number of seconds and a half.
				e.timed(t, 1500*time.Millisecond, func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, nil)
					a.begin()
					set(t, e.ctx, c, "k", "v", djcache.Timeout(a.ttl))
					if !has(t, e.ctx, c, "k") && !a.late(t) {
						t.Fatalf("Has(k) at once after Set(k, Timeout(%v)) = false, want true", a.ttl)
					}
					if _, _, ok := e.expiryOf(t, c, made("k")); ok {
						a.checkExpiry(t, c, made("k"))
						return
					}
					if e.o.ExpiryResolution == 0 {
						// Alive 400ms before the timeout: not rounded down
						// to whole seconds.
						e.sleep(t, time.Until(a.start.Add(a.ttl-400*time.Millisecond)))
						if !has(t, e.ctx, c, "k") && !a.late(t) {
							t.Errorf("Has(k) %v after Set(k, Timeout(%v)) = false, want true (rounded down to whole seconds?)", a.ttl-400*time.Millisecond, a.ttl)
						}
					}
					a.afterExpiry(t)
					wantMiss(t, e.ctx, c, "k")
				})
			},
		},
		{
			name:        "default-timeout",
			explanation: "Without a timeout option an entry gets the cache's default timeout, 300 s unless Options.Timeout says otherwise (Django's TIMEOUT setting).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				before := time.Now()
				set(t, e.ctx, c, "k", "v")
				e.checkLife(t, c, made("k"), before, djcache.DefaultTimeout)
				wantValue(t, e.ctx, c, "k", "v")
			},
		},
		{
			name:        "default-timeout-zero",
			explanation: "A cache whose default timeout is Timeout(0) (Django's TIMEOUT: 0) keeps nothing: Set leaves no entry, Add reports true and leaves none, GetOrSet gives dst the fill value without storing it.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, &djcache.Options{Timeout: djcache.Timeout(0)})
				set(t, e.ctx, c, "k", "v")
				wantMiss(t, e.ctx, c, "k")
				if added, err := c.Add(e.ctx, "a", "v"); err != nil || !added {
					t.Errorf("Add(a) = %v, %v; want true, nil", added, err)
				}
				wantMiss(t, e.ctx, c, "a")
				var s string
				if err := c.GetOrSet(e.ctx, "g", &s, func(context.Context) (any, error) { return "filled", nil }); err != nil || s != "filled" {
					t.Errorf("GetOrSet(g) = %q, %v; want \"filled\", nil", s, err)
				}
				if has(t, e.ctx, c, "g") {
					t.Error("Has(g) after GetOrSet = true, want false")
				}
				if e.o.supports(Storage) {
					set(t, e.ctx, c, "f", "v", djcache.Forever)
					wantValue(t, e.ctx, c, "f", "v")
				}
			},
		},
		{
			name:        "default-timeout-forever",
			explanation: "A cache whose default timeout is Forever (Django's TIMEOUT: None) stores entries that never expire unless a call says otherwise.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, &djcache.Options{Timeout: djcache.Forever})
				set(t, e.ctx, c, "k", "v")
				e.checkForever(t, c, made("k"))
				wantValue(t, e.ctx, c, "k", "v")
				set(t, e.ctx, c, "z", "v", djcache.Timeout(0))
				wantMiss(t, e.ctx, c, "z")
			},
		},
		{
			name:        "default-timeout-short",
			explanation: "A cache's default timeout applies to every write without a timeout option and expires entries on time, while an explicit option overrides it.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, &djcache.Options{Timeout: djcache.Timeout(a.ttl)})
					a.begin()
					set(t, e.ctx, c, "k", "v")
					set(t, e.ctx, c, "f", "v", djcache.Forever)
					if !has(t, e.ctx, c, "k") && !a.late(t) {
						t.Fatal("Has(k) at once = false, want true")
					}
					a.afterExpiry(t)
					wantMiss(t, e.ctx, c, "k")
					wantValue(t, e.ctx, c, "f", "v")
				})
			},
		},
	}
}

func valueCases() []testCase {
	return []testCase{
		{
			name:        "unicode",
			explanation: "Unicode keys and values are stored and read back unchanged by Set, Add, SetMany and GetMany, and non-ASCII keys draw no key warning (Django's test_unicode; only spaces, control characters and length are warned about).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				rec := &logRecorder{}
				c := e.cache(t, &djcache.Options{Logger: rec.logger()})
				stuff := map[string]any{
					"ascii":                "ascii_value",
					"unicode_ascii":        "Iñtërnâtiônàlizætiøn1",
					"Iñtërnâtiônàlizætiøn": "Iñtërnâtiônàlizætiøn2",
					"ascii2":               map[string]int{"x": 1},
					"清":                    "清 κλειδί ключ 🔑",
				}
				for k, v := range stuff {
					set(t, e.ctx, c, k, v)
					wantValue(t, e.ctx, c, k, v)
					if _, err := c.Delete(e.ctx, k); err != nil {
						t.Fatal(err)
					}
					wantMiss(t, e.ctx, c, k)
					if added, err := c.Add(e.ctx, k, v); err != nil || !added {
						t.Errorf("Add(%q) = %v, %v", k, added, err)
					}
					wantValue(t, e.ctx, c, k, v)
				}
				if _, err := c.SetMany(e.ctx, map[string]any{"Iñtërnâtiônàlizætiøn": "many", "清": "many"}); err != nil {
					t.Fatal(err)
				}
				got, err := djcache.GetMany[string](e.ctx, c, []string{"Iñtërnâtiônàlizætiøn", "清"})
				if want := map[string]string{"Iñtërnâtiônàlizætiøn": "many", "清": "many"}; err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("GetMany(unicode keys) = %v, %v; want %v", got, err, want)
				}
				if recs := rec.take(); len(recs) > 0 {
					t.Errorf("unicode keys drew key warnings: %q", messages(recs))
				}
			},
		},
		{
			name:        "binary",
			explanation: "Binary values holding all 256 byte values come back byte for byte, as []byte and as a (not UTF-8) string: Django stores bytes and pickles, and backends that store text must not mangle them.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				all := make([]byte, 256)
				for i := range all {
					all[i] = byte(i)
				}
				rev := slices.Clone(all)
				slices.Reverse(rev)
				set(t, e.ctx, c, "bytes", all)
				wantValue(t, e.ctx, c, "bytes", all)
				set(t, e.ctx, c, "string", string(rev))
				wantValue(t, e.ctx, c, "string", string(rev))
				if _, err := c.SetMany(e.ctx, map[string]any{"m1": all, "m2": rev}); err != nil {
					t.Fatal(err)
				}
				got, err := djcache.GetMany[[]byte](e.ctx, c, []string{"m1", "m2"})
				if err != nil || !reflect.DeepEqual(got, map[string][]byte{"m1": all, "m2": rev}) {
					t.Errorf("GetMany of binary values = %v, %v", got, err)
				}
			},
		},
		{
			name:        "large-value",
			explanation: "A large value (1 MB, or the backend's documented limit) is stored and read back whole; page and fragment caches hold values this big.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				size := 1 << 20
				if m := e.o.MaxValueSize; m > 0 && m-1 < size {
					size = m - 1 // the kind tag takes one byte
				}
				big := randomBytes(size, 1)
				set(t, e.ctx, c, "big", big)
				got, found := get[[]byte](t, e.ctx, c, "big")
				if !found || !slices.Equal(got, big) {
					t.Errorf("Get(big) = %d bytes, found %v; want the %d bytes stored", len(got), found, size)
				}
				many, err := djcache.GetMany[[]byte](e.ctx, c, []string{"big"})
				if err != nil || !slices.Equal(many["big"], big) {
					t.Errorf("GetMany([big]) = %d bytes, %v; want the %d bytes stored", len(many["big"]), err, size)
				}
			},
		},
		{
			name:        "oversized-value",
			explanation: "A value over the backend's size limit fails with an error and leaves no value behind (Django's memcached set deletes the key when the server refuses it), so a reader never sees the stale older value.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				if e.o.MaxValueSize == 0 {
					t.Skip("Options.MaxValueSize is 0: the backend declares no value size limit")
				}
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "old")
				if err := c.Set(e.ctx, "k", randomBytes(e.o.MaxValueSize+1, 2)); err == nil {
					t.Errorf("Set of %d bytes with MaxValueSize %d: no error", e.o.MaxValueSize+1, e.o.MaxValueSize)
				}
				wantMiss(t, e.ctx, c, "k")
			},
		},
		{
			name:        "value-isolation",
			explanation: "Stored values are copies: changing a byte slice or a map after Set, or the value Get returned, never changes what the cache holds (Django pickles even in locmem, so callers may mutate what they get).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				b := []byte("abc")
				set(t, e.ctx, c, "b", b)
				b[0] = 'X'
				got, _ := get[[]byte](t, e.ctx, c, "b")
				if string(got) != "abc" {
					t.Errorf("after changing the slice passed to Set, Get = %q, want \"abc\"", got)
				}
				if len(got) > 0 {
					got[0] = 'Y'
				}
				wantValue(t, e.ctx, c, "b", []byte("abc"))
				m := map[string][]int{"a": {1}}
				set(t, e.ctx, c, "m", m)
				m["a"][0] = 2
				m["b"] = []int{3}
				gm, _ := get[map[string][]int](t, e.ctx, c, "m")
				if !reflect.DeepEqual(gm, map[string][]int{"a": {1}}) {
					t.Errorf("after changing the map passed to Set, Get = %v, want map[a:[1]]", gm)
				}
				if gm != nil {
					gm["a"][0] = 9
					gm["c"] = nil
				}
				wantValue(t, e.ctx, c, "m", map[string][]int{"a": {1}})
				many, err := djcache.GetMany[[]byte](e.ctx, c, []string{"b"})
				if err != nil {
					t.Fatal(err)
				}
				if v := many["b"]; len(v) > 0 {
					v[0] = 'Z'
				}
				wantValue(t, e.ctx, c, "b", []byte("abc"))
				var s []byte
				if err := c.GetOrSet(e.ctx, "b", &s, func(context.Context) (any, error) { return nil, nil }); err != nil {
					t.Fatal(err)
				}
				if len(s) > 0 {
					s[0] = 'W'
				}
				wantValue(t, e.ctx, c, "b", []byte("abc"))
			},
		},
		{
			name:        "unencodable-value",
			explanation: "A value the cache cannot encode (a channel, a function, a complex number, a map holding one) makes Set, Add and GetOrSet fail with an *EncodeError and leaves the earlier value intact (Django raises PicklingError and never swallows it).",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if e.o.supports(Storage) {
					set(t, e.ctx, c, "k", "old")
				}
				bad := []any{make(chan int), func() {}, complex(1, 2), map[string]any{"c": make(chan int)}}
				for _, v := range bad {
					var ee *djcache.EncodeError
					if err := c.Set(e.ctx, "k", v); !errors.As(err, &ee) {
						t.Errorf("Set(k, %T): error %v, want an *EncodeError", v, err)
					}
					if added, err := c.Add(e.ctx, "a", v); !errors.As(err, &ee) || added {
						t.Errorf("Add(a, %T) = %v, %v; want false and an *EncodeError", v, added, err)
					}
					var s string
					if err := c.GetOrSet(e.ctx, "g", &s, func(context.Context) (any, error) { return v, nil }); !errors.As(err, &ee) {
						t.Errorf("GetOrSet(g) filling %T: error %v, want an *EncodeError", v, err)
					}
				}
				if e.o.supports(Storage) {
					wantValue(t, e.ctx, c, "k", "old")
				}
				for _, k := range []string{"a", "g"} {
					if has(t, e.ctx, c, k) {
						t.Errorf("Has(%s) after a failed write = true, want false", k)
					}
				}
			},
		},
		{
			name:        "bad-dst",
			explanation: "Get, GetOrSet and GetMany need a non-nil pointer (GetMany: to a map with string keys); nil, a non-pointer or a typed nil pointer is an error, never a panic or a silent miss.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v")
				var s string
				for _, dst := range []any{nil, s, (*string)(nil), map[string]any{}} {
					if _, err := c.Get(e.ctx, "k", dst); err == nil {
						t.Errorf("Get(k, %#v): no error", dst)
					}
					if _, err := c.Get(e.ctx, "missing", dst); err == nil {
						t.Errorf("Get(missing, %#v): no error", dst)
					}
					if err := c.GetOrSet(e.ctx, "k", dst, func(context.Context) (any, error) { return "v", nil }); err == nil {
						t.Errorf("GetOrSet(k, %#v): no error", dst)
					}
				}
				for _, dst := range []any{nil, map[string]any{}, &s, (*map[string]any)(nil), &[]string{}, &map[int]string{}} {
					if err := c.GetMany(e.ctx, []string{"k"}, dst); err == nil {
						t.Errorf("GetMany([k], %T): no error", dst)
					}
				}
			},
		},
		{
			name:        "decode-mismatch",
			explanation: "Reading a value into a type it does not fit (a stored string into an *int, an int into a struct) fails with a *DecodeError naming both the stored kind and the destination type, and leaves dst unchanged, so the bug is easy to find.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "text", "not a number")
				n := 7
				_, err := c.Get(e.ctx, "text", &n)
				var de *djcache.DecodeError
				switch {
				case !errors.As(err, &de):
					t.Errorf("Get(text) into *int: error %v, want a *DecodeError", err)
				case de.Type != reflect.TypeFor[*int]():
					t.Errorf("DecodeError.Type = %v, want *int", de.Type)
				case !strings.Contains(err.Error(), "text") || !strings.Contains(err.Error(), "*int"):
					t.Errorf("error %q does not name both the stored kind (text) and the destination (*int)", err)
				}
				if n != 7 {
					t.Errorf("dst after a failed decode = %d, want 7 (unchanged)", n)
				}
				set(t, e.ctx, c, "int", 5)
				var r record
				if _, err := c.Get(e.ctx, "int", &r); !errors.As(err, &de) {
					t.Errorf("Get(int) into *record: error %v, want a *DecodeError", err)
				}
				m := map[string]int{"keep": 1}
				if err := c.GetMany(e.ctx, []string{"text", "int"}, &m); !errors.As(err, &de) {
					t.Errorf("GetMany into map[string]int with a text value: error %v, want a *DecodeError", err)
				}
				if !reflect.DeepEqual(m, map[string]int{"keep": 1, "int": 5}) {
					t.Errorf("map after a partly failed GetMany = %v, want map[int:5 keep:1] (the value that decodes added, see get-many-partial-decode)", m)
				}
			},
		},
	}
}

func manyCases() []testCase {
	return []testCase{
		{
			name:        "set-many-get-many-delete-many",
			explanation: "SetMany stores every item and returns no failed keys, GetMany returns the keys found (a stored nil included) under the caller's keys, and DeleteMany removes them, missing keys being no error (Django's set_many, get_many, delete_many).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				failed, err := c.SetMany(e.ctx, map[string]any{"a": 1, "b": "two", "c": nil, "d": []byte("four")})
				if err != nil || len(failed) != 0 {
					t.Fatalf("SetMany = %v, %v; want no failed keys, nil", failed, err)
				}
				var m map[string]any
				if err := c.GetMany(e.ctx, []string{"a", "b", "c", "d", "missing"}, &m); err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"a": int64(1), "b": "two", "c": nil, "d": []byte("four")}
				if !reflect.DeepEqual(m, want) {
					t.Errorf("GetMany = %#v, want %#v", m, want)
				}
				if err := c.DeleteMany(e.ctx, []string{"a", "b", "missing"}); err != nil {
					t.Errorf("DeleteMany: %v", err)
				}
				m = nil
				if err := c.GetMany(e.ctx, []string{"a", "b", "c", "d"}, &m); err != nil {
					t.Fatal(err)
				}
				if want := map[string]any{"c": nil, "d": []byte("four")}; !reflect.DeepEqual(m, want) {
					t.Errorf("GetMany after DeleteMany = %#v, want %#v", m, want)
				}
			},
		},
		{
			name:        "many-empty",
			explanation: "SetMany, GetMany and DeleteMany with no keys succeed and do nothing (Django returns [] and {} without a round trip); GetMany leaves the map's entries.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for _, items := range []map[string]any{nil, {}} {
					if failed, err := c.SetMany(e.ctx, items); err != nil || len(failed) != 0 {
						t.Errorf("SetMany(%#v) = %v, %v; want no failed keys, nil", items, failed, err)
					}
				}
				for _, keys := range [][]string{nil, {}} {
					m := map[string]string{"keep": "v"}
					if err := c.GetMany(e.ctx, keys, &m); err != nil || !reflect.DeepEqual(m, map[string]string{"keep": "v"}) {
						t.Errorf("GetMany(%#v) = %v, %v; want map[keep:v], nil", keys, m, err)
					}
					got, err := djcache.GetMany[string](e.ctx, c, keys)
					if err != nil || len(got) != 0 {
						t.Errorf("GetMany[string](%#v) = %v, %v; want an empty map, nil", keys, got, err)
					}
					if err := c.DeleteMany(e.ctx, keys); err != nil {
						t.Errorf("DeleteMany(%#v): %v", keys, err)
					}
				}
			},
		},
		{
			name:        "get-many-missing-and-duplicates",
			explanation: "GetMany leaves missing keys out of the result and answers a key given twice once (Django's get_many builds a dict), without error.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "a", "A")
				got, err := djcache.GetMany[string](e.ctx, c, []string{"a", "missing", "a", "other", "a"})
				if err != nil || !reflect.DeepEqual(got, map[string]string{"a": "A"}) {
					t.Errorf("GetMany([a missing a other a]) = %v, %v; want map[a:A]", got, err)
				}
				got, err = djcache.GetMany[string](e.ctx, c, []string{"x", "y"})
				if err != nil || len(got) != 0 {
					t.Errorf("GetMany of missing keys = %v, %v; want an empty map", got, err)
				}
			},
		},
		{
			name:        "get-many-typed-map",
			explanation: "GetMany decodes into the map's element type (map[string]int, map[string]string, a struct), a stored nil giving the zero value, so callers need no type assertions.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "one", 1)
				set(t, e.ctx, c, "two", 2)
				set(t, e.ctx, c, "null", nil)
				mi := map[string]int{}
				if err := c.GetMany(e.ctx, []string{"one", "two", "null", "missing"}, &mi); err != nil || !reflect.DeepEqual(mi, map[string]int{"one": 1, "two": 2, "null": 0}) {
					t.Errorf("GetMany into map[string]int = %v, %v; want map[null:0 one:1 two:2]", mi, err)
				}
				set(t, e.ctx, c, "r", record{Name: "r", Count: 2})
				mr := map[string]record{}
				if err := c.GetMany(e.ctx, []string{"r"}, &mr); err != nil || !reflect.DeepEqual(mr, map[string]record{"r": {Name: "r", Count: 2}}) {
					t.Errorf("GetMany into map[string]record = %v, %v", mr, err)
				}
				type name string
				mn := map[name]string{}
				set(t, e.ctx, c, "s", "S")
				if err := c.GetMany(e.ctx, []string{"s"}, &mn); err != nil || !reflect.DeepEqual(mn, map[name]string{"s": "S"}) {
					t.Errorf("GetMany into map[name]string = %v, %v; want map[s:S]", mn, err)
				}
			},
		},
		{
			name:        "get-many-nil-map",
			explanation: "GetMany allocates the map when *dst is nil, so `var m map[string]T; c.GetMany(ctx, keys, &m)` works.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "a", "A")
				var m map[string]string
				if err := c.GetMany(e.ctx, []string{"a", "missing"}, &m); err != nil || !reflect.DeepEqual(m, map[string]string{"a": "A"}) {
					t.Errorf("GetMany into a nil map = %v, %v; want map[a:A]", m, err)
				}
			},
		},
		{
			name:        "get-many-keeps-entries",
			explanation: "GetMany adds the keys found to dst's map and keeps its entries for other keys, so results of several calls can be gathered in one map.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "a", "A")
				m := map[string]string{"other": "kept", "a": "stale"}
				if err := c.GetMany(e.ctx, []string{"a", "missing"}, &m); err != nil {
					t.Fatal(err)
				}
				if m["other"] != "kept" || m["a"] != "A" {
					t.Errorf("GetMany into a pre-filled map = %v; want other:kept and a:A", m)
				}
			},
		},
		{
			name:        "get-many-expired",
			explanation: "GetMany leaves out expired entries, as Get misses them.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "brief", "v", djcache.Timeout(e.briefTTL()))
				set(t, e.ctx, c, "long", "v")
				e.sleep(t, e.afterBrief())
				got, err := djcache.GetMany[string](e.ctx, c, []string{"brief", "long"})
				if err != nil || !reflect.DeepEqual(got, map[string]string{"long": "v"}) {
					t.Errorf("GetMany = %v, %v; want map[long:v]", got, err)
				}
			},
		},
		{
			name:        "set-many-options",
			explanation: "SetMany honours Version and Timeout like Set: with Version(2) the entries land in version 2, and with Timeout(0) nothing stays and earlier values are removed (Django's set_many(data, timeout, version)).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if _, err := c.SetMany(e.ctx, map[string]any{"a": "v2", "b": "v2"}, djcache.Version(2)); err != nil {
					t.Fatal(err)
				}
				wantMiss(t, e.ctx, c, "a")
				wantValue(t, e.ctx, c, "a", "v2", djcache.Version(2))
				got, err := djcache.GetMany[string](e.ctx, c, []string{"a", "b"}, djcache.Version(2))
				if err != nil || !reflect.DeepEqual(got, map[string]string{"a": "v2", "b": "v2"}) {
					t.Errorf("GetMany(Version(2)) = %v, %v", got, err)
				}
				if err := c.DeleteMany(e.ctx, []string{"a"}, djcache.Version(2)); err != nil {
					t.Fatal(err)
				}
				wantMiss(t, e.ctx, c, "a", djcache.Version(2))
				wantValue(t, e.ctx, c, "b", "v2", djcache.Version(2))
				set(t, e.ctx, c, "z", "old")
				if failed, err := c.SetMany(e.ctx, map[string]any{"z": "new", "y": "new"}, djcache.Timeout(0)); err != nil || len(failed) > 0 {
					t.Fatalf("SetMany(Timeout(0)) = %v, %v", failed, err)
				}
				wantMiss(t, e.ctx, c, "z")
				wantMiss(t, e.ctx, c, "y")
			},
		},
		{
			name:        "set-many-unencodable",
			explanation: "If one value of SetMany cannot be encoded, SetMany fails with an *EncodeError and stores nothing, leaving earlier values intact: values are encoded before anything is written.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if e.o.supports(Storage) {
					set(t, e.ctx, c, "a", "old")
				}
				_, err := c.SetMany(e.ctx, map[string]any{"a": "new", "b": 1, "c": make(chan int)})
				var ee *djcache.EncodeError
				if !errors.As(err, &ee) {
					t.Errorf("SetMany with a channel: error %v, want an *EncodeError", err)
				}
				if e.o.supports(Storage) {
					wantValue(t, e.ctx, c, "a", "old")
				}
				wantMiss(t, e.ctx, c, "b")
			},
		},
		{
			name:        "clear",
			explanation: "Clear removes every entry of this cache, whatever its version or value, and the cache works normally afterwards; Django's test suite calls clear() between tests and relies on a clean slate.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				cp := e.cache(t, &djcache.Options{KeyPrefix: "p"})
				set(t, e.ctx, c, "a", "v")
				set(t, e.ctx, c, "a", "v", djcache.Version(2))
				set(t, e.ctx, c, "null", nil)
				set(t, e.ctx, c, "forever", 1, djcache.Forever)
				set(t, e.ctx, cp, "p", "v")
				if err := c.Clear(e.ctx); err != nil {
					t.Fatalf("Clear: %v", err)
				}
				if err := cp.Clear(e.ctx); err != nil {
					t.Fatalf("Clear with a prefix: %v", err)
				}
				for _, k := range []string{"a", "null", "forever"} {
					if has(t, e.ctx, c, k) {
						t.Errorf("Has(%s) after Clear = true, want false", k)
					}
				}
				wantMiss(t, e.ctx, c, "a", djcache.Version(2))
				wantMiss(t, e.ctx, cp, "p")
				set(t, e.ctx, c, "a", "after")
				wantValue(t, e.ctx, c, "a", "after")
				if err := c.Clear(e.ctx); err != nil {
					t.Fatalf("Clear: %v", err)
				}
				if err := c.Clear(e.ctx); err != nil {
					t.Fatalf("Clear of an empty cache: %v", err)
				}
			},
		},
	}
}

func versionCases() []testCase {
	return []testCase{
		{
			name:        "incr-version",
			explanation: "IncrVersion moves a value from version v to v+delta, deletes the old entry and returns the new version (Django's incr_version, used to invalidate a key while keeping its value reachable).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "answer", 42, djcache.Version(2))
				if v, err := c.IncrVersion(e.ctx, "answer", 1, djcache.Version(2)); err != nil || v != 3 {
					t.Errorf("IncrVersion(answer, 1, Version(2)) = %d, %v; want 3, nil", v, err)
				}
				wantMiss(t, e.ctx, c, "answer", djcache.Version(2))
				wantValue(t, e.ctx, c, "answer", 42, djcache.Version(3))
				set(t, e.ctx, c, "k", "v")
				if v, err := c.IncrVersion(e.ctx, "k", 1); err != nil || v != 2 {
					t.Errorf("IncrVersion(k, 1) = %d, %v; want 2, nil", v, err)
				}
				wantMiss(t, e.ctx, c, "k")
				wantValue(t, e.ctx, c, "k", "v", djcache.Version(2))
				if v, err := c.IncrVersion(e.ctx, "k", 5, djcache.Version(2)); err != nil || v != 7 {
					t.Errorf("IncrVersion(k, 5, Version(2)) = %d, %v; want 7, nil", v, err)
				}
				wantValue(t, e.ctx, c, "k", "v", djcache.Version(7))
			},
		},
		{
			name:        "decr-version",
			explanation: "DecrVersion moves a value from version v to v-delta and deletes the old entry (Django's decr_version).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "answer", 42, djcache.Version(2))
				if v, err := c.DecrVersion(e.ctx, "answer", 1, djcache.Version(2)); err != nil || v != 1 {
					t.Errorf("DecrVersion(answer, 1, Version(2)) = %d, %v; want 1, nil", v, err)
				}
				wantMiss(t, e.ctx, c, "answer", djcache.Version(2))
				wantValue(t, e.ctx, c, "answer", 42)
			},
		},
		{
			name:        "incr-version-missing",
			explanation: "IncrVersion and DecrVersion of a missing key fail with ErrNotFound (Django raises ValueError) and create nothing.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				_, err := c.IncrVersion(e.ctx, "missing", 1)
				wantErr(t, "IncrVersion(missing)", err, djcache.ErrNotFound)
				_, err = c.DecrVersion(e.ctx, "missing", 1, djcache.Version(2))
				wantErr(t, "DecrVersion(missing)", err, djcache.ErrNotFound)
				wantMiss(t, e.ctx, c, "missing", djcache.Version(2))
			},
		},
		{
			name:        "incr-version-nil",
			explanation: "A stored nil counts as present for IncrVersion and moves like any value (Django: set(\"null\", None); incr_version(\"null\") == 2).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "null", nil)
				if v, err := c.IncrVersion(e.ctx, "null", 1); err != nil || v != 2 {
					t.Errorf("IncrVersion(null) = %d, %v; want 2, nil", v, err)
				}
				var a any = "pre-filled"
				if found, err := c.Get(e.ctx, "null", &a, djcache.Version(2)); err != nil || !found || a != nil {
					t.Errorf("Get(null, Version(2)) = %#v, %v, %v; want nil, true, nil", a, found, err)
				}
				if has(t, e.ctx, c, "null") {
					t.Error("Has(null) at version 1 after IncrVersion = true, want false")
				}
			},
		},
		{
			name:        "incr-version-keeps-expiry",
			explanation: "IncrVersion keeps the entry's remaining lifetime when the driver can read it (driver.ExpiryReader), and otherwise gives it the default timeout as Django does; a key due to expire in a minute must not live five more after a version bump.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cache(t, nil)
					_, reads := c.Driver().(driver.ExpiryReader)
					a.begin()
					set(t, e.ctx, c, "short", "v", djcache.Timeout(a.ttl))
					set(t, e.ctx, c, "forever", "v", djcache.Forever)
					if _, err := c.IncrVersion(e.ctx, "short", 1); err != nil && (!errors.Is(err, djcache.ErrNotFound) || !a.late(t)) {
						t.Fatalf("IncrVersion(short): %v", err)
					}
					if _, err := c.IncrVersion(e.ctx, "forever", 1); err != nil {
						t.Fatalf("IncrVersion(forever): %v", err)
					}
					e.checkForever(t, c, djcache.DefaultKeyFunc("forever", "", 2))
					if reads {
						a.checkExpiry(t, c, djcache.DefaultKeyFunc("short", "", 2))
					}
					a.afterExpiry(t)
					if reads {
						wantMiss(t, e.ctx, c, "short", djcache.Version(2))
					} else {
						wantValue(t, e.ctx, c, "short", "v", djcache.Version(2))
					}
					wantValue(t, e.ctx, c, "forever", "v", djcache.Version(2))
				})
			},
		},
		{
			name:        "incr-version-without-expiry-reader",
			explanation: "Over a driver that cannot read expiries, IncrVersion gives the moved entry the cache's default timeout (Django's incr_version sets with DEFAULT_TIMEOUT), so the entry stays reachable rather than vanishing.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				e.timed(t, e.shortTTL(), func(t *testing.T, e *env, a *attempt) {
					c := e.cacheOn(t, plainDriver{e.driver(t)}, nil)
					a.begin()
					set(t, e.ctx, c, "short", "v", djcache.Timeout(a.ttl))
					if _, err := c.IncrVersion(e.ctx, "short", 1); err != nil && (!errors.Is(err, djcache.ErrNotFound) || !a.late(t)) {
						t.Fatalf("IncrVersion(short): %v", err)
					}
					a.afterExpiry(t)
					wantValue(t, e.ctx, c, "short", "v", djcache.Version(2))
					wantMiss(t, e.ctx, c, "short")
				})
			},
		},
	}
}

func getOrSetCases() []testCase {
	return []testCase{
		{
			name:        "get-or-set",
			explanation: "GetOrSet returns the cached value on a hit without calling fill, and on a miss calls fill once, stores its result and returns it (Django's get_or_set with a callable default).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				fill := func(context.Context) (any, error) { calls++; return "filled", nil }
				for i := range 2 {
					var s string
					if err := c.GetOrSet(e.ctx, "k", &s, fill); err != nil || s != "filled" {
						t.Errorf("GetOrSet(k) #%d = %q, %v; want \"filled\", nil", i+1, s, err)
					}
				}
				if calls != 1 {
					t.Errorf("fill called %d times, want 1 (only on the miss)", calls)
				}
				wantValue(t, e.ctx, c, "k", "filled")
				set(t, e.ctx, c, "there", "cached")
				var s string
				if err := c.GetOrSet(e.ctx, "there", &s, fill); err != nil || s != "cached" {
					t.Errorf("GetOrSet(there) = %q, %v; want \"cached\", nil", s, err)
				}
				if calls != 1 {
					t.Errorf("fill called on a hit")
				}
			},
		},
		{
			name:        "get-or-set-nil",
			explanation: "A fill that returns nil stores nil, which is a hit from then on: GetOrSet gives dst its zero value and does not call fill again (Django: get_or_set(\"null\", None) stores None).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				fill := func(context.Context) (any, error) { calls++; return nil, nil }
				for i := range 2 {
					s := "pre-filled"
					if err := c.GetOrSet(e.ctx, "null", &s, fill); err != nil || s != "" {
						t.Errorf("GetOrSet(null) #%d = %q, %v; want \"\", nil", i+1, s, err)
					}
				}
				if calls != 1 {
					t.Errorf("fill called %d times, want 1 (a stored nil is a hit)", calls)
				}
				if !has(t, e.ctx, c, "null") {
					t.Error("Has(null) after GetOrSet filled nil = false, want true")
				}
			},
		},
		{
			name:        "get-or-set-fill-error",
			explanation: "A fill error is returned to the caller (errors.Is finds it), dst is left alone and nothing is stored, so the next call tries again; a nil fill is an error too (Django's get_or_set requires its default).",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				boom := errors.New("boom")
				s := "pre-filled"
				err := c.GetOrSet(e.ctx, "k", &s, func(context.Context) (any, error) { return "ignored", boom })
				if !errors.Is(err, boom) {
					t.Errorf("GetOrSet with a failing fill: error %v, want one that wraps the fill's", err)
				}
				if s != "pre-filled" {
					t.Errorf("dst after a fill error = %q, want it unchanged", s)
				}
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) after a fill error = true, want false")
				}
				if _, err := djcache.GetOrSet(e.ctx, c, "k", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
					t.Errorf("GetOrSet[int] with a failing fill: error %v, want one that wraps the fill's", err)
				}
				if err := c.GetOrSet(e.ctx, "k", &s, nil); err == nil {
					t.Error("GetOrSet with a nil fill: no error (Django's get_or_set without a default is a TypeError)")
				}
				if _, err := djcache.GetOrSet[int](e.ctx, c, "k", nil); err == nil {
					t.Error("GetOrSet[int] with a nil fill: no error")
				}
			},
		},
		{
			name:        "get-or-set-timeout-zero",
			explanation: "GetOrSet with Timeout(0) gives dst the fill's value but stores nothing, so every call fills again (Django: add with timeout 0 stores nothing and get_or_set returns the default).",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				fill := func(context.Context) (any, error) { calls++; return "filled", nil }
				for i := range 2 {
					var s string
					if err := c.GetOrSet(e.ctx, "k", &s, fill, djcache.Timeout(0)); err != nil || s != "filled" {
						t.Errorf("GetOrSet(k, Timeout(0)) #%d = %q, %v; want \"filled\", nil", i+1, s, err)
					}
				}
				if calls != 2 {
					t.Errorf("fill called %d times, want 2 (nothing was stored)", calls)
				}
				if has(t, e.ctx, c, "k") {
					t.Error("Has(k) after GetOrSet(Timeout(0)) = true, want false")
				}
			},
		},
		{
			name:        "get-or-set-generic",
			explanation: "The generic GetOrSet[T] returns the value typed, from the fill on a miss and from the cache on a hit, so callers need no dst pointer.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				calls := 0
				fill := func(context.Context) (record, error) { calls++; return record{Name: "r", Count: calls}, nil }
				for i := range 2 {
					r, err := djcache.GetOrSet(e.ctx, c, "rec", fill)
					if err != nil || !reflect.DeepEqual(r, record{Name: "r", Count: 1}) {
						t.Errorf("GetOrSet[record] #%d = %+v, %v; want {r 1}", i+1, r, err)
					}
				}
				n, err := djcache.GetOrSet(e.ctx, c, "n", func(context.Context) (int, error) { return 5, nil })
				if err != nil || n != 5 {
					t.Errorf("GetOrSet[int] = %d, %v; want 5", n, err)
				}
				if got, err := c.Incr(e.ctx, "n", 1); err != nil || got != 6 {
					t.Errorf("Incr after GetOrSet[int] = %d, %v; want 6 (stored as an integer)", got, err)
				}
			},
		},
		{
			name:        "get-or-set-loses-race",
			explanation: "If another writer stores the key while fill runs, GetOrSet's add loses and it returns the winner's stored value, so that all callers agree (Django's get_or_set re-reads after add; test_get_or_set_racing).",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				other := e.cache(t, nil)
				var s string
				err := c.GetOrSet(e.ctx, "k", &s, func(ctx context.Context) (any, error) {
					if err := other.Set(ctx, "k", "theirs"); err != nil {
						return nil, err
					}
					return "mine", nil
				})
				if err != nil || s != "theirs" {
					t.Errorf("GetOrSet(k) losing the race = %q, %v; want \"theirs\", nil", s, err)
				}
				wantValue(t, e.ctx, c, "k", "theirs")
			},
		},
	}
}

// randomBytes returns n pseudo-random (incompressible) bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
