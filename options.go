package djcache

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/djcache/djcache/driver"
)

// Option is a per-call option: [Timeout], [Forever] or [Version]. Options
// are small values, not closures, and a call without options allocates
// nothing for them. When two options of the same sort are given, the last
// one wins. The zero Option changes nothing.
type Option struct {
	kind optionKind
	d    time.Duration // timeout, for kindTimeout
	n    int           // version, for kindVersion
}

type optionKind uint8

const (
	kindNone optionKind = iota
	kindTimeout
	kindForever
	kindVersion
)

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
	// section Keys). Nil means slog.Default(), looked up at each warning.
	Logger *slog.Logger
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

// callOptions is the outcome of a call's options.
type callOptions struct {
	timeout Option // kindNone: the cache's default
	version int
}

// options resolves a call's options. It does not allocate.
func (c *Cache) options(opts []Option) callOptions {
	co := callOptions{version: c.set.version}
	for _, o := range opts {
		switch o.kind {
		case kindTimeout, kindForever:
			co.timeout = o
		case kindVersion:
			co.version = o.n
		}
	}
	return co
}
