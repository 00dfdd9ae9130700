package tiered

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

func init() {
	djcache.RegisterTier(func(l2 driver.Driver, o djcache.TierOptions) (driver.Driver, error) {
		return NewDriver(nil, l2, &Options{MaxEntries: o.MaxEntries, Timeout: o.Timeout, Group: o.Storage})
	})
}

// DefaultMaxEntries is the bound of the L1 that NewDriver makes when its
// Options leave MaxEntries zero.
const DefaultMaxEntries = 1000

// Options configures a tier. A nil *Options means the defaults.
type Options struct {
	// MaxEntries bounds the L1 that NewDriver makes when it is given none
	// (the URL parameter local=N). Zero means DefaultMaxEntries.
	MaxEntries int

	// Timeout caps how long an entry stays in the L1 (the URL parameter
	// local_timeout). Zero means no cap but the entry's own remaining
	// lifetime in the L2, which the L2 must then be able to read (a
	// driver.ExpiryReader: every backend but memcached). Without an
	// invalidation channel (see the package documentation), Timeout is also
	// how long another process's write may go unseen here.
	Timeout time.Duration

	// Group names the storage of the L2, so that the tiers over the same
	// storage in this process share their invalidations: a write through
	// one drops the key from the L1 of every tier of the group at once, as
	// it does from its own. Empty means no group. djcache.Open gives each
	// URL's tier its backend URL (without djcache's own parameters) as
	// group, so that two Caches opened from the same URL see each other's
	// writes at once.
	Group string

	// Logger receives the changes of the invalidation channel's state (lost,
	// back, unavailable). Nil means slog.Default(), looked up at each
	// message.
	Logger *slog.Logger
}

// The states of a tier's L1.
const (
	// modeIdle: the L2 has an invalidation channel that nobody has asked
	// for yet (NewDriver does no I/O); the first call starts it.
	modeIdle int32 = iota
	// modeOff: the channel is being set up, or was lost: the L1 is
	// neither read nor filled, never trusted stale.
	modeOff
	// modeBounded: no channel; the L1 serves, and other processes' writes
	// show when its entries expire (Options.Timeout).
	modeBounded
	// modeWatching: the channel is up; the L1 serves, and other
	// processes' writes drop its entries as they are announced.
	modeWatching
)

// numStripes is the number of stripes of fill and invalidation locks.
const numStripes = 64

// stripe serializes, for the keys that hash to it, the L1 writes of fills
// against invalidations. gen counts the invalidations of its keys: a fill
// notes it before it reads the L2 and stores its value only if gen has not
// moved since.
type stripe struct {
	mu  sync.Mutex    // held while gen is bumped with its key's L1 entry dropped, and while a fill checks gen and stores
	gen atomic.Uint64 // invalidations of the stripe's keys; written under mu
	_   [48]byte      // a cache line each
}

// Driver is a tier: a process-local L1 in front of an L2 driver. It
// implements driver.Driver and the optional interfaces (GetManyDriver,
// SetManyDriver, DeleteManyDriver, HasDriver, GetSharedDriver), and
// driver.Pinger, driver.Sizer and driver.Pickler by delegating to the L2.
// The capabilities that change behaviour, driver.KeyChecker and
// driver.ExpiryReader, are those of the L2: NewDriver returns a wrapper
// that has them exactly when the L2 does; [Of] finds the *Driver in it.
//
// A Driver is safe for concurrent use.
type Driver struct {
	l1       driver.Driver
	l1shared driver.GetSharedDriver // l1's, or nil
	l1has    driver.HasDriver       // l1's, or nil
	l2       driver.Driver
	l2exp    driver.ExpiryReader     // l2's, or nil
	l2many   driver.GetManyDriver    // l2's, or nil
	l2setM   driver.SetManyDriver    // l2's, or nil
	l2delM   driver.DeleteManyDriver // l2's, or nil
	l2has    driver.HasDriver        // l2's, or nil
	watcher  Watcher                 // l2's, or nil
	group    *group                  // the tiers over the same storage, or nil
	timeout  time.Duration
	logger   *slog.Logger

	mode    atomic.Int32  // modeIdle, modeOff, modeBounded or modeWatching
	epoch   atomic.Uint64 // flushes of the whole L1; written with every stripe's mu held
	seed    maphash.Seed
	stripes [numStripes]stripe

	mu     sync.Mutex         // protects the fields below: the watch's start against Close
	closed bool               // Close was called
	cancel context.CancelFunc // ends the watch; nil before it starts
	done   chan struct{}      // closed when the watch has ended; nil before it starts
}

var (
	_ driver.Driver           = (*Driver)(nil)
	_ driver.GetManyDriver    = (*Driver)(nil)
	_ driver.SetManyDriver    = (*Driver)(nil)
	_ driver.DeleteManyDriver = (*Driver)(nil)
	_ driver.HasDriver        = (*Driver)(nil)
	_ driver.GetSharedDriver  = (*Driver)(nil)
	_ driver.Pinger           = (*Driver)(nil)
	_ driver.Sizer            = (*Driver)(nil)
	_ driver.Pickler          = (*Driver)(nil)
	_ driver.KeyChecker       = checking{}
	_ driver.ExpiryReader     = expiring{}
	_ driver.KeyChecker       = checkingExpiring{}
	_ driver.ExpiryReader     = checkingExpiring{}
)

// NewDriver returns a tier over l2 with l1 as its L1, configured by o (nil
// means the defaults). A nil l1 means a private locmem store of
// o.MaxEntries entries (locmem.NewPrivate), the engine of the URL
// parameter local. l1 must be in-process storage that nothing else
// writes: the tier keeps in it copies of l2's entries under l2's keys,
// with the expiries it chooses, and NewDriver empties it first (what it
// held could be stale).
//
// NewDriver does no I/O; an invalidation channel (see [Watcher]) starts
// at the first call. The tier owns l1 and l2: its Close closes both. It
// returns an error, and closes neither, when l2 cannot tell its entries'
// expiry (it is no driver.ExpiryReader) and o.Timeout is zero: the L1
// would then keep entries past their expiry.
//
// The returned driver.Driver is a *Driver, or a wrapper of one that adds
// l2's driver.KeyChecker and driver.ExpiryReader; [Of] returns the
// *Driver.
func NewDriver(l1, l2 driver.Driver, o *Options) (driver.Driver, error) {
	if l2 == nil {
		return nil, errors.New("djcache: tiered: the L2 driver is nil")
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("djcache: tiered: MaxEntries %d is negative", opts.MaxEntries)
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("djcache: tiered: Timeout %v is negative", opts.Timeout)
	}
	er, _ := l2.(driver.ExpiryReader)
	if er == nil && opts.Timeout == 0 {
		return nil, fmt.Errorf("djcache: tiered: the %s backend cannot tell when its entries expire, so the process-local tier needs local_timeout=SECONDS (Options.Timeout): how long an entry may stay in this process, and how stale it may get", backendName(l2))
	}
	if l1 == nil {
		p, err := locmem.NewPrivate(&locmem.Options{MaxEntries: opts.MaxEntries})
		if err != nil {
			return nil, err
		}
		l1 = p
	} else if err := l1.Clear(context.Background(), driver.Scope{}); err != nil {
		return nil, fmt.Errorf("djcache: tiered: emptying the L1: %w", err)
	}
	d := &Driver{
		l1:      l1,
		l2:      l2,
		l2exp:   er,
		timeout: opts.Timeout,
		logger:  opts.Logger,
		seed:    maphash.MakeSeed(),
	}
	d.l1shared, _ = l1.(driver.GetSharedDriver)
	d.l1has, _ = l1.(driver.HasDriver)
	d.l2many, _ = l2.(driver.GetManyDriver)
	d.l2setM, _ = l2.(driver.SetManyDriver)
	d.l2delM, _ = l2.(driver.DeleteManyDriver)
	d.l2has, _ = l2.(driver.HasDriver)
	d.watcher, _ = l2.(Watcher)
	if d.watcher == nil {
		d.mode.Store(modeBounded)
	}
	if opts.Group != "" {
		d.group = join(opts.Group, d)
	}
	kc, _ := l2.(driver.KeyChecker)
	switch {
	case kc != nil && er != nil:
		return checkingExpiring{d, kc}, nil
	case kc != nil:
		return checking{d, kc}, nil
	case er != nil:
		return expiring{d}, nil
	}
	return d, nil
}

// New returns a Cache that reads through l1 in front of l2: configured as
// l2 (timeout, key prefix, version, serializer, ...), over a tier
// (NewDriver) whose L1 is l1's driver and whose L2 is l2's. l1 should be a
// locmem Cache on a name that nothing else opens, such as one from
// locmem.NewPrivate; o's MaxEntries is not used (l1 has its own bound).
//
// New takes l1 and l2 over: from then on their calls return
// djcache.ErrClosed, and the returned Cache owns their drivers and closes
// both when it is closed (closing l1 or l2 is a no-op). If New fails, l1
// and l2 are left as they were.
func New(l1, l2 *djcache.Cache, o *Options) (*djcache.Cache, error) {
	return djcache.Stack(l1, l2, func(d1, d2 driver.Driver) (driver.Driver, error) {
		return NewDriver(d1, d2, o)
	})
}

// Of returns the *Driver in d (a driver that NewDriver returned, or a
// Cache's Driver()), or nil if d is no tier.
func Of(d driver.Driver) *Driver {
	if t, ok := d.(interface{ tier() *Driver }); ok {
		return t.tier()
	}
	return nil
}

func (d *Driver) tier() *Driver { return d }

// L1 returns the tier's L1 driver.
func (d *Driver) L1() driver.Driver { return d.l1 }

// L2 returns the tier's L2 driver, for backend-specific calls.
func (d *Driver) L2() driver.Driver { return d.l2 }

// Watching reports whether the L2's invalidation channel is up, so that
// other processes' writes drop this tier's entries as they happen. It is
// false before the first call, while the channel is being set up or after
// it was lost (the L1 is then not used at all), and for an L2 that has
// none (the L1 is then bounded by Options.Timeout).
func (d *Driver) Watching() bool { return d.mode.Load() == modeWatching }

// backendName is the last element of d's package path, for messages.
func backendName(d driver.Driver) string {
	p := fmt.Sprintf("%T", d)
	p = strings.TrimPrefix(p, "*")
	if i := strings.IndexByte(p, '.'); i >= 0 {
		p = p[:i]
	}
	return p
}

// ------------------------------------------------------------ L1 and locks

// usable reports whether the L1 may be read and filled, starting the
// invalidation channel at the first call.
func (d *Driver) usable() bool {
	m := d.mode.Load()
	if m == modeIdle {
		d.startWatch()
		m = d.mode.Load()
	}
	return m >= modeBounded
}

func (d *Driver) stripe(key string) *stripe {
	return &d.stripes[maphash.String(d.seed, key)&(numStripes-1)]
}

// invalidate drops key from the L1 of every tier of d's group (d's
// alone without one), after this process wrote it to the L2.
func (d *Driver) invalidate(key string) {
	if g := d.group; g != nil {
		g.mu.RLock()
		for _, m := range g.members {
			m.drop(key)
		}
		g.mu.RUnlock()
		return
	}
	d.drop(key)
}

// invalidateAll is invalidate of each key.
func (d *Driver) invalidateAll(keys []string) {
	for _, k := range keys {
		d.invalidate(k)
	}
}

// flushGroup empties the L1 of every tier of d's group (d's alone without
// one).
func (d *Driver) flushGroup() {
	if g := d.group; g != nil {
		g.mu.RLock()
		for _, m := range g.members {
			m.flush()
		}
		g.mu.RUnlock()
		return
	}
	d.flush()
}

// drop drops key from d's L1, after a write of it to the L2 (by this
// process, or announced by the channel): a fill of key that began before
// is not stored.
func (d *Driver) drop(key string) {
	s := d.stripe(key)
	s.mu.Lock()
	s.gen.Add(1)
	d.l1.Delete(context.Background(), key)
	s.mu.Unlock()
}

// flush empties the L1: no fill that began before is stored.
func (d *Driver) flush() {
	for i := range d.stripes {
		d.stripes[i].mu.Lock()
	}
	d.epoch.Add(1)
	d.l1.Clear(context.Background(), driver.Scope{})
	for i := range d.stripes {
		d.stripes[i].mu.Unlock()
	}
}

// ticket is what a fill notes before it reads the L2.
type ticket struct {
	s     *stripe
	gen   uint64
	epoch uint64
}

func (d *Driver) ticket(key string) ticket {
	s := d.stripe(key)
	return ticket{s: s, gen: s.gen.Load(), epoch: d.epoch.Load()}
}

// fill stores in the L1 the value v read from the L2 under the ticket t,
// with the L2's expiry exp (zero: never, or unknown without an
// ExpiryReader), unless the key was invalidated (or the L1 flushed, or
// turned off) since t was taken. The L1 entry expires at exp or after the
// tier's timeout, whichever comes first.
func (d *Driver) fill(t ticket, key string, v []byte, exp time.Time) {
	now := time.Now()
	if d.timeout > 0 {
		if limit := now.Add(d.timeout); exp.IsZero() || limit.Before(exp) {
			exp = limit
		}
	}
	if driver.Expired(exp, now) {
		return
	}
	t.s.mu.Lock()
	if t.s.gen.Load() == t.gen && d.epoch.Load() == t.epoch && d.mode.Load() >= modeBounded {
		d.l1.Set(context.Background(), key, v, exp)
	}
	t.s.mu.Unlock()
}

// getL1 reads key from the L1; with shared, the bytes may be the L1's own
// (GetShared's rules).
func (d *Driver) getL1(ctx context.Context, key string, shared bool) ([]byte, bool) {
	var (
		v     []byte
		found bool
	)
	if shared && d.l1shared != nil {
		v, found, _ = d.l1shared.GetShared(ctx, key)
	} else {
		v, found, _ = d.l1.Get(ctx, key)
	}
	return v, found
}

// load reads key from the L2 and fills the L1 with it when the L1 is in
// use. It returns the L2's expiry when the L2 can read it.
func (d *Driver) load(ctx context.Context, key string, use bool) ([]byte, time.Time, bool, error) {
	var t ticket
	if use {
		t = d.ticket(key)
	}
	var (
		v     []byte
		exp   time.Time
		found bool
		err   error
	)
	if d.l2exp != nil {
		v, exp, found, err = d.l2exp.GetWithExpiry(ctx, key)
	} else {
		v, found, err = d.l2.Get(ctx, key)
	}
	if err != nil || !found {
		return nil, time.Time{}, false, err
	}
	if use {
		d.fill(t, key, v, exp)
	}
	return v, exp, true, nil
}

// --------------------------------------------------------------- reads

// Get implements driver.Driver: the L1's entry if it holds key, else the
// L2's, which then fills the L1.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, bool, error) {
	use := d.usable()
	if use {
		if v, found := d.getL1(ctx, key, false); found {
			return v, true, nil
		}
	}
	v, _, found, err := d.load(ctx, key, use)
	return v, found, err
}

// GetShared implements driver.GetSharedDriver: an L1 hit lends the L1's
// bytes (when the L1 lends them: locmem does) and allocates nothing.
func (d *Driver) GetShared(ctx context.Context, key string) ([]byte, bool, error) {
	use := d.usable()
	if use {
		if v, found := d.getL1(ctx, key, true); found {
			return v, true, nil
		}
	}
	// key may be borrowed memory (GetShared's rule), and the L1 keeps it.
	v, _, found, err := d.load(ctx, strings.Clone(key), use)
	return v, found, err
}

// getWithExpiry reads the L2 (the L1 does not know the L2's expiry) and
// fills the L1.
func (d *Driver) getWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	return d.load(ctx, key, d.usable())
}

// GetMany implements driver.GetManyDriver: the keys the L1 holds come
// from it, and the others from the L2 in one GetMany, which does not fill
// the L1 (a GetMany does not return expiries, and an L1 entry must not
// outlive its L2 entry). Over an L2 without GetMany, each missing key is
// read and filled as by Get.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	use := d.usable()
	missing := keys
	if use {
		missing = make([]string, 0, len(keys))
		for _, k := range keys {
			if v, found := d.getL1(ctx, k, false); found {
				out[k] = v
			} else {
				missing = append(missing, k)
			}
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	if d.l2many != nil {
		m, err := d.l2many.GetMany(ctx, missing)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	}
	for _, k := range missing {
		v, _, found, err := d.load(ctx, k, use)
		if err != nil {
			return nil, err
		}
		if found {
			out[k] = v
		}
	}
	return out, nil
}

// Has implements driver.HasDriver: true if the L1 holds key, else the L2's
// answer (which does not fill the L1).
func (d *Driver) Has(ctx context.Context, key string) (bool, error) {
	if d.usable() {
		var found bool
		if d.l1has != nil {
			found, _ = d.l1has.Has(ctx, key)
		} else {
			_, found = d.getL1(ctx, key, true)
		}
		if found {
			return true, nil
		}
	}
	if d.l2has != nil {
		return d.l2has.Has(ctx, key)
	}
	_, found, err := d.l2.Get(ctx, key)
	return found, err
}

// -------------------------------------------------------------- writes
//
// Every write goes to the L2 first and then drops the key from the L1, even
// when the L2 failed (the write may have happened): the next read in this
// process fills the L1 again from the L2, with the L2's own expiry. Writing
// the new bytes into the L1 instead would save that read, but the L1's
// expiry would then be the one asked for, which an L2 keeping whole
// seconds does not store exactly.

// Set implements driver.Driver.
func (d *Driver) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	err := d.l2.Set(ctx, key, value, exp)
	d.invalidate(key)
	return err
}

// Add implements driver.Driver. An Add that stored nothing leaves the L1
// as it was.
func (d *Driver) Add(ctx context.Context, key string, value []byte, exp time.Time) (bool, error) {
	added, err := d.l2.Add(ctx, key, value, exp)
	if added || err != nil {
		d.invalidate(key)
	}
	return added, err
}

// Touch implements driver.Driver.
func (d *Driver) Touch(ctx context.Context, key string, exp time.Time) (bool, error) {
	touched, err := d.l2.Touch(ctx, key, exp)
	d.invalidate(key)
	return touched, err
}

// Delete implements driver.Driver.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	deleted, err := d.l2.Delete(ctx, key)
	d.invalidate(key)
	return deleted, err
}

// Incr implements driver.Driver with the L2's atomic Incr.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	n, err := d.l2.Incr(ctx, key, delta)
	d.invalidate(key)
	return n, err
}

// SetMany implements driver.SetManyDriver with the L2's SetMany, or its
// Set for each item.
func (d *Driver) SetMany(ctx context.Context, items []driver.Item) (failed []string, err error) {
	defer func() {
		for _, it := range items {
			d.invalidate(it.Key)
		}
	}()
	if d.l2setM != nil {
		return d.l2setM.SetMany(ctx, items)
	}
	// As package djcache without SetMany: the keys whose Set failed, and
	// the first error.
	for _, it := range items {
		if serr := d.l2.Set(ctx, it.Key, it.Value, it.Expires); serr != nil {
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

// DeleteMany implements driver.DeleteManyDriver with the L2's DeleteMany,
// or its Delete for each key.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	defer d.invalidateAll(keys)
	if d.l2delM != nil {
		return d.l2delM.DeleteMany(ctx, keys)
	}
	for _, k := range keys {
		if _, err := d.l2.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// Clear implements driver.Driver: the L2's Clear, then the whole L1.
func (d *Driver) Clear(ctx context.Context, scope driver.Scope) error {
	err := d.l2.Clear(ctx, scope)
	d.flushGroup()
	return err
}

// Close implements driver.Driver: it stops the invalidation channel and
// closes the L2 and the L1.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if d.group != nil {
		d.group.leave(d)
	}
	return errors.Join(d.l2.Close(), d.l1.Close())
}

// ------------------------------------------------------- capabilities

// pingKey is the key Ping reads on an L2 that is no driver.Pinger, as
// package djcache does: no Cache makes it.
const pingKey = "djcache-ping"

// Ping implements driver.Pinger: the L2's Ping, or the read of a key no
// Cache makes. The L1 has nothing to reach.
func (d *Driver) Ping(ctx context.Context) error {
	if p, ok := d.l2.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	if d.l2has != nil {
		_, err := d.l2has.Has(ctx, pingKey)
		return err
	}
	_, _, err := d.l2.Get(ctx, pingKey)
	return err
}

// Size implements driver.Sizer with the L2's size: the L1 holds copies.
func (d *Driver) Size(ctx context.Context, scope driver.Scope) (driver.Size, error) {
	if s, ok := d.l2.(driver.Sizer); ok {
		return s.Size(ctx, scope)
	}
	return driver.UnknownSize, nil
}

// UsePickle implements driver.Pickler for the L2: its kinds, or none when
// the L2 is no Pickler (it then receives a pickle for every value, as
// without a tier). The L1 stores the L2's bytes as they are.
func (d *Driver) UsePickle() driver.Kinds {
	if p, ok := d.l2.(driver.Pickler); ok {
		return p.UsePickle()
	}
	return 0
}

// The wrappers that add the L2's capabilities.
type (
	checking struct {
		*Driver
		kc driver.KeyChecker
	}
	expiring         struct{ *Driver }
	checkingExpiring struct {
		*Driver
		kc driver.KeyChecker
	}
)

// CheckKey implements driver.KeyChecker with the L2's.
func (c checking) CheckKey(key string) error { return c.kc.CheckKey(key) }

// GetWithExpiry implements driver.ExpiryReader with the L2's, and fills
// the L1.
func (e expiring) GetWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	return e.getWithExpiry(ctx, key)
}

// CheckKey implements driver.KeyChecker with the L2's.
func (c checkingExpiring) CheckKey(key string) error { return c.kc.CheckKey(key) }

// GetWithExpiry implements driver.ExpiryReader with the L2's, and fills
// the L1.
func (c checkingExpiring) GetWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	return c.getWithExpiry(ctx, key)
}

// A group is the tiers over one storage in this process (Options.Group).
type group struct {
	name    string
	mu      sync.RWMutex // protects members
	members []*Driver
}

var (
	groupsMu sync.Mutex // protects groups
	groups   = map[string]*group{}
)

// join adds d to the group called name, creating it.
func join(name string, d *Driver) *group {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	g := groups[name]
	if g == nil {
		g = &group{name: name}
		groups[name] = g
	}
	g.mu.Lock()
	g.members = append(g.members, d)
	g.mu.Unlock()
	return g
}

// leave removes d from g, and g from the groups when it is empty.
func (g *group) leave(d *Driver) {
	groupsMu.Lock()
	defer groupsMu.Unlock()
	g.mu.Lock()
	g.members = slices.DeleteFunc(g.members, func(m *Driver) bool { return m == d })
	empty := len(g.members) == 0
	g.mu.Unlock()
	if empty {
		delete(groups, g.name)
	}
}
