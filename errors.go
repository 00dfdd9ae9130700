package djcache

import (
	"errors"
	"strconv"
	"strings"

	"github.com/djcache/djcache/driver"
)

// Sentinel errors, matched with [errors.Is]. A miss is never an error: Get
// reports it with found == false.
var (
	// ErrNotFound reports that Incr, Decr, IncrVersion or DecrVersion found
	// no live entry under the key (Django's ValueError "Key '…' not found").
	ErrNotFound = driver.ErrNotFound
	// ErrNotInteger reports that Incr or Decr found a value that is not an
	// integer (a string, a float, nil, a struct, …).
	ErrNotInteger = driver.ErrNotInteger
	// ErrOverflow reports that Incr or Decr would leave the int64 range. The
	// stored value is unchanged.
	ErrOverflow = driver.ErrOverflow
	// ErrInvalidKey reports a key that the backend refuses (memcached:
	// longer than 250 bytes, or holding spaces or control characters).
	ErrInvalidKey = driver.ErrInvalidKey
	// ErrClosed reports a call on a Cache after Close.
	ErrClosed = errors.New("djcache: cache is closed")
	// ErrNotSupported reports a call that the backend cannot answer, such
	// as TTL on a backend that cannot read an entry's expiry (memcached).
	// The *OpError that wraps it names the backend.
	ErrNotSupported = errors.New("djcache: not supported by this backend")
)

// OpError is the error of a Cache call that failed: it names the operation,
// the backend and the made key, and wraps the cause, so that errors.Is finds
// the sentinels above, context.Canceled, or the backend's own error.
//
// Its text reads like
//
//	djcache: locmem: incr ":1:views": value is not an integer
type OpError struct {
	// Op is the Django name of the call: "get", "set", "add", "get_or_set",
	// "get_many", "set_many", "delete", "delete_many", "has_key", "touch",
	// "incr", "decr", "incr_version", "decr_version", "clear" or "close";
	// or "ttl" (django-redis's name) or "ping" for the calls Django lacks.
	Op string
	// Backend is the backend's name, such as "locmem" or "redis".
	Backend string
	// Key is the made key ("prefix:version:key"), or "" for calls on many
	// keys or none.
	Key string
	// Err is the cause.
	Err error
}

// Error returns the message described on [OpError].
func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("djcache: ")
	if e.Backend != "" {
		b.WriteString(e.Backend)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	if e.Key != "" {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(e.Key))
	}
	if e.Err != nil {
		b.WriteString(": ")
		// One prefix per layer: the cause's own "djcache: " and
		// "BACKEND: " repeat what this error already says.
		msg := strings.TrimPrefix(e.Err.Error(), "djcache: ")
		if e.Backend != "" {
			msg = strings.TrimPrefix(msg, e.Backend+": ")
		}
		b.WriteString(msg)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// opError wraps err once; an error that already is an *OpError is kept.
func (c *Cache) opError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	c.stats.add(statErrors, 1)
	// key may be borrowed memory (see Cache.Get): the error keeps a copy.
	return &OpError{Op: op, Backend: c.backend, Key: strings.Clone(key), Err: err}
}

// ManyDecodeError reports the keys of a GetMany whose stored values did
// not decode into the map's element type. GetMany still returns the values
// that did decode: the keys named here are left out of the result, and an
// entry that the destination map already held for one of them stays as it
// was. GetMany returns it wrapped in an *OpError, so that errors.As finds
// the *OpError, the *ManyDecodeError and each key's *DecodeError.
//
// Its text reads like
//
//	djcache: locmem: get_many: 1 of 3 values did not decode: "b": cannot decode stored text value into *int
type ManyDecodeError struct {
	// Keys are the caller's keys whose values did not decode, each once,
	// in the order of the call's keys.
	Keys []string
	// Errs holds the error of each of Keys, at the same index: a
	// *DecodeError naming the stored kind and the destination type.
	Errs []error
	// Found is how many of the call's distinct keys were found, those that
	// decoded included.
	Found int
}

// Error returns the message described on [ManyDecodeError].
func (e *ManyDecodeError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(e.Keys)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(e.Found))
	if e.Found == 1 {
		b.WriteString(" value did not decode: ")
	} else {
		b.WriteString(" values did not decode: ")
	}
	for i, k := range e.Keys {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strconv.Quote(k))
		if i < len(e.Errs) && e.Errs[i] != nil {
			b.WriteString(": ")
			b.WriteString(strings.TrimPrefix(e.Errs[i].Error(), "djcache: "))
		}
	}
	return b.String()
}

// Unwrap returns the error of each key, for errors.Is and errors.As.
func (e *ManyDecodeError) Unwrap() []error { return e.Errs }
