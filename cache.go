package djcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/djcache/djcache/driver"
)

// Cache is Django's low-level cache API over a driver. It implements
// Django's semantics once (key making, versions, key validation, timeouts,
// value encoding, get_or_set, incr_version, statistics) and leaves storage to
// the driver of a backend (locmem, file, SQL, Redis, memcached, dummy).
//
// A Cache is safe for concurrent use by multiple goroutines. Every method
// takes a context first; a cancelled context makes the call fail with the
// context's error (wrapped in an *OpError) before any I/O, and backends that
// do I/O honour it during the call.
type Cache struct {
	drv     driver.Driver
	backend string   // the backend's name, for errors
	set     settings // validated Options
	head    string   // made-key head of the default key function at the default version

	// The driver's optional interfaces, resolved once by New (nil if absent).
	getMany    driver.GetManyDriver
	setMany    driver.SetManyDriver
	deleteMany driver.DeleteManyDriver
	has        driver.HasDriver
	shared     driver.GetSharedDriver
	keyChecker driver.KeyChecker
	expReader  driver.ExpiryReader
	pinger     driver.Pinger

	life   *lifecycle
	flight singleflight.Group // GetOrSet's in-process single flight, by made key
	hot    hotState           // GetOrSet's background refreshes (hotkeys.go)
	many   manyState          // GetOrSetMany's fills in flight, by made key (getorsetmany.go)
	stats  stats
	obs    atomic.Pointer[observers] // the attached Observers, nil if none (observe.go)
}

// lifecycle is kept apart from Cache so that a cleanup can close the driver
// of a Cache that was dropped without Close.
type lifecycle struct {
	closed atomic.Bool
	drv    driver.Driver
}

func (l *lifecycle) close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	return l.drv.Close()
}

// New returns a Cache over d, configured by o (nil means the defaults). It
// does no I/O. The Cache owns d from now on: Close closes it.
func New(d driver.Driver, o *Options) (*Cache, error) {
	if d == nil {
		return nil, errors.New("djcache: New: driver is nil")
	}
	s, err := o.settings()
	if err != nil {
		return nil, err
	}
	return newCache(d, s), nil
}

// newCache is New with validated settings.
func newCache(d driver.Driver, s settings) *Cache {
	c := &Cache{
		drv:     d,
		backend: backendName(d),
		set:     s,
		head:    DefaultKeyFunc("", s.prefix, s.version),
		life:    &lifecycle{drv: d},
		stats:   newStats(),
	}
	c.getMany, _ = d.(driver.GetManyDriver)
	c.setMany, _ = d.(driver.SetManyDriver)
	c.deleteMany, _ = d.(driver.DeleteManyDriver)
	c.has, _ = d.(driver.HasDriver)
	c.shared, _ = d.(driver.GetSharedDriver)
	c.keyChecker, _ = d.(driver.KeyChecker)
	c.expReader, _ = d.(driver.ExpiryReader)
	c.pinger, _ = d.(driver.Pinger)
	if p, ok := d.(driver.Pickler); ok && s.pickle {
		c.set.natives = p.UsePickle()
	}
	c.Observe(s.observer)
	return c
}

// backendName is the last element of the driver's package path, such as
// "locmem" for *locmem.Driver.
func backendName(d driver.Driver) string {
	t := reflect.TypeOf(d)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := t.PkgPath()
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if p == "" {
		p = t.String()
	}
	return p
}

// Driver returns the driver under c, for backend-specific calls (the
// backends document what their *Driver offers).
func (c *Cache) Driver() driver.Driver { return c.drv }

// enter starts every call: a closed cache or a done context fails it.
func (c *Cache) enter(ctx context.Context, op string) error {
	if c.life.closed.Load() {
		return &OpError{Op: op, Backend: c.backend, Err: ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return c.opError(op, "", err)
	}
	return nil
}

// prepare is enter plus the made key, validated.
func (c *Cache) prepare(ctx context.Context, op, key string, version int) (string, error) {
	if err := c.enter(ctx, op); err != nil {
		return "", err
	}
	made := c.makeKey(key, version)
	return made, c.checkKey(ctx, op, made)
}

// keyBufs holds buffers for made keys that live only during one driver call.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// valueBufs holds buffers for encoded values passed to a driver's Set, which
// copies what it keeps.
var valueBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

const maxPooledValue = 64 << 10

func putValueBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledValue {
		*bp = b[:0]
		valueBufs.Put(bp)
	}
}

// Get looks key up and decodes its value into dst, a non-nil pointer,
// replacing what *dst held (a struct or map is not merged into). On a miss
// dst is left untouched, so a pre-filled dst acts as Django's default, and
// found is false with a nil error. A stored nil sets *dst to its zero value
// and reports found.
//
// Common destinations (*string, *[]byte, *int, *int64, *float64, *bool,
// *any) decode without reflection. A value that does not fit dst's type
// gives a *DecodeError naming both.
func (c *Cache) Get(ctx context.Context, key string, dst any, opts ...Option) (found bool, err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "get", key, now(), &note, &found, &err)
	}
	if err := c.enter(ctx, "get"); err != nil {
		return false, err
	}
	if err := checkDst(dst); err != nil {
		return false, c.opError("get", "", err)
	}
	co := c.options(opts)
	if c.shared != nil && c.set.keyFunc == nil {
		return c.getShared(ctx, key, co.version, dst, &note)
	}
	made := c.makeKey(key, co.version)
	if err := c.checkKey(ctx, "get", made); err != nil {
		return false, err
	}
	v, found, err := c.drv.Get(ctx, made)
	note.size = len(v)
	return c.finishGet("get", made, v, found, err, dst)
}

// getShared is Get on a driver.GetSharedDriver: the made key lives in a
// pooled buffer and the value is decoded from the driver's own bytes, so a
// hit allocates only what dst needs.
func (c *Cache) getShared(ctx context.Context, key string, version int, dst any, note *obsNote) (bool, error) {
	bp := keyBufs.Get().(*[]byte)
	b := c.appendKey((*bp)[:0], key, version)
	made := unsafe.String(unsafe.SliceData(b), len(b))
	var found bool
	err := c.checkKey(ctx, "get", made)
	if err == nil {
		var v []byte
		v, found, err = c.shared.GetShared(ctx, made)
		note.size = len(v)
		found, err = c.finishGet("get", made, v, found, err, dst)
	}
	*bp = b[:0]
	keyBufs.Put(bp)
	return found, err
}

func (c *Cache) finishGet(op, made string, v []byte, found bool, err error, dst any) (bool, error) {
	if err != nil {
		return false, c.opError(op, made, err)
	}
	if !found {
		c.stats.add(statMisses, 1)
		return false, nil
	}
	c.stats.add(statHits, 1)
	if err := c.decode(v, dst); err != nil {
		return false, c.opError(op, made, err)
	}
	return true, nil
}

// Set stores value under key, replacing any entry, with the cache's default
// timeout unless a Timeout or Forever option says otherwise. A value that
// cannot be encoded returns an *EncodeError and leaves the earlier value
// intact. Timeout(0) (or negative) removes the entry: nothing stays cached.
func (c *Cache) Set(ctx context.Context, key string, value any, opts ...Option) (err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "set", key, now(), &note, nil, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "set", key, co.version)
	if err == nil && co.err != nil {
		err = c.opError("set", "", co.err)
	}
	if err != nil {
		return err
	}
	bp := valueBufs.Get().(*[]byte)
	b, err := c.encode((*bp)[:0], value)
	if err == nil {
		note.size = len(b)
		err = c.drv.Set(ctx, made, b, c.expiry(co.timeout))
	}
	putValueBuf(bp, b)
	if err != nil {
		return c.opError("set", made, err)
	}
	c.stats.add(statSets, 1)
	return nil
}

// Add stores value under key only if the key holds no live entry (an
// expired entry counts as absent), atomically on every backend, and reports
// whether it stored it. With Timeout(0), Add over an absent key reports true
// and stores nothing visible, as in Django.
func (c *Cache) Add(ctx context.Context, key string, value any, opts ...Option) (added bool, err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "add", key, now(), &note, &added, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "add", key, co.version)
	if err == nil && co.err != nil {
		err = c.opError("add", "", co.err)
	}
	if err != nil {
		return false, err
	}
	bp := valueBufs.Get().(*[]byte)
	b, err := c.encode((*bp)[:0], value)
	if err == nil {
		note.size = len(b)
		added, err = c.drv.Add(ctx, made, b, c.expiry(co.timeout))
	}
	putValueBuf(bp, b)
	if err != nil {
		return false, c.opError("add", made, err)
	}
	if added {
		c.stats.add(statSets, 1)
	}
	return added, nil
}

// Delete removes key and reports whether a live entry was removed (an
// expired entry reports false).
func (c *Cache) Delete(ctx context.Context, key string, opts ...Option) (deleted bool, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "delete", key, now(), nil, &deleted, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "delete", key, co.version)
	if err != nil {
		return false, err
	}
	c.stats.add(statDeletes, 1)
	deleted, err = c.drv.Delete(ctx, made)
	return deleted, c.opError("delete", made, err)
}

// Has reports whether key holds a live entry (Django's has_key). A stored
// nil counts.
func (c *Cache) Has(ctx context.Context, key string, opts ...Option) (found bool, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "has_key", key, now(), nil, &found, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "has_key", key, co.version)
	if err != nil {
		return false, err
	}
	if c.has != nil {
		found, err = c.has.Has(ctx, made)
	} else {
		_, found, err = c.drv.Get(ctx, made)
	}
	if err != nil {
		return false, c.opError("has_key", made, err)
	}
	if found {
		c.stats.add(statHits, 1)
	} else {
		c.stats.add(statMisses, 1)
	}
	return found, nil
}

// Touch gives a live entry a new expiry, the cache's default timeout unless
// a Timeout or Forever option says otherwise, and reports whether there was
// one. It never revives an expired entry. Touch with Timeout(0) expires a
// live entry and reports true.
func (c *Cache) Touch(ctx context.Context, key string, opts ...Option) (touched bool, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "touch", key, now(), nil, nil, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "touch", key, co.version)
	if err == nil && co.err != nil {
		err = c.opError("touch", "", co.err)
	}
	if err != nil {
		return false, err
	}
	touched, err = c.drv.Touch(ctx, made, c.expiry(co.timeout))
	return touched, c.opError("touch", made, err)
}

// Incr atomically adds delta to the integer stored under key and returns the
// new value, keeping the entry's expiry. A missing key gives ErrNotFound, a
// value that is not an integer (or nil) ErrNotInteger, and a result outside
// the int64 range ErrOverflow with the value unchanged.
func (c *Cache) Incr(ctx context.Context, key string, delta int64, opts ...Option) (n int64, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "incr", key, now(), nil, nil, &err)
	}
	return c.incr(ctx, "incr", key, delta, opts)
}

// Decr is Incr with -delta. On memcached, values are unsigned and Decr stops
// at 0 (see the memcached backend).
func (c *Cache) Decr(ctx context.Context, key string, delta int64, opts ...Option) (n int64, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "decr", key, now(), nil, nil, &err)
	}
	if delta == math.MinInt64 {
		co := c.options(opts)
		made, err := c.prepare(ctx, "decr", key, co.version)
		if err != nil {
			return 0, err
		}
		return 0, c.opError("decr", made, ErrOverflow)
	}
	return c.incr(ctx, "decr", key, -delta, opts)
}

func (c *Cache) incr(ctx context.Context, op, key string, delta int64, opts []Option) (int64, error) {
	co := c.options(opts)
	made, err := c.prepare(ctx, op, key, co.version)
	if err != nil {
		return 0, err
	}
	n, err := c.drv.Incr(ctx, made, delta)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return 0, &OpError{Op: op, Backend: c.backend, Key: made, Err: err}
		}
		return 0, c.opError(op, made, err)
	}
	return n, nil
}

// IncrVersion moves the value of key from its version (the cache's default,
// or a Version option) to that version plus delta, deletes the old entry,
// and returns the new version. The moved entry keeps its remaining lifetime
// on backends that can read it (driver.ExpiryReader: locmem, file, SQL,
// Redis); elsewhere it gets the default timeout, as in Django. A Timeout or
// Forever option sets the new entry's lifetime explicitly. A missing key
// gives ErrNotFound. A delta of 0 leaves the entry where it is.
func (c *Cache) IncrVersion(ctx context.Context, key string, delta int, opts ...Option) (newVersion int, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "incr_version", key, now(), nil, nil, &err)
	}
	return c.moveVersion(ctx, "incr_version", key, delta, opts)
}

// DecrVersion is IncrVersion with -delta.
func (c *Cache) DecrVersion(ctx context.Context, key string, delta int, opts ...Option) (newVersion int, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "decr_version", key, now(), nil, nil, &err)
	}
	return c.moveVersion(ctx, "decr_version", key, -delta, opts)
}

func (c *Cache) moveVersion(ctx context.Context, op, key string, delta int, opts []Option) (int, error) {
	co := c.options(opts)
	from, to := co.version, co.version+delta
	if (delta > 0 && to < from) || (delta < 0 && to > from) {
		return 0, c.opError(op, c.makeKey(key, from), fmt.Errorf("version %d%+d overflows", from, delta))
	}
	src, err := c.prepare(ctx, op, key, from)
	if err != nil {
		return 0, err
	}
	var (
		v     []byte
		found bool
	)
	exp := c.expiry(co.timeout)
	if c.expReader != nil {
		var kept = exp
		v, kept, found, err = c.expReader.GetWithExpiry(ctx, src)
		if co.timeout.kind == kindNone {
			exp = kept
		}
	} else {
		v, found, err = c.drv.Get(ctx, src)
	}
	if err != nil {
		return 0, c.opError(op, src, err)
	}
	if !found {
		return 0, &OpError{Op: op, Backend: c.backend, Key: src, Err: ErrNotFound}
	}
	if delta == 0 {
		return to, nil
	}
	dst := c.makeKey(key, to)
	if err := c.checkKey(ctx, op, dst); err != nil {
		return 0, err
	}
	if err := c.drv.Set(ctx, dst, v, exp); err != nil {
		return 0, c.opError(op, dst, err)
	}
	c.stats.add(statSets, 1)
	if _, err := c.drv.Delete(ctx, src); err != nil {
		return 0, c.opError(op, src, err)
	}
	return to, nil
}

// GetOrSet decodes the value of key into dst; on a miss it calls fill once,
// stores the result with Add semantics and decodes the value that won into
// dst, so that concurrent callers, in this process or others, agree. If
// nothing is stored (Timeout(0), the dummy backend), dst gets fill's value.
//
// Concurrent misses of the same key on one Cache call fill once (a single
// flight); the flight checks the cache again before calling fill, since a
// caller that missed just before the previous flight ended would otherwise
// fill again. fill runs with the context of the caller that started the
// flight; if that caller's context is cancelled, the others retry with their
// own. A fill error is returned as it is and nothing is stored, except
// ErrAbsent, which is stored as an absence (see ErrAbsent).
//
// Under load, the options Stale, EarlyRefresh, FillLock, FillTimeout,
// AbsentTimeout, RetryAfter and Jitter protect a hot key (hotkeys.go and
// the package documentation, section Hot keys).
func (c *Cache) GetOrSet(ctx context.Context, key string, dst any, fill func(context.Context) (any, error), opts ...Option) (err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "get_or_set", key, now(), &note, nil, &err)
	}
	if err := c.enter(ctx, "get_or_set"); err != nil {
		return err
	}
	if err := checkDst(dst); err != nil {
		return c.opError("get_or_set", "", err)
	}
	if fill == nil {
		return c.opError("get_or_set", "", errors.New("djcache: fill is nil"))
	}
	co := c.options(opts)
	if co.err != nil {
		return c.opError("get_or_set", "", co.err)
	}
	made := c.makeKey(key, co.version)
	if err := c.checkKey(ctx, "get_or_set", made); err != nil {
		return err
	}
	v, found, err := c.drv.Get(ctx, made)
	if err != nil {
		return c.opError("get_or_set", made, err)
	}
	if !found || hasMeta(v) || co.hot.active() {
		// A miss, an entry with metadata (stale, early refresh, absence)
		// or a call with hot-key options.
		return c.getOrSetHot(ctx, made, dst, fill, co, v, found, &note)
	}
	c.stats.add(statHits, 1)
	note.hits = 1
	if err := c.decode(v, dst); err != nil {
		return c.opError("get_or_set", made, err)
	}
	return nil
}

// leaderCancelled marks a flight that failed because the context of the
// caller that ran it was cancelled; the other callers try again.
type leaderCancelled struct{ err error }

func (e leaderCancelled) Error() string { return e.err.Error() }

// fillWith runs once, as made's single flight in this process, and returns
// its encoded value to every caller of the flight. A flight whose leader's
// context ended (leaderCancelled) is run again by the callers whose
// contexts are still live.
func (c *Cache) fillWith(ctx context.Context, made string, once func() ([]byte, error)) ([]byte, error) {
	for {
		ch := c.flight.DoChan(made, func() (any, error) { return once() })
		select {
		case r := <-ch:
			var lc leaderCancelled
			if errors.As(r.Err, &lc) {
				if ctx.Err() == nil {
					continue // another caller's context ended its flight: run our own
				}
				return nil, c.opError("get_or_set", made, ctx.Err())
			}
			if errors.Is(r.Err, errLockBusy) {
				continue // we joined a background refresh that found the key locked: fill (or wait) ourselves
			}
			if r.Err != nil {
				return nil, r.Err
			}
			return r.Val.([]byte), nil
		case <-ctx.Done():
			return nil, c.opError("get_or_set", made, ctx.Err())
		}
	}
}

// Clear removes every entry of this cache's storage (its locmem name,
// directory, table or key pattern) and, on shared servers, nothing else;
// see each backend for how.
func (c *Cache) Clear(ctx context.Context) (err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "clear", "", now(), nil, nil, &err)
	}
	if err := c.enter(ctx, "clear"); err != nil {
		return err
	}
	scope := driver.Scope{Prefix: c.set.prefix, DefaultKeyFunc: c.set.keyFunc == nil}
	return c.opError("clear", "", c.drv.Clear(ctx, scope))
}

// Close releases the driver's resources. It is idempotent: a second Close
// returns nil. After Close every other call returns ErrClosed.
func (c *Cache) Close() error {
	c.hot.stop()
	if err := c.life.close(); err != nil {
		return &OpError{Op: "close", Backend: c.backend, Err: err}
	}
	return nil
}
