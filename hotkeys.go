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
	failedAt map[string]time.Time    // the last failed background refresh, by made key
	running  map[string]*refreshCall // the background refreshes running, by made key
}

// refreshCall is a background refresh; done is closed when it ends, with
// val and err set.
type refreshCall struct {
	done chan struct{}
	val  []byte
	err  error
}

func (h *hotState) init() {
	h.once.Do(func() {
		h.ctx, h.cancel = context.WithCancel(context.Background())
		h.failedAt = map[string]time.Time{}
		h.running = map[string]*refreshCall{}
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
func (c *Cache) getOrSetHot(ctx context.Context, made string, dst any, fill func(context.Context) (any, error), co callOptions, v []byte, found bool, note *obsNote) error {
	var inner []byte
	var m entryMeta
	mode := fillMiss
	if found {
		inner, m = splitMeta(v)
		if m.ok && !m.fresh.IsZero() && co.hot.stale <= 0 && !now().Before(m.fresh) {
			// Past its fresh life, and this call asks for no stale
			// window: a miss. (The entry outlives its fresh life only by
			// a backend's rounding of expiry times, or when another
			// caller wrote it with Stale.) The fill replaces it, unless
			// another caller has meanwhile.
			found, mode = false, fillReplace
		}
	}
	if !found {
		c.stats.add(statMisses, 1)
		note.misses = 1
		return c.fillMissing(ctx, made, dst, fill, co, mode, m.fresh)
	}
	c.stats.add(statHits, 1)
	note.hits = 1
	n := now()
	if !m.ok || m.absent || m.fresh.IsZero() || n.Before(m.fresh) {
		if m.ok && !m.absent && !m.fresh.IsZero() && co.hot.early > 0 && m.fill > 0 && xfetch(n, m, co.hot.early) {
			if _, started := c.refreshLater(made, m.fresh, co, fill); started {
				c.stats.add(statEarlyRefreshes, 1)
				c.hotEvent(ctx, EventEarlyRefresh, "get_or_set", made, 1, 0, nil)
			}
		}
		return c.deliver(made, inner, m, dst)
	}
	// Stale: serve the old value, refresh behind it (or, with a soft fill
	// timeout, wait that long for the new one).
	rc, _ := c.refreshLater(made, m.fresh, co, fill)
	if rc != nil && co.hot.soft > 0 {
		t := time.NewTimer(co.hot.soft)
		defer t.Stop()
		select {
		case <-rc.done:
			if rc.err == nil && rc.val != nil {
				inner, m := splitMeta(rc.val)
				return c.deliver(made, inner, m, dst)
			}
		case <-t.C:
		case <-ctx.Done():
		}
	}
	c.stats.add(statStaleServed, 1)
	c.hotEvent(ctx, EventStaleServed, "get_or_set", made, 1, 0, nil)
	return c.deliver(made, inner, m, dst)
}

// fillMissing is getOrSetHot's miss: fill made as its single flight and
// give dst the value. It is a function of its own so that the flight's
// closure, and what it captures, cost nothing on a hit.
func (c *Cache) fillMissing(ctx context.Context, made string, dst any, fill func(context.Context) (any, error), co callOptions, mode fillMode, seen time.Time) error {
	b, err := c.fillWith(ctx, made, func() ([]byte, error) { return c.fillLocked(ctx, made, co, fill, mode, seen) })
	if err != nil {
		return err
	}
	inner, m := splitMeta(b)
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
// in this process (it then returns that one, and started is false), the
// cache is closed, or the key's last refresh failed less than RetryAfter
// ago (then it returns nil). seen is the end of the fresh life of the
// entry the caller read: a refresh that finds a newer entry stored (by
// another process's refresh) does not fill. The refresh runs on the cache's background
// context: no caller's cancellation ends it; Close does, and waits for it.
// It runs as made's single flight, so a GetOrSet that misses meanwhile
// joins it rather than filling again.
func (c *Cache) refreshLater(made string, seen time.Time, co callOptions, fill func(context.Context) (any, error)) (rc *refreshCall, started bool) {
	h := &c.hot
	h.init()
	h.mu.Lock()
	if rc := h.running[made]; rc != nil {
		h.mu.Unlock()
		return rc, false
	}
	if h.stopped {
		h.mu.Unlock()
		return nil, false
	}
	if t, failed := h.failedAt[made]; failed {
		if now().Sub(t) < co.hot.retryAfter() {
			h.mu.Unlock()
			return nil, false
		}
		delete(h.failedAt, made)
	}
	rc = &refreshCall{done: make(chan struct{})}
	h.running[made] = rc
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		v, err, _ := c.flight.Do(made, func() (any, error) {
			return c.fillLocked(h.ctx, made, co, fill, fillRefresh, seen)
		})
		rc.val, _ = v.([]byte)
		rc.err = err
		switch {
		case errors.Is(err, errLockBusy), h.ctx.Err() != nil:
			// Another caller refreshes, or the cache is closing.
		case err != nil:
			h.result(made, err)
			c.log().LogAttrs(context.Background(), slog.LevelWarn, "djcache: background refresh failed; serving the stale value",
				slog.String("key", made), slog.String("backend", c.backend), slog.Any("error", err))
			c.stats.add(statRefreshErrors, 1) // after the log: a reader of the count finds the record
			c.hotEvent(h.ctx, EventRefreshError, "get_or_set", made, 1, 0, err)
		}
		h.mu.Lock()
		delete(h.running, made)
		h.mu.Unlock()
		close(rc.done)
	}()
	return rc, true
}

// fillMode is how fillLocked treats an entry it finds.
type fillMode uint8

const (
	// fillMiss: GetOrSet missed. Any entry found (another caller's fill)
	// is the answer, and the fill's value is stored with Add.
	fillMiss fillMode = iota
	// fillReplace: GetOrSet found an entry past its fresh life and wants
	// no stale value. A fresh entry found is the answer; otherwise the
	// fill's value replaces the old one (Set).
	fillReplace
	// fillRefresh: a background refresh. A fresh entry found (another
	// refresh stored it) ends it; it gives up if another caller holds the
	// fill lock; otherwise its value replaces the old one (Set).
	fillRefresh
)

// answers reports whether v, an entry fillLocked found, makes the fill
// needless in mode m, seen being the end of the fresh life of the entry
// that the caller read before deciding to fill: another caller stored a
// newer entry since (one fresh for longer, or without metadata).
func (m fillMode) answers(v []byte, seen time.Time) bool {
	if m == fillMiss {
		return true
	}
	_, meta := splitMeta(v)
	return !meta.ok || meta.absent || meta.fresh.IsZero() || meta.fresh.After(seen)
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
func (c *Cache) fillLocked(ctx context.Context, made string, co callOptions, fill func(context.Context) (any, error), mode fillMode, seen time.Time) ([]byte, error) {
	if co.hot.lock <= 0 {
		return c.filledOrFill(ctx, made, co, fill, mode, seen)
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
			b, err := c.filledOrFill(ctx, made, co, fill, mode, seen)
			c.unlock(ctx, lk, token)
			return b, err
		}
		if mode == fillRefresh {
			return nil, errLockBusy
		}
		if !waited {
			waited = true
			c.stats.add(statLockWaits, 1)
			c.hotEvent(ctx, EventLockWait, "get_or_set", made, 1, 0, nil)
		}
		// Another caller is filling: wait for its value, or for its lock
		// to go (released or expired), with a growing pause.
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, c.cancelled(made, err)
		}
		backoff = min(2*backoff, 100*time.Millisecond)
		if v, found, err := c.drv.Get(ctx, made); err != nil {
			return nil, c.opError("get_or_set", made, err)
		} else if found && mode.answers(v, seen) {
			return v, nil
		}
	}
}

// filledOrFill (under the fill lock, if there is one) reads made again and
// returns what it finds if that makes the fill needless in mode (another
// caller, in this process or another, filled or refreshed it since this
// one looked), and fills otherwise.
func (c *Cache) filledOrFill(ctx context.Context, made string, co callOptions, fill func(context.Context) (any, error), mode fillMode, seen time.Time) ([]byte, error) {
	if v, found, err := c.drv.Get(ctx, made); err != nil {
		return nil, c.opError("get_or_set", made, err)
	} else if found && mode.answers(v, seen) {
		return v, nil
	}
	return c.runFill(ctx, made, co, fill, mode != fillMiss)
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
	c.hotEvent(ctx, EventFill, "get_or_set", made, 1, took, ferr)
	absent := errors.Is(ferr, ErrAbsent)
	if ferr != nil && !absent {
		if ctx.Err() != nil {
			// The caller left (or the cache closed): not the fill's failure.
			return nil, c.cancelled(made, ctx.Err())
		}
		c.stats.add(statFillErrors, 1)
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
