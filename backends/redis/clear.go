package redis

import (
	"context"
	"errors"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache/driver"
)

// scanCount is the COUNT hint of each SCAN of Clear, and so about the
// number of keys each UNLINK removes.
const scanCount = 1000

// ErrClearScope reports that Clear cannot tell this cache's keys from
// others': the cache has a custom key function and no key prefix, and the
// driver has no Namespace, ClearMatch or FlushDB to go by.
var ErrClearScope = errors.New("djcache: redis: clear: a cache with a custom key function and no key prefix cannot tell its keys from others' on a shared database; set a key prefix, Options.Namespace, Options.ClearMatch (clear_match=GLOB), or Options.FlushDB (clear=flushdb) to flush the whole database")

// Clear implements driver.Driver. It deletes this cache's keys and nothing
// else, with SCAN MATCH and UNLINK in batches of about 1000 keys, on every
// master of a Cluster:
//
//   - with a key prefix and the default key function, the keys
//     "PREFIX:VERSION:*" (VERSION an integer);
//   - with no prefix and the default key function, the keys ":VERSION:*",
//     which is what Django and djcache make without a prefix;
//   - with a custom key function, the keys "PREFIX:*" if there is a prefix,
//     and otherwise every key of Options.Namespace, or ErrClearScope if the
//     driver has no namespace either.
//
// Options.ClearMatch replaces these patterns, and Options.FlushDB replaces
// the scan with FLUSHDB. Keys are always looked for inside
// Options.Namespace. Keys written while Clear runs may survive it.
func (d *Driver) Clear(ctx context.Context, scope driver.Scope) error {
	if d.opts.FlushDB {
		return d.flushDB(ctx)
	}
	match, keep, err := d.clearPattern(scope)
	if err != nil {
		return err
	}
	scan := func(ctx context.Context, node *goredis.Client) error {
		return d.scanUnlink(ctx, node, match, keep)
	}
	switch {
	case d.cluster != nil:
		err = d.cluster.ForEachMaster(ctx, scan)
	case d.ring != nil:
		err = d.ring.ForEachShard(ctx, scan)
	default:
		err = d.scanUnlink(ctx, d.c, match, keep)
	}
	return fail(ctx, err)
}

// clearPattern returns the SCAN MATCH glob of the keys Clear deletes, and a
// finer test of the keys the glob returns (nil if every match goes).
func (d *Driver) clearPattern(scope driver.Scope) (match string, keep func(string) bool, err error) {
	ns := d.opts.Namespace
	switch {
	case d.opts.ClearMatch != "":
		return globEscape(ns) + d.opts.ClearMatch, nil, nil
	case scope.DefaultKeyFunc:
		head := ns + scope.Prefix + ":"
		return globEscape(head) + "[0-9-]*", func(k string) bool { return versioned(k, head) }, nil
	case scope.Prefix != "":
		return globEscape(ns+scope.Prefix) + ":*", nil, nil
	case ns != "":
		return globEscape(ns) + "*", nil, nil
	}
	return "", nil, ErrClearScope
}

// versioned reports whether k is head + VERSION + ":" + anything, VERSION
// being an optional "-" and decimal digits: the shape of the default key
// function's made keys.
func versioned(k, head string) bool {
	rest, ok := strings.CutPrefix(k, head)
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "-")
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i > 0 && i < len(rest) && rest[i] == ':'
}

// globEscape escapes the characters that are special in a Redis glob.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scanner is the part of a go-redis client that SCAN needs: the driver's
// client, or one node of a Cluster or Ring.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *goredis.ScanCmd
}

// scanUnlink walks node's keys matching match and unlinks those keep
// accepts, one batch per SCAN reply. Deleting during a SCAN is safe: SCAN
// still returns every key that exists for the whole walk.
func (d *Driver) scanUnlink(ctx context.Context, node scanner, match string, keep func(string) bool) error {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return err
		}
		if keep != nil {
			kept := keys[:0]
			for _, k := range keys {
				if keep(k) {
					kept = append(kept, k)
				}
			}
			keys = kept
		}
		// Unlink through the driver's client, which routes each key to the
		// node that owns its slot now, even if it moved during the walk.
		if err := d.unlink(ctx, keys); err != nil {
			return err
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// flushDB runs FLUSHDB on every master (Options.FlushDB).
func (d *Driver) flushDB(ctx context.Context) error {
	flush := func(ctx context.Context, node *goredis.Client) error {
		return node.FlushDB(ctx).Err()
	}
	var err error
	switch {
	case d.cluster != nil:
		err = d.cluster.ForEachMaster(ctx, flush)
	case d.ring != nil:
		err = d.ring.ForEachShard(ctx, flush)
	default:
		err = d.c.FlushDB(ctx).Err()
	}
	return fail(ctx, err)
}
