package dummy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/dummy"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
)

type harness struct{}

func (harness) MakeDriver(context.Context) (driver.Driver, error) { return dummy.New(), nil }
func (harness) Close()                                            {}

// opts declares what the dummy backend cannot do: it stores nothing, by
// design (Django's DummyCache). Every other exemption follows from it.
var opts = &djcachetest.Options{Unsupported: []djcachetest.Feature{djcachetest.Storage}}

func TestConformance(t *testing.T) {
	djcachetest.RunConformanceTests(t, func(context.Context, *testing.T) (djcachetest.Harness, error) {
		return harness{}, nil
	}, opts)
}

func TestDriver(t *testing.T) {
	if err := djcachetest.TestDriver(t.Context(), dummy.New(), opts); err != nil {
		t.Error(err)
	}
}

func TestURL(t *testing.T) {
	for _, u := range []string{
		"dummy://",
		"dummy:",
		"DUMMY://",
		"dummy://ignored-host/ignored/path",
		"dummy://?timeout=60&key_prefix=p&version=2",
		"dummy://?timeout=none",
	} {
		c, err := djcache.Open(u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if _, ok := c.Driver().(*dummy.Driver); !ok {
			t.Errorf("Open(%q).Driver() is a %T, want *dummy.Driver", u, c.Driver())
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, tc := range []struct{ url, want string }{
		{"dummy://?max_entries=5", `"max_entries"`},
		{"dummy://?foo=1", `"foo"`},
		{"dummy://?timeout=abc", "timeout"},
	} {
		_, err := djcache.Open(tc.url)
		if err == nil {
			t.Errorf("Open(%q): no error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): error %q does not name %s", tc.url, err, tc.want)
		}
	}
	if _, err := djcache.Open("dummy://?foo=1"); err == nil || !strings.Contains(err.Error(), "dummy") {
		t.Errorf("Open(dummy://?foo=1): error %v does not name the backend", err)
	}
}
