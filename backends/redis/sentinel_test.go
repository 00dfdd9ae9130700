package redis

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/internal/testenv"
)

const masterName = "djcache"

// needSentinel skips the test (fails it under CI) when the sentinels are
// unreachable.
func needSentinel(t testing.TB) {
	t.Helper()
	testenv.NeedTCP(t, "Redis Sentinel", sentinelAddrs[0], howTo)
}

// eventually calls f every 100ms until it reports true, or fails the test
// after d.
func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) }()
	for deadline := time.Now().Add(d); !f(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

// TestSentinelFailover writes and reads through a Sentinel URL, makes the
// sentinels fail the master over to its replica, and checks that the cache
// finds the new master by itself: the entry written before is there, and
// writes go to the new master. It leaves the new master with its replica
// connected (the old master), a working setup for the next run.
func TestSentinelFailover(t *testing.T) {
	t.Parallel() // mostly waiting for the sentinels
	needSentinel(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	sentinel := goredis.NewSentinelClient(&goredis.Options{Addr: sentinelAddrs[0]})
	defer sentinel.Close()
	masterAddr := func() string {
		a, err := sentinel.GetMasterAddrByName(ctx, masterName).Result()
		if err != nil || len(a) != 2 {
			return ""
		}
		return net.JoinHostPort(a[0], a[1])
	}
	// replica reports whether the master at addr has a replica connected,
	// and with online whether the replica has finished its sync.
	replica := func(addr string, online bool) bool {
		m := goredis.NewClient(&goredis.Options{Addr: addr})
		defer m.Close()
		info, err := m.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "role:master") {
			return false
		}
		if online {
			return strings.Contains(info, "state=online")
		}
		return !strings.Contains(info, "connected_slaves:0")
	}
	old := masterAddr()
	if old == "" {
		testenv.Unavailable(t, "Sentinel master "+masterName, "SENTINEL GET-MASTER-ADDR-BY-NAME failed", howTo)
	}
	eventually(t, 30*time.Second, "the master "+old+" has a replica in sync", func() bool { return replica(old, true) })

	c, err := djcache.Open("redis://" + sentinelAddrs[0] + "?master_name=" + masterName +
		"&addr=" + sentinelAddrs[1] + "&addr=" + sentinelAddrs[2] +
		"&key_prefix=" + url.QueryEscape(uniqueName("sentinel")) + "&max_retries=5")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(context.Background())
	client := c.Driver().(*Driver).Client()
	port := func() string {
		v, err := client.ConfigGet(ctx, "port").Result()
		if err != nil {
			return ""
		}
		return v["port"]
	}
	if _, p, _ := net.SplitHostPort(old); port() != p {
		t.Fatalf("the cache talks to port %s, the sentinels' master is %s", port(), old)
	}
	if err := c.Set(ctx, "before", "v1", djcache.Forever); err != nil {
		t.Fatal(err)
	}
	if v, found, err := djcache.Get[string](ctx, c, "before"); v != "v1" || !found || err != nil {
		t.Fatalf("Get(before) = %q, %v, %v", v, found, err)
	}
	// Replication is asynchronous: wait until the replica has the entry.
	if n, err := client.Do(ctx, "WAIT", 1, 5000).Int64(); err != nil || n < 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", n, err)
	}

	eventually(t, 20*time.Second, "SENTINEL FAILOVER accepted", func() bool {
		err := sentinel.Failover(ctx, masterName).Err()
		if err != nil {
			t.Logf("SENTINEL FAILOVER: %v", err)
		}
		return err == nil
	})
	var now string
	eventually(t, 30*time.Second, "the sentinels name a new master", func() bool {
		now = masterAddr()
		return now != "" && now != old
	})
	t.Logf("failover: %s -> %s", old, now)
	_, newPort, _ := net.SplitHostPort(now)

	// Writes reach the new master by themselves (calls may fail while the
	// roles change). A write that the old master took just before its
	// demotion is lost when it resyncs from the new one, as with any
	// Redis failover: the check is that writes are kept once the client
	// has moved, so it writes again until one is read back there.
	eventually(t, 30*time.Second, "a write on the new master is kept", func() bool {
		if port() != newPort || c.Set(ctx, "after", "v2", djcache.Forever) != nil || port() != newPort {
			return false
		}
		v, found, err := djcache.Get[string](ctx, c, "after")
		return err == nil && found && v == "v2"
	})
	if v, found, err := djcache.Get[string](ctx, c, "before"); v != "v1" || !found || err != nil {
		t.Errorf("Get(before) after the failover = %q, %v, %v; want v1", v, found, err)
	}
	if n, err := c.Incr(ctx, "counter", 1); err == nil || n != 0 {
		t.Errorf("Incr of a missing key = %d, %v; want ErrNotFound", n, err)
	}

	// Leave a working setup: the old master now replicates the new one
	// (its first sync may take a few more seconds; the next run waits).
	eventually(t, 30*time.Second, "the new master "+now+" has a replica", func() bool { return replica(now, false) })
}
