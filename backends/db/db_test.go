package db

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
)

// TestConformance runs the kit on every engine, each case on a table of its
// own opened from a URL.
func TestConformance(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.need(t)
			djcachetest.RunConformanceTests(t, harnessMaker(e), &djcachetest.Options{ExpiryResolution: time.Second})
		})
	}
}

// putExpired writes a row for the made key that expired a minute ago, as
// a Set whose timeout has passed would leave it (a Driver's Set deletes
// instead).
func putExpired(t *testing.T, c *djcache.Cache, made string) {
	t.Helper()
	d := c.Driver().(*Driver)
	if err := d.ensureReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.execStmt(t.Context(), stSet, made, encodeValue([]byte("\x02expired")), d.expArg(time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, _, found := rawRow(t, d.db, engineOf(d.dialect), d.table, made); !found {
		t.Fatalf("no row for %q", made)
	}
}

func engineOf(d Dialect) engine {
	for _, e := range engines {
		if e.dialect == d {
			return e
		}
	}
	panic("no engine")
}

// drivers opens n Drivers on one table, each with its own connection pool,
// as n processes would.
func drivers(t *testing.T, p *place, n int) []*djcache.Cache {
	cs := make([]*djcache.Cache, n)
	for i := range cs {
		cs[i] = p.cache(t, "", nil)
	}
	return cs
}

// TestConcurrentAdd: 100 goroutines over 4 connection pools Add one key;
// exactly one wins and its value is the one stored. Then the same over an
// expired row, which counts as absent.
func TestConcurrentAdd(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		cs := drivers(t, p, 4)
		for round, setup := range []func(){
			func() {},
			func() { putExpired(t, cs[0], ":1:k") }, // an expired row under the key
		} {
			if _, err := cs[0].Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			setup()
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				winner []int
				errs   []error
			)
			start := make(chan struct{})
			for g := range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					added, err := cs[g%len(cs)].Add(ctx, "k", g)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
					}
					if added {
						winner = append(winner, g)
					}
				}()
			}
			close(start)
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("round %d: %d Add calls failed, first: %v", round, len(errs), errs[0])
			}
			if len(winner) != 1 {
				t.Fatalf("round %d: %d goroutines won Add (%v), want exactly 1", round, len(winner), winner)
			}
			got, found, err := djcache.Get[int](ctx, cs[3], "k")
			if err != nil || !found || got != winner[0] {
				t.Errorf("round %d: Get = %v, %v, %v; want the winner's value %d", round, got, found, err, winner[0])
			}
		}
	})
}

// TestConcurrentIncr: 4 pools × 8 goroutines × 25 Incr and Decr calls give
// the exact total, and the counter keeps its expiry.
func TestConcurrentIncr(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		cs := drivers(t, p, 4)
		if err := cs[0].Set(ctx, "n", 1000, djcache.Timeout(time.Hour)); err != nil {
			t.Fatal(err)
		}
		d0 := cs[0].Driver().(*Driver)
		_, before, _, err := d0.GetWithExpiry(ctx, ":1:n")
		if err != nil {
			t.Fatal(err)
		}
		const goroutines, calls = 32, 25
		var (
			wg     sync.WaitGroup
			failed atomic.Int64
			first  atomic.Value
		)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := cs[g%len(cs)]
				for i := range calls {
					var err error
					if i%5 == 4 {
						_, err = c.Decr(ctx, "n", 1)
					} else {
						_, err = c.Incr(ctx, "n", 2)
					}
					if err != nil {
						failed.Add(1)
						first.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		wg.Wait()
		if n := failed.Load(); n > 0 {
			t.Fatalf("%d calls failed, first: %v", n, first.Load())
		}
		want := 1000 + goroutines*(calls/5)*(4*2-1)
		got, found, err := djcache.Get[int](ctx, cs[1], "n")
		if err != nil || !found || got != want {
			t.Errorf("after %d increments: n = %d, %v, %v; want %d", goroutines*calls, got, found, err, want)
		}
		_, after, _, err := d0.GetWithExpiry(ctx, ":1:n")
		if err != nil || !after.Equal(before) {
			t.Errorf("expiry after Incr = %v, %v; want it kept at %v", after, err, before)
		}
	})
}

// TestIncrErrors: Incr's errors leave the value unchanged.
func TestIncrErrors(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		c := newPlace(t, e).cache(t, "", nil)
		if _, err := c.Incr(ctx, "missing", 1); !errors.Is(err, djcache.ErrNotFound) {
			t.Errorf("Incr(missing) = %v, want ErrNotFound", err)
		}
		if err := c.Set(ctx, "s", "text"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Incr(ctx, "s", 1); !errors.Is(err, djcache.ErrNotInteger) {
			t.Errorf("Incr(text) = %v, want ErrNotInteger", err)
		}
		if err := c.Set(ctx, "big", int64(1<<63-1)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Incr(ctx, "big", 1); !errors.Is(err, driver.ErrOverflow) {
			t.Errorf("Incr(MaxInt64) = %v, want ErrOverflow", err)
		}
		if got, _, _ := djcache.Get[int64](ctx, c, "big"); got != 1<<63-1 {
			t.Errorf("after the overflow, big = %d, want it unchanged", got)
		}
		if got, _, _ := djcache.Get[string](ctx, c, "s"); got != "text" {
			t.Errorf("after ErrNotInteger, s = %q, want it unchanged", got)
		}
	})
}

// TestCullLikeDjango reproduces Django's test_cull (max_entries 30,
// cull_frequency 3: 29 of 49 keys left) and DBCacheTests.test_zero_cull
// (cull_frequency 0: 18 left), and checks that the rows are counted far
// less often than once per write.
func TestCullLikeDjango(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		for _, tc := range []struct {
			cull int
			want int
		}{{3, 29}, {0, 18}} {
			p := newPlace(t, e)
			c := p.cache(t, fmt.Sprintf("&max_entries=30&cull_frequency=%d", tc.cull), nil)
			for i := 1; i < 50; i++ {
				if err := c.Set(ctx, fmt.Sprintf("cull%d", i), "value", djcache.Timeout(1000*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
			n := 0
			for i := 1; i < 50; i++ {
				if ok, err := c.Has(ctx, fmt.Sprintf("cull%d", i)); err != nil {
					t.Fatal(err)
				} else if ok {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("cull_frequency=%d: %d of 49 keys left, want %d as in Django", tc.cull, n, tc.want)
			}
		}

		// Culling deletes expired rows first, and counts rarely.
		p := newPlace(t, e)
		c := p.cache(t, "&max_entries=100", nil)
		d := c.Driver().(*Driver)
		for i := range 60 {
			putExpired(t, c, fmt.Sprintf(":1:short%d", i))
		}
		for i := range 60 {
			if err := c.Set(ctx, fmt.Sprintf("long%d", i), "v"); err != nil {
				t.Fatal(err)
			}
		}
		if got := rowCount(t, d.db, e, p.table); got != 60 {
			t.Errorf("after 60 expired rows and 60 live ones over max_entries=100: %d rows, want the 60 live ones", got)
		}
		for i := range 60 {
			if ok, _ := c.Has(ctx, fmt.Sprintf("long%d", i)); !ok {
				t.Errorf("live key long%d was culled while expired rows could go", i)
				break
			}
		}
		// 120 writes with max_entries=100: Django counts 120 times; the
		// bound counts at the first write, every 10 writes (max_entries/10)
		// and when the bound passes 100.
		if n := d.counts.Load(); n > 20 {
			t.Errorf("%d COUNT queries for 120 writes, want at most 20", n)
		}
	})
}

// TestKeys: keys are exact, whatever the engine: case, trailing spaces,
// NUL, invalid UTF-8, U+FFFF; and a key longer than cache_key fails.
func TestKeys(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		c := newPlace(t, e).cache(t, "", &djcache.Options{Logger: slog.New(slog.DiscardHandler)})
		keys := []string{"Key", "key", "KEY", "trail", "trail ", "trail  ", "nul\x00", "nul", "nul\x000", "bad\xff", "bad\xfe", "bad\uFFFF", "bad\uFFFFxff", "\uFFFF0", "é", "e\u0301", "🔑", "ß", "ss"}
		for i, k := range keys {
			if err := c.Set(ctx, k, i); err != nil {
				t.Fatalf("Set(%q): %v", k, err)
			}
		}
		for i, k := range keys {
			if got, found, err := djcache.Get[int](ctx, c, k); err != nil || !found || got != i {
				t.Errorf("Get(%q) = %v, %v, %v; want %d (keys must be exact)", k, got, found, err, i)
			}
		}
		got, err := djcache.GetMany[int](ctx, c, keys)
		if err != nil || len(got) != len(keys) {
			t.Fatalf("GetMany = %v, %v; want all %d keys", got, err, len(keys))
		}
		for i, k := range keys {
			if got[k] != i {
				t.Errorf("GetMany[%q] = %d, want %d", k, got[k], i)
			}
		}
		if n, err := c.Incr(ctx, "nul\x00", 10); err != nil || n != 16 {
			t.Errorf("Incr(nul\\x00) = %d, %v; want 16", n, err)
		}
		if err := c.DeleteMany(ctx, []string{"bad\xff", "trail "}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"bad\xff", "trail "} {
			if ok, _ := c.Has(ctx, k); ok {
				t.Errorf("Has(%q) after DeleteMany = true", k)
			}
		}
		for _, k := range []string{"bad\xfe", "trail"} {
			if ok, _ := c.Has(ctx, k); !ok {
				t.Errorf("Has(%q) = false: DeleteMany of a neighbour removed it", k)
			}
		}

		long := strings.Repeat("é", maxKeyLen-3) // ":1:" + 252 = 255 characters
		if err := c.Set(ctx, long, "fits"); err != nil {
			t.Errorf("Set of a 255-character made key: %v", err)
		}
		if v, _, err := djcache.Get[string](ctx, c, long); err != nil || v != "fits" {
			t.Errorf("Get of a 255-character made key = %q, %v", v, err)
		}
		for _, op := range []func() error{
			func() error { return c.Set(ctx, long+"x", "too long") },
			func() error { _, err := c.Get(ctx, long+"x", new(string)); return err },
			func() error { _, err := c.SetMany(ctx, map[string]any{long + "x": 1}); return err },
		} {
			if err := op(); !errors.Is(err, djcache.ErrInvalidKey) {
				t.Errorf("a 256-character made key: %v, want ErrInvalidKey", err)
			}
		}
	})
}

// TestStorageFormat: rows are in Django's format, and Django's rows are
// read.
func TestStorageFormat(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		c := p.cache(t, "", nil)
		admin := p.admin(t)
		d := c.Driver().(*Driver)

		start := time.Now()
		if err := c.Set(ctx, "s", "bar"); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "i", 42, djcache.Forever); err != nil {
			t.Fatal(err)
		}
		v, exp, found := rawRow(t, admin, e, p.table, ":1:s")
		if !found || v != base64.StdEncoding.EncodeToString([]byte("\x02bar")) {
			t.Errorf("value of :1:s = %q, want standard base64 of the encoded bytes 02 'bar'", v)
		}
		wantExp := time.Unix(start.Unix()+300, 0).UTC()
		gotExp, err := time.Parse("2006-01-02 15:04:05.999999", exp)
		if err != nil || gotExp.Before(wantExp) || gotExp.After(wantExp.Add(2*time.Second)) || gotExp.Nanosecond() != 0 {
			t.Errorf("expires of :1:s = %q, want a whole second in UTC about %v", exp, wantExp)
		}
		if e.dialect == SQLite && len(exp) != len("2006-01-02 15:04:05") {
			t.Errorf("SQLite expires text %q, want Django's YYYY-MM-DD HH:MM:SS", exp)
		}
		v, exp, _ = rawRow(t, admin, e, p.table, ":1:i")
		if v != "NDI=" || !strings.HasPrefix(exp, "9999-12-31 23:59:59") {
			t.Errorf(":1:i = %q, %q; want base64 of \"42\" (NDI=) and Django's never, 9999-12-31 23:59:59", v, exp)
		}

		// Rows written as Django writes them: pickles, naive UTC or the
		// never date, and an expired row.
		ins := e.dialect.placeholders(fmt.Sprintf("INSERT INTO %s VALUES (?, ?, ?)", e.dialect.quote(p.table)))
		arg := func(s string) any {
			if e.dialect == PostgreSQL {
				t, _ := time.ParseInLocation("2006-01-02 15:04:05", s, time.UTC)
				return t
			}
			return s
		}
		future := time.Now().Add(time.Hour).UTC().Format("2006-01-02 15:04:05")
		past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05")
		for _, row := range [][3]string{
			{":1:django", "gAWVBwAAAAAAAACMA2JhcpQu", future},
			{":1:never", "gAVLKi4=", "9999-12-31 23:59:59"},
			{":1:old", "gAVLKi4=", past},
		} {
			if _, err := admin.Exec(ins, row[0], row[1], arg(row[2])); err != nil {
				t.Fatal(err)
			}
		}
		got, found, err := d.Get(ctx, ":1:django")
		if err != nil || !found || string(got) != "\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94." {
			t.Errorf("Get of Django's pickle of 'bar' = %x, %v, %v", got, found, err)
		}
		if _, exp, found, err := d.GetWithExpiry(ctx, ":1:never"); err != nil || !found || !exp.IsZero() {
			t.Errorf("GetWithExpiry of Django's never row = %v, %v, %v; want a zero expiry", exp, found, err)
		}
		if _, exp, _, _ := d.GetWithExpiry(ctx, ":1:django"); exp.UTC().Format("2006-01-02 15:04:05") != future {
			t.Errorf("GetWithExpiry of a Django row = %v, want %s UTC", exp, future)
		}
		if _, found, err := d.Get(ctx, ":1:old"); err != nil || found {
			t.Errorf("Get of an expired Django row = %v, %v; want a miss", found, err)
		}
		if _, _, found := rawRow(t, admin, e, p.table, ":1:old"); found {
			t.Errorf("the expired row Get met is still there; Django's get deletes it")
		}
		// A value with line breaks, as some tools write base64.
		if _, err := admin.Exec(ins, ":1:wrapped", "gAWV\nBwAAAAAAAACMA2JhcpQu\n", arg(future)); err != nil {
			t.Fatal(err)
		}
		if got, _, err := d.Get(ctx, ":1:wrapped"); err != nil || !strings.HasSuffix(string(got), "bar\x94.") {
			t.Errorf("Get of base64 with line breaks = %q, %v", got, err)
		}
	})
}

// TestExpiryWholeSeconds: an expiry is stored rounded up to a whole second,
// so an entry never expires early.
func TestExpiryWholeSeconds(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		d := newPlace(t, e).open(t, "")
		defer d.Close()
		for _, frac := range []time.Duration{0, time.Millisecond, 500 * time.Millisecond, 999 * time.Millisecond} {
			exp := time.Unix(time.Now().Unix()+60, 0).Add(frac)
			if err := d.Set(ctx, ":1:k", []byte("v"), exp); err != nil {
				t.Fatal(err)
			}
			_, got, found, err := d.GetWithExpiry(ctx, ":1:k")
			want := exp.Truncate(time.Second)
			if frac > 0 {
				want = want.Add(time.Second)
			}
			if err != nil || !found || !got.Equal(want) {
				t.Errorf("expiry %v stored as %v, %v, %v; want %v (rounded up)", exp, got, found, err, want)
			}
		}
	})
}

// TestLocation: with Options.Location, naive expires values are local
// times, as Django writes them with USE_TZ = False.
func TestLocation(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		if e.dialect == PostgreSQL {
			t.Skip("PostgreSQL stores absolute times")
		}
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		zone := time.FixedZone("UTC+5", 5*3600)
		d, err := New(admin, e.dialect, &Options{Table: p.table, Location: zone})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		exp := time.Date(2040, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := d.Set(ctx, ":1:k", []byte("v"), exp); err != nil {
			t.Fatal(err)
		}
		_, raw, _ := rawRow(t, admin, e, p.table, ":1:k")
		if !strings.HasPrefix(raw, "2040-01-02 08:04:05") {
			t.Errorf("expires = %q, want the local time 2040-01-02 08:04:05", raw)
		}
		if _, got, _, err := d.GetWithExpiry(ctx, ":1:k"); err != nil || !got.Equal(exp) {
			t.Errorf("GetWithExpiry = %v, %v; want %v", got, err, exp)
		}
	})
}

// TestTouchNeverRevives: Touch of an expired row reports false and leaves
// it expired (Django's touch revives it; SPEC wins).
func TestTouchNeverRevives(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		c := newPlace(t, e).cache(t, "", nil)
		// A minute: alive for the first Touch however busy the machine.
		if err := c.Set(ctx, "k", "v", djcache.Timeout(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Touch(ctx, "k", djcache.Timeout(time.Hour)); err != nil || !ok {
			t.Fatalf("Touch of a live key = %v, %v", ok, err)
		}
		if ok, err := c.Touch(ctx, "k", djcache.Timeout(time.Hour)); err != nil || !ok {
			t.Errorf("a second Touch to the same second = %v, %v; want true (MySQL reports no changed row)", ok, err)
		}
		putExpired(t, c, ":1:k")
		if ok, err := c.Touch(ctx, "k", djcache.Timeout(time.Hour)); err != nil || ok {
			t.Errorf("Touch of an expired key = %v, %v; want false", ok, err)
		}
		if ok, _ := c.Has(ctx, "k"); ok {
			t.Errorf("Touch revived an expired key")
		}
	})
}

// TestSetManyLarge: more rows than one statement takes go in one
// transaction.
func TestSetManyLarge(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		c := newPlace(t, e).cache(t, "&max_entries=100000", nil)
		items := make(map[string]any, 1300)
		keys := make([]string, 0, 1300)
		for i := range 1300 {
			k := fmt.Sprintf("k%04d", i)
			items[k] = i
			keys = append(keys, k)
		}
		if failed, err := c.SetMany(ctx, items); err != nil || len(failed) > 0 {
			t.Fatalf("SetMany(1300) = %v, %v", failed, err)
		}
		got, err := djcache.GetMany[int](ctx, c, keys)
		if err != nil || len(got) != 1300 || got["k1299"] != 1299 {
			t.Errorf("GetMany(1300) = %d entries, %v", len(got), err)
		}
		if err := c.DeleteMany(ctx, keys[:1000]); err != nil {
			t.Fatal(err)
		}
		got, _ = djcache.GetMany[int](ctx, c, keys)
		if len(got) != 300 {
			t.Errorf("after DeleteMany(1000 of 1300): %d left, want 300", len(got))
		}
	})
}

// TestCancelledContext: a cancelled context fails every call with an error
// that wraps context.Canceled, never a panic, and stores nothing.
func TestCancelledContext(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		d := newPlace(t, e).open(t, "")
		defer d.Close()
		if err := d.Set(t.Context(), ":1:k", []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		exp := time.Now().Add(time.Hour)
		for name, op := range map[string]func() error{
			"Get":        func() error { _, _, err := d.Get(ctx, ":1:k"); return err },
			"Set":        func() error { return d.Set(ctx, ":1:k", []byte("2"), exp) },
			"Add":        func() error { _, err := d.Add(ctx, ":1:new", []byte("2"), exp); return err },
			"Incr":       func() error { _, err := d.Incr(ctx, ":1:k", 1); return err },
			"Touch":      func() error { _, err := d.Touch(ctx, ":1:k", exp); return err },
			"Delete":     func() error { _, err := d.Delete(ctx, ":1:k"); return err },
			"GetMany":    func() error { _, err := d.GetMany(ctx, []string{":1:k"}); return err },
			"SetMany":    func() error { _, err := d.SetMany(ctx, []driver.Item{{Key: ":1:k", Value: []byte("3")}}); return err },
			"DeleteMany": func() error { return d.DeleteMany(ctx, []string{":1:k"}) },
			"Clear":      func() error { return d.Clear(ctx, driver.Scope{}) },
		} {
			if err := op(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: %v, want an error wrapping context.Canceled", name, err)
			}
		}
		if v, _, err := d.Get(t.Context(), ":1:k"); err != nil || string(v) != "1" {
			t.Errorf("after cancelled calls, Get = %q, %v; want the value unchanged", v, err)
		}
	})
}

// TestNewLeavesDBOpen: a Driver from New does not close the caller's
// *sql.DB; one opened from a URL closes its own.
func TestNewLeavesDBOpen(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		d, err := New(admin, e.dialect, &Options{Table: p.table})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Set(ctx, ":1:k", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := admin.PingContext(ctx); err != nil {
			t.Errorf("the caller's *sql.DB after Close: %v, want it open", err)
		}
		own := p.open(t, "")
		own.Close()
		if err := own.db.PingContext(ctx); err == nil {
			t.Errorf("a URL-opened Driver left its *sql.DB open after Close")
		}
	})
}

// TestDriverAfterClose: calls on a closed Driver fail without a panic.
func TestDriverAfterClose(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		d := newPlace(t, e).open(t, "")
		if err := d.Set(t.Context(), ":1:k", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if _, _, err := d.Get(t.Context(), ":1:k"); err == nil {
			t.Errorf("Get after Close: no error")
		}
		if _, err := d.Incr(t.Context(), ":1:k", 1); err == nil {
			t.Errorf("Incr after Close: no error")
		}
	})
}

// TestConnectionKilled: when the server drops the Driver's connection (a
// restart, a failover, an idle timeout), calls fail with an error or go
// through on a new connection, never panic, and nothing stored is lost.
func TestConnectionKilled(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		if e.dialect == SQLite {
			t.Skip("no server")
		}
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		c := p.cache(t, "", nil)
		d := c.Driver().(*Driver)
		d.db.SetMaxOpenConns(1) // one connection, so that we know which to kill
		if err := c.Set(ctx, "k", "kept", djcache.Forever); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Incr(ctx, "n", 1); !errors.Is(err, djcache.ErrNotFound) {
			t.Fatal(err)
		}
		idQuery, kill := "SELECT pg_backend_pid()", "SELECT pg_terminate_backend($1)"
		if e.dialect == MySQL {
			idQuery, kill = "SELECT CONNECTION_ID()", "KILL ?"
		}
		for round := range 3 {
			var id int64
			if err := d.db.QueryRowContext(ctx, idQuery).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.ExecContext(ctx, kill, id); err != nil {
				t.Fatalf("killing connection %d: %v", id, err)
			}
			time.Sleep(50 * time.Millisecond)
			// The first call may fail; the next ones must work again.
			var got string
			var err error
			for range 3 {
				if _, err = c.Get(ctx, "k", &got); err == nil {
					break
				}
			}
			if err != nil || got != "kept" {
				t.Fatalf("round %d: Get after the connection was killed = %q, %v; want the value back", round, got, err)
			}
			if _, err := c.Incr(ctx, "n", 1); err != nil && !errors.Is(err, djcache.ErrNotFound) {
				t.Logf("round %d: Incr right after a reconnect: %v", round, err)
			}
		}
	})
}

// TestCullTwoWriters: rows written through another Driver (another
// process) are noticed by the periodic count, so the table stays near
// max_entries.
func TestCullTwoWriters(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		a := p.cache(t, "&max_entries=50", nil)
		b := p.cache(t, "&max_entries=50", nil)
		for i := range 200 {
			c := a
			if i%2 == 1 {
				c = b
			}
			if err := c.Set(ctx, fmt.Sprintf("k%d", i), i); err != nil {
				t.Fatal(err)
			}
		}
		// Each writer counts at least every 5 rows it writes (50/10), and
		// culls down to two thirds: the table never exceeds 50 plus what
		// two writers add between counts.
		d := a.Driver().(*Driver)
		if n := rowCount(t, d.db, e, p.table); n > 50+2*5+1 {
			t.Errorf("two writers of 100 rows each, max_entries=50: %d rows left", n)
		}
	})
}
