package djcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/djcache/djcache/driver"
)

// opGetOrSetMany is GetOrSetMany's name in an *OpError (Django has no
// get_or_set_many: the name follows get_or_set and get_many).
const opGetOrSetMany = "get_or_set_many"

// GetOrSetMany is GetOrSet for many keys, with one batch per step: it
// looks every key up with one GetMany, calls fill once with the keys that
// missed, stores what fill returns with one SetMany, and decodes the values
// found and filled into *dst, a map with string keys as GetMany takes (such
// as *map[string]T; a nil map is allocated, entries for other keys stay).
//
// # Round trips
//
// The read and the write are the driver's batch calls, as GetMany and
// SetMany make them, so a call whose keys nobody else is filling makes
// exactly one read round trip, at most one fill call and at most one
// write round trip where the backend has batch calls, whatever the number
// of keys; with every key found it makes the read only. Redis reads with
// one MGET (on a Cluster, one pipeline of an MGET per slot, sent to the
// nodes at once) and writes with one pipeline; SQL reads with one SELECT
// per 512 keys and writes with one upsert per 300 rows, in one
// transaction. Memcached reads with one multi-get per server, the servers
// in parallel, but writes key by key; locmem and the file backend read in
// one call and write key by key, as SetMany does. Two cases add a step,
// never one per key: if another GetOrSetMany on this Cache stored values
// while this call was reading, the keys this call is about to fill are
// read once more (the check again of GetOrSet's single flight: they may be
// among them), and keys whose fill failed in another caller are filled
// again by this one (below).
//
// # Concurrent callers
//
// Concurrent calls on one Cache share fills per key: a call fills only the
// missed keys that no other call is filling, and waits for the others,
// whose values it then decodes (sturdyc's batch coalescing). A call thus
// waits for fills of other calls, never for a whole other call. If
// another call's fill of some keys fails (an error, a panic, a cancelled
// context), the waiting call fills those keys itself with its own fill, in
// one more fill call, so that one caller's failure or cancellation is
// never another's error. Calls in other processes are not coalesced: each
// fills what it missed, and the last write wins.
//
// # The fill
//
// fill gets the caller's keys that missed, each once, in the order of
// keys; the slice is fill's to keep. It returns their values by caller's
// key. A key that fill leaves out of its map is neither stored nor
// returned (a way to say "there is no such row"; to cache that answer, let
// fill return a value that says so), and keys fill was not asked for are
// ignored. A fill error is returned as it is, with dst unchanged and
// nothing stored, even for the keys the map holds; a fill that panics
// returns an error saying so and does not crash the process. A value that
// cannot be encoded returns its *EncodeError and nothing is stored. A
// failed write returns the backend's error (some values may be stored);
// keys that a backend refuses one by one without an error (memcached's
// values over its item size) are returned but not stored.
//
// fill runs with ctx. With Timeout(0) (or the dummy backend) nothing stays
// stored and dst still gets fill's values.
//
// # Options
//
// Timeout, Forever and Version apply to every key; Jitter draws each
// stored key's timeout on its own, so that keys filled together do not
// expire together. With Stale (or EarlyRefresh), values are stored with
// the metadata GetOrSet writes. As with GetOrSet, a stale entry (one
// written with Stale whose timeout has passed), or a fresh one that
// EarlyRefresh picks, is returned at once while its key is refreshed in
// the background with the call's options: one fill call and one write for
// all such keys of the call, on the cache's background context (Close
// cancels it and waits), not for keys whose last background refresh failed
// less than RetryAfter ago, and never twice at once for a key in this
// process. FillTimeout's
// hard timeout bounds each fill call; its soft timeout does not apply (a
// caller never waits for a refresh). FillLock does not apply: a lock per
// key would cost a round trip per key; GetOrSetMany coalesces within the
// process only. An absence that GetOrSet stored for a key (ErrAbsent) is
// honoured: the key is left out of the result and fill is not asked for
// it. Invalid options return an error naming the option before any I/O.
//
// # Results
//
// A stored nil is present with T's zero value. If some values do not
// decode into the map's element type, the others are still stored in the
// map and GetOrSetMany returns an *OpError wrapping a *ManyDecodeError, as
// GetMany does. Stats count a hit or a miss per distinct key, one Fills
// (and FillErrors) per fill call, a Sets per stored key, and StaleServed
// and EarlyRefreshes per key.
func (c *Cache) GetOrSetMany(ctx context.Context, keys []string, dst any, fill func(ctx context.Context, missing []string) (map[string]any, error), opts ...Option) (err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, opGetOrSetMany, "", now(), &note, nil, &err)
	}
	if err := c.enter(ctx, opGetOrSetMany); err != nil {
		return err
	}
	mv, err := mapDst("GetOrSetMany", dst)
	if err != nil {
		return c.opError(opGetOrSetMany, "", err)
	}
	if fill == nil {
		return c.opError(opGetOrSetMany, "", errFillNil)
	}
	made, got, err := c.getOrSetMany(ctx, keys, func(ctx context.Context, missing []string) (func(string) (any, bool), error) {
		m, err := fill(ctx, missing)
		return func(k string) (any, bool) { v, ok := m[k]; return v, ok }, err
	}, opts, &note)
	if err != nil {
		return err
	}
	bad, _ := c.decodeMany(mv, keys, made, got)
	return bad.err(c, opGetOrSetMany, len(got))
}

// GetOrSetMany is Cache.GetOrSetMany with a typed fill function, returning
// a new map[string]T that holds every key found or filled. If some values
// do not decode into T, the map holds the others and the error, an
// *OpError wrapping a *ManyDecodeError, names the keys left out; on any
// other error the map is nil.
//
//	users, err := djcache.GetOrSetMany(ctx, c, ids, func(ctx context.Context, missing []string) (map[string]User, error) {
//		return db.UsersByID(ctx, missing) // one query for the keys that missed
//	}, djcache.Timeout(10*time.Minute))
func GetOrSetMany[T any](ctx context.Context, c *Cache, keys []string, fill func(ctx context.Context, missing []string) (map[string]T, error), opts ...Option) (_ map[string]T, err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, opGetOrSetMany, "", now(), &note, nil, &err)
	}
	if err := c.enter(ctx, opGetOrSetMany); err != nil {
		return nil, err
	}
	if fill == nil {
		return nil, c.opError(opGetOrSetMany, "", errFillNil)
	}
	made, got, err := c.getOrSetMany(ctx, keys, func(ctx context.Context, missing []string) (func(string) (any, bool), error) {
		m, err := fill(ctx, missing)
		return func(k string) (any, bool) { v, ok := m[k]; return v, ok }, err
	}, opts, &note)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(got))
	var bad decodeFailures
	for i, k := range keys {
		b, ok := got[made[i]]
		if !ok {
			continue
		}
		var v T
		if err := c.decode(b, &v); err != nil {
			bad.add(k, err)
			continue
		}
		out[k] = v
	}
	return out, bad.err(c, opGetOrSetMany, len(got))
}

// errFillNil is the error of a GetOrSetMany without a fill.
var errFillNil = errors.New("djcache: fill is nil")

// manyFillFunc is a GetOrSetMany fill as the core sees it: the values come
// back through a lookup by caller's key, so that the generic GetOrSetMany
// boxes only the values it is asked for.
type manyFillFunc func(ctx context.Context, missing []string) (lookup func(key string) (any, bool), err error)

// manyState is a Cache's GetOrSetMany fills in flight, by made key, so
// that concurrent calls asking for overlapping keys share each key's fill.
// The zero value is ready to use.
type manyState struct {
	mu    sync.Mutex           // protects calls
	calls map[string]*manyCall // the fill in flight of each made key

	// stored counts, ever, the ends of fills that stored values: a call
	// that sees it change between its read and its claim reads the keys
	// it claimed again (see getOrSetMany). It changes under mu.
	stored atomic.Uint64
}

// manyCall is one key's fill in flight. The call that claimed the key sets
// val, found and err, then closes done; the waiters read them after done.
type manyCall struct {
	done  chan struct{}
	val   []byte // the stored form of the value (with metadata, if any)
	found bool   // the fill returned the key (or the check again found it)
	err   error  // the fill or its write failed: waiters fill the key themselves
}

// claimed is a made key and its call in flight.
type claimed struct {
	made string
	call *manyCall
}

// claim registers a call for each key that no call is filling, and returns
// those (own: the caller fills them) and the calls in flight for the
// others (wait).
func (s *manyState) claim(keys []string) (own, wait []claimed) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = make(map[string]*manyCall)
	}
	for _, k := range keys {
		if call, ok := s.calls[k]; ok {
			wait = append(wait, claimed{k, call})
			continue
		}
		call := &manyCall{done: make(chan struct{})}
		s.calls[k] = call
		own = append(own, claimed{k, call})
	}
	return own, wait
}

// finish ends the calls of own, whose results are set, and wakes their
// waiters; stored says that values were written. It returns the count of
// fills that stored values, this one included.
func (s *manyState) finish(own []claimed, stored bool) uint64 {
	s.mu.Lock()
	for _, cl := range own {
		if s.calls[cl.made] == cl.call {
			delete(s.calls, cl.made)
		}
	}
	n := s.stored.Load()
	if stored {
		n = s.stored.Add(1)
	}
	s.mu.Unlock()
	for _, cl := range own {
		close(cl.call.done)
	}
	return n
}

// getOrSetMany is the core of GetOrSetMany: it returns, for each of the
// caller's keys in order, its made key, and the stored form of each value
// found or filled, by made key. Its interleaving with other calls on the
// Cache:
//
//  1. A notes how many fills have stored values (mark), reads every key
//     in one batch, and sorts them: found, stale, absent or missed.
//  2. A claims the missed keys that no call is filling (own); for the
//     others it will wait. Claims are per key and under a mutex, so a key
//     has at most one fill in flight in the process.
//  3. If a fill stored values since mark, B may have filled some of A's
//     own keys after A's read and ended before A's claim: A reads its own
//     keys again and keeps those it finds (GetOrSet's check again inside
//     the flight, for many keys).
//  4. A calls fill once for the rest, stores the values in one batch, and
//     only then ends its claims, so that a call that finds no claim finds
//     the value stored (or sees mark change).
//  5. A waits for the keys others fill. The keys whose fill failed go
//     back to step 2 with A's own fill.
//
// A call never waits while it holds claims it has not ended, so two calls
// that wait for each other's keys cannot deadlock.
func (c *Cache) getOrSetMany(ctx context.Context, keys []string, fill manyFillFunc, opts []Option, note *obsNote) (made []string, got map[string][]byte, err error) {
	co := c.options(opts)
	if co.err != nil {
		return nil, nil, c.opError(opGetOrSetMany, "", co.err)
	}
	distinct, made, err := c.madeKeys(ctx, opGetOrSetMany, keys, co.version)
	if err != nil {
		return nil, nil, err
	}
	if len(distinct) == 0 {
		return made, nil, nil
	}
	// back maps each made key to the caller's key fill is asked for; order
	// is the distinct made keys in the caller's order (the driver may
	// reorder distinct).
	back := make(map[string]string, len(distinct))
	order := make([]string, 0, len(distinct))
	for i, m := range made {
		if _, ok := back[m]; !ok {
			back[m] = keys[i]
			order = append(order, m)
		}
	}
	w := manyWriter{c: c, co: co}

	mark := c.many.stored.Load()
	got, err = c.readMany(ctx, distinct)
	if err != nil {
		return nil, nil, err
	}
	var missing, refresh []string
	stale, early := 0, 0
	n := now()
	for _, m := range order {
		v, ok := got[m]
		if !ok {
			missing = append(missing, m)
			continue
		}
		if !hasMeta(v) {
			continue
		}
		_, meta := splitMeta(v)
		switch {
		case !meta.ok:
		case meta.absent:
			delete(got, m) // an absence GetOrSet stored: found, with nothing to return
		case !meta.fresh.IsZero() && !n.Before(meta.fresh):
			stale++
			refresh = append(refresh, m)
		case co.hot.early > 0 && meta.fill > 0 && !meta.fresh.IsZero() && xfetch(n, meta, co.hot.early):
			// An entry without a fresh end is not refreshed early: it
			// never expires, or a GetOrSet without Stale wrote it.
			early++
			refresh = append(refresh, m)
		}
	}
	c.stats.add(statHits, uint64(len(distinct)-len(missing)))
	c.stats.add(statMisses, uint64(len(missing)))
	note.hits, note.misses = len(distinct)-len(missing), len(missing)

	for len(missing) > 0 {
		own, wait := c.many.claim(missing)
		missing = nil
		if len(own) > 0 {
			if err := c.fillClaimed(ctx, own, back, fill, w, &mark, got); err != nil {
				return nil, nil, err
			}
		}
		for _, cl := range wait {
			select {
			case <-cl.call.done:
			case <-ctx.Done():
				return nil, nil, c.opError(opGetOrSetMany, "", ctx.Err())
			}
			switch {
			case cl.call.err != nil:
				missing = append(missing, cl.made) // its filler failed: fill it ourselves
			case cl.call.found:
				got[cl.made] = cl.call.val
			}
		}
	}

	if stale > 0 {
		c.stats.add(statStaleServed, uint64(stale))
		c.hotEvent(ctx, EventStaleServed, opGetOrSetMany, "", stale, 0, nil)
	}
	if len(refresh) > 0 && c.refreshManyLater(refresh, back, fill, w) && early > 0 {
		c.stats.add(statEarlyRefreshes, uint64(early))
		c.hotEvent(ctx, EventEarlyRefresh, opGetOrSetMany, "", early, 0, nil)
	}
	return made, got, nil
}

// fillClaimed fills the keys of own, which the caller claimed, stores
// them, puts them in got and ends the claims (with the error, if it
// fails). With mark (a foreground call), it first reads the keys again if
// another fill stored values since *mark. A refresh passes a nil mark and
// a nil got.
func (c *Cache) fillClaimed(ctx context.Context, own []claimed, back map[string]string, fill manyFillFunc, w manyWriter, mark *uint64, got map[string][]byte) (err error) {
	pending := own
	stored := false
	defer func() {
		if err != nil {
			for _, cl := range pending {
				cl.call.err = err
			}
		}
		n := c.many.finish(pending, stored && err == nil)
		if mark != nil && stored && err == nil && n == *mark+1 {
			*mark = n // only our own write since mark: nothing to read again
		}
	}()

	if mark != nil {
		if cur := c.many.stored.Load(); cur != *mark {
			*mark = cur
			keys := make([]string, len(pending))
			for i, cl := range pending {
				keys[i] = cl.made
			}
			again, err := c.readMany(ctx, keys)
			if err != nil {
				return err
			}
			var found, rest []claimed
			for _, cl := range pending {
				v, ok := again[cl.made]
				if !ok {
					rest = append(rest, cl)
					continue
				}
				if _, meta := splitMeta(v); !meta.absent {
					cl.call.val, cl.call.found = v, true
					got[cl.made] = v
				}
				found = append(found, cl)
			}
			c.many.finish(found, false)
			pending = rest
			if len(pending) == 0 {
				return nil
			}
		}
	}

	missing := make([]string, len(pending))
	for i, cl := range pending {
		missing[i] = back[cl.made]
	}
	fctx := ctx
	if w.co.hot.hard > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, w.co.hot.hard)
		defer cancel()
	}
	start := now()
	lookup, err := callFillMany(fctx, fill, missing)
	took := now().Sub(start)
	c.stats.add(statFills, 1)
	c.hotEvent(ctx, EventFill, opGetOrSetMany, "", len(missing), took, err)
	if err != nil {
		c.stats.add(statFillErrors, 1)
		if ctx.Err() != nil {
			return c.opError(opGetOrSetMany, "", ctx.Err())
		}
		return err
	}
	items := make([]driver.Item, 0, len(pending))
	for _, cl := range pending {
		v, ok := lookup(back[cl.made])
		if !ok {
			continue
		}
		it, err := w.item(cl.made, v, took)
		if err != nil {
			return err
		}
		cl.call.val, cl.call.found = it.Value, true
		items = append(items, it)
	}
	if len(items) == 0 {
		return nil
	}
	// A fixed order makes backends take their locks in the same order.
	slices.SortFunc(items, func(a, b driver.Item) int { return strings.Compare(a.Key, b.Key) })
	failed, err := c.writeMany(ctx, items)
	c.stats.add(statSets, uint64(len(items)-len(failed)))
	if err != nil {
		return c.opError(opGetOrSetMany, "", err)
	}
	stored = true
	if got != nil {
		for _, cl := range pending {
			if cl.call.found {
				got[cl.made] = cl.call.val
			}
		}
	}
	return nil
}

// callFillMany calls fill, turning a panic into an error, so that the
// caller's claims end and every waiter fills for itself.
func callFillMany(ctx context.Context, fill manyFillFunc, missing []string) (lookup func(string) (any, bool), err error) {
	defer func() {
		if r := recover(); r != nil {
			lookup, err = nil, fmt.Errorf("djcache: the fill panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return fill(ctx, missing)
}

// refreshManyLater refreshes the stale (or early-refreshed) keys made in
// the background: one fill call and one write for those whose last refresh
// did not fail less than RetryAfter ago and that no call is filling. It
// reports whether it started a refresh. The refresh runs on the cache's
// background context: Close cancels it and waits for it.
func (c *Cache) refreshManyLater(made []string, back map[string]string, fill manyFillFunc, w manyWriter) bool {
	retry := w.co.hot.retryAfter()
	keys := make([]string, 0, len(made))
	for _, m := range made {
		if c.hot.mayRetry(m, retry) {
			keys = append(keys, m)
		}
	}
	if len(keys) == 0 || !c.hot.start() {
		return false
	}
	own, _ := c.many.claim(keys)
	if len(own) == 0 {
		c.hot.wg.Done()
		return false
	}
	go func() {
		defer c.hot.wg.Done()
		ctx := c.hot.ctx
		err := c.fillClaimed(ctx, own, back, fill, w, nil, nil)
		if ctx.Err() != nil {
			return // the cache is closing
		}
		for _, cl := range own {
			c.hot.result(cl.made, err)
		}
		if err != nil {
			c.stats.add(statRefreshErrors, 1)
			c.hotEvent(ctx, EventRefreshError, opGetOrSetMany, "", len(own), 0, err)
			c.log().LogAttrs(context.Background(), slog.LevelWarn, "djcache: background refresh failed; serving the stale values",
				slog.String("op", opGetOrSetMany), slog.Int("keys", len(own)), slog.String("first_key", own[0].made),
				slog.String("backend", c.backend), slog.Any("error", err))
		}
	}()
	return true
}

// manyWriter turns filled values into the items GetOrSetMany stores.
type manyWriter struct {
	c  *Cache
	co callOptions // the call's options: timeout, Jitter (drawn per key), hot-key options
}

// item encodes v, filled for made in took, with its expiry and, when the
// options need it, the metadata that GetOrSet's runFill writes (in the
// same layout; see meta.go).
func (w manyWriter) item(made string, v any, took time.Duration) (driver.Item, error) {
	c := w.c
	withMeta := w.co.hot.withMeta()
	enc, err := c.encodeHot(v, withMeta)
	if err != nil {
		return driver.Item{}, c.opError(opGetOrSetMany, made, err)
	}
	fresh := c.entryExpiry(&w.co) // with Jitter, drawn for each key
	if !withMeta {
		return driver.Item{Key: made, Value: enc, Expires: fresh}, nil
	}
	// The end of the fresh life is stored also without Stale (the entry
	// then expires with it): EarlyRefresh measures from it.
	exp := fresh
	if !fresh.IsZero() && w.co.hot.stale > 0 {
		exp = fresh.Add(w.co.hot.stale)
	}
	m := entryMeta{fresh: fresh, fill: took}
	return driver.Item{Key: made, Value: wrapMeta(enc, m, c.set.pickle), Expires: exp}, nil
}

// readMany reads the distinct made keys in one batch where the driver
// allows, and returns the values found (a map the caller may modify).
func (c *Cache) readMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	got, err := c.readDriverMany(ctx, keys)
	if err != nil {
		return nil, c.opError(opGetOrSetMany, "", err)
	}
	if got == nil {
		got = map[string][]byte{}
	}
	return got, nil
}

// writeMany stores items, sorted by key, in one batch where the driver
// allows, and returns the keys it did not store and the first error.
func (c *Cache) writeMany(ctx context.Context, items []driver.Item) (failed []string, err error) {
	if c.setMany != nil {
		return c.setMany.SetMany(ctx, items)
	}
	for _, it := range items {
		if serr := c.drv.Set(ctx, it.Key, it.Value, it.Expires); serr != nil {
			failed = append(failed, it.Key)
			if err == nil {
				err = serr
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	return failed, err
}
