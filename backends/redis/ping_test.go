package redis_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/internal/testenv"
)

const pingHowTo = "run .ci/services as root to start Redis on 6379 and the Cluster on 7000-7002"

// TestPingClusterEveryNode: on a Cluster, Ping sends PING to every node,
// which each node's command statistics show.
func TestPingClusterEveryNode(t *testing.T) {
	addrs := []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}
	testenv.NeedTCP(t, "Redis Cluster", addrs[0], pingHowTo)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	c, err := djcache.New(redis.New(rdb, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil { // loads the Cluster's layout
		t.Fatalf("Ping: %v", err)
	}
	// The PING calls of each node (ForEachShard runs on the nodes at once).
	var (
		mu     sync.Mutex // protects nodes and before
		nodes  []string
		before = map[string]int{}
	)
	if err := rdb.ForEachShard(ctx, func(ctx context.Context, node *goredis.Client) error {
		n, err := pingCalls(ctx, node)
		mu.Lock()
		defer mu.Unlock()
		before[node.Options().Addr] = n
		nodes = append(nodes, node.Options().Addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(nodes) < len(addrs) {
		t.Fatalf("the Cluster has %d nodes (%v), want at least %d", len(nodes), nodes, len(addrs))
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	for _, addr := range nodes {
		node := goredis.NewClient(&goredis.Options{Addr: addr})
		n, err := pingCalls(ctx, node)
		node.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n <= before[addr] {
			t.Errorf("node %s: %d PING calls before Ping and %d after; want more", addr, before[addr], n)
		}
	}
}

// pingCalls returns how many PING commands node has served, from INFO
// commandstats.
func pingCalls(ctx context.Context, node *goredis.Client) (int, error) {
	info, err := node.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_ping:calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		return strconv.Atoi(n)
	}
	return 0, nil
}

// TestPingUnreachable: a wrong address shows at Ping.
func TestPingUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := djcache.Open("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = c.Ping(ctx)
	var oe *djcache.OpError
	if !errors.As(err, &oe) || oe.Op != "ping" || oe.Backend != "redis" || !strings.Contains(err.Error(), addr) {
		t.Errorf("Ping of %s where nothing listens: %v; want an *OpError ping on redis naming the address", addr, err)
	}
}

// TestPingDeadline: a server that accepts connections and never answers
// makes Ping fail when the context's deadline passes, with an error that
// errors.Is finds context.DeadlineExceeded in.
func TestPingDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex // protects conns
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	c, err := djcache.Open("redis://" + ln.Addr().String() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping of a silent server with a deadline: %v; want an error wrapping context.DeadlineExceeded", err)
	}
}
