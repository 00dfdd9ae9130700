// Package dummy is Django's DummyCache: a backend that implements the whole
// interface and caches nothing, for development and tests that must not
// cache.
//
//	import _ "github.com/djcache/djcache/backends/dummy"
//
//	c, err := djcache.Open("dummy://")
//
// Every Get misses; Set and SetMany store nothing; Add reports true; Has,
// Touch and Delete report false; Incr, Decr, IncrVersion, DecrVersion and TTL
// give ErrNotFound; GetOrSet returns fill's value each time; Ping reports
// nil. Keys are still made
// and validated, so Django's key warnings still show.
package dummy

import (
	"context"
	"net/url"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// Scheme is the URL scheme of this backend.
const Scheme = "dummy"

func init() { djcache.Register(Scheme, &URLOpener{}) }

// Driver stores nothing. It is safe for concurrent use.
type Driver struct{}

var (
	_ driver.Driver       = (*Driver)(nil)
	_ driver.ExpiryReader = (*Driver)(nil)
)

// New returns a Driver.
func New() *Driver { return &Driver{} }

// Get implements driver.Driver: always a miss.
func (*Driver) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

// GetWithExpiry implements driver.ExpiryReader: always a miss, so that
// djcache's TTL reports ErrNotFound, as for any missing key, rather than
// ErrNotSupported.
func (*Driver) GetWithExpiry(context.Context, string) ([]byte, time.Time, bool, error) {
	return nil, time.Time{}, false, nil
}

// Set implements driver.Driver: stores nothing.
func (*Driver) Set(context.Context, string, []byte, time.Time) error { return nil }

// Add implements driver.Driver: reports true and stores nothing, as Django.
func (*Driver) Add(context.Context, string, []byte, time.Time) (bool, error) { return true, nil }

// Touch implements driver.Driver: reports false.
func (*Driver) Touch(context.Context, string, time.Time) (bool, error) { return false, nil }

// Delete implements driver.Driver: reports false.
func (*Driver) Delete(context.Context, string) (bool, error) { return false, nil }

// Incr implements driver.Driver: the key is never there.
func (*Driver) Incr(context.Context, string, int64) (int64, error) { return 0, driver.ErrNotFound }

// Clear implements driver.Driver.
func (*Driver) Clear(context.Context, driver.Scope) error { return nil }

// Close implements driver.Driver.
func (*Driver) Close() error { return nil }

// URLOpener opens "dummy://" URLs. The URL takes djcache's portable
// parameters (timeout, key_prefix, version) and nothing else; its host and
// path are ignored, like Django's LOCATION for DummyCache.
type URLOpener struct{}

// OpenDriverURL implements djcache.DriverURLOpener.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	if err := urlparam.New(Scheme, u).Done(); err != nil {
		return nil, err
	}
	return New(), nil
}
