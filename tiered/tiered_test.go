package tiered_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
	"github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/tiered"
)

// fileHarness makes tiers over one directory, each with its own L1, in
// one group: the kit's cases use several Caches over one storage as
// several processes would, and read at once through one what they wrote
// through another. Without a channel (the file backend has none in this
// step), separate L1s would serve the earlier value until local_timeout,
// which is the tier's documented staleness, not a fault; the group makes
// them share invalidations as Caches opened from one URL in one process
// do. TestCoherence covers tiers outside a group.
type fileHarness struct {
	dir string
}

func (h *fileHarness) MakeDriver(context.Context) (driver.Driver, error) {
	l2, err := filebased.New(h.dir, nil)
	if err != nil {
		return nil, err
	}
	d, err := tiered.NewDriver(nil, l2, &tiered.Options{Group: h.dir})
	if err != nil {
		l2.Close()
		return nil, err
	}
	return d, nil
}

func (h *fileHarness) Close() {}

func TestConformanceOverFile(t *testing.T) {
	djcachetest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &fileHarness{dir: filepath.Join(t.TempDir(), "cache")}, nil
	}, nil)
}

// TestConformanceOverLocmem runs the kit on tiers over a named locmem
// store (a pointless tier in practice, since both levels are in-process,
// but the cheapest L2 with every optional interface).
func TestConformanceOverLocmem(t *testing.T) {
	djcachetest.RunConformanceTests(t, func(_ context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &locmemHarness{name: uniqueName("conformance")}, nil
	}, nil)
}

type locmemHarness struct{ name string }

func (h *locmemHarness) MakeDriver(context.Context) (driver.Driver, error) {
	l2, err := locmem.New(h.name, nil)
	if err != nil {
		return nil, err
	}
	return tiered.NewDriver(nil, l2, &tiered.Options{Group: "locmem:" + h.name})
}

func (h *locmemHarness) Close() {
	if d, err := locmem.New(h.name, nil); err == nil {
		d.Clear(context.Background(), driver.Scope{})
	}
}

var seq atomic.Int64

func uniqueName(prefix string) string { return fmt.Sprintf("tiered-%s-%d", prefix, seq.Add(1)) }

// inL1 reports whether the tier's L1 holds the made key.
func inL1(td *tiered.Driver, made string) bool {
	_, found, _ := td.L1().Get(context.Background(), made)
	return found
}

func getString(t *testing.T, c *djcache.Cache, key string) string {
	t.Helper()
	v, found, err := djcache.Get[string](t.Context(), c, key)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return "<miss>"
	}
	return v
}

func newCache(t *testing.T, d driver.Driver, o *djcache.Options) *djcache.Cache {
	t.Helper()
	c, err := djcache.New(d, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pausing is a real locmem driver whose GetWithExpiry, once armed, stops
// after reading the store until it is released: it holds a tier's fill
// between its L2 read and its L1 write.
type pausing struct {
	*locmem.Driver
	armed   atomic.Bool
	read    chan struct{}
	release chan struct{}
}

func (p *pausing) GetWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	v, exp, found, err := p.Driver.GetWithExpiry(ctx, key)
	if p.armed.CompareAndSwap(true, false) {
		p.read <- struct{}{}
		<-p.release
	}
	return v, exp, found, err
}

// TestFillRacesInvalidation: a fill that read the L2 before a write of its
// key (or a Clear) and stores after it leaves nothing in the L1, so the
// next read sees the write.
func TestFillRacesInvalidation(t *testing.T) {
	for _, write := range []struct {
		name string
		do   func(ctx context.Context, c *djcache.Cache) error
		want string
	}{
		{"set", func(ctx context.Context, c *djcache.Cache) error { return c.Set(ctx, "k", "new") }, "new"},
		{"delete", func(ctx context.Context, c *djcache.Cache) error { _, err := c.Delete(ctx, "k"); return err }, "<miss>"},
		{"clear", func(ctx context.Context, c *djcache.Cache) error { return c.Clear(ctx) }, "<miss>"},
	} {
		t.Run(write.name, func(t *testing.T) {
			ctx := t.Context()
			l2, err := locmem.New(uniqueName("race"), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := &pausing{Driver: l2, read: make(chan struct{}), release: make(chan struct{})}
			d, err := tiered.NewDriver(nil, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			td := tiered.Of(d)
			c := newCache(t, d, nil)
			if err := c.Set(ctx, "k", "old"); err != nil {
				t.Fatal(err)
			}
			p.armed.Store(true)
			done := make(chan string)
			go func() {
				v, _, _ := djcache.Get[string](ctx, c, "k")
				done <- v
			}()
			<-p.read // the fill has read "old"
			if err := write.do(ctx, c); err != nil {
				t.Fatal(err)
			}
			close(p.release)
			if v := <-done; v != "old" {
				t.Fatalf("the racing Get returned %q, want old (what it read)", v)
			}
			if inL1(td, ":1:k") {
				t.Fatal("the L1 holds k: a fill that began before the write stored its stale value")
			}
			if got := getString(t, c, "k"); got != write.want {
				t.Fatalf("Get after the write = %q, want %q", got, write.want)
			}
		})
	}
}

// TestReadYourWrites: after each write through a tier, a read through it
// sees the write, although its L1 held the key before.
func TestReadYourWrites(t *testing.T) {
	ctx := t.Context()
	l2, err := filebased.New(filepath.Join(t.TempDir(), "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tiered.NewDriver(nil, l2, &tiered.Options{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	td := tiered.Of(d)
	c := newCache(t, d, nil)
	warm := func(key string) {
		t.Helper()
		getString(t, c, key)
		if _, found, _ := td.L2().Get(ctx, djcache.DefaultKeyFunc(key, "", 1)); found && !inL1(td, djcache.DefaultKeyFunc(key, "", 1)) {
			t.Fatalf("the L1 does not hold %q after a read", key)
		}
	}
	if err := c.Set(ctx, "n", 1); err != nil {
		t.Fatal(err)
	}
	warm("n")
	if n, err := c.Incr(ctx, "n", 41); err != nil || n != 42 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
	if v, _, _ := djcache.Get[int](ctx, c, "n"); v != 42 {
		t.Fatalf("Get after Incr = %d, want 42", v)
	}
	warm("n")
	if _, err := c.IncrVersion(ctx, "n", 1); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, c, "n"); got != "<miss>" {
		t.Fatalf("Get of the old version after IncrVersion = %q, want a miss", got)
	}
	if v, _, _ := djcache.Get[int](ctx, c, "n", djcache.Version(2)); v != 42 {
		t.Fatalf("Get of version 2 after IncrVersion = %d, want 42", v)
	}
	if err := c.Set(ctx, "s", "a"); err != nil {
		t.Fatal(err)
	}
	warm("s")
	if failed, err := c.SetMany(ctx, map[string]any{"s": "b", "t": "c"}); err != nil || len(failed) > 0 {
		t.Fatalf("SetMany = %v, %v", failed, err)
	}
	if got := getString(t, c, "s"); got != "b" {
		t.Fatalf("Get after SetMany = %q, want b", got)
	}
	warm("s")
	warm("t")
	if err := c.DeleteMany(ctx, []string{"s", "t"}); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, c, "s") + getString(t, c, "t"); got != "<miss><miss>" {
		t.Fatalf("Get after DeleteMany = %q, want misses", got)
	}
	if err := c.Set(ctx, "x", "v", djcache.Timeout(time.Hour)); err != nil {
		t.Fatal(err)
	}
	warm("x")
	if touched, err := c.Touch(ctx, "x", djcache.Timeout(0)); err != nil || !touched {
		t.Fatalf("Touch = %v, %v", touched, err)
	}
	if got := getString(t, c, "x"); got != "<miss>" {
		t.Fatalf("Get after Touch(Timeout(0)) = %q, want a miss", got)
	}
	if added, err := c.Add(ctx, "x", "added"); err != nil || !added {
		t.Fatalf("Add = %v, %v", added, err)
	}
	if got := getString(t, c, "x"); got != "added" {
		t.Fatalf("Get after Add = %q, want added", got)
	}
}

// TestL1NeverOutlivesL2: an L1 entry expires no later than the L2's, and
// no later than Timeout after it was filled.
func TestL1NeverOutlivesL2(t *testing.T) {
	ctx := t.Context()
	l2, err := locmem.New(uniqueName("outlive"), nil)
	if err != nil {
		t.Fatal(err)
	}
	const timeout = time.Minute
	d, err := tiered.NewDriver(nil, l2, &tiered.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	td := tiered.Of(d)
	c := newCache(t, d, nil)
	l1 := td.L1().(driver.ExpiryReader)
	for _, tc := range []struct {
		key string
		opt djcache.Option
	}{{"short", djcache.Timeout(5 * time.Second)}, {"long", djcache.Timeout(time.Hour)}, {"forever", djcache.Forever}} {
		if err := c.Set(ctx, tc.key, "v", tc.opt); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		getString(t, c, tc.key)
		after := time.Now()
		made := djcache.DefaultKeyFunc(tc.key, "", 1)
		_, l1exp, found, _ := l1.GetWithExpiry(ctx, made)
		_, l2exp, _, _ := l2.GetWithExpiry(ctx, made)
		switch {
		case !found:
			t.Errorf("%s: not in the L1 after a read", tc.key)
		case l1exp.IsZero():
			t.Errorf("%s: the L1 entry never expires", tc.key)
		case !l2exp.IsZero() && l1exp.After(l2exp):
			t.Errorf("%s: the L1 entry expires at %v, after the L2's %v", tc.key, l1exp, l2exp)
		case l1exp.After(after.Add(timeout)):
			t.Errorf("%s: the L1 entry expires at %v, more than Timeout after it was filled (%v)", tc.key, l1exp, before)
		}
	}
}

// TestTimeoutRequired: over an L2 that cannot read expiries, a tier needs
// a Timeout, and keeps entries no longer.
func TestTimeoutRequired(t *testing.T) {
	ctx := t.Context()
	l2, err := locmem.New(uniqueName("noexp"), nil)
	if err != nil {
		t.Fatal(err)
	}
	blind := struct{ driver.Driver }{l2} // hides driver.ExpiryReader
	if _, err := tiered.NewDriver(nil, blind, nil); err == nil || !strings.Contains(err.Error(), "local_timeout") {
		t.Fatalf("NewDriver without Timeout over an L2 without expiries = %v, want an error naming local_timeout", err)
	}
	const timeout = 100 * time.Millisecond
	d, err := tiered.NewDriver(nil, blind, &tiered.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(driver.ExpiryReader); ok {
		t.Error("the tier of an L2 without expiries is a driver.ExpiryReader")
	}
	td := tiered.Of(d)
	c := newCache(t, d, nil)
	if err := c.Set(ctx, "k", "v", djcache.Forever); err != nil {
		t.Fatal(err)
	}
	getString(t, c, "k")
	if !inL1(td, ":1:k") {
		t.Fatal("not in the L1 after a read")
	}
	time.Sleep(timeout + 20*time.Millisecond)
	if inL1(td, ":1:k") {
		t.Fatal("still in the L1 after Timeout")
	}
}

// TestGroup: tiers in one group see each other's writes at once, without
// a channel; tiers outside it serve their L1 entries until they expire.
func TestGroup(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "c")
	open := func(group string) (*djcache.Cache, *tiered.Driver) {
		l2, err := filebased.New(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tiered.NewDriver(nil, l2, &tiered.Options{Timeout: time.Hour, Group: group})
		if err != nil {
			t.Fatal(err)
		}
		return newCache(t, d, nil), tiered.Of(d)
	}
	a, _ := open("g")
	b, _ := open("g")
	other, to := open("")
	if err := a.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	getString(t, b, "k")
	getString(t, other, "k")
	if err := a.Set(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, b, "k"); got != "v2" {
		t.Errorf("a tier of the writer's group read %q, want v2", got)
	}
	if got := getString(t, other, "k"); got != "v1" || !inL1(to, ":1:k") {
		t.Errorf("a tier outside the group read %q (in its L1: %v), want its L1's v1 (bounded staleness)", got, inL1(to, ":1:k"))
	}
}

// TestOpenURL: local and local_timeout put a tier in front of any
// backend; Caches opened from one URL share a group; errors name the
// parameter.
func TestOpenURL(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "c")
	url := "file://" + dir + "?local=100&local_timeout=60&timeout=30&max_entries=1000"
	c1, err := djcache.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	td := tiered.Of(c1.Driver())
	if td == nil {
		t.Fatalf("Open(%q).Driver() is a %T, want a tier", url, c1.Driver())
	}
	if _, ok := td.L2().(*filebased.Driver); !ok {
		t.Fatalf("the tier's L2 is a %T, want *filebased.Driver", td.L2())
	}
	c2, err := djcache.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c1.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	getString(t, c2, "k")
	if err := c1.Set(ctx, "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, c2, "k"); got != "v2" {
		t.Errorf("a Cache of the same URL read %q after the other's write, want v2", got)
	}

	for _, tc := range []struct{ url, want string }{
		{"file://" + dir + "?local=0", "local"},
		{"file://" + dir + "?local=many", "local"},
		{"file://" + dir + "?local_timeout=5", "local_timeout needs local"},
		{"file://" + dir + "?local=5&local_timeout=0", "local_timeout"},
		{"file://" + dir + "?local=5&local_timout=1", "local_timout"},
		{"memcached://127.0.0.1:11211?local=5", "local_timeout"},
	} {
		c, err := djcache.Open(tc.url)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded, want an error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error naming %q", tc.url, err, tc.want)
		}
	}
	c, err := djcache.Open("memcached://127.0.0.1:11211?local=5&local_timeout=2")
	if err != nil {
		t.Fatalf("memcached with local_timeout: %v", err)
	}
	c.Close()
}

// TestDjangoOptions: LOCAL and LOCAL_TIMEOUT in a CACHES alias's OPTIONS
// are the URL parameters.
func TestDjangoOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	s, err := djcache.ParseSettings([]byte(`{"default": {
		"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
		"LOCATION": "` + dir + `",
		"OPTIONS": {"LOCAL": 500, "LOCAL_TIMEOUT": 2.5, "MAX_ENTRIES": 1000}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	c, err := cs.Default()
	if err != nil {
		t.Fatal(err)
	}
	if tiered.Of(c.Driver()) == nil {
		t.Fatalf("the alias's driver is a %T, want a tier", c.Driver())
	}
	if err := c.Set(t.Context(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, c, "k"); got != "v" {
		t.Fatalf("Get = %q", got)
	}
}

// TestNew: a Cache made of two Caches is configured as the L2 Cache,
// takes both over, and closes both drivers.
func TestNew(t *testing.T) {
	ctx := t.Context()
	l1d, err := locmem.NewPrivate(&locmem.Options{MaxEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := djcache.New(l1d, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "c")
	l2, err := djcache.Open("file://" + dir + "?key_prefix=shop&timeout=60")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tiered.New(l1, l1, nil); err == nil {
		t.Error("New(l1, l1) succeeded, want an error")
	}
	c, err := tiered.New(l1, l2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := getString(t, c, "k"); got != "v" {
		t.Fatalf("Get = %q", got)
	}
	if !inL1(tiered.Of(c.Driver()), "shop:1:k") {
		t.Error("the L1 does not hold shop:1:k: the Cache does not use l2's key prefix")
	}
	if ttl, err := c.TTL(ctx, "k"); err != nil || ttl > time.Minute || ttl < 50*time.Second {
		t.Errorf("TTL = %v, %v; want about l2's timeout, 60s", ttl, err)
	}
	for name, old := range map[string]*djcache.Cache{"l1": l1, "l2": l2} {
		if _, err := old.Has(ctx, "k"); !errors.Is(err, djcache.ErrClosed) {
			t.Errorf("%s.Has after New = %v, want ErrClosed", name, err)
		}
		if err := old.Close(); err != nil {
			t.Errorf("%s.Close after New = %v", name, err)
		}
	}
	if got := getString(t, c, "k"); got != "v" {
		t.Fatalf("Get after closing l1 and l2 = %q: their Close must not close the drivers", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if l1d.Len() != 0 {
		t.Errorf("the private L1 holds %d entries after Close, want 0", l1d.Len())
	}
}

// TestNoStaleReadAfterWrite: in one process, a read that starts after a
// write returned never sees an older value, however reads that fill the L1
// and writes interleave, through one tier or two of one group.
func TestNoStaleReadAfterWrite(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "c")
	open := func() *djcache.Cache {
		// A file L2: its reads take long enough for writes to land during
		// them.
		l2, err := filebased.New(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tiered.NewDriver(nil, l2, &tiered.Options{Group: dir})
		if err != nil {
			t.Fatal(err)
		}
		return newCache(t, d, nil)
	}
	a, b := open(), open()
	const keys, writes, readers = 4, 300, 3
	var wg sync.WaitGroup
	errs := make(chan error, keys*(readers+1))
	for k := range keys {
		key := fmt.Sprint("k", k)
		var committed atomic.Int64 // the last value whose Set has returned
		if err := a.Set(ctx, key, 0); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			for i := 1; i <= writes; i++ {
				if err := a.Set(ctx, key, i); err != nil {
					errs <- err
					return
				}
				committed.Store(int64(i))
			}
		})
		for r := range readers {
			c := a
			if r%2 == 1 {
				c = b
			}
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					lo := committed.Load()
					v, found, err := djcache.Get[int64](ctx, c, key)
					if err != nil || !found {
						errs <- fmt.Errorf("Get(%s) = %v, %v", key, found, err)
						return
					}
					if v < lo {
						errs <- fmt.Errorf("Get(%s) = %d after the Set of %d had returned", key, v, lo)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
