package djcache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// DriverURLOpener opens a driver from a URL. Backend packages implement it
// and register it from init with [Register]. OpenDriverURL must not modify u
// and must be safe for concurrent use. u holds only the backend's own query
// parameters: djcache has already removed timeout, key_prefix, version and
// serializer (and the hot-key defaults, and local and local_timeout, see
// [RegisterTier]).
// An opener reads its parameters strictly: an unknown one is an error that
// names it.
type DriverURLOpener interface {
	OpenDriverURL(ctx context.Context, u *url.URL) (driver.Driver, error)
}

// URLMux maps URL schemes to openers. The zero value is ready to use, and a
// URLMux is safe for concurrent use.
type URLMux struct {
	mu   sync.RWMutex               // protects m and tier
	m    map[string]DriverURLOpener // by lower-case scheme
	tier TierFunc                   // RegisterTier's; nil: none (tier.go)
}

// Register makes an opener available for scheme (matched case-insensitively).
// It panics if o is nil or the scheme is already registered.
func (mux *URLMux) Register(scheme string, o DriverURLOpener) {
	if o == nil {
		panic("djcache: Register opener is nil")
	}
	scheme = strings.ToLower(scheme)
	mux.mu.Lock()
	defer mux.mu.Unlock()
	if _, dup := mux.m[scheme]; dup {
		panic("djcache: Register called twice for scheme " + scheme)
	}
	if mux.m == nil {
		mux.m = make(map[string]DriverURLOpener)
	}
	mux.m[scheme] = o
}

// Schemes returns the registered schemes, sorted.
func (mux *URLMux) Schemes() []string {
	mux.mu.RLock()
	defer mux.mu.RUnlock()
	s := make([]string, 0, len(mux.m))
	for k := range mux.m {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

// importPaths tells which package to import for djcache's own schemes.
var importPaths = map[string]string{
	"locmem":     "github.com/djcache/djcache/backends/locmem",
	"dummy":      "github.com/djcache/djcache/backends/dummy",
	"file":       "github.com/djcache/djcache/backends/filebased",
	"sqlite":     "github.com/djcache/djcache/backends/db",
	"postgres":   "github.com/djcache/djcache/backends/db",
	"postgresql": "github.com/djcache/djcache/backends/db",
	"mysql":      "github.com/djcache/djcache/backends/db",
	"redis":      "github.com/djcache/djcache/backends/redis",
	"rediss":     "github.com/djcache/djcache/backends/redis",
	"memcached":  "github.com/djcache/djcache/backends/memcached",
}

// Open opens a Cache from a URL such as "locmem://default?timeout=60". The
// scheme picks the backend; the portable parameters timeout (seconds, may be
// fractional, or "none" for Forever), key_prefix, version and serializer
// ("djcache" or "pickle", see [Serializer]) go into a copy
// of o (nil means the defaults), overriding its fields; the backend reads the
// rest strictly. Open does not dial: a server's absence shows at the first
// call.
func (mux *URLMux) Open(ctx context.Context, rawURL string, o *Options) (*Cache, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue's text holds the URL, and so any password in it
		}
		return nil, fmt.Errorf("djcache: invalid cache URL: %w", err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("djcache: cache URL %q has no scheme, such as locmem:// or redis://", u.Redacted())
	}
	return mux.openURL(ctx, u, o)
}

// openURL is Open of a parsed URL, which it does not modify.
func (mux *URLMux) openURL(ctx context.Context, u *url.URL, o *Options) (*Cache, error) {
	scheme := strings.ToLower(u.Scheme)
	mux.mu.RLock()
	opener := mux.m[scheme]
	mux.mu.RUnlock()
	if opener == nil {
		msg := fmt.Sprintf("djcache: no backend for scheme %q", scheme)
		if p, ok := importPaths[scheme]; ok {
			msg += fmt.Sprintf(" (forgotten import? import _ %q)", p)
		}
		return nil, fmt.Errorf("%s; registered: %s", msg, strings.Join(mux.Schemes(), ", "))
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	bu, err := portableParams(u, &opts)
	if err != nil {
		return nil, err
	}
	wrap, err := mux.tierParams(bu) // local, local_timeout (tier.go)
	if err != nil {
		return nil, err
	}
	d, err := opener.OpenDriverURL(ctx, bu)
	if err != nil {
		return nil, err
	}
	if d, err = wrap(d); err != nil {
		return nil, err
	}
	c, err := New(d, &opts)
	if err != nil {
		d.Close()
		return nil, err
	}
	// A Cache opened from a URL owns its driver: if it is dropped without
	// Close, the driver's connections are released anyway.
	runtime.AddCleanup(c, func(l *lifecycle) { l.close() }, c.life)
	return c, nil
}

// portableParams moves timeout, key_prefix, version and serializer, and the
// hot-key defaults (hotParams), from u's query into o and returns a copy of
// u without them.
func portableParams(u *url.URL, o *Options) (*url.URL, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("djcache: invalid URL query: %v", err)
	}
	portable := url.Values{}
	for _, k := range append([]string{"timeout", "key_prefix", "version", "serializer"}, hotParams...) {
		if vs, ok := q[k]; ok {
			portable[k] = vs
			delete(q, k)
		}
	}
	r := urlparam.New("", &url.URL{RawQuery: portable.Encode()})
	if d, forever, ok := r.Seconds("timeout", true); ok {
		if forever {
			o.Timeout = Forever
		} else {
			o.Timeout = Timeout(d)
		}
	}
	if portable.Has("key_prefix") {
		o.KeyPrefix = r.String("key_prefix", "")
	}
	if portable.Has("version") {
		const maxVersion = 1<<31 - 1
		if v := r.Int("version", 0, -maxVersion, maxVersion); v != 0 {
			o.Version = v
		} else if r.Err() == nil {
			return nil, fmt.Errorf("djcache: URL parameter version=0: a URL's default version must not be 0 (use the call option Version(0))")
		}
	}
	if portable.Has("serializer") {
		switch sz := Serializer(r.String("serializer", "")); sz {
		case NativeSerializer, PickleSerializer:
			o.Serializer = sz
			if sz == PickleSerializer {
				o.Codec = nil // the Options' codec is for the native serializer
			}
		default:
			return nil, fmt.Errorf("djcache: URL parameter serializer=%q: want %q (djcache's encoding, the default) or %q (Django's, to share the cache with Django)", string(sz), NativeSerializer, PickleSerializer)
		}
	}
	if err := hotURLParams(r, o); err != nil {
		return nil, err
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	bu := *u
	if u.User != nil {
		user := *u.User
		bu.User = &user
	}
	bu.RawQuery = q.Encode()
	return &bu, nil
}

var defaultMux URLMux

// DefaultURLMux returns the URLMux that Register and Open use. It is
// djcache's only global state.
func DefaultURLMux() *URLMux { return &defaultMux }

// Register makes an opener available to Open for scheme. Backend packages
// call it from init; it panics if o is nil or the scheme is taken.
func Register(scheme string, o DriverURLOpener) { defaultMux.Register(scheme, o) }

// Open opens a Cache from a URL with the default URLMux (see
// [URLMux.Open]). The backend's package must be imported, usually for its
// side effect:
//
//	import _ "github.com/djcache/djcache/backends/locmem"
//
//	c, err := djcache.Open("locmem://default?timeout=60&max_entries=1000")
//
// At most one Options may follow the URL, for what a URL cannot say (a
// KeyFunc, a Codec, a Logger); the URL's parameters override its fields.
func Open(rawURL string, o ...*Options) (*Cache, error) {
	if len(o) > 1 {
		return nil, errors.New("djcache: Open takes at most one *Options")
	}
	var opts *Options
	if len(o) == 1 {
		opts = o[0]
	}
	return defaultMux.Open(context.Background(), rawURL, opts)
}

// hotParams are the URL parameters of the hot-key defaults (Options.Stale
// and the fields after it).
var hotParams = []string{"stale", "early_refresh", "fill_lock", "soft_timeout", "hard_timeout", "absent_timeout", "retry_after", "jitter"}

// hotURLParams reads hotParams into o; Options' validation names bad
// values.
func hotURLParams(r *urlparam.Reader, o *Options) error {
	for name, dst := range map[string]*time.Duration{
		"stale": &o.Stale, "fill_lock": &o.FillLock, "soft_timeout": &o.FillSoftTimeout,
		"hard_timeout": &o.FillHardTimeout, "absent_timeout": &o.AbsentTimeout, "retry_after": &o.RetryAfter,
	} {
		if d, _, ok := r.Seconds(name, false); ok {
			if d < 0 {
				return fmt.Errorf("djcache: URL parameter %s=%v: want a duration of 0 seconds or more", name, d.Seconds())
			}
			*dst = d
		}
	}
	if f, ok := r.Float("early_refresh"); ok {
		if f < 0 {
			return fmt.Errorf("djcache: URL parameter early_refresh=%v: want a beta of 0 or more (1 is usual)", f)
		}
		o.EarlyRefresh = f
	}
	if f, ok := r.Float("jitter"); ok {
		if f < 0 || f >= 1 {
			return fmt.Errorf("djcache: URL parameter jitter=%v: want a fraction from 0 to less than 1", f)
		}
		o.Jitter = f
	}
	return r.Err()
}
