package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache/driver"
)

var _ driver.Pinger = (*Driver)(nil)

// Ping implements driver.Pinger with PING: to the server, or to the master
// of a client made by NewFailoverClient (which asks Sentinel for it first);
// on a Cluster to every node, masters and replicas, at once; on a Ring to
// every shard; and to every one of Options.Replicas. An error from one node
// of a Cluster or Ring, or from a replica, names its address. Ping stores
// nothing.
func (d *Driver) Ping(ctx context.Context) error {
	ping := func(ctx context.Context, node *goredis.Client) error {
		if err := node.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("node %s: %w", node.Options().Addr, err)
		}
		return nil
	}
	var err error
	switch {
	case d.cluster != nil:
		err = d.cluster.ForEachShard(ctx, ping)
	case d.ring != nil:
		err = d.ring.ForEachShard(ctx, ping)
	default:
		err = d.c.Ping(ctx).Err()
	}
	if err == nil {
		err = d.pingReplicas(ctx)
	}
	return fail(ctx, err)
}
