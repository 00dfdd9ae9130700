package memcached

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// MaxKeyLength is the longest key memcached accepts, in bytes, namespace
// included.
const MaxKeyLength = 250

// DefaultMaxValueSize is the largest encoded value a Driver sends when
// Options.MaxValueSize is zero: memcached's default item size (1 MB, its -I
// option) less room for the item's header and the longest key, so that any
// value within it fits whatever its key.
const DefaultMaxValueSize = 1<<20 - 512

// DefaultMaxIdleConns is the number of idle connections a Driver keeps per
// server when Options.MaxIdleConns is zero.
const DefaultMaxIdleConns = 16

// ClearMode says how Clear removes a cache's entries; see the package
// documentation.
type ClearMode int

const (
	// ClearScan, the default, lists every server's keys with the LRU
	// crawler ("lru_crawler metadump hash", or "all") and deletes those of the
	// calling cache: its namespace, key prefix and Django's
	// "prefix:version:" shape. Other applications' keys stay.
	ClearScan ClearMode = iota
	// ClearFlushAll sends flush_all to every server, removing every entry
	// of every application on them, as Django's memcached clear() does.
	ClearFlushAll
)

// String returns the mode's URL name, "scan" or "flush".
func (m ClearMode) String() string {
	switch m {
	case ClearScan:
		return "scan"
	case ClearFlushAll:
		return "flush"
	}
	return fmt.Sprintf("ClearMode(%d)", int(m))
}

// Options configures a Driver. A nil *Options means the defaults; New does
// not keep or modify the caller's struct.
type Options struct {
	// Namespace is prepended to every made key on the wire, as pymemcache's
	// client key_prefix option (Django's OPTIONS {"key_prefix": ...}) does:
	// it counts toward memcached's 250 bytes, takes no part in choosing the
	// server, and is the unit of Clear for a Cache with a custom KeyFunc.
	// It must hold no spaces or control characters. Default "".
	Namespace string

	// Timeout is the socket read, write and dial timeout of each call (for
	// a client that New builds). Zero means 500 ms (gomemcache's
	// DefaultTimeout).
	Timeout time.Duration

	// DialTimeout bounds connecting to a server (for a client that New
	// builds; pymemcache's connect_timeout). Zero means Timeout; gomemcache
	// also bounds a dial by Timeout, so a longer DialTimeout has no effect.
	DialTimeout time.Duration

	// MaxIdleConns is the number of idle connections kept per server (for
	// a client that New builds). Zero means DefaultMaxIdleConns; set it
	// above the number of concurrent calls per server.
	MaxIdleConns int

	// MaxValueSize is the largest encoded value Set, Add and SetMany send,
	// in bytes; a larger one fails without being sent, and Set then removes
	// the key's old value (Django's rule). Zero means DefaultMaxValueSize,
	// which suits memcached's default -I 1m; a negative value sends any
	// value and leaves the limit to the server.
	MaxValueSize int

	// Clear selects how Clear works: ClearScan (the default) or
	// ClearFlushAll. See the package documentation.
	Clear ClearMode

	// Client, if set, is used instead of a client that New builds, for its
	// connection pool, dialer (TLS) or selector; Timeout and MaxIdleConns
	// are then the client's own. servers may then be nil, but Clear in
	// ClearScan mode needs them (it talks to each server directly).
	Client *memcache.Client
}

// Driver stores a Cache's entries on memcached servers through a gomemcache
// client. It implements driver.Driver, the batch interfaces GetManyDriver,
// SetManyDriver and DeleteManyDriver, and driver.KeyChecker. It is safe for
// concurrent use.
type Driver struct {
	client    *memcache.Client
	ownClient bool          // New built client on sel, and Close closes it
	sel       *Selector     // the servers; nil if given a Client without servers
	ns        string        // Options.Namespace
	maxValue  int           // Options.MaxValueSize; < 0: no limit
	clear     ClearMode     // Options.Clear
	timeout   time.Duration // the client's timeout, for detach and Clear
	pickle    bool          // UsePickle was called: Django's flags only
	closed    atomic.Bool
}

var (
	_ driver.Driver           = (*Driver)(nil)
	_ driver.GetManyDriver    = (*Driver)(nil)
	_ driver.SetManyDriver    = (*Driver)(nil)
	_ driver.DeleteManyDriver = (*Driver)(nil)
	_ driver.KeyChecker       = (*Driver)(nil)
	_ driver.Pickler          = (*Driver)(nil)
)

// UsePickle implements driver.Pickler: with the pickle serializer, bytes,
// text and integers are stored as pymemcache stores them (flags 0, 16 and
// 2) and everything else is a pickle (flag 1), so Django's PyMemcacheCache
// and djcache read each other's values. Text and bytes that look like
// numbers keep their Django flags too, and memcached's incr works on them,
// as it does for Django.
func (d *Driver) UsePickle() driver.Kinds {
	d.pickle = true
	return driver.KindsOf(driver.KindInt, driver.KindText, driver.KindBytes)
}

// New returns a Driver on servers, each "host:port", "host" (port 11211),
// "[ipv6]:port", "unix:/path" or "/path" (see [NewSelector]), configured by
// o (nil means the defaults). Keys are spread over the servers by
// pymemcache's rendezvous hashing (see [Selector]). New does no I/O.
//
// With o.Client set, the Driver uses that client and servers is optional
// (Clear's ClearScan mode needs it).
func New(servers []string, o *Options) (*Driver, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if err := checkNamespace(opts.Namespace); err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("djcache: memcached: Timeout %v is negative", opts.Timeout)
	}
	if opts.DialTimeout < 0 {
		return nil, fmt.Errorf("djcache: memcached: DialTimeout %v is negative", opts.DialTimeout)
	}
	if opts.MaxIdleConns < 0 {
		return nil, fmt.Errorf("djcache: memcached: MaxIdleConns %d is negative", opts.MaxIdleConns)
	}
	if opts.Clear != ClearScan && opts.Clear != ClearFlushAll {
		return nil, fmt.Errorf("djcache: memcached: unknown %v", opts.Clear)
	}
	d := &Driver{ns: opts.Namespace, clear: opts.Clear, maxValue: opts.MaxValueSize}
	if d.maxValue == 0 {
		d.maxValue = DefaultMaxValueSize
	}
	if opts.Client == nil || len(servers) > 0 {
		sel, err := NewSelector(servers, opts.Namespace)
		if err != nil {
			return nil, err
		}
		d.sel = sel
	}
	if opts.Client != nil {
		d.client = opts.Client
		d.timeout = opts.Client.Timeout
	} else {
		d.client = memcache.NewFromSelector(d.sel)
		d.client.Timeout = opts.Timeout
		d.client.MaxIdleConns = opts.MaxIdleConns
		if d.client.MaxIdleConns == 0 {
			d.client.MaxIdleConns = DefaultMaxIdleConns
		}
		if opts.DialTimeout > 0 {
			d.client.DialContext = (&net.Dialer{Timeout: opts.DialTimeout}).DialContext
		}
		d.ownClient = true
		d.timeout = opts.Timeout
	}
	if d.timeout == 0 {
		d.timeout = memcache.DefaultTimeout
	}
	return d, nil
}

func checkNamespace(ns string) error {
	if len(ns) >= MaxKeyLength {
		return fmt.Errorf("djcache: memcached: namespace of %d bytes leaves no room for keys (memcached keys have at most %d bytes)", len(ns), MaxKeyLength)
	}
	for i := 0; i < len(ns); i++ {
		if b := ns[i]; b <= ' ' || b == 0x7f {
			return fmt.Errorf("djcache: memcached: namespace %q holds a space or control character, which memcached keys cannot", ns)
		}
	}
	return nil
}

// Client returns the gomemcache client under d, for calls djcache does not
// make. Its keys are the made keys with the namespace in front.
func (d *Driver) Client() *memcache.Client { return d.client }

// Namespace returns the string put in front of every made key on the wire
// (Options.Namespace).
func (d *Driver) Namespace() string { return d.ns }

// Selector returns the servers and the hashing that place keys on them, or
// nil for a Driver given a Client and no servers.
func (d *Driver) Selector() *Selector { return d.sel }

// keyError is an invalid key: its text is Django's InvalidCacheKey message.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return driver.ErrInvalidKey }

// CheckKey implements driver.KeyChecker: it refuses, with Django's
// InvalidCacheKey message, a made key that memcached cannot take: over 250
// bytes (namespace included) or holding a space, a control character or
// DEL. Non-ASCII keys are allowed, as in Django; their length counts in
// UTF-8 bytes, as pymemcache counts it.
func (d *Driver) CheckKey(made string) error {
	if len(d.ns)+len(made) <= MaxKeyLength && legalKey(made) {
		return nil
	}
	if w := djcache.KeyWarnings(made); len(w) > 0 {
		return &keyError{w[0]}
	}
	// Only the namespace makes it too long: show the key memcached would get.
	return &keyError{djcache.KeyWarnings(d.ns + made)[0]}
}

func legalKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if b := k[i]; b <= ' ' || b == 0x7f {
			return false
		}
	}
	return true
}

// wire returns the key memcached gets for a made key.
func (d *Driver) wire(made string) string {
	if d.ns == "" {
		return made
	}
	return d.ns + made
}

// errClosed is returned by a Driver's methods after Close.
var errClosed = djcache.ErrClosed

// start checks, before any I/O, that d is open and ctx is live.
func (d *Driver) start(ctx context.Context) error {
	if d.closed.Load() {
		return errClosed
	}
	return ctx.Err()
}

// call is one gomemcache call's arguments, for run.
type call struct {
	c     *memcache.Client
	key   string
	keys  []string
	item  *memcache.Item
	exp   int32
	delta uint64
	up    bool
}

// result is what a call run in a goroutine sends back.
type result[T any] struct {
	v   T
	err error
}

// detach reports whether a call on ctx runs in a goroutine of its own, so
// that it can return as soon as ctx ends (see run). A single-key call does
// only when ctx has a deadline that the call could outlive: sooner than
// three client timeouts (a dial, a write and a read), the most the call can
// last. Otherwise it runs in the calling goroutine, which costs nothing (a
// goroutine and its wake-ups cost a third of a loopback round trip on a busy
// machine, see bench/memcached.md): ctx is checked before it, and a cancellation during
// it is seen when it ends, within the client's timeout. A many-key call
// (many is true), whose length depends on the number of keys, detaches
// whenever ctx can end.
func (d *Driver) detach(ctx context.Context, many bool) bool {
	if ctx.Done() == nil {
		return false
	}
	if many {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 3*d.timeout
}

// run runs f(c), a gomemcache call, so that it honours ctx although
// gomemcache takes no context. f is a plain function, not a closure, so
// nothing is allocated for it. Unless detach is true (see Driver.detach),
// f runs in the calling goroutine. Otherwise f runs in a goroutine of its
// own and run returns ctx's error as soon as ctx ends: the call itself
// cannot be interrupted and finishes (or fails on the client's Timeout) in
// the background, its result discarded. f must therefore own everything it
// touches: callers copy the values they pass (see own).
func run[T any](ctx context.Context, detach bool, f func(call) (T, error), c call) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if !detach {
		v, err := f(c)
		if err != nil && ctx.Err() != nil {
			// Cancelled during the call: say so, with what the call met.
			return v, fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return v, err
	}
	ch := make(chan result[T], 1)
	bg := c // only the goroutine's copy escapes
	go func() {
		v, err := f(bg)
		ch <- result[T]{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// own returns b, or a copy of it for a detached call (see run), which may
// outlive its caller, who may reuse b's memory once the call returns.
func own(detach bool, b []byte) []byte {
	if !detach {
		return b
	}
	return append([]byte(nil), b...)
}

// The calls. Get and Set, which are safe to repeat, run again once if they
// failed on a pooled connection that the server had closed (it restarted).

func getCall(c call) (*memcache.Item, error) {
	it, err := c.c.Get(c.key)
	if err != nil && staleConn(err) {
		it, err = c.c.Get(c.key)
	}
	return it, err
}

func getMultiCall(c call) (map[string]*memcache.Item, error) {
	m, err := c.c.GetMulti(c.keys)
	if err != nil && staleConn(err) {
		m, err = c.c.GetMulti(c.keys)
	}
	return m, err
}

func setCall(c call) (struct{}, error) {
	err := c.c.Set(c.item)
	if err != nil && staleConn(err) {
		err = c.c.Set(c.item)
	}
	return struct{}{}, err
}

func addCall(c call) (struct{}, error)    { return struct{}{}, c.c.Add(c.item) }
func touchCall(c call) (struct{}, error)  { return struct{}{}, c.c.Touch(c.key, c.exp) }
func deleteCall(c call) (struct{}, error) { return struct{}{}, c.c.Delete(c.key) }
func flushCall(c call) (struct{}, error)  { return struct{}{}, c.c.FlushAll() }

// incrCall is incr (up) or decr by delta. A result beyond int64, or an incr
// that wrapped past 2^64, is taken back and gives ErrOverflow: incr by
// 2^64-delta is decr by delta modulo 2^64.
func incrCall(c call) (uint64, error) {
	var n uint64
	var err error
	if c.up {
		n, err = c.c.Increment(c.key, c.delta)
	} else {
		n, err = c.c.Decrement(c.key, c.delta)
	}
	wrapped := c.up && n < c.delta
	if err != nil || (n <= math.MaxInt64 && !wrapped) {
		return n, err
	}
	switch {
	case wrapped:
		_, err = c.c.Increment(c.key, -c.delta)
	case c.up:
		_, err = c.c.Decrement(c.key, c.delta)
	default:
		_, err = c.c.Increment(c.key, c.delta)
	}
	if err != nil {
		// memcached's incr and decr read a counter above 2^63 with a
		// check (safe_strtoull's search for a '-') that runs past the
		// value into whatever memory follows, so they sometimes call
		// the sum they just stored "non-numeric". Put the old value back
		// with a compare-and-swap instead.
		var orig uint64
		if c.up {
			orig = n - c.delta
		} else {
			orig = n + c.delta
		}
		if cerr := restoreCounter(c, n, orig); cerr != nil {
			return 0, fmt.Errorf("%w (and taking the change back failed: %v; then %v)", driver.ErrOverflow, err, cerr)
		}
	}
	return 0, driver.ErrOverflow
}

// restoreCounter replaces the counter c.key holding n by orig, unless
// another writer changed it meanwhile (then its value stands).
func restoreCounter(c call, n, orig uint64) error {
	for range 10 {
		it, err := c.c.Get(c.key)
		if err != nil {
			return err
		}
		if v, err := strconv.ParseUint(strings.TrimRight(string(it.Value), " "), 10, 64); err != nil || v != n {
			return nil // changed by another writer: not ours to take back
		}
		it.Value = strconv.AppendUint(nil, orig, 10)
		switch err := c.c.CompareAndSwap(it); {
		case err == nil:
			return nil
		case !errors.Is(err, memcache.ErrCASConflict):
			return err
		}
	}
	return errors.New("the counter kept changing")
}

// staleConn reports an error of a connection the server closed.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// netError reports an error of the connection rather than a reply of the
// server.
func netError(err error) bool {
	var ne net.Error
	var cte *memcache.ConnectTimeoutError // not a net.Error
	return errors.As(err, &ne) || errors.As(err, &cte) || staleConn(err) || errors.Is(err, memcache.ErrNoServers)
}

// mapErr turns gomemcache's errors into the driver's.
func mapErr(err error) error {
	if errors.Is(err, memcache.ErrMalformedKey) {
		return fmt.Errorf("%w: %v", driver.ErrInvalidKey, err)
	}
	return err
}

// maxRelative is memcached's REALTIME_MAXDELTA: an exptime up to 30 days is
// relative, a larger one an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// exptime converts an absolute expiry to memcached's exptime (Django's
// rules): 0 never expires; a timeout of up to 30 days is relative, rounded
// up to whole seconds (so a sub-second one is 1 s); a longer one is an
// absolute Unix time, rounded up and capped at 2038-01-19 (memcached's
// exptime is 32 bits). An exp at or before now gives -1 and expired: the
// entry expires at once.
func exptime(exp, now time.Time) (e int32, expired bool) {
	if exp.IsZero() {
		return 0, false
	}
	d := exp.Sub(now)
	if d <= 0 {
		return -1, true
	}
	secs := d / time.Second
	if d%time.Second != 0 {
		secs++
	}
	if secs <= maxRelative {
		return int32(secs), false
	}
	u := exp.Unix()
	if exp.Nanosecond() > 0 {
		u++
	}
	return int32(min(u, math.MaxInt32)), false
}

// Get implements driver.Driver.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := d.start(ctx); err != nil {
		return nil, false, err
	}
	it, err := run(ctx, d.detach(ctx, false), getCall, call{c: d.client, key: d.wire(key)})
	if err != nil {
		if errors.Is(err, memcache.ErrCacheMiss) {
			return nil, false, nil
		}
		return nil, false, mapErr(err)
	}
	return fromItem(it.Flags, it.Value), true, nil
}

// tooLarge is the error of a value over Options.MaxValueSize.
func (d *Driver) tooLarge(n int) error {
	return fmt.Errorf("value of %d bytes is over the limit of %d bytes (memcached's item size, 1 MB by default; see Options.MaxValueSize and memcached -I)", n, d.maxValue)
}

// Set implements driver.Driver. A value the server or MaxValueSize refuses
// returns an error and removes the key's old value (Django's rule: a failed
// set never leaves a stale value). An exp already passed deletes the key.
func (d *Driver) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	wk := d.wire(key)
	e, expired := exptime(exp, time.Now())
	if expired {
		_, err := d.delete(ctx, wk)
		return err
	}
	if d.maxValue >= 0 && len(value) > d.maxValue {
		d.delete(ctx, wk)
		return d.tooLarge(len(value))
	}
	flags, payload := toItem(value, d.pickle)
	detach := d.detach(ctx, false)
	it := &memcache.Item{Key: wk, Value: own(detach, payload), Flags: flags, Expiration: e}
	if _, err := run(ctx, detach, setCall, call{c: d.client, item: it}); err != nil {
		if ctx.Err() == nil && !netError(err) {
			// The server refused the value (too large, out of memory):
			// leave no stale value behind.
			d.delete(ctx, wk)
			return fmt.Errorf("server refused the value of %d bytes: %w", len(payload), mapErr(err))
		}
		return mapErr(err)
	}
	return nil
}

// Add implements driver.Driver with memcached's add. With an exp already
// passed it sends exptime -1: the server stores nothing visible and still
// answers whether the key was absent.
func (d *Driver) Add(ctx context.Context, key string, value []byte, exp time.Time) (bool, error) {
	if err := d.start(ctx); err != nil {
		return false, err
	}
	if d.maxValue >= 0 && len(value) > d.maxValue {
		return false, d.tooLarge(len(value))
	}
	e, _ := exptime(exp, time.Now())
	flags, payload := toItem(value, d.pickle)
	detach := d.detach(ctx, false)
	it := &memcache.Item{Key: d.wire(key), Value: own(detach, payload), Flags: flags, Expiration: e}
	_, err := run(ctx, detach, addCall, call{c: d.client, item: it})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrNotStored):
		return false, nil
	}
	return false, mapErr(err)
}

// Touch implements driver.Driver with memcached's touch; an exp already
// passed sends exptime -1, which expires a live entry.
func (d *Driver) Touch(ctx context.Context, key string, exp time.Time) (bool, error) {
	if err := d.start(ctx); err != nil {
		return false, err
	}
	e, _ := exptime(exp, time.Now())
	_, err := run(ctx, d.detach(ctx, false), touchCall, call{c: d.client, key: d.wire(key), exp: e})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, mapErr(err)
}

// Delete implements driver.Driver.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	if err := d.start(ctx); err != nil {
		return false, err
	}
	return d.delete(ctx, d.wire(key))
}

func (d *Driver) delete(ctx context.Context, wk string) (bool, error) {
	_, err := run(ctx, d.detach(ctx, false), deleteCall, call{c: d.client, key: wk})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, mapErr(err)
}

// Incr implements driver.Driver with memcached's incr, or decr for a
// negative delta; both keep the entry's expiry and flags. memcached's
// counters are unsigned 64-bit: decr stops at 0, and a stored negative
// integer (or anything not made of decimal digits) gives ErrNotInteger. A
// result beyond the int64 range is taken back and gives ErrOverflow.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := d.start(ctx); err != nil {
		return 0, err
	}
	c := call{c: d.client, key: d.wire(key), up: delta >= 0, delta: uint64(delta)}
	if !c.up {
		c.delta = uint64(-(delta + 1)) + 1 // |delta|, also for MinInt64
	}
	n, err := run(ctx, d.detach(ctx, false), incrCall, c)
	if err != nil {
		return 0, incrErr(err)
	}
	return int64(n), nil
}

// incrErr maps incr and decr errors: a miss is ErrNotFound, memcached's
// "non-numeric value" ErrNotInteger.
func incrErr(err error) error {
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return driver.ErrNotFound
	case strings.Contains(err.Error(), "non-numeric value"):
		msg := strings.TrimPrefix(err.Error(), "memcache: client error: ")
		return fmt.Errorf("%w (memcached: %s)", driver.ErrNotInteger, msg)
	}
	return mapErr(err)
}

// GetMany implements driver.GetManyDriver: one multi-get per server, the
// servers in parallel (gomemcache's GetMulti).
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	wks := keys
	if d.ns != "" {
		// The wire keys, as strings over one buffer that is never modified.
		n := 0
		for _, k := range keys {
			n += len(d.ns) + len(k)
		}
		buf := make([]byte, 0, n)
		wks = make([]string, len(keys))
		for i, k := range keys {
			start := len(buf)
			buf = append(append(buf, d.ns...), k...)
			wks[i] = unsafe.String(unsafe.SliceData(buf[start:]), len(buf)-start)
		}
	}
	items, err := run(ctx, d.detach(ctx, true), getMultiCall, call{c: d.client, keys: wks})
	if err != nil {
		return nil, mapErr(err)
	}
	m := make(map[string][]byte, len(items))
	for wk, it := range items {
		m[wk[len(d.ns):]] = fromItem(it.Flags, it.Value)
	}
	return m, nil
}

// byServer groups indexes 0..n-1 by the server of key(i), or puts them in
// one group when d cannot tell the servers (a Client of the caller's, whose
// selector may differ).
func (d *Driver) byServer(n int, key func(int) string) [][]int {
	if !d.ownClient || len(d.sel.nodes) == 1 {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return [][]int{all}
	}
	groups := make([][]int, len(d.sel.nodes))
	for i := range n {
		s := d.sel.pick(key(i))
		groups[s] = append(groups[s], i)
	}
	return groups
}

// SetMany implements driver.SetManyDriver: the items of each server are set
// one after another, the servers in parallel. failed lists the keys not
// stored (refused, too large, or on a server that failed), and err is the
// first error, as the one-by-one fallback reports them. A key the server
// refused loses its old value (Django's rule).
func (d *Driver) SetMany(ctx context.Context, items []driver.Item) (failed []string, err error) {
	if err := d.start(ctx); err != nil {
		return nil, err
	}
	var (
		mu       sync.Mutex // protects failed and firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	for _, g := range d.byServer(len(items), func(i int) string { return d.wire(items[i].Key) }) {
		if len(g) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range g {
				it := items[i]
				if err := d.Set(ctx, it.Key, it.Value, it.Expires); err != nil {
					mu.Lock()
					failed = append(failed, it.Key)
					if firstErr == nil {
						firstErr = fmt.Errorf("%q: %w", it.Key, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed, firstErr
}

// DeleteMany implements driver.DeleteManyDriver: the keys of each server
// are deleted one after another, the servers in parallel.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	if err := d.start(ctx); err != nil {
		return err
	}
	var (
		mu       sync.Mutex // protects firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	for _, g := range d.byServer(len(keys), func(i int) string { return d.wire(keys[i]) }) {
		if len(g) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range g {
				if _, err := d.delete(ctx, d.wire(keys[i])); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// Close implements driver.Driver: it closes the idle connections of a
// client New built (a Client given in Options is left to its owner).
// Calls after Close fail with djcache.ErrClosed. Close is idempotent.
func (d *Driver) Close() error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	if d.ownClient {
		return d.client.Close()
	}
	return nil
}
