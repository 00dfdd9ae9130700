// Package driver defines the interface that djcache backends implement.
//
// Application code should use package djcache; this package is for the
// authors of backends. Package djcache keeps Django's semantics (key making,
// versions, validation, timeouts, encoding, get_or_set, incr_version,
// statistics) and calls a [Driver] with:
//
//   - made keys: the final key, prefix and version applied, already
//     validated (see [KeyChecker] for backends that refuse some keys);
//   - encoded values: bytes whose first byte tells their [Kind] (a driver may
//     store them as they are, or keep the kind in native metadata such as
//     memcached flags, see [SplitKind] and [JoinKind]);
//   - absolute expiry times: a zero [time.Time] never expires, and a time at
//     or before now has already expired (see [Expired]). Django's timeout 0,
//     None and "default" never reach a driver.
//
// Required semantics are required methods: a driver without an atomic Add or
// Incr does not compile. The optional interfaces ([GetManyDriver],
// [SetManyDriver], [DeleteManyDriver], [HasDriver], [GetSharedDriver]) exist
// only for speed; package djcache falls back to the required methods when a
// driver lacks them, with the same observable result, and the conformance kit
// in package djcachetest proves that. The capabilities ([KeyChecker],
// [ExpiryReader], [Pinger], [Pickler]) change behaviour and are documented
// where they do.
package driver

import (
	"context"
	"errors"
	"time"
)

// Driver is a byte-level cache store.
//
// Any method may be called concurrently with itself or with other methods.
// Close is called at most once by package djcache; calls already in flight
// may overlap it and must then return an error or complete, never crash.
type Driver interface {
	// Get returns the live value under key; a missing or expired entry is
	// found == false with a nil error. The caller owns the returned slice and
	// may modify it.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)

	// Set stores value under key, replacing any entry. It copies value if it
	// keeps it: the caller may reuse value's memory after Set returns.
	// An exp that has already passed must leave no visible entry (a driver
	// may delete the key instead of storing it).
	Set(ctx context.Context, key string, value []byte, exp time.Time) error

	// Add stores value only if key holds no live entry (an expired entry
	// counts as absent), atomically with respect to every other call on the
	// same storage, including calls from other processes where the storage is
	// shared. It reports whether it stored the value. With an exp that has
	// already passed, Add over an absent key reports true and leaves no
	// visible entry; over a live entry it reports false.
	Add(ctx context.Context, key string, value []byte, exp time.Time) (added bool, err error)

	// Touch gives a live entry a new expiry and reports whether there was
	// one. It never revives an expired entry. An exp that has already passed
	// expires the entry (and Touch reports true if it was live).
	Touch(ctx context.Context, key string, exp time.Time) (touched bool, err error)

	// Delete removes key and reports whether a live entry was removed.
	Delete(ctx context.Context, key string) (deleted bool, err error)

	// Incr atomically adds delta to the integer stored under key, keeps
	// the entry's expiry, and returns the new value. The integer is decimal
	// text ([KindInt]) or, for a driver that stores pickles ([Pickler]),
	// the pickle of a Python int, which stays a pickle. Errors: ErrNotFound
	// (no live entry), ErrNotInteger (the value is no integer), ErrOverflow
	// (the sum does not fit in an int64; the value is unchanged). [AddInt]
	// does the arithmetic for both forms.
	Incr(ctx context.Context, key string, delta int64) (int64, error)

	// Clear removes every entry of the calling Cache and nothing outside
	// it. A driver whose storage belongs to one cache (a locmem name, a
	// directory, a table) empties it; a driver on a server shared with other
	// applications (Redis, memcached) removes only the keys scope describes.
	Clear(ctx context.Context, scope Scope) error

	// Close releases the driver's resources.
	Close() error
}

// Scope describes the keys one Cache makes, for Clear on shared servers.
type Scope struct {
	// Prefix is the Cache's key prefix ("" if none).
	Prefix string
	// DefaultKeyFunc reports that the Cache makes keys with Django's
	// default key function, so every made key is Prefix + ":" + version +
	// ":" + key. With a custom key function, made keys may look like
	// anything and a shared-server driver cannot tell its keys from others.
	DefaultKeyFunc bool
}

// Item is one entry of a batch write. A zero Expires never expires.
type Item struct {
	Key     string
	Value   []byte
	Expires time.Time
}

// GetManyDriver is implemented by drivers that fetch many keys in one round
// trip. If a Driver does not implement it, djcache calls Get for each key.
// The keys are distinct. The returned map holds only live entries, and the
// caller owns its slices.
type GetManyDriver interface {
	Driver
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)
}

// SetManyDriver is implemented by drivers that store many entries in one
// round trip or transaction. If a Driver does not implement it, djcache calls
// Set for each item and reports the keys whose Set failed. The keys are
// distinct. failed lists the keys that were not stored (memcached's
// set_multi); err reports a failure of the whole call.
type SetManyDriver interface {
	Driver
	SetMany(ctx context.Context, items []Item) (failed []string, err error)
}

// DeleteManyDriver is implemented by drivers that remove many keys in one
// round trip. If a Driver does not implement it, djcache calls Delete for
// each key. The keys are distinct.
type DeleteManyDriver interface {
	Driver
	DeleteMany(ctx context.Context, keys []string) error
}

// HasDriver is implemented by drivers that can tell whether a live entry
// exists without transferring its value. If a Driver does not implement it,
// djcache calls Get.
type HasDriver interface {
	Driver
	Has(ctx context.Context, key string) (bool, error)
}

// GetSharedDriver is implemented by in-process drivers that can lend their
// stored bytes instead of copying them. If a Driver does not implement it,
// djcache calls Get.
//
// GetShared is Get with two relaxations that save two allocations per hit:
// key may be backed by memory that djcache reuses after GetShared returns, so
// the driver must not retain it; and the returned slice may be the driver's
// own storage, which the caller only reads and never keeps. The driver must
// therefore never modify a slice after it has stored it (replace it instead).
type GetSharedDriver interface {
	Driver
	GetShared(ctx context.Context, key string) (value []byte, found bool, err error)
}

// KeyChecker is a capability, not an optimization: if a Driver implements
// it, djcache calls CheckKey with each made key before any I/O and fails the
// call with the returned error (which must wrap [ErrInvalidKey]), instead of
// logging Django's validate_key warning. The memcached driver implements it.
type KeyChecker interface {
	CheckKey(key string) error
}

// ExpiryReader is a capability: a Driver that can read an entry's expiry
// implements it, and djcache's IncrVersion then keeps the entry's remaining
// lifetime, and Cache.TTL reports it. Without it, IncrVersion gives the moved
// entry the default timeout (Django's behaviour) and TTL fails with
// djcache.ErrNotSupported. GetWithExpiry is Get that also returns the live
// entry's expiry; a zero exp never expires.
type ExpiryReader interface {
	GetWithExpiry(ctx context.Context, key string) (value []byte, exp time.Time, found bool, err error)
}

// Pickler is a capability: it lets a driver store pickled values the way
// its Django backend does, which keeps some kinds of values outside pickle
// (Redis keeps exact integers as decimal text; memcached keeps bytes, text
// and integers under pymemcache's flags).
//
// When a Cache's serializer is pickle, djcache.New calls UsePickle once,
// before any other method, and then encodes the values of the returned
// kinds as it always does ([KindInt] decimal text, [KindText] and
// [KindBytes] tagged) and every other value as a protocol-5 pickle
// ([KindPickle]). A driver that is not a Pickler receives a pickle for
// every value, integers included, which is what Django's filebased and
// database backends store. A driver serves one Cache; UsePickle may change
// how it stores the kinds it returns.
type Pickler interface {
	UsePickle() Kinds
}

// Sentinel errors. Drivers return them (possibly wrapped); package djcache
// re-exports them, and callers match them with [errors.Is].
var (
	// ErrNotFound reports that Incr (or IncrVersion) found no live entry.
	ErrNotFound = errors.New("djcache: key not found")
	// ErrNotInteger reports that Incr found a value that is not a decimal
	// integer.
	ErrNotInteger = errors.New("djcache: value is not an integer")
	// ErrOverflow reports that Incr would leave the int64 range; the stored
	// value is unchanged.
	ErrOverflow = errors.New("djcache: integer overflow")
	// ErrInvalidKey reports a key that the backend cannot store.
	ErrInvalidKey = errors.New("djcache: invalid key")
)

// Expired reports whether an entry with expiry exp has expired at now.
// A zero exp never expires; an exp equal to now has expired (Django's locmem
// rule, exp <= now).
func Expired(exp, now time.Time) bool {
	return !exp.IsZero() && !exp.After(now)
}
