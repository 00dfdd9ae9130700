package djcache

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// A process-local tier (an L1) in front of a cache's driver: the URL
// parameters local and local_timeout ask for one on any backend, and a
// package that implements tiers registers itself here, as backends register
// their schemes. djcache's own is package tiered:
//
//	import _ "github.com/djcache/djcache/tiered"
//
//	c, err := djcache.Open("redis://127.0.0.1:6379/0?local=10000&local_timeout=5")
//
// The root package cannot import package tiered (which imports it), hence
// the registration.

// tierImport is the package that registers djcache's tier.
const tierImport = "github.com/djcache/djcache/tiered"

// TierOptions is what the URL parameters local and local_timeout ask of a
// process-local tier.
type TierOptions struct {
	// MaxEntries is the most entries the tier keeps (local=N, at least 1).
	MaxEntries int
	// Timeout caps how long an entry stays in the tier
	// (local_timeout=SECONDS). Zero means no cap other than the entry's own
	// remaining lifetime in the driver below.
	Timeout time.Duration
	// Storage names the storage of the driver below: the backend's URL
	// without djcache's own parameters and without its password. Tiers
	// over the same storage in one process can share their invalidations.
	Storage string
}

// TierFunc puts a process-local tier in front of l2 and returns the driver
// that the Cache uses instead; that driver owns l2 and closes it. A TierFunc
// does no I/O. When it fails, l2 is still the caller's (Open closes it).
type TierFunc func(l2 driver.Driver, o TierOptions) (driver.Driver, error)

// RegisterTier makes f the tier that mux opens for URLs with the parameter
// local. It panics if f is nil or a tier is registered already.
func (mux *URLMux) RegisterTier(f TierFunc) {
	if f == nil {
		panic("djcache: RegisterTier func is nil")
	}
	mux.mu.Lock()
	defer mux.mu.Unlock()
	if mux.tier != nil {
		panic("djcache: RegisterTier called twice")
	}
	mux.tier = f
}

// RegisterTier makes f the tier that Open uses for URLs with the parameter
// local (see [URLMux.RegisterTier]). Package tiered calls it from init, so
// that importing it for its side effect is enough:
//
//	import _ "github.com/djcache/djcache/tiered"
//
// Without a registered tier, opening a URL with local fails with an error
// that names that import.
func RegisterTier(f TierFunc) { defaultMux.RegisterTier(f) }

// tierParams removes local and local_timeout from u's query (u is
// openURL's own copy, which the backend receives next) and returns the
// function that puts the tier they ask for in front of the backend's
// driver: the identity when u has neither. The returned function closes
// the driver if the tier fails.
func (mux *URLMux) tierParams(u *url.URL) (func(driver.Driver) (driver.Driver, error), error) {
	noTier := func(d driver.Driver) (driver.Driver, error) { return d, nil }
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("djcache: invalid URL query: %v", err)
	}
	if !q.Has("local") && !q.Has("local_timeout") {
		return noTier, nil
	}
	own := url.Values{"local": q["local"], "local_timeout": q["local_timeout"]}
	for k, v := range own {
		if v == nil {
			delete(own, k)
		}
	}
	q.Del("local")
	q.Del("local_timeout")
	r := urlparam.New("", &url.URL{RawQuery: own.Encode()})
	var o TierOptions
	if own.Has("local") {
		o.MaxEntries = r.Int("local", 0, 1, 1<<40)
	}
	if d, _, ok := r.Seconds("local_timeout", false); ok {
		if d <= 0 {
			return nil, fmt.Errorf("djcache: URL parameter local_timeout=%v: want a number of seconds above 0 (leave it out for the entry's own lifetime)", d.Seconds())
		}
		o.Timeout = d
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	if o.MaxEntries == 0 {
		return nil, errors.New("djcache: URL parameter local_timeout needs local=N, the most entries the process-local tier keeps")
	}
	mux.mu.RLock()
	tier := mux.tier
	mux.mu.RUnlock()
	if tier == nil {
		return nil, fmt.Errorf("djcache: URL parameter local needs a process-local tier, and none is registered (forgotten import? import _ %q)", tierImport)
	}
	u.RawQuery = q.Encode()
	o.Storage = u.Redacted()
	return func(d driver.Driver) (driver.Driver, error) {
		td, err := tier(d, o)
		if err != nil {
			d.Close()
			return nil, err
		}
		return td, nil
	}, nil
}

// Stack returns a Cache configured as l2 was (its Options: timeout, key
// prefix, version, key function, codec, serializer, logger, hot-key
// defaults) over the driver that wrap makes of l1's and l2's drivers, and
// hands both drivers to it: l1 and l2 are closed without closing their
// drivers (their calls return ErrClosed from then on, and GetOrSet's
// background refreshes on them stop), and the returned Cache's Close
// closes the driver wrap returned, which must close both.
//
// Stack is for packages that build tiers: applications call theirs, such
// as package tiered's New. wrap must do no I/O; if it fails, or l1 or l2
// is nil, closed or the same Cache, Stack returns an error and leaves l1
// and l2 as they were. l1 and l2 must not be in use while Stack runs.
func Stack(l1, l2 *Cache, wrap func(l1, l2 driver.Driver) (driver.Driver, error)) (*Cache, error) {
	switch {
	case l1 == nil || l2 == nil:
		return nil, errors.New("djcache: Stack: a Cache is nil")
	case l1 == l2 || l1.drv == l2.drv:
		return nil, errors.New("djcache: Stack: l1 and l2 are the same Cache (or share a driver)")
	case wrap == nil:
		return nil, errors.New("djcache: Stack: wrap is nil")
	}
	for _, c := range []*Cache{l1, l2} {
		if c.life.closed.Load() {
			return nil, &OpError{Op: "stack", Backend: c.backend, Err: ErrClosed}
		}
	}
	d, err := wrap(l1.drv, l2.drv)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errors.New("djcache: Stack: wrap returned a nil driver")
	}
	for _, c := range []*Cache{l1, l2} {
		c.hot.stop()
		c.life.closed.Store(true) // closed, and its driver is d's now
	}
	c := newCache(d, l2.set)
	runtime.AddCleanup(c, func(l *lifecycle) { l.close() }, c.life)
	return c, nil
}
