package redis

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
)

// TestReplicaURL: replica parameters give the driver one client per
// replica, with the URL's database, credentials and timeouts and the
// replica's address; the other forms refuse them.
func TestReplicaURL(t *testing.T) {
	u, _ := url.Parse("redis://:pw@10.0.0.1:6379/2?read_timeout=3s&pool_size=7&replica=10.0.0.2:6380&replica=10.0.0.3&replica=[::1]:7000")
	d, err := (&URLOpener{}).OpenDriverURL(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rs := d.(*Driver).opts.Replicas
	want := []string{"10.0.0.2:6380", "10.0.0.3:6379", "[::1]:7000"}
	if len(rs) != len(want) {
		t.Fatalf("%d replicas, want %d", len(rs), len(want))
	}
	for i, r := range rs {
		o := r.(*goredis.Client).Options()
		if o.Addr != want[i] || o.DB != 2 || o.Password != "pw" || o.ReadTimeout != 3*time.Second || o.PoolSize != 7 || o.DialTimeout != DefaultDialTimeout {
			t.Errorf("replica %d: addr %s, db %d, password %q, read timeout %v, pool size %d, dial timeout %v",
				i, o.Addr, o.DB, o.Password, o.ReadTimeout, o.PoolSize, o.DialTimeout)
		}
	}
	if o := d.(*Driver).c.(*goredis.Client).Options(); o.Addr != "10.0.0.1:6379" {
		t.Errorf("leader's address %s", o.Addr)
	}

	for _, tc := range []struct{ url, want string }{
		{"redis://h:6379?addr=h2:6379&replica=h3", "only the single-server form has replicas"},
		{"redis://h:26379?master_name=m&replica=h3", "only the single-server form has replicas"},
		{"redis://h:6379?replica=redis://h2:6379", "want HOST[:PORT]"},
		{"redis://h:6379?replica=", "want HOST[:PORT]"},
		{"redis://h:6379?replica=:6380", "no host"},
	} {
		u, _ := url.Parse(tc.url)
		if _, err := parseURL(u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseURL(%s) = %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
}

// replicaOf makes s a replica of leader, writable (replica-read-only no)
// so that a test can put a key on the replica alone, and waits for the
// replication link.
func replicaOf(t *testing.T, s, leader *server) *goredis.Client {
	t.Helper()
	ctx := context.Background()
	// The leader sends its first sync at once, not after the default 5s
	// that gives more replicas the time to join one transfer.
	lc := goredis.NewClient(&goredis.Options{Addr: leader.addr()})
	defer lc.Close()
	if err := lc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr()})
	t.Cleanup(func() { c.Close() })
	if err := c.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(leader.port)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "replication link of "+s.addr(), func() bool {
		info, _ := c.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})
	return c
}

// synced returns once every write the leader took so far has reached its
// n replicas: a write of this connection, then WAIT on the same
// connection (replication is in order, so the earlier writes of every
// connection are there too).
func synced(t *testing.T, leader *goredis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	var wait *goredis.Cmd
	if _, err := leader.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, "djcache-test-sync")
		wait = p.Do(ctx, "WAIT", n, 30000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, _ := wait.Int64(); got < int64(n) {
		t.Fatalf("WAIT: %d replicas have the leader's writes, want %d", got, n)
	}
}

// TestReplicaReads: with two real replicas of a leader (redis-server
// children on free ports), Get, GetMany and Has read one of the replicas
// at random and never the leader, and every other command goes to the
// leader, through New and through a URL. Each replica holds a key of its
// own (written on the replica alone), which tells who answered.
func TestReplicaReads(t *testing.T) {
	ctx := context.Background()
	leaderSrv, r1Srv, r2Srv := startServer(t), startServer(t), startServer(t)
	r1, r2 := replicaOf(t, r1Srv, leaderSrv), replicaOf(t, r2Srv, leaderSrv)
	leader := goredis.NewClient(&goredis.Options{Addr: leaderSrv.addr()})
	t.Cleanup(func() { leader.Close() })

	rawURL := "redis://" + leaderSrv.addr() + "?replica=" + r1Srv.addr() + "&replica=" + r2Srv.addr()
	viaURL, err := djcache.Open(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer viaURL.Close()
	viaNew, err := djcache.New(New(leader, &Options{Replicas: []goredis.UniversalClient{r1, r2}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*djcache.Cache{"URL": viaURL, "New": viaNew} {
		t.Run(name, func(t *testing.T) {
			// "who" is on each replica alone, with the replica's name.
			made := djcache.DefaultKeyFunc("who-"+name, "", 1)
			r1.Set(ctx, made, "r1", 0)
			r2.Set(ctx, made, "r2", 0)
			seen := map[string]int{}
			for range 64 {
				var who string
				found, err := c.Get(ctx, "who-"+name, &who)
				if err != nil || !found {
					t.Fatalf("Get of a key on the replicas alone = %q, %v, %v (a read went to the leader?)", who, found, err)
				}
				seen[who]++
				if ok, err := c.Has(ctx, "who-"+name); !ok || err != nil {
					t.Fatalf("Has of a key on the replicas alone = %v, %v", ok, err)
				}
				m, err := djcache.GetMany[string](ctx, c, []string{"who-" + name})
				if err != nil || m["who-"+name] == "" {
					t.Fatalf("GetMany of a key on the replicas alone = %v, %v", m, err)
				}
			}
			if seen["r1"] == 0 || seen["r2"] == 0 {
				t.Errorf("Get read the replicas %v times; want both", seen)
			}
			// Writes and counters go to the leader, which lacks the key.
			if _, err := c.Incr(ctx, "who-"+name, 1); !errors.Is(err, djcache.ErrNotFound) {
				t.Errorf("Incr of a key on the replicas alone: %v; want ErrNotFound (the leader's view)", err)
			}
			if ok, err := c.Delete(ctx, "who-"+name); ok || err != nil {
				t.Errorf("Delete of a key on the replicas alone = %v, %v; want false (the leader's view)", ok, err)
			}
			if added, err := c.Add(ctx, "who-"+name, "leader"); !added || err != nil {
				t.Errorf("Add of a key on the replicas alone = %v, %v; want true (the leader's view)", added, err)
			}
			if v, _ := leader.Get(ctx, made).Result(); !strings.Contains(v, "leader") {
				t.Errorf("the leader holds %q after Add", v)
			}
			// Once replicated, the write is what the replicas serve.
			synced(t, leader, 2)
			for range 8 {
				var v string
				if found, err := c.Get(ctx, "who-"+name, &v); !found || err != nil || v != "leader" {
					t.Fatalf("Get after the Add replicated = %q, %v, %v", v, found, err)
				}
			}
			if n, err := c.Incr(ctx, "n-"+name, 0); err == nil || n != 0 {
				t.Errorf("Incr of a missing counter = %d, %v", n, err)
			}
			if err := c.Set(ctx, "n-"+name, 41); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Incr(ctx, "n-"+name, 1); n != 42 || err != nil {
				t.Errorf("Incr right after Set = %d, %v; want 42 (counters read the leader)", n, err)
			}
		})
	}

	// Ping checks the replicas too, and names the one that fails.
	if err := viaURL.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	r2Srv.stop()
	if err := viaURL.Ping(ctx); err == nil || !strings.Contains(err.Error(), r2Srv.addr()) {
		t.Errorf("Ping with a replica down = %v; want an error naming %s", err, r2Srv.addr())
	}
}
