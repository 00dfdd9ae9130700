package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache/driver"
)

var _ driver.Sizer = (*Driver)(nil)

// sizeScanLimit is the most keys a database may hold (DBSIZE, summed over
// the masters of a Cluster or the shards of a Ring) for Size to walk them
// with SCAN.
const sizeScanLimit = 10_000

// Size implements driver.Sizer. It first asks DBSIZE, which costs one
// command per server. If the database holds at most 10,000 keys, it walks
// them with SCAN MATCH, with the pattern Clear uses (see Clear), and counts
// this cache's keys; Bytes is then the sum of their values' lengths
// (STRLEN, pipelined per SCAN batch). Above 10,000 keys a walk would cost
// too much for a quick look: Size then reports DBSIZE with Covers "the
// whole database" when the cache has neither a key prefix nor a namespace
// (its keys and any other application's in that database), and -1 for
// both counts otherwise. Likewise, a cache whose keys Clear cannot tell
// from others' (ErrClearScope) gets the whole database's DBSIZE.
func (d *Driver) Size(ctx context.Context, scope driver.Scope) (driver.Size, error) {
	total, err := d.dbSize(ctx)
	if err != nil {
		return driver.Size{}, fail(ctx, err)
	}
	whole := driver.Size{Entries: total, Bytes: -1, Covers: "the whole database"}
	match, keep, err := d.clearPattern(scope)
	if errors.Is(err, ErrClearScope) {
		return whole, nil
	}
	if err != nil {
		return driver.Size{}, err
	}
	if total > sizeScanLimit {
		if d.opts.Namespace == "" && scope.Prefix == "" {
			return whole, nil
		}
		return driver.UnknownSize, nil
	}
	var entries, bytes atomic.Int64
	count := func(ctx context.Context, node *goredis.Client) error {
		n, b, err := d.scanCount(ctx, node, match, keep)
		entries.Add(n)
		bytes.Add(b)
		return err
	}
	switch {
	case d.cluster != nil:
		err = d.cluster.ForEachMaster(ctx, count)
	case d.ring != nil:
		err = d.ring.ForEachShard(ctx, count)
	default:
		var n, b int64
		n, b, err = d.scanCount(ctx, d.c, match, keep)
		entries.Add(n)
		bytes.Add(b)
	}
	if err != nil {
		return driver.Size{}, fail(ctx, err)
	}
	return driver.Size{Entries: entries.Load(), Bytes: bytes.Load()}, nil
}

// dbSize returns DBSIZE, summed over every master of a Cluster or shard of
// a Ring.
func (d *Driver) dbSize(ctx context.Context) (int64, error) {
	if d.cluster == nil && d.ring == nil {
		return d.c.DBSize(ctx).Result()
	}
	var (
		mu    sync.Mutex // protects total
		total int64
	)
	size := func(ctx context.Context, node *goredis.Client) error {
		n, err := node.DBSize(ctx).Result()
		mu.Lock()
		total += n
		mu.Unlock()
		return err
	}
	if d.cluster != nil {
		return total, d.cluster.ForEachMaster(ctx, size)
	}
	return total, d.ring.ForEachShard(ctx, size)
}

// scanCount walks node's keys matching match, keeps those keep accepts (all
// if keep is nil), and returns their number and the sum of their values'
// lengths.
func (d *Driver) scanCount(ctx context.Context, node scanner, match string, keep func(string) bool) (n, size int64, err error) {
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return n, size, err
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
		if len(keys) > 0 {
			// Through the driver's client, which routes each key to the
			// node that owns its slot now.
			cmds := make([]*goredis.IntCmd, len(keys))
			if _, err := d.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
				for i, k := range keys {
					cmds[i] = p.StrLen(ctx, k)
				}
				return nil
			}); err != nil {
				return n, size, err
			}
			// A key gone since SCAN has length 0; it is counted, as it was
			// there.
			n += int64(len(keys))
			for _, c := range cmds {
				size += c.Val()
			}
		}
		if next == 0 {
			return n, size, nil
		}
		cursor = next
	}
}
