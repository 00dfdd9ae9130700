package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/internal/testenv"
)

// startRedis starts a redis-server child process on a free port for the
// test (killed when it ends), and returns a client of its database db.
// Without redis-server the test skips (fails under CI).
func startRedis(t *testing.T, db int) (port int, c *goredis.Client) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Unavailable(t, "redis-server", err.Error(), "run .ci/services (it installs Debian's redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--daemonize", "no", "--logfile", "", "--repl-diskless-sync-delay", "0")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DB: db})
	t.Cleanup(func() { c.Close() })
	for deadline := time.Now().Add(30 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not come up on port %d", port)
		}
	}
	return port, c
}

// TestDjangoRedisReplicas pastes the CACHES of a Django 5.2 project whose
// RedisCache has a leader and a read replica (real redis-server children
// of the test) and redis-py OPTIONS, and runs it in Django 4.2 and 5.2 and
// in djcache: both read from the replica and write to the leader, in
// database 1 (OPTIONS "db"), and read each other's entries once the
// replica has them. django-redis, which reads from replicas the same way,
// runs the same steps on every release.
func TestDjangoRedisReplicas(t *testing.T) {
	ctx := context.Background()
	leaderPort, leader := startRedis(t, 1)
	replicaPort, replica := startRedis(t, 1)
	if err := replica.ReplicaOf(ctx, "127.0.0.1", strconv.Itoa(leaderPort)).Err(); err != nil {
		t.Fatal(err)
	}
	// Writable, so that the test can put keys on the replica alone: they
	// tell who answered a read.
	if err := replica.ConfigSet(ctx, "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if info, _ := replica.Info(ctx, "replication").Result(); strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not connect to the leader")
		}
	}
	// As pasted from a Django 5.2 project's settings.py (True is JSON's
	// true).
	builtin := fmt.Sprintf(`{
		"BACKEND": "django.core.cache.backends.redis.RedisCache",
		"LOCATION": ["redis://127.0.0.1:%d", "redis://127.0.0.1:%d"],
		"KEY_PREFIX": "replicas",
		"TIMEOUT": 600,
		"OPTIONS": {
			"db": 1,
			"pool_class": "redis.BlockingConnectionPool",
			"parser_class": "redis.connection._RESP2Parser",
			"socket_connect_timeout": 10,
			"socket_timeout": 10,
			"retry_on_timeout": true,
			"health_check_interval": 30,
			"max_connections": 20
		}
	}`, leaderPort, replicaPort)
	djangoRedis := fmt.Sprintf(`{
		"BACKEND": "django_redis.cache.RedisCache",
		"LOCATION": ["redis://127.0.0.1:%d/1", "redis://127.0.0.1:%d/1"],
		"KEY_PREFIX": "replicas",
		"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 10, "SOCKET_TIMEOUT": 10}
	}`, leaderPort, replicaPort)
	for _, v := range djangoVersions {
		if v.atLeast(4, 0) { // Django's RedisCache came in 4.0
			t.Run(v.name+"/RedisCache", func(t *testing.T) {
				t.Parallel()
				testReplicas(t, v, builtin, leader, replica)
			})
		}
		t.Run(v.name+"/django-redis", func(t *testing.T) {
			t.Parallel()
			testReplicas(t, v, djangoRedis, leader, replica)
		})
	}
}

// synced returns once the replica has every write the leader took so far
// (a write, then WAIT on the same connection: replication is in order).
func synced(t *testing.T, leader *goredis.Client) {
	t.Helper()
	ctx := context.Background()
	var wait *goredis.Cmd
	if _, err := leader.Pipelined(ctx, func(p goredis.Pipeliner) error {
		p.Incr(ctx, "djcache-interop-sync")
		wait = p.Do(ctx, "WAIT", 1, 30000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := wait.Int64(); n < 1 {
		t.Fatalf("WAIT: the replica does not have the leader's writes")
	}
}

// testReplicas runs the replica steps with one pasted CACHES alias (a
// leader and a replica, database 1, KEY_PREFIX "replicas").
func testReplicas(t *testing.T, v *djangoVersion, pasted string, leader, replica *goredis.Client) {
	python := needDjango(t, v)
	ctx := context.Background()
	cache := map[string]any{}
	if err := json.Unmarshal([]byte(pasted), &cache); err != nil {
		t.Fatal(err)
	}
	parsed, err := djcache.ParseSettings([]byte(`{"CACHES": {"default": ` + pasted + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	caches, err := djcache.NewCaches(parsed, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caches.Close() })
	c, err := caches.Default()
	if err != nil {
		t.Fatal(err)
	}
	dj := &peer{python: python, cache: cache}
	key := func(name string) string {
		return "ix" + runID + "-" + v.name + "-" + cache["BACKEND"].(string) + "-" + name
	}
	made := func(name string) string { return djcache.DefaultKeyFunc(key(name), "replicas", 1) }

	// A key on the replica alone: both sides read it (reads go to the
	// replica), neither can count it or delete it (writes go to the
	// leader, which lacks it).
	if err := replica.Set(ctx, made("only-replica"), "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _, err := djcache.Get[int](ctx, c, key("only-replica")); n != 7 || err != nil {
		t.Errorf("djcache Get of a key on the replica alone = %d, %v; want 7", n, err)
	}
	if ok, err := c.Has(ctx, key("only-replica")); !ok || err != nil {
		t.Errorf("djcache Has of a key on the replica alone = %v, %v", ok, err)
	}
	if m, err := djcache.GetMany[int](ctx, c, []string{key("only-replica")}); m[key("only-replica")] != 7 || err != nil {
		t.Errorf("djcache GetMany of a key on the replica alone = %v, %v", m, err)
	}
	dr := dj.run(t,
		op{"op": "get", "key": key("only-replica")},
		op{"op": "has_key", "key": key("only-replica")},
		op{"op": "get_many", "keys": []string{key("only-replica")}},
		op{"op": "incr", "key": key("only-replica")},
		op{"op": "delete", "key": key("only-replica")},
	)
	if r := dr[0].(map[string]any); r["found"] != true || canon(r["value"]) != canon(tag{"int", "7"}) {
		t.Errorf("Django get of a key on the replica alone = %v; want 7", r)
	}
	if dr[1] != true {
		t.Errorf("Django has_key of a key on the replica alone = %v", dr[1])
	}
	if m := dr[2].(map[string]any); len(m) != 1 {
		t.Errorf("Django get_many of a key on the replica alone = %v", m)
	}
	if r, _ := dr[3].(map[string]any); r == nil || !strings.HasPrefix(fmt.Sprint(r["error"]), "ValueError") {
		t.Errorf("Django incr of a key on the replica alone = %v; want ValueError (the leader's view)", dr[3])
	}
	if dr[4] != false {
		t.Errorf("Django delete of a key on the replica alone = %v; want False (the leader's view)", dr[4])
	}
	if _, err := c.Incr(ctx, key("only-replica"), 1); !errors.Is(err, djcache.ErrNotFound) {
		t.Errorf("djcache Incr of a key on the replica alone: %v; want ErrNotFound", err)
	}
	if ok, err := c.Delete(ctx, key("only-replica")); ok || err != nil {
		t.Errorf("djcache Delete of a key on the replica alone = %v, %v; want false", ok, err)
	}

	// Each side's writes reach the leader's database 1, and the other side
	// reads them from the replica.
	if err := c.Set(ctx, key("go"), "from djcache"); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, key("count"), 10); err != nil {
		t.Fatal(err)
	}
	dj.one(t, op{"op": "set", "key": key("django"), "value": tag{"str", "from Django"}})
	if r := dj.one(t, op{"op": "incr", "key": key("count"), "delta": 5}); canon(r) != canon(tag{"int", "15"}) {
		t.Errorf("Django incr(5) of djcache's 10 = %v; want 15", r)
	}
	if n, err := c.Incr(ctx, key("count"), 1); n != 16 || err != nil {
		t.Errorf("djcache Incr after Django's = %d, %v; want 16", n, err)
	}
	for _, name := range []string{"go", "django", "count"} {
		if n, err := leader.Exists(ctx, made(name)).Result(); n != 1 || err != nil {
			t.Errorf("the leader's database 1 has %s: %v, %v", made(name), n, err)
		}
	}
	synced(t, leader)
	var s string
	if found, err := c.Get(ctx, key("django"), &s); !found || err != nil || s != "from Django" {
		t.Errorf("djcache Get of Django's entry = %q, %v, %v", s, found, err)
	}
	if n, _, err := djcache.Get[int](ctx, c, key("count")); n != 16 || err != nil {
		t.Errorf("djcache Get of the counter = %d, %v; want 16", n, err)
	}
	dr = dj.run(t, op{"op": "get", "key": key("go")}, op{"op": "get", "key": key("count")})
	if r := dr[0].(map[string]any); r["found"] != true || canon(r["value"]) != canon(tag{"str", "from djcache"}) {
		t.Errorf("Django get of djcache's entry = %v", r)
	}
	if r := dr[1].(map[string]any); r["found"] != true || canon(r["value"]) != canon(tag{"int", "16"}) {
		t.Errorf("Django get of the counter = %v; want 16", r)
	}
	// A delete on either side, seen by the other once replicated.
	if r := dj.one(t, op{"op": "delete", "key": key("go")}); r != true {
		t.Errorf("Django delete of djcache's entry = %v", r)
	}
	if ok, err := c.Delete(ctx, key("django")); !ok || err != nil {
		t.Errorf("djcache Delete of Django's entry = %v, %v", ok, err)
	}
	synced(t, leader)
	if ok, err := c.Has(ctx, key("go")); ok || err != nil {
		t.Errorf("djcache Has after Django's delete = %v, %v", ok, err)
	}
	if r := dj.one(t, op{"op": "has_key", "key": key("django")}); r != false {
		t.Errorf("Django has_key after djcache's Delete = %v", r)
	}
}
