package djcachetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// apiCases are the cases of the calls and destinations that go beyond
// Django's API: pointer destinations, GetMany with values that do not
// decode, TTL and Ping.
func apiCases() []testCase {
	return []testCase{
		{
			name:        "get-pointer-destinations",
			explanation: "Get and GetMany decode into pointers as encoding/json does: a stored nil gives a nil pointer, any other value a pointer to a new decoded value, at any depth (**int, *struct, map[string]*int, GetMany[*int]). A Go caller uses a pointer to tell a stored None from a stored zero, which Django's None/0 distinction needs.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if failed, err := c.SetMany(e.ctx, map[string]any{"x": nil, "y": 1}); err != nil || len(failed) > 0 {
					t.Fatalf("SetMany(x: nil, y: 1) = %v, %v", failed, err)
				}
				var m map[string]*int
				if err := c.GetMany(e.ctx, []string{"x", "y", "missing"}, &m); err != nil {
					t.Fatalf("GetMany into map[string]*int: %v", err)
				}
				if p, ok := m["x"]; !ok || p != nil {
					t.Errorf("GetMany into map[string]*int: x = %v, present %v; want a nil pointer, present", p, ok)
				}
				if p := m["y"]; p == nil || *p != 1 {
					t.Errorf("GetMany into map[string]*int: y = %v; want a pointer to 1", p)
				}
				if _, ok := m["missing"]; ok || len(m) != 2 {
					t.Errorf("GetMany into map[string]*int = %v; want x and y only", m)
				}
				g, err := djcache.GetMany[*int](e.ctx, c, []string{"x", "y"})
				if err != nil || len(g) != 2 || g["x"] != nil || g["y"] == nil || *g["y"] != 1 {
					t.Errorf("GetMany[*int] = %v, %v; want x: nil, y: pointer to 1", g, err)
				}

				// Get into **int replaces the pointer: the variable it pointed
				// to before is not written through.
				old := 7
				p := &old
				if found, err := c.Get(e.ctx, "y", &p); err != nil || !found || p == nil || *p != 1 || p == &old {
					t.Errorf("Get(y) into **int = %v, %v; want found, a new pointer to 1", found, err)
				}
				if old != 7 {
					t.Errorf("Get(y) into **int wrote %d through the old pointer", old)
				}
				p = &old
				if found, err := c.Get(e.ctx, "x", &p); err != nil || !found || p != nil {
					t.Errorf("Get(x) (a stored nil) into **int = %v, %v, pointer %v; want found, a nil pointer", found, err, p)
				}
				var ppp **int
				if found, err := c.Get(e.ctx, "y", &ppp); err != nil || !found || ppp == nil || *ppp == nil || **ppp != 1 {
					t.Errorf("Get(y) into ***int = %v, %v; want found, pointers to 1", found, err)
				}

				set(t, e.ctx, c, "s", "text")
				set(t, e.ctx, c, "b", []byte("raw"))
				set(t, e.ctx, c, "f", 2.5)
				set(t, e.ctx, c, "t", true)
				set(t, e.ctx, c, "r", record{Name: "r", Count: 3})
				var (
					ps *string
					pb *[]byte
					pf *float64
					pt *bool
					pr *record
				)
				for _, tc := range []struct {
					key  string
					dst  any
					want any
				}{
					{"s", &ps, "text"},
					{"b", &pb, []byte("raw")},
					{"f", &pf, 2.5},
					{"t", &pt, true},
					{"r", &pr, record{Name: "r", Count: 3}},
				} {
					found, err := c.Get(e.ctx, tc.key, tc.dst)
					pv := reflect.ValueOf(tc.dst).Elem()
					if err != nil || !found || pv.IsNil() || !reflect.DeepEqual(pv.Elem().Interface(), tc.want) {
						t.Errorf("Get(%s) into %T = %v, %v; want found, a pointer to %s", tc.key, tc.dst, found, err, show(tc.want))
					}
				}
				mr := map[string]*record{}
				if err := c.GetMany(e.ctx, []string{"r", "x"}, &mr); err != nil || len(mr) != 2 || mr["x"] != nil || mr["r"] == nil || mr["r"].Name != "r" {
					t.Errorf("GetMany into map[string]*record = %v, %v; want r: &{r 3}, x: nil", mr, err)
				}

				// A value that does not fit the pointed-to type is a
				// *DecodeError naming the caller's type.
				p = nil
				_, err = c.Get(e.ctx, "s", &p)
				var de *djcache.DecodeError
				if !errors.As(err, &de) || de.Type != reflect.TypeFor[**int]() {
					t.Errorf("Get(s) (text) into **int: error %v; want a *DecodeError for **int", err)
				}
				if p != nil {
					t.Errorf("Get(s) (text) into **int failed but set the pointer to %v", *p)
				}
			},
		},
		{
			name:        "get-many-partial-decode",
			explanation: "When some values of GetMany do not decode into the map's type, the others are still returned, with an error naming the keys left out: a *ManyDecodeError (in an *OpError) whose Keys and *DecodeErrors errors.As finds. One stale entry of another type must not hide every other key of a page's get_many.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "a", 1)
				set(t, e.ctx, c, "b", 2)
				set(t, e.ctx, c, "text", "not a number")
				set(t, e.ctx, c, "rec", record{Name: "r"})
				keys := []string{"a", "text", "b", "missing", "rec", "text"}
				wantKeys := []string{"text", "rec"}
				check := func(what string, err error) {
					t.Helper()
					var oe *djcache.OpError
					if !errors.As(err, &oe) || oe.Op != "get_many" {
						t.Errorf("%s: error %v; want an *OpError with Op get_many", what, err)
					}
					var me *djcache.ManyDecodeError
					if !errors.As(err, &me) {
						t.Errorf("%s: error %v; want a *ManyDecodeError", what, err)
						return
					}
					if !slices.Equal(me.Keys, wantKeys) || len(me.Errs) != len(me.Keys) {
						t.Errorf("%s: ManyDecodeError.Keys = %q with %d errors; want %q with one error each", what, me.Keys, len(me.Errs), wantKeys)
					}
					for i, ke := range me.Errs {
						var de *djcache.DecodeError
						if !errors.As(ke, &de) {
							t.Errorf("%s: error of key %q = %v; want a *DecodeError", what, me.Keys[i], ke)
						}
					}
					var de *djcache.DecodeError
					if !errors.As(err, &de) {
						t.Errorf("%s: errors.As(err, *DecodeError) finds nothing in %v", what, err)
					}
					for _, k := range wantKeys {
						if !strings.Contains(err.Error(), `"`+k+`"`) {
							t.Errorf("%s: error %q does not name key %q", what, err, k)
						}
					}
				}

				got, err := djcache.GetMany[int](e.ctx, c, keys)
				check("GetMany[int]", err)
				if want := map[string]int{"a": 1, "b": 2}; !reflect.DeepEqual(got, want) {
					t.Errorf("GetMany[int] = %v; want %v with the error", got, want)
				}

				m := map[string]int{"text": 99, "other": 5}
				err = c.GetMany(e.ctx, keys, &m)
				check("GetMany into map[string]int", err)
				if want := map[string]int{"a": 1, "b": 2, "text": 99, "other": 5}; !reflect.DeepEqual(m, want) {
					t.Errorf("GetMany into a pre-filled map[string]int = %v; want %v (the keys that decoded added, the others untouched)", m, want)
				}

				var nilMap map[string]int
				err = c.GetMany(e.ctx, []string{"text"}, &nilMap)
				var me *djcache.ManyDecodeError
				if !errors.As(err, &me) || !slices.Equal(me.Keys, []string{"text"}) || nilMap == nil || len(nilMap) != 0 {
					t.Errorf("GetMany(text) into a nil map[string]int = %v, %v; want an empty map and a *ManyDecodeError for text", nilMap, err)
				}

				// Values that all decode: no error.
				if got, err := djcache.GetMany[int](e.ctx, c, []string{"a", "b"}); err != nil || len(got) != 2 {
					t.Errorf("GetMany[int](a, b) = %v, %v; want both, nil", got, err)
				}
			},
		},
		{
			name:        "ttl",
			explanation: "TTL reports an entry's remaining lifetime (django-redis's ttl()): about the timeout it was set or touched with, djcache.NeverExpires for an entry set with Forever, and ErrNotFound for a missing or expired key; Incr keeps it. On a backend that cannot read expiry times it fails with ErrNotSupported.",
			needs:       storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				if _, ok := c.Driver().(driver.ExpiryReader); !ok {
					set(t, e.ctx, c, "k", "v")
					_, err := c.TTL(e.ctx, "k")
					wantErr(t, "TTL on a backend without driver.ExpiryReader", err, djcache.ErrNotSupported)
					return
				}
				tol := e.o.ExpiryResolution + 50*time.Millisecond
				// within checks the TTL of an entry written after before
				// with timeout d.
				within := func(what, key string, d time.Duration, before time.Time, opts ...djcache.Option) {
					t.Helper()
					ttl, err := c.TTL(e.ctx, key, opts...)
					elapsed := time.Since(before)
					if err != nil {
						t.Errorf("%s: TTL(%q) error %v; want about %v", what, key, err, d)
						return
					}
					if lo, hi := d-elapsed-tol, d+tol; ttl < lo || ttl > hi {
						t.Errorf("%s: TTL(%q) = %v; want between %v and %v", what, key, ttl, lo, hi)
					}
				}
				never := func(what, key string, opts ...djcache.Option) {
					t.Helper()
					if ttl, err := c.TTL(e.ctx, key, opts...); err != nil || ttl != djcache.NeverExpires {
						t.Errorf("%s: TTL(%q) = %v, %v; want NeverExpires, nil", what, key, ttl, err)
					}
				}
				notFound := func(what, key string, opts ...djcache.Option) {
					t.Helper()
					ttl, err := c.TTL(e.ctx, key, opts...)
					wantErr(t, what, err, djcache.ErrNotFound)
					var oe *djcache.OpError
					if !errors.As(err, &oe) || oe.Op != "ttl" {
						t.Errorf("%s: error %v; want an *OpError with Op ttl", what, err)
					}
					if ttl != 0 {
						t.Errorf("%s: TTL = %v with the error; want 0", what, ttl)
					}
				}

				before := time.Now()
				set(t, e.ctx, c, "hour", 10, djcache.Timeout(time.Hour))
				within("Set with Timeout(1h)", "hour", time.Hour, before)
				if _, err := c.Incr(e.ctx, "hour", 1); err != nil {
					t.Fatalf("Incr(hour): %v", err)
				}
				within("after Incr, which keeps the expiry", "hour", time.Hour, before)

				before = time.Now()
				if touched, err := c.Touch(e.ctx, "hour", djcache.Timeout(2*time.Hour)); err != nil || !touched {
					t.Fatalf("Touch(hour, 2h) = %v, %v", touched, err)
				}
				within("after Touch with Timeout(2h)", "hour", 2*time.Hour, before)
				if touched, err := c.Touch(e.ctx, "hour", djcache.Forever); err != nil || !touched {
					t.Fatalf("Touch(hour, Forever) = %v, %v", touched, err)
				}
				never("after Touch with Forever", "hour")

				set(t, e.ctx, c, "forever", "v", djcache.Forever)
				never("Set with Forever", "forever")
				set(t, e.ctx, c, "nil", nil, djcache.Forever)
				never("a stored nil set with Forever", "nil")

				before = time.Now()
				set(t, e.ctx, c, "default", "v")
				within("Set with the default timeout", "default", djcache.DefaultTimeout, before)
				before = time.Now()
				set(t, e.ctx, c, "default", "v")
				within("TTL with a Timeout option, which it ignores", "default", djcache.DefaultTimeout, before, djcache.Timeout(time.Second))

				notFound("TTL of a missing key", "missing")
				set(t, e.ctx, c, "gone", "v")
				set(t, e.ctx, c, "gone", "v", djcache.Timeout(0))
				notFound("TTL after Set with Timeout(0)", "gone")
				set(t, e.ctx, c, "expired", "v")
				if _, err := c.Touch(e.ctx, "expired", djcache.Timeout(0)); err != nil {
					t.Fatalf("Touch(expired, Timeout(0)): %v", err)
				}
				notFound("TTL after Touch with Timeout(0)", "expired")

				before = time.Now()
				set(t, e.ctx, c, "v2", "v", djcache.Version(2), djcache.Timeout(time.Hour))
				notFound("TTL of version 1 of a key set in version 2", "v2")
				within("TTL with Version(2)", "v2", time.Hour, before, djcache.Version(2))
			},
		},
		{
			name:        "ttl-not-supported",
			explanation: "On a backend whose driver cannot read expiry times (no driver.ExpiryReader), TTL fails at once with an *OpError wrapping ErrNotSupported that names the backend, instead of guessing a lifetime.",
			run: func(t *testing.T, e *env) {
				c := e.cacheOn(t, struct{ driver.Driver }{e.driver(t)}, nil)
				if e.o.supports(Storage) {
					set(t, e.ctx, c, "k", "v")
				}
				ttl, err := c.TTL(e.ctx, "k")
				wantErr(t, "TTL without driver.ExpiryReader", err, djcache.ErrNotSupported)
				var oe *djcache.OpError
				if !errors.As(err, &oe) || oe.Op != "ttl" || oe.Backend == "" || !strings.Contains(err.Error(), oe.Backend) {
					t.Errorf("TTL without driver.ExpiryReader: error %v; want an *OpError with Op ttl naming the backend", err)
				}
				if ttl != 0 {
					t.Errorf("TTL without driver.ExpiryReader = %v with the error; want 0", ttl)
				}
			},
		},
		{
			name:        "ping",
			explanation: "Ping checks that the backend is reachable (a health check or readiness probe; Open does no I/O, so a wrong address otherwise shows at the first call). On a working backend it returns nil, again and again, before and after writes, and it neither stores anything nor counts hits or misses.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				for i := range 2 {
					if err := c.Ping(e.ctx); err != nil {
						t.Fatalf("Ping #%d on a fresh cache: %v", i+1, err)
					}
				}
				set(t, e.ctx, c, "k", "v")
				if err := c.Ping(e.ctx); err != nil {
					t.Errorf("Ping after a Set: %v", err)
				}
				if s := c.Stats(); s.Hits != 0 || s.Misses != 0 || s.Errors != 0 {
					t.Errorf("Stats after Pings = %+v; want no hits, misses or errors from Ping", s)
				}
				if e.o.supports(Storage) {
					wantValue(t, e.ctx, c, "k", "v")
				}
				// The fallback for a driver that is not a driver.Pinger.
				plain := e.cacheOn(t, struct{ driver.Driver }{e.driver(t)}, nil)
				if err := plain.Ping(e.ctx); err != nil {
					t.Errorf("Ping through a driver without driver.Pinger: %v", err)
				}
			},
		},
		{
			name:        "ping-ttl-context-and-close",
			explanation: "Ping and TTL fail with an *OpError (Op \"ping\", \"ttl\") wrapping context.Canceled or context.DeadlineExceeded when the context has ended, so a probe's deadline is recognisable, and with ErrClosed after Close, like every other call.",
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				cancelled, cancel := context.WithCancel(e.ctx)
				cancel()
				expired, cancel2 := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
				defer cancel2()
				for _, tc := range []struct {
					what   string
					ctx    context.Context
					target error
				}{
					{"a cancelled context", cancelled, context.Canceled},
					{"a passed deadline", expired, context.DeadlineExceeded},
				} {
					err := c.Ping(tc.ctx)
					wantErr(t, "Ping with "+tc.what, err, tc.target)
					var oe *djcache.OpError
					if !errors.As(err, &oe) || oe.Op != "ping" {
						t.Errorf("Ping with %s: error %v; want an *OpError with Op ping", tc.what, err)
					}
					_, err = c.TTL(tc.ctx, "k")
					wantErr(t, "TTL with "+tc.what, err, tc.target)
				}
				if err := c.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantErr(t, "Ping after Close", c.Ping(e.ctx), djcache.ErrClosed)
				_, err := c.TTL(e.ctx, "k")
				wantErr(t, "TTL after Close", err, djcache.ErrClosed)
			},
		},
		{
			name:        "dummy-ttl",
			explanation: "A backend without storage (Django's DummyCache) holds no entry, so TTL reports ErrNotFound for any key, as Incr does, and Ping succeeds.",
			onlyWithout: Storage,
			run: func(t *testing.T, e *env) {
				c := e.cache(t, nil)
				set(t, e.ctx, c, "k", "v", djcache.Forever)
				_, err := c.TTL(e.ctx, "k")
				wantErr(t, "TTL(k) after Set", err, djcache.ErrNotFound)
				if err := c.Ping(e.ctx); err != nil {
					t.Errorf("Ping: %v", err)
				}
			},
		},
	}
}
