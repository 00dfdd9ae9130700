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
	// "incr", "decr", "incr_version", "decr_version", "clear" or "close".
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
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "djcache: "))
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
