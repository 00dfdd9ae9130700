package locmem_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
)

// seq makes store names unique within the process: stores live as long as
// the process, so every test (and every -count run) takes fresh names.
var seq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, seq.Add(1))
}

// harness hands out Drivers on one store name, as Django's caches with the
// same LOCATION share one store.
type harness struct{ name string }

func (h *harness) MakeDriver(context.Context) (driver.Driver, error) {
	return locmem.New(h.name, nil)
}

// Close empties the store, so that the process does not keep every test's
// entries.
func (h *harness) Close() {
	if d, err := locmem.New(h.name, nil); err == nil {
		d.Clear(context.Background(), driver.Scope{})
	}
}

func newHarness(_ context.Context, t *testing.T) (djcachetest.Harness, error) {
	return &harness{name: uniqueName("conformance-" + t.Name())}, nil
}

func TestConformance(t *testing.T) {
	djcachetest.RunConformanceTests(t, newHarness, nil)
}

func TestDriver(t *testing.T) {
	d, err := locmem.New(uniqueName("testdriver"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := djcachetest.TestDriver(t.Context(), d, nil); err != nil {
		t.Error(err)
	}
}

func BenchmarkLocmem(b *testing.B) {
	d, err := locmem.New(uniqueName("bench"), &locmem.Options{MaxEntries: 10000})
	if err != nil {
		b.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	djcachetest.RunBenchmarks(b, c)
}

func open(t *testing.T, rawURL string) *djcache.Cache {
	t.Helper()
	c, err := djcache.Open(rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestURL(t *testing.T) {
	ctx := t.Context()

	t.Run("name", func(t *testing.T) {
		for _, tc := range []struct{ url, name string }{
			{"locmem://url-name-a", "url-name-a"},
			{"locmem://url-name-host/and/path", "url-name-host/and/path"},
			{"locmem:url-name-opaque", "url-name-opaque"},
			{"LOCMEM://url-name-upper", "url-name-upper"},
		} {
			c := open(t, tc.url)
			d, ok := c.Driver().(*locmem.Driver)
			if !ok {
				t.Fatalf("Open(%q).Driver() is a %T, want *locmem.Driver", tc.url, c.Driver())
			}
			if d.Name() != tc.name {
				t.Errorf("Open(%q): store name %q, want %q", tc.url, d.Name(), tc.name)
			}
		}
	})

	t.Run("same-name-shares-store", func(t *testing.T) {
		name := uniqueName("url-shared")
		c1 := open(t, "locmem://"+name)
		c2 := open(t, "locmem://"+name+"?timeout=60&key_prefix=&version=1")
		other := open(t, "locmem://"+name+"-other")
		if err := c1.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		if v, found, err := djcache.Get[string](ctx, c2, "k"); err != nil || !found || v != "v" {
			t.Errorf("Get on a second Cache of the same name = %q, %v, %v; want \"v\"", v, found, err)
		}
		d, err := locmem.New(name, nil)
		if err != nil {
			t.Fatalf("New of a name opened by URL with the same bounds: %v", err)
		}
		if v, found, err := d.Get(ctx, ":1:k"); err != nil || !found || string(v) != "\x02v" {
			t.Errorf("New(name).Get(\":1:k\") = %q, %v, %v; want the value set through the URL", v, found, err)
		}
		if _, found, err := djcache.Get[string](ctx, other, "k"); err != nil || found {
			t.Errorf("Get on another name = %v, %v; want a miss", found, err)
		}
	})

	t.Run("parameters", func(t *testing.T) {
		name := uniqueName("url-params")
		c := open(t, "locmem://"+name+"?max_entries=50&cull_frequency=0&timeout=none&key_prefix=p&version=3")
		if err := c.Set(ctx, "k", 1); err != nil {
			t.Fatal(err)
		}
		d := c.Driver().(*locmem.Driver)
		if v, found, _ := d.Get(ctx, "p:3:k"); !found || string(v) != "1" {
			t.Errorf("made key p:3:k = %q, %v; want \"1\"", v, found)
		}
		if _, err := locmem.New(name, &locmem.Options{MaxEntries: 50, ClearWhenFull: true}); err != nil {
			t.Errorf("New with the bounds the URL set: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct{ url, want string }{
			{"locmem://e?max_entires=5", `unknown URL parameter "max_entires"`},
			{"locmem://e?cull_frequncy=2", `"cull_frequncy"`},
			{"locmem://e?bogus=1&other=2", `"bogus"`},
			{"locmem://e?max_entries=abc", "max_entries"},
			{"locmem://e?max_entries=0", "max_entries"},
			{"locmem://e?max_entries=-3", "max_entries"},
			{"locmem://e?cull_frequency=-1", "cull_frequency"},
			{"locmem://e?cull_frequency=x", "cull_frequency"},
			{"locmem://e?max_entries=5&max_entries=6", "max_entries"},
			{"locmem://e?timeout=soon", "timeout"},
		} {
			_, err := djcache.Open(tc.url)
			if err == nil {
				t.Errorf("Open(%q): no error", tc.url)
				continue
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q): error %q does not name %s", tc.url, err, tc.want)
			}
			if strings.Contains(tc.want, "URL parameter") && !strings.Contains(err.Error(), "locmem") {
				t.Errorf("Open(%q): error %q does not name the backend", tc.url, err)
			}
		}
	})

	t.Run("different-bounds", func(t *testing.T) {
		name := uniqueName("url-bounds")
		open(t, "locmem://"+name+"?max_entries=10")
		open(t, "locmem://"+name+"?max_entries=10&cull_frequency=3") // the same bounds
		for _, q := range []string{"", "?max_entries=20", "?max_entries=10&cull_frequency=0"} {
			if c, err := djcache.Open("locmem://" + name + q); err == nil {
				c.Close()
				t.Errorf("Open(%q) of a store opened with max_entries=10: no error, want one about the bounds", name+q)
			} else if !strings.Contains(err.Error(), name) {
				t.Errorf("Open(%q): error %q does not name the store", name+q, err)
			}
		}
		if _, err := locmem.New(name, &locmem.Options{MaxEntries: 11}); err == nil {
			t.Error("New with other bounds: no error")
		}
		if _, err := locmem.New(uniqueName("neg"), &locmem.Options{MaxEntries: -1}); err == nil {
			t.Error("New with MaxEntries -1: no error")
		}
	})
}

// countLive counts the keys cull1..cull49 that are still there, as
// Django's _perform_cull_test does.
func cullTest(t *testing.T, rawURL string) int {
	t.Helper()
	ctx := t.Context()
	c := open(t, rawURL)
	for i := 1; i < 50; i++ {
		if err := c.Set(ctx, "cull"+strconv.Itoa(i), "value"); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for i := 1; i < 50; i++ {
		ok, err := c.Has(ctx, "cull"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			n++
		}
	}
	return n
}

// TestCull is Django's test_cull: max_entries=30 with the default
// cull_frequency bounds the store. Django drops a third of the store each
// time it fills (29 entries remain); otter evicts one entry at a time, so
// the store stays full (see the package documentation).
func TestCull(t *testing.T) {
	n := cullTest(t, "locmem://"+uniqueName("cull")+"?max_entries=30")
	t.Logf("%d of 49 entries remain", n)
	if n > 30 {
		t.Errorf("after 49 distinct sets into a store bounded at 30, %d entries remain; want at most 30", n)
	}
	if n < 20 {
		t.Errorf("after 49 distinct sets into a store bounded at 30, only %d entries remain; want the store nearly full", n)
	}
}

// TestBoundLarge: a larger store stays within its documented bound
// (MaxEntries plus MaxEntries/32) right after a burst of
// writes, before otter's background maintenance runs.
func TestBoundLarge(t *testing.T) {
	ctx := t.Context()
	d, err := locmem.New(uniqueName("bound"), &locmem.Options{MaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		if err := d.Set(ctx, ":1:k"+strconv.Itoa(i), []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := d.Len(); n > 1000+1000/32 {
			t.Fatalf("after %d distinct sets into a store bounded at 1000, it holds %d entries", i+1, n)
		}
	}
}

// TestZeroCull is Django's test_zero_cull: with cull_frequency=0 a full
// store is cleared before the next write, so 49 sets into a store of 30
// leave the last 19.
func TestZeroCull(t *testing.T) {
	if n := cullTest(t, "locmem://"+uniqueName("zero-cull")+"?max_entries=30&cull_frequency=0"); n != 19 {
		t.Errorf("after 49 distinct sets with max_entries=30 and cull_frequency=0, %d entries remain; want 19", n)
	}
}

// TestCloseKeepsStore: as in Django, where close() is a no-op for locmem,
// closing a Cache leaves its store and entries to the others of that name.
func TestCloseKeepsStore(t *testing.T) {
	ctx := t.Context()
	name := uniqueName("close")
	c1 := open(t, "locmem://"+name)
	if err := c1.Set(ctx, "k", "v", djcache.Forever); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := open(t, "locmem://"+name)
	if v, found, err := djcache.Get[string](ctx, c2, "k"); err != nil || !found || v != "v" {
		t.Errorf("Get after another Cache of the name closed = %q, %v, %v; want \"v\"", v, found, err)
	}
}
