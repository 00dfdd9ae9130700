package locmem

import (
	"context"
	"net/url"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// Scheme is the URL scheme of this backend.
const Scheme = "locmem"

func init() { djcache.Register(Scheme, &URLOpener{}) }

// URLOpener opens URLs like "locmem://NAME?max_entries=300&cull_frequency=3".
// NAME (host and path, possibly empty) names the store: every Cache opened
// with the same NAME in a process shares it, as Django's LOCATION does.
// Parameters, besides djcache's portable ones (timeout, key_prefix,
// version):
//
//   - max_entries: the most entries the store holds (default 300).
//   - cull_frequency: 0 clears the store when it is full, as Django does;
//     any other value (default 3) evicts one entry at a time (see the
//     package documentation).
//
// Any other parameter is an error.
type URLOpener struct{}

// OpenDriverURL implements djcache.DriverURLOpener.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	r := urlparam.New(Scheme, u)
	o := &Options{
		MaxEntries:    r.Int("max_entries", DefaultMaxEntries, 1, 1<<40),
		ClearWhenFull: r.Int("cull_frequency", 3, 0, 1<<30) == 0,
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	name := u.Host + u.Path
	if u.Opaque != "" {
		name = u.Opaque
	}
	return New(name, o)
}
