package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache/driver"
)

// Options configures a Driver. A nil *Options means the zero value, whose
// fields all have the defaults documented on them.
type Options struct {
	// Namespace is prepended to every key the driver sends to Redis, in
	// front of the made key (and so of djcache's key prefix), and Clear
	// never reaches outside it. It isolates several caches, or tests, on one
	// shared database without changing the made keys that djcache and Django
	// compute. The default "" adds nothing, so that a Django app with the
	// same KEY_PREFIX reads the same entries. A namespace holding a hash tag
	// ("{shop}:") puts every key of the driver in one Cluster slot.
	Namespace string

	// ClearMatch, if not empty, is the SCAN MATCH glob (after Namespace)
	// of the keys Clear deletes, instead of the one Clear derives from the
	// cache's key prefix and key function. Set it when a custom key
	// function makes keys Clear cannot recognise.
	ClearMatch string

	// FlushDB makes Clear run FLUSHDB (on every master of a Cluster),
	// removing every key of the database, this cache's or not, as Django's
	// RedisCache does. The default deletes only this cache's keys.
	FlushDB bool

	// CloseClient makes Close close the client too. By default the client
	// belongs to the caller who passed it to New, and Close leaves it open;
	// a driver opened from a URL owns its client and closes it. It covers
	// Replicas too.
	CloseClient bool

	// Replicas are clients of read replicas of the client's server, each
	// of one server: Get, GetMany and Has go to one of them, picked at
	// random for each call, and every other command to the client, as
	// Django's RedisCache reads from the LOCATIONs after the first and
	// writes to the first. A read may then miss what was just written, or
	// see what was just deleted, until the replica has caught up (Redis
	// replication is asynchronous), as it does for Django. Empty (the
	// default): every command goes to the client. See replicas.go.
	Replicas []goredis.UniversalClient
}

// topology is how the driver spreads many-key commands over servers.
type topology uint8

const (
	topoSingle  topology = iota // one server (or a Sentinel's master): any keys in one command
	topoCluster                 // Redis Cluster: one command per hash slot
	topoOther                   // Ring or another client: one command per key
)

// Driver is a djcache driver over a go-redis client: one server, a Redis
// Cluster, a Sentinel-managed master or a Ring. It is safe for concurrent
// use.
type Driver struct {
	c       goredis.UniversalClient
	topo    topology
	cluster *goredis.ClusterClient // set when topo == topoCluster
	ring    *goredis.Ring          // set for a Ring (topoOther)
	opts    Options

	closeOnce sync.Once
	closeErr  error
}

var (
	_ driver.Driver           = (*Driver)(nil)
	_ driver.GetManyDriver    = (*Driver)(nil)
	_ driver.SetManyDriver    = (*Driver)(nil)
	_ driver.DeleteManyDriver = (*Driver)(nil)
	_ driver.HasDriver        = (*Driver)(nil)
	_ driver.ExpiryReader     = (*Driver)(nil)
	_ driver.Pickler          = (*Driver)(nil)
)

// UsePickle implements driver.Pickler. With the pickle serializer, exact
// integers (Go's integer types and *big.Int) are stored as decimal text and
// every other value, bool included, as a protocol-5 pickle: what Django's
// RedisCache and django-redis store, so that either side reads the other's
// values and INCRBY works on the counters of both.
func (d *Driver) UsePickle() driver.Kinds { return driver.KindsOf(driver.KindInt) }

// New returns a Driver over client, configured by o (nil means the
// defaults). It does no I/O. Any go-redis client works: *goredis.Client
// (one server, or NewFailoverClient's Sentinel-managed master),
// *goredis.ClusterClient and *goredis.Ring. Unless o.CloseClient is set,
// Close leaves client open for the caller to close. New panics if client is
// nil, as go-redis's constructors do on nil options.
func New(client goredis.UniversalClient, o *Options) *Driver {
	if client == nil {
		panic("djcache: redis: New: client is nil")
	}
	d := &Driver{c: client, topo: topoOther}
	if o != nil {
		d.opts = *o
	}
	switch c := client.(type) {
	case *goredis.Client:
		d.topo = topoSingle
	case *goredis.ClusterClient:
		d.topo, d.cluster = topoCluster, c
	case *goredis.Ring:
		d.ring = c
	}
	return d
}

// Client returns the go-redis client under d, for commands djcache does not
// have. Keys written through it are stored as they are: djcache's made keys
// are prefix:version:key, behind Options.Namespace.
func (d *Driver) Client() goredis.UniversalClient { return d.c }

// key returns the key sent to Redis for a made key.
func (d *Driver) key(k string) string {
	if d.opts.Namespace == "" {
		return k
	}
	return d.opts.Namespace + k
}

// keys returns the keys sent to Redis for made keys (keys itself when there
// is no namespace).
func (d *Driver) keys(ks []string) []string {
	if d.opts.Namespace == "" {
		return ks
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = d.opts.Namespace + k
	}
	return out
}

// lifetime returns the time left until exp, rounded up to a whole
// millisecond (Redis's precision), or 0 if exp has passed. go-redis turns it
// into PX milliseconds (EX seconds when it is whole seconds).
func lifetime(exp time.Time) time.Duration {
	d := time.Until(exp)
	if d <= 0 {
		return 0
	}
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// fail returns err, joined with the context's error when the context ended,
// so that errors.Is finds context.Canceled or context.DeadlineExceeded even
// when go-redis reports the failure as an I/O timeout.
func fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w: %w", ce, err)
	}
	return err
}

// Get implements driver.Driver with GET.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := d.reader().Get(ctx, d.key(key)).Bytes()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return nil, false, nil
		}
		return nil, false, fail(ctx, err)
	}
	return v, true, nil
}

// GetWithExpiry implements driver.ExpiryReader with GET and PTTL in one
// pipeline (one round trip).
func (d *Driver) GetWithExpiry(ctx context.Context, key string) ([]byte, time.Time, bool, error) {
	k := d.key(key)
	var (
		get  *goredis.StringCmd
		pttl *goredis.DurationCmd
	)
	_, err := d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, k)
		pttl = p.PTTL(ctx, k)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, time.Time{}, false, fail(ctx, err)
	}
	v, err := get.Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fail(ctx, err)
	}
	var exp time.Time
	switch t := pttl.Val(); {
	case t == -2: // expired between GET and PTTL
		return nil, time.Time{}, false, nil
	case t > 0:
		exp = time.Now().Add(t)
	case t == 0:
		exp = time.Now()
	}
	return v, exp, true, nil
}

// GetMany implements driver.GetManyDriver: one MGET on a single server; on
// a Cluster one MGET per hash slot, all in one pipeline, which go-redis sends
// to each node at once (one round trip per node, in parallel).
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	ks := d.keys(keys)
	m := make(map[string][]byte, len(keys))
	ns := len(d.opts.Namespace)
	r := d.reader()
	switch d.topo {
	case topoSingle:
		vals, err := r.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, fail(ctx, err)
		}
		collectValues(m, ns, [][]string{ks}, [][]any{vals})
	case topoCluster:
		groups := bySlot(ks)
		if len(groups) == 1 {
			vals, err := r.MGet(ctx, ks...).Result()
			if err != nil {
				return nil, fail(ctx, err)
			}
			collectValues(m, ns, groups, [][]any{vals})
			break
		}
		cmds := make([]*goredis.SliceCmd, len(groups))
		_, err := r.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = p.MGet(ctx, g...)
			}
			return nil
		})
		if err != nil {
			return nil, fail(ctx, err)
		}
		replies := make([][]any, len(cmds))
		for i, c := range cmds {
			replies[i] = c.Val()
		}
		collectValues(m, ns, groups, replies)
	default:
		cmds := make([]*goredis.StringCmd, len(ks))
		_, _ = r.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, k := range ks {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		for i, c := range cmds {
			v, err := c.Bytes()
			switch {
			case err == nil:
				m[keys[i]] = v
			case !errors.Is(err, goredis.Nil):
				return nil, fail(ctx, err)
			}
		}
	}
	return m, nil
}

// collectValues puts the values of MGET replies into m, under the keys of
// their groups without the first trim bytes (the namespace). The values
// share one new buffer, each slice capped at its own end, so that the caller
// owns each one (appending to one never touches another) for one
// allocation.
func collectValues(m map[string][]byte, trim int, groups [][]string, replies [][]any) {
	n := 0
	for _, vals := range replies {
		for _, v := range vals {
			if s, ok := v.(string); ok {
				n += len(s)
			}
		}
	}
	buf := make([]byte, 0, n)
	for g, vals := range replies {
		for i, v := range vals {
			if s, ok := v.(string); ok && i < len(groups[g]) {
				start := len(buf)
				buf = append(buf, s...)
				m[groups[g][i][trim:]] = buf[start:len(buf):len(buf)]
			}
		}
	}
}

// Has implements driver.HasDriver with EXISTS.
func (d *Driver) Has(ctx context.Context, key string) (bool, error) {
	n, err := d.reader().Exists(ctx, d.key(key)).Result()
	if err != nil {
		return false, fail(ctx, err)
	}
	return n > 0, nil
}

// Set implements driver.Driver with SET key value PX ms (no expiry for a
// zero exp, which also clears an earlier one), or DEL when exp has passed.
func (d *Driver) Set(ctx context.Context, key string, value []byte, exp time.Time) error {
	k := d.key(key)
	var err error
	if exp.IsZero() {
		err = d.c.Set(ctx, k, value, 0).Err()
	} else if ttl := lifetime(exp); ttl > 0 {
		err = d.c.Set(ctx, k, value, ttl).Err()
	} else {
		err = d.c.Del(ctx, k).Err()
	}
	return fail(ctx, err)
}

// Add implements driver.Driver with SET key value NX PX ms. When exp has
// passed it stores nothing and reports whether the key was absent (EXISTS).
func (d *Driver) Add(ctx context.Context, key string, value []byte, exp time.Time) (bool, error) {
	k := d.key(key)
	var ttl time.Duration
	if !exp.IsZero() {
		if ttl = lifetime(exp); ttl <= 0 {
			n, err := d.c.Exists(ctx, k).Result()
			if err != nil {
				return false, fail(ctx, err)
			}
			return n == 0, nil
		}
	}
	added, err := d.c.SetNX(ctx, k, value, ttl).Result()
	if err != nil {
		return false, fail(ctx, err)
	}
	return added, nil
}

// SetMany implements driver.SetManyDriver: one pipeline of SET (or DEL)
// commands, which go-redis splits by node on a Cluster. The pipeline is not
// a transaction: a key whose command failed is reported in failed.
func (d *Driver) SetMany(ctx context.Context, items []driver.Item) (failed []string, err error) {
	cmds := make([]goredis.Cmder, len(items))
	_, _ = d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, it := range items {
			k := d.key(it.Key)
			if it.Expires.IsZero() {
				cmds[i] = p.Set(ctx, k, it.Value, 0)
			} else if ttl := lifetime(it.Expires); ttl > 0 {
				cmds[i] = p.Set(ctx, k, it.Value, ttl)
			} else {
				cmds[i] = p.Del(ctx, k)
			}
		}
		return nil
	})
	for i, c := range cmds {
		if cerr := c.Err(); cerr != nil {
			failed = append(failed, items[i].Key)
			if err == nil {
				err = cerr
			}
		}
	}
	return failed, fail(ctx, err)
}

// Touch implements driver.Driver: PEXPIRE for a new lifetime; for no expiry
// PERSIST and EXISTS in one pipeline (PERSIST alone answers 0 for a key that
// already had no expiry, where Touch must report true); DEL when exp has
// passed.
func (d *Driver) Touch(ctx context.Context, key string, exp time.Time) (bool, error) {
	k := d.key(key)
	if exp.IsZero() {
		var exists *goredis.IntCmd
		_, err := d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			p.Persist(ctx, k)
			exists = p.Exists(ctx, k)
			return nil
		})
		if err != nil {
			return false, fail(ctx, err)
		}
		return exists.Val() > 0, nil
	}
	ttl := lifetime(exp)
	if ttl <= 0 {
		n, err := d.c.Del(ctx, k).Result()
		if err != nil {
			return false, fail(ctx, err)
		}
		return n > 0, nil
	}
	ok, err := d.c.PExpire(ctx, k, ttl).Result()
	if err != nil {
		return false, fail(ctx, err)
	}
	return ok, nil
}

// Delete implements driver.Driver with DEL.
func (d *Driver) Delete(ctx context.Context, key string) (bool, error) {
	n, err := d.c.Del(ctx, d.key(key)).Result()
	if err != nil {
		return false, fail(ctx, err)
	}
	return n > 0, nil
}

// DeleteMany implements driver.DeleteManyDriver: one UNLINK on a single
// server; on a Cluster one UNLINK per hash slot, in one pipeline.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) error {
	return d.unlink(ctx, d.keys(keys))
}

// unlink removes Redis keys (namespace included) in as few commands as the
// topology allows.
func (d *Driver) unlink(ctx context.Context, ks []string) error {
	if len(ks) == 0 {
		return nil
	}
	var err error
	switch d.topo {
	case topoSingle:
		err = d.c.Unlink(ctx, ks...).Err()
	case topoCluster:
		groups := bySlot(ks)
		if len(groups) == 1 {
			err = d.c.Unlink(ctx, ks...).Err()
			break
		}
		_, err = d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, g := range groups {
				p.Unlink(ctx, g...)
			}
			return nil
		})
	default:
		_, err = d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range ks {
				p.Unlink(ctx, k)
			}
			return nil
		})
	}
	return fail(ctx, err)
}

// incrScript is Incr in one round trip, atomic on the server: INCRBY only
// if the key exists (INCRBY alone would create it), which keeps the key's
// TTL. The sum goes back as the stored decimal text (a GET inside the
// script), because Lua numbers are doubles and would round sums beyond 2^53.
// When Redis refuses the value as "not an integer or out of range", a short
// value goes back in a table for the driver to tell an integer beyond int64
// (ErrOverflow) from a non-integer (ErrNotInteger).
var incrScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'not an integer', 1, true) and redis.call('STRLEN', KEYS[1]) <= 64 then
    return {0, redis.call('GET', KEYS[1])}
  end
  return r
end
return redis.call('GET', KEYS[1])
`)

// Incr implements driver.Driver with a Lua script (EXISTS, then INCRBY):
// atomic, one round trip, and the key keeps its TTL. A missing key gives
// driver.ErrNotFound, a value Redis does not take as a 64-bit integer
// driver.ErrNotInteger (or driver.ErrOverflow for a decimal integer beyond
// the int64 range), and a sum beyond it driver.ErrOverflow.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	v, err := incrScript.Run(ctx, d.c, []string{d.key(key)}, delta).Result()
	if err != nil {
		if errors.Is(err, goredis.Nil) {
			return 0, driver.ErrNotFound
		}
		return 0, fail(ctx, incrError(err))
	}
	switch v := v.(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("djcache: redis: incr script returned %q: %w", v, err)
		}
		return n, nil
	case []any:
		if len(v) == 2 {
			if s, ok := v[1].(string); ok {
				if _, perr := driver.ParseInt([]byte(s)); errors.Is(perr, driver.ErrOverflow) {
					return 0, driver.ErrOverflow
				}
			}
		}
		return 0, driver.ErrNotInteger
	}
	return 0, fmt.Errorf("djcache: redis: unexpected reply %T from the incr script", v)
}

// incrError maps Redis's INCRBY errors to djcache's sentinels.
func incrError(err error) error {
	var re goredis.Error
	if !errors.As(err, &re) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "would overflow"):
		return driver.ErrOverflow
	case strings.Contains(msg, "not an integer"):
		return driver.ErrNotInteger
	case strings.HasPrefix(msg, "WRONGTYPE"):
		return fmt.Errorf("%w (%s)", driver.ErrNotInteger, msg)
	}
	return err
}

// Close implements driver.Driver. It closes the client only if the driver
// owns it (opened from a URL, or Options.CloseClient); a second Close
// returns the first one's result.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		if d.opts.CloseClient {
			d.closeErr = d.c.Close()
			d.closeErr = errors.Join(d.closeErr, d.closeReplicas())
		}
	})
	return d.closeErr
}
