package djcache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// The calls that Django's cache API lacks: Ping, for health checks, and
// TTL, django-redis's ttl().

// pingKey is the key that Ping reads on a driver that is not a
// driver.Pinger. It holds no ":", so Django's key function never makes it.
const pingKey = "djcache-ping"

// Ping checks that the cache's backend is reachable and usable, for health
// checks and readiness probes: [Open] does no I/O, so without Ping a wrong
// address, password or path shows only at the first call. It makes a round
// trip to every server the backend uses and checks there what the other
// calls need, and it stores nothing:
//
//   - redis: PING to the server, to the master found through Sentinel, or
//     to every node of a Cluster;
//   - memcached: the version command to every server;
//   - db: a round trip to the database, then the cache table, read as a
//     read finds it: a missing table is an error wrapping db.ErrNoTable,
//     since reads fail on it (Ping never creates it; createcachetable or
//     the first write does);
//   - filebased: the directory is a directory, and a temporary file can be
//     written in it (the directory is created if missing, as the first
//     write would);
//   - locmem, dummy: nothing to reach; Ping returns nil.
//
// A backend whose driver does not implement [driver.Pinger] (a third-party
// one) gets instead the read of one key that no Cache makes,
// "djcache-ping", which reaches the one server that key maps to.
//
// The error is an [*OpError] with Op "ping" that names the backend; the
// cause names the server, table or directory that failed. When ctx ends
// during the call, errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) holds, whatever the backend's I/O error says.
func (c *Cache) Ping(ctx context.Context) (err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "ping", "", now(), nil, nil, &err)
	}
	if err := c.enter(ctx, "ping"); err != nil {
		return err
	}
	switch {
	case c.pinger != nil:
		err = c.pinger.Ping(ctx)
	case c.has != nil:
		_, err = c.has.Has(ctx, pingKey)
	default:
		_, _, err = c.drv.Get(ctx, pingKey)
	}
	return c.opError("ping", "", withContext(ctx, err))
}

// NeverExpires is the TTL of an entry that never expires: one stored with
// [Forever] (Django's timeout=None), or with a timeout of 100 years or more,
// which counts as Forever. It is the largest Duration, so that comparisons
// such as ttl < time.Minute read naturally.
const NeverExpires time.Duration = math.MaxInt64

// TTL returns the time that key's entry has left to live (django-redis's
// ttl()), as precisely as the backend keeps expiry times (SQL tables keep
// whole seconds). The result is:
//
//   - a positive duration for an entry that expires;
//   - [NeverExpires] for one that never does;
//   - 0 and an error wrapping [ErrNotFound] for a missing or expired key;
//   - 0 and an error wrapping [ErrNotSupported] on a backend that cannot
//     read expiry times (its driver does not implement
//     [driver.ExpiryReader]: memcached), before any I/O.
//
// Errors are [*OpError] values with Op "ttl". A Version option selects the
// key's version; Timeout and Forever options are ignored. TTL reads the
// entry, value included, and counts neither a hit nor a miss.
func (c *Cache) TTL(ctx context.Context, key string, opts ...Option) (ttl time.Duration, err error) {
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "ttl", key, now(), nil, nil, &err)
	}
	co := c.options(opts)
	made, err := c.prepare(ctx, "ttl", key, co.version)
	if err != nil {
		return 0, err
	}
	if c.expReader == nil {
		return 0, &OpError{Op: "ttl", Backend: c.backend, Key: made,
			Err: fmt.Errorf("%w: it cannot read an entry's expiry time", ErrNotSupported)}
	}
	_, exp, found, err := c.expReader.GetWithExpiry(ctx, made)
	if err != nil {
		return 0, c.opError("ttl", made, withContext(ctx, err))
	}
	if !found {
		return 0, &OpError{Op: "ttl", Backend: c.backend, Key: made, Err: ErrNotFound}
	}
	if exp.IsZero() {
		return NeverExpires, nil
	}
	ttl = exp.Sub(now())
	if ttl <= 0 {
		// Expired between the driver's check and ours.
		return 0, &OpError{Op: "ttl", Backend: c.backend, Key: made, Err: ErrNotFound}
	}
	return ttl, nil
}

// withContext returns err, joined with ctx's error when ctx has ended and
// err does not already wrap it, so that errors.Is finds
// context.DeadlineExceeded even when a backend reports only the I/O timeout
// the deadline caused.
func withContext(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}
