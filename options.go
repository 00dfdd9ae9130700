package djcache

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/djcache/djcache/driver"
)

// Option is a per-call option: [Timeout], [Forever] or [Version], and
// GetOrSet's hot-key options ([Stale], [EarlyRefresh], [FillLock],
// [FillTimeout], [AbsentTimeout], [RetryAfter]) and [Jitter]. Options are
// small values, not closures, and a call without options allocates nothing
// for them. When two options of the same sort are given, the last one
// wins. The zero Option changes nothing.
type Option struct {
	kind optionKind
	d    time.Duration // timeout, for kindTimeout; the duration of the hot-key options
	d2   time.Duration // FillTimeout's hard timeout
	f    float64       // EarlyRefresh's beta, Jitter's fraction
	n    int           // version, for kindVersion
}

type optionKind uint8

const (
	kindNone optionKind = iota
	kindTimeout
	kindForever
	kindVersion
	kindStale
	kindEarly
	kindFillLock
	kindFillTimeout
	kindAbsent
	kindRetry
	kindJitter
)

// Stale is the GetOrSet option that keeps an entry stored for d after its
// fresh timeout. During that window GetOrSet returns the stale value at
// once and refreshes it in the background, once per key in a process
// (stale-while-revalidate); if the refresh fails, the stale value keeps
// being served until the window ends (fail-safe), the failure is logged
// and counted in Stats, and the refresh is tried again no sooner than
// RetryAfter. Other calls see such an entry as a plain one that lives for
// its timeout plus d. URL parameter: stale=SECONDS.
func Stale(d time.Duration) Option { return Option{kind: kindStale, d: d} }

// EarlyRefresh is the GetOrSet option of probabilistic early expiration
// (XFetch, Vattani et al.): a caller that reads a fresh entry refreshes it
// in the background, early, when now - fill×beta×ln(rand()) passes the end
// of its fresh life, fill being how long the fill that wrote it took
// (stored with the entry). The longer a fill takes and the nearer the
// expiry, the likelier an early refresh, so a hot key is refreshed before
// it expires and no caller waits. beta 1 is the usual value, larger
// refreshes earlier, 0 turns it off. URL parameter: early_refresh=BETA.
func EarlyRefresh(beta float64) Option { return Option{kind: kindEarly, f: beta} }

// FillLock is the GetOrSet option that allows at most one fill of a key at
// a time across every process sharing the storage, on every backend: the
// filler takes a lock entry with Add (atomic on every backend), which
// expires after d if its holder dies and which only its holder releases. A
// caller that does not get the lock serves the stale value if there is one
// (Stale), and otherwise waits for the holder's value, polling with a
// growing pause, and fills itself once the lock is gone. URL parameter:
// fill_lock=SECONDS.
func FillLock(d time.Duration) Option { return Option{kind: kindFillLock, d: d} }

// FillTimeout is the GetOrSet option that bounds a fill: after soft, a
// caller that has a stale value (Stale) gets it and the fill goes on in
// the background and stores its result; after hard, the fill's context is
// cancelled. Zero leaves either unbounded. Without FillTimeout a caller
// with a stale value does not wait at all. URL parameters:
// soft_timeout=SECONDS, hard_timeout=SECONDS.
func FillTimeout(soft, hard time.Duration) Option {
	return Option{kind: kindFillTimeout, d: soft, d2: hard}
}

// AbsentTimeout is the GetOrSet option that caches a fill's ErrAbsent (the
// answer "there is nothing") for d; without it an absence is cached for
// the call's timeout. URL parameter: absent_timeout=SECONDS.
func AbsentTimeout(d time.Duration) Option { return Option{kind: kindAbsent, d: d} }

// RetryAfter is the GetOrSet option that sets how long after a failed
// background refresh of a key the next one may start (DefaultRetryAfter,
// 1 s, without it). URL parameter: retry_after=SECONDS.
func RetryAfter(d time.Duration) Option { return Option{kind: kindRetry, d: d} }

// Jitter is the option that draws each stored timeout uniformly within
// ±fraction of itself, so that keys written together do not expire
// together. It applies to every write (Set, Add, SetMany, GetOrSet, Touch,
// IncrVersion) with a finite timeout. fraction must be in [0, 1). URL
// parameter: jitter=FRACTION.
func Jitter(fraction float64) Option { return Option{kind: kindJitter, f: fraction} }

// Timeout is the per-call option that gives an entry a lifetime of d.
// Sub-second durations work on backends that can store them (locmem, Redis,
// the file backend; memcached rounds up to a second, SQL tables keep whole
// seconds).
//
// A zero or negative d is Django's "timeout 0": nothing stays cached. Set
// removes any earlier value, Add reports true and stores nothing visible, and
// Touch reports true and expires the entry.
//
// Durations of 100 years or more are treated as [Forever].
func Timeout(d time.Duration) Option { return Option{kind: kindTimeout, d: d} }

// Forever is the per-call option for an entry that never expires (Django's
// timeout=None).
var Forever = Option{kind: kindForever}

// Version is the per-call option that selects the key's version (Django's
// version=n). Without it, the cache's default version applies.
func Version(n int) Option { return Option{kind: kindVersion, n: n} }

// String returns the option as it would be written in Go, such as
// "Timeout(5m0s)", "Forever" or "Version(2)".
func (o Option) String() string {
	switch o.kind {
	case kindTimeout:
		return "Timeout(" + o.d.String() + ")"
	case kindForever:
		return "Forever"
	case kindVersion:
		return "Version(" + strconv.Itoa(o.n) + ")"
	case kindStale:
		return "Stale(" + o.d.String() + ")"
	case kindEarly:
		return "EarlyRefresh(" + strconv.FormatFloat(o.f, 'g', -1, 64) + ")"
	case kindFillLock:
		return "FillLock(" + o.d.String() + ")"
	case kindFillTimeout:
		return "FillTimeout(" + o.d.String() + ", " + o.d2.String() + ")"
	case kindAbsent:
		return "AbsentTimeout(" + o.d.String() + ")"
	case kindRetry:
		return "RetryAfter(" + o.d.String() + ")"
	case kindJitter:
		return "Jitter(" + strconv.FormatFloat(o.f, 'g', -1, 64) + ")"
	}
	return "Option{}"
}

// DefaultTimeout is the timeout of a Cache whose Options leave Timeout unset
// (Django's TIMEOUT default).
const DefaultTimeout = 300 * time.Second

// maxTimeout is where a timeout becomes Forever: far enough for any real
// use, near enough that every backend can store the absolute time.
const maxTimeout = 100 * 365 * 24 * time.Hour

// Options configures a Cache. A nil *Options means the defaults, and New
// never modifies the struct it is given.
type Options struct {
	// Timeout is the default timeout of calls without a Timeout or Forever
	// option: Timeout(d) or Forever. The zero value means DefaultTimeout
	// (300 s, as Django). Timeout(0) reproduces Django's TIMEOUT: 0: every
	// entry expires at once.
	Timeout Option

	// KeyPrefix is prepended to every key (Django's KEY_PREFIX). The default
	// is "".
	KeyPrefix string

	// Version is the default key version (Django's VERSION). Zero means 1;
	// a per-call Version(0) still selects version 0.
	Version int

	// KeyFunc makes the stored key from the caller's key, KeyPrefix and the
	// version (Django's KEY_FUNCTION). Nil means DefaultKeyFunc, Django's
	// "prefix:version:key".
	KeyFunc KeyFunc

	// Codec encodes structured values (everything but nil, strings, byte
	// slices, integers, floats and bools, which have their own reflection-free
	// encodings). Nil means JSON; see the package documentation, section
	// Values, for why. The pickle serializer has no use for a Codec: setting
	// both is an error.
	Codec Codec

	// Serializer is how values are written: NativeSerializer (the
	// default, djcache's own encoding) or PickleSerializer, Python's pickle
	// with the rules of each Django backend, for a cache that a Django
	// application shares. See the package documentation, section Sharing a
	// cache with Django.
	Serializer Serializer

	// Logger receives Django's key warnings (see the package documentation,
	// section Keys) and the failures of background refreshes (Stale). Nil
	// means slog.Default(), looked up at each warning.
	Logger *slog.Logger

	// Observer, if not nil, receives an Event for every call and hot-key
	// event of the Cache (see Observer; Cache.Observe attaches more).
	Observer Observer

	// Alias names the cache in the events its observers receive
	// (Event.Alias). A Caches handler sets it to the settings' alias.
	Alias string

	// The defaults of GetOrSet's hot-key options, which a call's own
	// options override: see Stale, EarlyRefresh, FillLock, FillTimeout,
	// AbsentTimeout and RetryAfter, and Jitter for every write. Zero values
	// turn each off (RetryAfter: DefaultRetryAfter). The URL parameters
	// stale, early_refresh, fill_lock, soft_timeout, hard_timeout,
	// absent_timeout, retry_after and jitter set them, and so do the same
	// names in Django's OPTIONS.
	Stale           time.Duration
	EarlyRefresh    float64
	FillLock        time.Duration
	FillSoftTimeout time.Duration
	FillHardTimeout time.Duration
	AbsentTimeout   time.Duration
	RetryAfter      time.Duration
	Jitter          float64
}

// settings is what New keeps of Options, validated.
type settings struct {
	timeout Option // kindTimeout or kindForever
	prefix  string
	version int
	keyFunc KeyFunc
	codec   Codec
	logger  *slog.Logger
	pickle  bool         // Serializer is PickleSerializer
	natives driver.Kinds // with pickle: the kinds the driver keeps outside pickle
	hot     hotOptions   // GetOrSet's hot-key defaults
	jitter  float64      // Jitter's default

	observer Observer // Options.Observer
	alias    string   // Options.Alias
}

// Serializer names how a Cache writes values.
type Serializer string

// The serializers. The URL parameter serializer takes their names.
const (
	// NativeSerializer is djcache's own encoding, the default: integers as
	// decimal text, other scalars as a one-byte kind tag and their bytes,
	// structures through the Options' Codec (JSON by default). It is the
	// fastest, and Go programs read it; Django does not.
	NativeSerializer Serializer = "djcache"
	// PickleSerializer writes what Django writes: protocol-5 pickles, with
	// the values each Django backend keeps outside pickle (Redis: integers
	// as decimal text; memcached: bytes, text and integers under
	// pymemcache's flags). A Django application sharing the cache reads
	// every value, and djcache reads Django's.
	PickleSerializer Serializer = "pickle"
)

func (o *Options) settings() (settings, error) {
	s := settings{timeout: Timeout(DefaultTimeout), version: 1, codec: JSON}
	if o == nil {
		return s, nil
	}
	switch o.Timeout.kind {
	case kindNone:
	case kindTimeout, kindForever:
		s.timeout = o.Timeout
	default:
		return s, fmt.Errorf("djcache: Options.Timeout must be Timeout(d) or Forever, not %v", o.Timeout)
	}
	s.prefix = o.KeyPrefix
	if o.Version != 0 {
		s.version = o.Version
	}
	s.keyFunc = o.KeyFunc
	if o.Codec != nil {
		s.codec = o.Codec
	}
	s.logger = o.Logger
	s.observer, s.alias = o.Observer, o.Alias
	s.hot = hotOptions{stale: o.Stale, early: o.EarlyRefresh, lock: o.FillLock, soft: o.FillSoftTimeout, hard: o.FillHardTimeout, absent: o.AbsentTimeout, retry: o.RetryAfter}
	s.jitter = o.Jitter
	for _, opt := range []Option{Stale(o.Stale), EarlyRefresh(o.EarlyRefresh), FillLock(o.FillLock), FillTimeout(o.FillSoftTimeout, o.FillHardTimeout), AbsentTimeout(o.AbsentTimeout), RetryAfter(o.RetryAfter), Jitter(o.Jitter)} {
		if err := opt.check(); err != nil {
			return s, fmt.Errorf("djcache: Options: %w", errors.Unwrap(err))
		}
	}
	switch o.Serializer {
	case "", NativeSerializer:
	case PickleSerializer:
		if o.Codec != nil {
			return s, errors.New("djcache: Options.Codec is set but the serializer is pickle, which encodes every value itself; leave Codec nil")
		}
		s.pickle = true
	default:
		return s, fmt.Errorf("djcache: unknown Options.Serializer %q (want %q or %q)", o.Serializer, NativeSerializer, PickleSerializer)
	}
	return s, nil
}

// optionError is an invalid option: it names the option and the problem.
type optionError struct{ msg string }

func (e *optionError) Error() string { return "djcache: " + e.msg }

// Unwrap lets Options report the message under its own prefix.
func (e *optionError) Unwrap() error { return errors.New(e.msg) }

// check reports an invalid hot-key or jitter option.
func (o Option) check() error {
	var err error
	switch o.kind {
	case kindStale, kindFillLock, kindAbsent, kindRetry:
		err = checkDuration(o)
	case kindFillTimeout:
		if o.d < 0 || o.d2 < 0 {
			err = fmt.Errorf("%v: a duration is negative", o)
		} else if o.d2 > 0 && o.d > o.d2 {
			err = fmt.Errorf("%v: the soft timeout is longer than the hard one", o)
		}
	case kindEarly:
		err = checkFraction(o, false)
	case kindJitter:
		err = checkFraction(o, true)
	}
	if err != nil {
		return &optionError{err.Error()}
	}
	return nil
}

// callOptions is the outcome of a call's options.
type callOptions struct {
	timeout Option // kindNone: the cache's default
	version int
	hot     hotOptions
	err     error // an invalid option, reported by the writes and GetOrSet

	// With Jitter, timeout is drawn from unjittered; calls that write many
	// entries draw again for each (entryExpiry).
	jitter     float64
	unjittered Option
}

// options resolves a call's options. It does not allocate.
func (c *Cache) options(opts []Option) callOptions {
	co := callOptions{version: c.set.version, hot: c.set.hot}
	jitter := c.set.jitter
	for _, o := range opts {
		switch o.kind {
		case kindTimeout, kindForever:
			co.timeout = o
		case kindVersion:
			co.version = o.n
		case kindStale:
			co.hot.stale = o.d
		case kindEarly:
			co.hot.early = o.f
		case kindFillLock:
			co.hot.lock = o.d
		case kindFillTimeout:
			co.hot.soft, co.hot.hard = o.d, o.d2
		case kindAbsent:
			co.hot.absent = o.d
		case kindRetry:
			co.hot.retry = o.d
		case kindJitter:
			jitter = o.f
		}
		if o.kind >= kindStale {
			if err := o.check(); err != nil {
				co.err = err
			}
		}
	}
	if jitter > 0 && co.err == nil {
		co.jitter, co.unjittered = jitter, co.timeout
		co.timeout = c.jittered(co.timeout, jitter)
	}
	return co
}

// entryExpiry is the expiry of one of many entries written by one call:
// with Jitter, each draws its own.
func (c *Cache) entryExpiry(co *callOptions) time.Time {
	if co.jitter > 0 {
		return c.expiry(c.jittered(co.unjittered, co.jitter))
	}
	return c.expiry(co.timeout)
}
