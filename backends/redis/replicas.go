package redis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// Read replicas, as Django's RedisCache uses them: with several LOCATIONs,
// Django writes to the first (every command but get, get_many and has_key)
// and reads from one of the others, picked at random for each call (never
// from the first). [Options].Replicas does the same, and a URL's replica
// parameters (one per replica, HOST[:PORT]) make those clients with the
// URL's other settings: user, password, database, TLS, timeouts and pool.
// A pasted CACHES alias with several Redis LOCATIONs becomes such a URL
// (see djcache.ParseSettings).
//
// What a replica changes, for djcache as for Django:
//
//   - a read may miss what was just written, or see what was just deleted,
//     until the replica has caught up (replication is asynchronous, usually
//     well under a millisecond on a local network); GetOrSet may then call
//     fill for a key another process (or the same one) has just filled;
//   - IncrVersion, TTL and the counters read the leader (a GET of the
//     value to move, an EXISTS inside the increment script), so they see
//     every write;
//   - a replica that is down fails the reads that go to it, as in Django:
//     there is no fallback to the leader, whose load the replicas are
//     there to take (Ping checks every replica, so a health check sees it).

// reader returns the client that serves a read (Get, GetMany, Has): one of
// Options.Replicas at random, or the client when there are none.
func (d *Driver) reader() goredis.UniversalClient {
	switch n := len(d.opts.Replicas); n {
	case 0:
		return d.c
	case 1:
		return d.opts.Replicas[0]
	default:
		return d.opts.Replicas[rand.IntN(n)]
	}
}

// closeReplicas closes Options.Replicas (with CloseClient).
func (d *Driver) closeReplicas() error {
	var errs []error
	for _, r := range d.opts.Replicas {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// pingReplicas pings every replica; an error names the replica's address
// when it is a client of one server.
func (d *Driver) pingReplicas(ctx context.Context) error {
	for _, r := range d.opts.Replicas {
		if err := r.Ping(ctx).Err(); err != nil {
			if c, ok := r.(*goredis.Client); ok {
				return fmt.Errorf("replica %s: %w", c.Options().Addr, err)
			}
			return fmt.Errorf("replica: %w", err)
		}
	}
	return nil
}

// replicaAddrs checks the values of a URL's replica parameters and returns
// them as host:port, the port defaulting to 6379 as in the URL's host.
func replicaAddrs(vals []string) ([]string, error) {
	addrs := make([]string, 0, len(vals))
	for _, v := range vals {
		if v == "" || strings.ContainsAny(v, "/?#@") {
			return nil, fmt.Errorf("djcache: redis: URL parameter replica=%q: want HOST[:PORT] (the replica shares the URL's user, password, database and parameters)", v)
		}
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			// No port (or a bare IPv6 address).
			host, port = strings.Trim(v, "[]"), "6379"
		}
		if host == "" {
			return nil, fmt.Errorf("djcache: redis: URL parameter replica=%q: no host", v)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	return addrs, nil
}

// replicaClients returns a client per replica address, each with o's
// options (as parsed from the URL, before any client used them) but the
// address, and the TLS server name of the replica's host.
func replicaClients(o *goredis.Options, addrs []string) []goredis.UniversalClient {
	clients := make([]goredis.UniversalClient, len(addrs))
	for i, addr := range addrs {
		ro := *o
		ro.Addr = addr
		if o.TLSConfig != nil {
			ro.TLSConfig = o.TLSConfig.Clone()
			ro.TLSConfig.ServerName, _, _ = net.SplitHostPort(addr)
		}
		clients[i] = goredis.NewClient(&ro)
	}
	return clients
}
