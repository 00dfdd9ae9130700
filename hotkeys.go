package djcache

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/pickle"
)

// Hot keys: GetOrSet under load. A key that many requests read, and whose
// value is expensive to make, meets three dangers when it expires: every
// process refills it at once (a stampede), every caller waits for the
// fill, and when the fill fails (the database is down) every caller fails,
// although a value a few seconds old would have served. The options here
// answer each one; see the package documentation, section Hot keys, for
// the picture. They change only GetOrSet and GetOrSetMany (and Jitter,
// every write); every other call sees an entry written with them as a
// plain entry that lives for its timeout plus its Stale window.

// ErrAbsent is what a GetOrSet fill returns (wrapped or not) to say that
// there is nothing to cache: the row does not exist. GetOrSet then stores
// the absence, for AbsentTimeout (or the call's timeout when no
// AbsentTimeout is given), and returns an error that wraps ErrAbsent; later
// calls return that error at once, without calling the fill, until the
// absence expires. Other calls see a stored absence as a stored nil
// (Django's None).
var ErrAbsent = errors.New("djcache: absent (the fill found nothing)")

// DefaultRetryAfter is how long, after a background refresh of a key
// failed, GetOrSet waits before it tries that key's refresh again, unless
// RetryAfter says otherwise.
const DefaultRetryAfter = time.Second

// hotOptions are the hot-key options of a call: the cache's defaults
// (Options) overridden by the call's.
type hotOptions struct {
	stale      time.Duration // Stale
	early      float64       // EarlyRefresh's beta; 0: off
	lock       time.Duration // FillLock; 0: no cross-process lock
	soft, hard time.Duration // FillTimeout
	absent     time.Duration // AbsentTimeout; 0: the call's timeout
	retry      time.Duration // RetryAfter; 0: DefaultRetryAfter
}

// active reports whether GetOrSet takes the hot path.
func (h *hotOptions) active() bool {
	return h.stale > 0 || h.early > 0 || h.lock > 0 || h.soft > 0 || h.hard > 0
}

// withMeta reports whether GetOrSet stores metadata with the values it
// fills.
func (h *hotOptions) withMeta() bool { return h.stale > 0 || h.early > 0 }

func (h *hotOptions) retryAfter() time.Duration {
	if h.retry > 0 {
		return h.retry
	}
	return DefaultRetryAfter
}

// checkDuration validates a duration option.
func checkDuration(o Option) error {
	if o.d < 0 {
		return fmt.Errorf("%v: the duration is negative", o)
	}
	return nil
}

// checkFraction validates EarlyRefresh's beta (0 or more) or, with upper,
// Jitter's fraction (in [0, 1)).
func checkFraction(o Option, upper bool) error {
	switch f := o.f; {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return fmt.Errorf("%v: not a finite number", o)
	case f < 0:
		return fmt.Errorf("%v: negative", o)
	case upper && f >= 1:
		return fmt.Errorf("%v: the fraction must be less than 1", o)
	}
	return nil
}

// jittered draws a timeout uniformly within ±f of t (the cache's default
// when t is kindNone). Forever, Django's timeout 0 and negative timeouts
// are left alone.
func (c *Cache) jittered(t Option, f float64) Option {
	if t.kind == kindNone {
		t = c.set.timeout
	}
	if t.kind != kindTimeout || t.d <= 0 || t.d >= maxTimeout {
		return t
	}
	d := time.Duration(float64(t.d) * (1 + f*(2*mrand.Float64()-1)))
	return Timeout(max(d, time.Millisecond))
}

// hotState is a Cache's state for background refreshes: they run on a
// context that Close cancels, and Close waits for them.
type hotState struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex // protects the fields below, and wg.Add against stop
	wg       sync.WaitGroup
	stopped  bool
	failedAt map[string]time.Time // the last failed background refresh, by made key
}

func (h *hotState) init() {
	h.once.Do(func() {
		h.ctx, h.cancel = context.WithCancel(context.Background())
		h.failedAt = map[string]time.Time{}
	})
}

// start registers a background goroutine; false once the cache is closed.
func (h *hotState) start() bool {
	h.init()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.wg.Add(1)
	return true
}

// stop cancels the background refreshes and waits for them (Close).
func (h *hotState) stop() {
	h.init()
	h.mu.Lock()
	h.stopped = true
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
}

// mayRetry reports whether a background refresh of made may run now: not
// within retry of its last failure.
func (h *hotState) mayRetry(made string, retry time.Duration) bool {
	h.init()
	h.mu.Lock()
	defer h.mu.Unlock()
	t, failed := h.failedAt[made]
	if failed && now().Sub(t) >= retry {
		delete(h.failedAt, made)
		return true
	}
	return !failed
}

// maxFailedKeys bounds failedAt: past it, the oldest memories of failed
// refreshes are dropped (those keys may then retry sooner than RetryAfter).
const maxFailedKeys = 4096

func (h *hotState) result(made string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if len(h.failedAt) >= maxFailedKeys {
			clear(h.failedAt)
		}
		h.failedAt[made] = now()
	} else {
		delete(h.failedAt, made)
	}
}

// errLockBusy ends a background refresh whose key another process is
// filling: not a failure.
var errLockBusy = errors.New("djcache: another caller holds the fill lock")

// getOrSetHot is GetOrSet after its read of made (v, found): a miss, an
// entry with metadata, or a call with hot-key options.
func (c *Cache) getOrSetHot(ctx context.Context, made string, dst any, fill func(context.Context) (any, error), co callOptions, v []byte, found bool) error {
	var inner []byte
	var m entryMeta
	if found {
		inner, m = splitMeta(v)
		if m.ok && !m.fresh.IsZero() && co.hot.stale <= 0 && !now().Before(m.fresh) {
			// Past its fresh life, and this call asks for no stale
			// window: a miss. (The entry outlives its fresh life only by
			// a backend's rounding of expiry times, or when another
			// caller wrote it with Stale.) Remove it, so that the fill's
			// Add stores the new value.
			if _, err := c.drv.Delete(ctx, made); err != nil {
				return c.opError("get_or_set", made, err)
			}
			found = false
		}
	}
	if !found {
		c.stats.add(statMisses, 1)
		b, err := c.fillWith(ctx, made, func() ([]byte, error) { return c.fillLocked(ctx, made, co, fill, false) })
		if err != nil {
			return err
		}
		inner, m := splitMeta(b)
		return c.deliver(made, inner, m, dst)
	}
	c.stats.add(statHits, 1)
	n := now()
	if !m.ok || m.absent || m.fresh.IsZero() || n.Before(m.fresh) {
		if m.ok && !m.absent && !m.fresh.IsZero() && co.hot.early > 0 && m.fill > 0 && xfetch(n, m, co.hot.early) {
			if c.refreshLater(made, co, fill) != nil {
				c.stats.add(statEarlyRefreshes, 1)
			}
		}
		return c.deliver(made, inner, m, dst)
	}
	// Stale: serve the old value, refresh behind it (or, with a soft fill
	// timeout, wait that long for the new one).
	ch := c.refreshLater(made, co, fill)
	if ch != nil && co.hot.soft > 0 {
		t := time.NewTimer(co.hot.soft)
		defer t.Stop()
		select {
		case r := <-ch:
			if r.Err == nil {
				inner, m := splitMeta(r.Val.([]byte))
				return c.deliver(made, inner, m, dst)
			}
		case <-t.C:
		case <-ctx.Done():
		}
	}
	c.stats.add(statStaleServed, 1)
	return c.deliver(made, inner, m, dst)
}

// xfetch is the test of Vattani, Chierichetti and Lowenstein's optimal
// probabilistic early expiration: refresh now when
// now - fill*beta*ln(rand()) >= fresh end, rand() uniform in (0, 1].
// It computes in float nanoseconds, so a huge beta cannot overflow.
func xfetch(n time.Time, m entryMeta, beta float64) bool {
	r := 1 - mrand.Float64() // (0, 1]
	gap := -float64(m.fill) * beta * math.Log(r)
	return float64(n.UnixNano())+gap >= float64(m.fresh.UnixNano())
}

// deliver gives dst the value of an entry read or filled by GetOrSet.
func (c *Cache) deliver(made string, inner []byte, m entryMeta, dst any) error {
	if m.absent {
		return &OpError{Op: "get_or_set", Backend: c.backend, Key: strings.Clone(made), Err: ErrAbsent}
	}
	if err := c.decode(inner, dst); err != nil {
		return c.opError("get_or_set", made, err)
	}
	return nil
}

// refreshLater starts a background refresh of made, unless one is running
// in this process (it then joins it), the cache is closed, or the key's
// last refresh failed less than RetryAfter ago. It returns the flight's
// result channel, or nil if it started nothing. The refresh runs on the
// cache's background context: no caller's cancellation ends it; Close
// does.
func (c *Cache) refreshLater(made string, co callOptions, fill func(context.Context) (any, error)) <-chan singleflight.Result {
	if !c.hot.mayRetry(made, co.hot.retryAfter()) || !c.hot.start() {
		return nil
	}
	ch := c.flight.DoChan(made, func() (any, error) {
		b, err := c.fillLocked(c.hot.ctx, made, co, fill, true)
		switch {
		case errors.Is(err, errLockBusy), c.hot.ctx.Err() != nil:
			// Another caller refreshes, or the cache is closing.
		case err != nil:
			c.hot.result(made, err)
			c.log().LogAttrs(context.Background(), slog.LevelWarn, "djcache: background refresh failed; serving the stale value",
				slog.String("key", made), slog.String("backend", c.backend), slog.Any("error", err))
			c.stats.add(statRefreshErrors, 1) // after the log: a reader of the count finds the record
		default:
			c.hot.result(made, nil)
		}
		return b, err
	})
	// DoChan runs the function in a goroutine of its own, or joins the
	// flight already running. Either way the caller does not wait; the
	// WaitGroup (Close waits on it) is released when the flight ends.
	out := make(chan singleflight.Result, 1)
	go func() {
		defer c.hot.wg.Done()
		out <- <-ch
	}()
	return out
}

// fillLocked runs a fill of made, as the body of a flight in this process.
// Its interleaving with other callers:
//
//  1. Caller A misses and starts the flight; B misses and joins it.
//  2. The flight reads again: C may have filled and stored the key between
//     A's miss and now (a previous flight that just ended, or another
//     process). Then everyone gets C's value and fill is not called.
//  3. Otherwise fill runs once, its value is encoded and Added. If Add wins,
//     that value is the answer; if it loses, another writer got there first
//     and its live value is read back and returned instead (if it expired
//     meanwhile, fill's value is returned).
//
// It runs the fill under the cross-process fill lock when
// co.hot.lock is set, with the hard fill timeout, and stores the result
// (with metadata when the options need it). A refresh replaces the entry
// and gives up if another caller holds the lock; a fill after a miss waits
// for the lock's holder to store its value, and fills itself once the lock
// is gone.
func (c *Cache) fillLocked(ctx context.Context, made string, co callOptions, fill func(context.Context) (any, error), refresh bool) ([]byte, error) {
	if co.hot.lock <= 0 {
		if !refresh {
			if v, found, err := c.drv.Get(ctx, made); err != nil {
				return nil, c.opError("get_or_set", made, err)
			} else if found {
				return v, nil
			}
		}
		return c.runFill(ctx, made, co, fill, refresh)
	}
	lk := lockKey(made)
	backoff := 2 * time.Millisecond
	waited := false
	for {
		token, got, err := c.tryLock(ctx, lk, co.hot.lock)
		if err != nil {
			return nil, c.opError("get_or_set", made, err)
		}
		if got {
			b, err := c.filledOrFill(ctx, made, co, fill, refresh)
			c.unlock(ctx, lk, token)
			return b, err
		}
		if refresh {
			return nil, errLockBusy
		}
		if !waited {
			waited = true
			c.stats.add(statLockWaits, 1)
		}
		// Another caller is filling: wait for its value, or for its lock
		// to go (released or expired), with a growing pause.
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, c.cancelled(made, err)
		}
		backoff = min(2*backoff, 100*time.Millisecond)
		if v, found, err := c.drv.Get(ctx, made); err != nil {
			return nil, c.opError("get_or_set", made, err)
		} else if found {
			return v, nil
		}
	}
}

// filledOrFill, with the lock held, fills made unless (after a miss) a
// value arrived while the lock was being taken.
func (c *Cache) filledOrFill(ctx context.Context, made string, co callOptions, fill func(context.Context) (any, error), refresh bool) ([]byte, error) {
	if !refresh {
		if v, found, err := c.drv.Get(ctx, made); err != nil {
			return nil, c.opError("get_or_set", made, err)
		} else if found {
			return v, nil
		}
	}
	return c.runFill(ctx, made, co, fill, refresh)
}

// cancelled wraps a context's error for a flight: the other callers of the
// flight try again with their own contexts.
func (c *Cache) cancelled(made string, err error) error {
	return leaderCancelled{c.opError("get_or_set", made, err)}
}

// runFill calls fill, encodes and stores its value, and returns what was
// stored (or, when nothing could be, what dst should get).
func (c *Cache) runFill(ctx context.Context, made string, co callOptions, fill func(context.Context) (any, error), refresh bool) ([]byte, error) {
	fctx := ctx
	if co.hot.hard > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, co.hot.hard)
		defer cancel()
	}
	start := now()
	val, ferr := callFill(fctx, fill)
	took := now().Sub(start)
	c.stats.add(statFills, 1)
	absent := errors.Is(ferr, ErrAbsent)
	if ferr != nil && !absent {
		c.stats.add(statFillErrors, 1)
		if ctx.Err() != nil {
			return nil, c.cancelled(made, ctx.Err())
		}
		return nil, ferr
	}
	timeout := co.timeout
	if absent {
		val = nil
		if co.hot.absent > 0 {
			timeout = Timeout(co.hot.absent)
		}
	}
	enc, err := c.encodeHot(val, absent || co.hot.withMeta())
	if err != nil {
		return nil, c.opError("get_or_set", made, err)
	}
	fresh := c.expiry(timeout)
	exp := fresh
	if !fresh.IsZero() && co.hot.stale > 0 && !absent {
		exp = fresh.Add(co.hot.stale)
	}
	b := enc
	if absent || co.hot.withMeta() {
		m := entryMeta{fresh: fresh, fill: took, absent: absent}
		if absent {
			// An absence is never stale: it is served until it is gone.
			m.fresh = time.Time{}
		}
		b = wrapMeta(enc, m, c.set.pickle)
	}
	if refresh || co.hot.lock > 0 {
		if err := c.drv.Set(ctx, made, b, exp); err != nil {
			return nil, c.opError("get_or_set", made, err)
		}
		c.stats.add(statSets, 1)
		return b, nil
	}
	added, err := c.drv.Add(ctx, made, b, exp)
	if err != nil {
		return nil, c.opError("get_or_set", made, err)
	}
	if added {
		c.stats.add(statSets, 1)
		return b, nil
	}
	if v, found, err := c.drv.Get(ctx, made); err != nil {
		return nil, c.opError("get_or_set", made, err)
	} else if found {
		return v, nil
	}
	return b, nil
}

// callFill calls fill, turning a panic into an error, so that every caller
// waiting for the fill gets it and the fill lock is released.
func callFill(ctx context.Context, fill func(context.Context) (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("djcache: the fill panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fill(ctx)
}

// encodeHot encodes a filled value. With metadata in pickle mode the value
// must be a pickle (the metadata follows its STOP opcode), so the kinds a
// driver keeps outside pickle are pickled too: Django reads them the same.
func (c *Cache) encodeHot(v any, withMeta bool) ([]byte, error) {
	if !withMeta || !c.set.pickle {
		return c.encode(nil, v)
	}
	if s, ok := v.(string); ok && !utf8.ValidString(s) {
		v = []byte(s)
	}
	b, err := pickle.Append(nil, v)
	if err != nil {
		return nil, &EncodeError{Type: reflect.TypeOf(v), Err: err}
	}
	return b, nil
}

// lockSuffix makes the key of a key's fill lock.
const lockSuffix = ":djcache-fill-lock"

// lockKey is the key of made's fill lock: made and lockSuffix, or, when
// that would pass memcached's 250 bytes, a hash of made.
func lockKey(made string) string {
	if len(made)+len(lockSuffix) <= MaxKeyLength {
		return made + lockSuffix
	}
	h := sha1.Sum([]byte(made))
	return "djcache-fill-lock:" + hex.EncodeToString(h[:])
}

// tryLock takes the fill lock lk for d with a random token, atomically
// (the driver's Add). Only the holder of the token releases it.
func (c *Cache) tryLock(ctx context.Context, lk string, d time.Duration) (token []byte, got bool, err error) {
	var t [16]byte
	rand.Read(t[:])
	token = append([]byte{tag(driver.KindText)}, hex.EncodeToString(t[:])...)
	got, err = c.drv.Add(ctx, lk, token, now().Add(d))
	return token, got, err
}

// unlock releases lk if it still holds token: a holder whose lock expired
// and was taken by another caller must not release that one. Drivers with
// an atomic compare-and-delete use it; the others read, compare and
// delete, which leaves a window only when the lock expired during the
// fill.
func (c *Cache) unlock(ctx context.Context, lk string, token []byte) {
	ctx = context.WithoutCancel(ctx)
	if cd, ok := c.drv.(compareDeleter); ok {
		cd.DeleteIfEqual(ctx, lk, token)
		return
	}
	v, found, err := c.drv.Get(ctx, lk)
	if err == nil && found && string(v) == string(token) {
		c.drv.Delete(ctx, lk)
	}
}

// compareDeleter is the optional driver capability of an atomic
// compare-and-delete (driver.CompareDeleter).
type compareDeleter interface {
	DeleteIfEqual(ctx context.Context, key string, value []byte) (deleted bool, err error)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// log is the cache's logger: Options.Logger, or slog.Default().
func (c *Cache) log() *slog.Logger {
	if c.set.logger != nil {
		return c.set.logger
	}
	return slog.Default()
}
