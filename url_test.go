package djcache_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// recordingOpener opens locmem stores and remembers the URL it was given.
type recordingOpener struct{ got *url.URL }

func (o *recordingOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	o.got = u
	r := urlparam.New("rec", u)
	r.String("backend_param", "")
	if err := r.Done(); err != nil {
		return nil, err
	}
	return locmem.New("url-test-"+u.Host, nil)
}

func TestURLMuxPortableParams(t *testing.T) {
	var mux djcache.URLMux
	rec := &recordingOpener{}
	mux.Register("rec", rec)
	ctx := context.Background()

	c, err := mux.Open(ctx, "REC://portable?timeout=1.5&key_prefix=shop&version=3&backend_param=x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rec.got.Query().Encode() != "backend_param=x" {
		t.Errorf("the backend saw query %q, want only its own parameter", rec.got.RawQuery)
	}
	// The made key shows the prefix and version.
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	d, _ := locmem.New("url-test-portable", nil)
	if v, found, _ := d.Get(ctx, "shop:3:k"); !found || string(v) != "\x02v" {
		t.Errorf("entry under shop:3:k = %q, %v; want the value stored with key_prefix and version", v, found)
	}
	// The timeout is 1.5 s: alive now, alive after 1 s is not checked (slow), but Touch-free expiry is.
	if found, _ := c.Has(ctx, "k"); !found {
		t.Error("entry missing right after Set")
	}
}

func TestURLMuxTimeoutNone(t *testing.T) {
	var mux djcache.URLMux
	mux.Register("rec", &recordingOpener{})
	ctx := context.Background()
	c, err := mux.Open(ctx, "rec://none?timeout=none", &djcache.Options{Timeout: djcache.Timeout(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Set(ctx, "k", 1)
	time.Sleep(20 * time.Millisecond)
	if found, _ := c.Has(ctx, "k"); !found {
		t.Error("timeout=none in the URL must override Options.Timeout and store forever")
	}
}

func TestURLMuxErrors(t *testing.T) {
	var mux djcache.URLMux
	mux.Register("rec", &recordingOpener{})
	ctx := context.Background()
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"nope://x", `no backend for scheme "nope"; registered: rec`},
		{"redis://u:s3cret@host/0", `forgotten import? import _ "github.com/djcache/djcache/backends/redis"`},
		{"rec://x?bogus=1", `rec: unknown URL parameter "bogus"`},
		{"rec://x?b=1&a=2", `unknown URL parameters ["a" "b"]`},
		{"rec://x?timeout=nan", `timeout="nan"`},
		{"rec://x?timeout=inf", `timeout="inf"`},
		{"rec://x?timeout=1e300", `timeout="1e300"`},
		{"rec://x?timeout=abc", `want a number of seconds or none`},
		{"rec://x?version=0", `version=0`},
		{"rec://x?version=two", `version="two"`},
		{"rec://x?timeout=1&timeout=2", `"timeout" is given 2 times`},
		{"no-scheme", `has no scheme`},
		{"rec://u:s3cret@x/%zz", `invalid cache URL`},
	} {
		_, err := mux.Open(ctx, tc.url, nil)
		if err == nil {
			t.Errorf("Open(%q) succeeded, want an error containing %q", tc.url, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", tc.url, err)
		}
	}
}

func TestURLMuxRegister(t *testing.T) {
	var mux djcache.URLMux
	mux.Register("b", &recordingOpener{})
	mux.Register("A", &recordingOpener{})
	if got := strings.Join(mux.Schemes(), ","); got != "a,b" {
		t.Errorf("Schemes() = %q, want a,b (lower case, sorted)", got)
	}
	mustPanic(t, "duplicate scheme", func() { mux.Register("a", &recordingOpener{}) })
	mustPanic(t, "nil opener", func() { mux.Register("c", nil) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

func TestOpenDefaultMux(t *testing.T) {
	c, err := djcache.Open("locmem://open-default?max_entries=10", &djcache.Options{KeyPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := djcache.Open("locmem://x", nil, nil); err == nil {
		t.Error("Open with two *Options succeeded")
	}
	if _, err := djcache.Open("locmem://open-default?max_entries=11"); err == nil || !strings.Contains(err.Error(), "max_entries=10") {
		t.Errorf("reopening a locmem store with other bounds: err = %v, want one naming the first bounds", err)
	}
}

func TestOptionsValidation(t *testing.T) {
	d, _ := locmem.New("options-validation", nil)
	if _, err := djcache.New(d, &djcache.Options{Timeout: djcache.Version(2)}); err == nil {
		t.Error("New accepted Version(2) as the default timeout")
	}
	if _, err := djcache.New(nil, nil); err == nil {
		t.Error("New accepted a nil driver")
	}
	if got := djcache.Timeout(time.Minute).String() + " " + djcache.Forever.String() + " " + djcache.Version(2).String(); got != "Timeout(1m0s) Forever Version(2)" {
		t.Errorf("Option strings = %q", got)
	}
}
