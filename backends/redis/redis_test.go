package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// The servers .ci/services starts.
const (
	singleAddr = "127.0.0.1:6379"
	howTo      = "run .ci/services as root to start Redis on 6379, the Cluster on 7000-7002 and Sentinel on 26379-26381"
)

var (
	clusterAddrs  = []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}
	sentinelAddrs = []string{"127.0.0.1:26379", "127.0.0.1:26380", "127.0.0.1:26381"}
)

// The clients the tests share (one pool per topology for the whole
// package), closed by TestMain.
var shared struct {
	mu      sync.Mutex // protects the fields below
	single  *goredis.Client
	cluster *goredis.ClusterClient
}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	if shared.single != nil {
		shared.single.Close()
	}
	if shared.cluster != nil {
		shared.cluster.Close()
	}
	shared.mu.Unlock()
	os.Exit(code)
}

// singleClient returns the shared client of the single server, or skips
// the test (fails it under CI) when the server is unreachable.
func singleClient(t testing.TB) *goredis.Client {
	t.Helper()
	testenv.NeedTCP(t, "Redis", singleAddr, howTo)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.single == nil {
		shared.single = goredis.NewClient(&goredis.Options{Addr: singleAddr, ContextTimeoutEnabled: true})
	}
	return shared.single
}

// clusterClient returns the shared client of the Cluster, or skips the test
// (fails it under CI) when the Cluster is unreachable or not ok.
func clusterClient(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	testenv.NeedTCP(t, "Redis Cluster", clusterAddrs[0], howTo)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster == nil {
		node := goredis.NewClient(&goredis.Options{Addr: clusterAddrs[0]})
		info, err := node.ClusterInfo(context.Background()).Result()
		node.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			testenv.Unavailable(t, "Redis Cluster at "+clusterAddrs[0], fmt.Sprintf("CLUSTER INFO: %v %q", err, info), howTo)
			return nil
		}
		shared.cluster = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: clusterAddrs, ContextTimeoutEnabled: true})
	}
	return shared.cluster
}

// uniqueName returns "djcache-test:WHAT:RANDOM:", a namespace no other test
// or test run uses.
func uniqueName(what string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "djcache-test:" + what + ":" + hex.EncodeToString(b) + ":"
}

// harness gives every driver it makes the same fresh namespace on a shared
// client, and deletes the namespace's keys when it closes.
type harness struct {
	c  goredis.UniversalClient
	ns string
}

func (h *harness) MakeDriver(context.Context) (driver.Driver, error) {
	return New(h.c, &Options{Namespace: h.ns}), nil
}

func (h *harness) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A custom key function and no prefix: Clear deletes the whole namespace.
	New(h.c, &Options{Namespace: h.ns}).Clear(ctx, driver.Scope{})
}

func TestConformance(t *testing.T) {
	t.Parallel()
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &harness{c: singleClient(t), ns: uniqueName("conf")}, nil
	}, nil)
}

func TestConformanceCluster(t *testing.T) {
	t.Parallel()
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &harness{c: clusterClient(t), ns: uniqueName("conf")}, nil
	}, nil)
}

// newCache returns a Cache over a driver on c with a fresh namespace (and
// the driver options in o), and the namespace. Both are cleaned up when the
// test ends.
func newCache(t *testing.T, c goredis.UniversalClient, o *Options, co *djcache.Options) (*djcache.Cache, string) {
	t.Helper()
	h := &harness{c: c, ns: uniqueName(t.Name())}
	t.Cleanup(h.Close)
	opts := Options{}
	if o != nil {
		opts = *o
	}
	opts.Namespace = h.ns
	cache, err := djcache.New(New(c, &opts), co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	return cache, h.ns
}

// topologies runs f against the single server and the Cluster.
func topologies(t *testing.T, f func(t *testing.T, c goredis.UniversalClient)) {
	t.Run("single", func(t *testing.T) { f(t, singleClient(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, clusterClient(t)) })
}

// exists reports which of keys exist, as raw Redis keys.
func exists(t *testing.T, c goredis.UniversalClient, keys ...string) map[string]bool {
	t.Helper()
	m := map[string]bool{}
	for _, k := range keys {
		n, err := c.Exists(context.Background(), k).Result()
		if err != nil {
			t.Fatalf("EXISTS %q: %v", k, err)
		}
		m[k] = n == 1
	}
	return m
}

// TestClearSparesForeignKeys writes, in the cache's namespace and outside
// it, keys that are not the cache's (written with plain go-redis, under
// other prefixes, or shaped almost like made keys) and checks that Clear
// removes the cache's keys only.
func TestClearSparesForeignKeys(t *testing.T) {
	topologies(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := t.Context()
		for _, prefix := range []string{"", "mine", "we*ird[1]?"} {
			t.Run("prefix="+prefix, func(t *testing.T) {
				c, ns := newCache(t, rdb, nil, &djcache.Options{KeyPrefix: prefix})
				for i := range 50 { // keys over many slots
					if err := c.Set(ctx, "k"+strconv.Itoa(i), i); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Set(ctx, "v3", "x", djcache.Version(3)); err != nil {
					t.Fatal(err)
				}
				if err := c.Set(ctx, "neg", "x", djcache.Version(-2)); err != nil {
					t.Fatal(err)
				}
				outside := uniqueName("foreign")
				t.Cleanup(func() {
					for _, k := range []string{outside + "plain", outside + prefix + ":1:k0"} {
						rdb.Del(context.Background(), k) // one by one: they may be in two slots
					}
				})
				foreign := []string{
					ns + "plain",               // plain go-redis key
					ns + "other:1:k0",          // another cache's prefix
					ns + prefix + "x:1:k0",     // a prefix that extends ours
					ns + prefix + ":x:k0",      // not a version
					ns + prefix + ":1",         // no key part
					ns + prefix + ":12",        // no colon after the version
					outside + "plain",          // outside the namespace
					outside + prefix + ":1:k0", // a made key of another namespace
					ns + prefix + "[0-9]:1:k0", // glob characters taken literally
				}
				if prefix == "" {
					foreign = append(foreign, ns+"1:k0", ns+"-:1:k") // made keys of other prefixes ("1", "-")
				}
				for _, k := range foreign {
					if err := rdb.Set(ctx, k, "foreign", time.Hour).Err(); err != nil {
						t.Fatal(err)
					}
				}
				if err := c.Clear(ctx); err != nil {
					t.Fatalf("Clear: %v", err)
				}
				for k, ok := range exists(t, rdb, foreign...) {
					if !ok {
						t.Errorf("Clear deleted the foreign key %q", k)
					}
				}
				for _, k := range []string{"k0", "k49"} {
					if ok, err := c.Has(ctx, k); err != nil || ok {
						t.Errorf("Has(%q) after Clear = %v, %v; want false", k, ok, err)
					}
				}
				for key, v := range map[string]int{"v3": 3, "neg": -2} {
					made := ns + djcache.DefaultKeyFunc(key, prefix, v)
					if n, err := rdb.Exists(ctx, made).Result(); err != nil || n != 0 {
						t.Errorf("EXISTS %q after Clear = %v, %v; want 0", made, n, err)
					}
				}
			})
		}
	})
}

// TestClearWithoutNamespace clears a cache with no prefix and no namespace,
// the way djcache.Open("redis://...") without key_prefix does, in database
// 13 of the single server; it runs only if no other keys of that shape are
// there, since it would delete them.
func TestClearWithoutNamespace(t *testing.T) {
	singleClient(t)
	ctx := t.Context()
	rdb := goredis.NewClient(&goredis.Options{Addr: singleAddr, DB: 13})
	defer rdb.Close()
	if keys, _, err := rdb.Scan(ctx, 0, ":[0-9-]*", 10000).Result(); err != nil {
		t.Fatal(err)
	} else if len(keys) > 0 {
		t.Skipf("database 13 holds keys such as %q that Clear would delete", keys[0])
	}
	c, err := djcache.New(New(rdb, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tag := uniqueName("noprefix")
	keys := []string{tag + "a", tag + "b"}
	for _, k := range keys {
		if err := c.Set(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	foreign := []string{tag + "plain", "x:1:" + tag, "1" + tag}
	for _, k := range foreign {
		if err := rdb.Set(ctx, k, "foreign", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	defer rdb.Del(context.Background(), foreign...)
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for k, ok := range exists(t, rdb, foreign...) {
		if !ok {
			t.Errorf("Clear deleted the foreign key %q", k)
		}
	}
	for _, k := range keys {
		if ok, _ := c.Has(ctx, k); ok {
			t.Errorf("Has(%q) after Clear = true", k)
		}
	}
}

// TestClearCustomKeyFunc: with a custom key function, Clear needs a prefix,
// a namespace or ClearMatch; without any it refuses instead of guessing.
func TestClearCustomKeyFunc(t *testing.T) {
	rdb := singleClient(t)
	ctx := t.Context()
	kf := func(key, prefix string, version int) string { return prefix + "|" + strconv.Itoa(version) + "|" + key }

	c, err := djcache.New(New(rdb, nil), &djcache.Options{KeyFunc: kf})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Clear(ctx); !errors.Is(err, ErrClearScope) {
		t.Errorf("Clear with a custom key function, no prefix and no namespace = %v, want ErrClearScope", err)
	}

	// ClearMatch says which keys are the cache's.
	cm, ns := newCache(t, rdb, &Options{ClearMatch: "shop|*"}, &djcache.Options{KeyFunc: kf, KeyPrefix: "shop"})
	if err := cm.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, ns+"shopping|1|a", "foreign", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cm.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got := exists(t, rdb, ns+"shop|1|a", ns+"shopping|1|a"); got[ns+"shop|1|a"] || !got[ns+"shopping|1|a"] {
		t.Errorf("after Clear with ClearMatch: exists = %v, want only the foreign key", got)
	}

	// A namespace and no prefix: the whole namespace is the cache's.
	cn, ns := newCache(t, rdb, nil, &djcache.Options{KeyFunc: kf})
	if err := cn.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	outside := uniqueName("outside")
	if err := rdb.Set(ctx, outside+"|1|a", "foreign", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(context.Background(), outside+"|1|a")
	if err := cn.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if got := exists(t, rdb, ns+"|1|a", outside+"|1|a"); got[ns+"|1|a"] || !got[outside+"|1|a"] {
		t.Errorf("after Clear in a namespace: exists = %v, want only the key outside", got)
	}
}

// TestClearFlushDB: FlushDB is Django's clear (FLUSHDB), only on request.
// It runs in database 14 of the single server, only if that is empty.
func TestClearFlushDB(t *testing.T) {
	singleClient(t)
	ctx := t.Context()
	rdb := goredis.NewClient(&goredis.Options{Addr: singleAddr, DB: 14})
	defer rdb.Close()
	if n, err := rdb.DBSize(ctx).Result(); err != nil {
		t.Fatal(err)
	} else if n != 0 {
		t.Skipf("database 14 holds %d keys; FLUSHDB would delete them", n)
	}
	c, err := djcache.New(New(rdb, &Options{FlushDB: true}), &djcache.Options{KeyPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Set(ctx, "a", 1)
	rdb.Set(ctx, "foreign", 1, time.Minute)
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		t.Errorf("DBSIZE after Clear with FlushDB = %d, want 0", n)
	}
}

func TestClearPattern(t *testing.T) {
	tests := []struct {
		ns, clearMatch string
		scope          driver.Scope
		match          string
		keep, drop     []string
		err            error
	}{
		{scope: driver.Scope{DefaultKeyFunc: true}, match: ":[0-9-]*",
			keep: []string{":1:a", ":-3:", ":1234567890:x:y"}, drop: []string{":1", ":a:b", "::a", ":-:a", "1:a", ":1a:b"}},
		{scope: driver.Scope{Prefix: "p", DefaultKeyFunc: true}, match: "p:[0-9-]*",
			keep: []string{"p:1:a"}, drop: []string{"p:a:1", "pp:1:a", "p:1"}},
		{ns: "n{1}*:", scope: driver.Scope{Prefix: "a?", DefaultKeyFunc: true}, match: `n{1}\*:a\?:[0-9-]*`,
			keep: []string{"a?:2:k"}, drop: []string{"ab:2:k"}},
		{scope: driver.Scope{Prefix: "p"}, match: "p:*"},
		{ns: "n:", scope: driver.Scope{}, match: "n:*"},
		{ns: "n:", clearMatch: "x*", scope: driver.Scope{DefaultKeyFunc: true}, match: "n:x*"},
		{scope: driver.Scope{}, err: ErrClearScope},
	}
	for _, tt := range tests {
		d := &Driver{opts: Options{Namespace: tt.ns, ClearMatch: tt.clearMatch}}
		match, keep, err := d.clearPattern(tt.scope)
		if !errors.Is(err, tt.err) || match != tt.match {
			t.Errorf("clearPattern(ns %q, %+v) = %q, %v; want %q, %v", tt.ns, tt.scope, match, err, tt.match, tt.err)
			continue
		}
		for _, k := range tt.keep {
			if !keep(tt.ns + k) {
				t.Errorf("clearPattern(%+v) does not delete %q", tt.scope, tt.ns+k)
			}
		}
		for _, k := range tt.drop {
			if keep(tt.ns + k) {
				t.Errorf("clearPattern(%+v) deletes %q", tt.scope, tt.ns+k)
			}
		}
	}
}

// TestGlobMatchesServer checks the escaped glob against Redis's own matcher.
func TestGlobMatchesServer(t *testing.T) {
	rdb := singleClient(t)
	ctx := t.Context()
	ns := uniqueName("glob")
	prefix := `a*b?c[d]e\f^g`
	made := ns + prefix + ":7:k"
	decoys := []string{ns + "aXbYc[d]e\\f^g:7:k", ns + "a*b?cde\\f^g:7:k", ns + prefix + ":x:k"}
	for _, k := range append([]string{made}, decoys...) {
		rdb.Set(ctx, k, 1, time.Minute)
	}
	defer rdb.Del(context.Background(), append([]string{made}, decoys...)...)
	d := &Driver{opts: Options{Namespace: ns}}
	match, keep, _ := d.clearPattern(driver.Scope{Prefix: prefix, DefaultKeyFunc: true})
	var found []string
	iter := rdb.Scan(ctx, 0, match, 1000).Iterator()
	for iter.Next(ctx) {
		if keep(iter.Val()) {
			found = append(found, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0] != made {
		t.Errorf("SCAN MATCH %q found %q, want only %q", match, found, made)
	}
}

func TestSlot(t *testing.T) {
	for key, want := range map[string]int{"foo": 12182, "bar": 5061, "": 0, "{user1000}.following": 3443, "{user1000}.followers": 3443, "foo{}{bar}": 8363, "foo{{bar}}zap": 4015, "{": 4092} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d, want %d", key, got, want)
		}
	}
	// And against the Cluster itself.
	rdb := clusterClient(t)
	for i := range 200 {
		k := ":1:" + strconv.Itoa(i*7919)
		if i%2 == 1 {
			k += "{x" + strconv.Itoa(i%3) + "}"
		}
		want, err := rdb.ClusterKeySlot(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := slot(k); int64(got) != want {
			t.Errorf("slot(%q) = %d, CLUSTER KEYSLOT = %d", k, got, want)
		}
	}
}

func TestBySlot(t *testing.T) {
	keys := []string{"a", "{a}1", "b", "{a}2", "c"}
	groups := bySlot(keys)
	n := 0
	for _, g := range groups {
		for _, k := range g {
			if slot(k) != slot(g[0]) {
				t.Errorf("group %q mixes slots", g)
			}
		}
		n += len(g)
	}
	if n != len(keys) || len(groups) != 3 {
		t.Errorf("bySlot(%q) = %q, want 3 groups of all 5 keys", keys, groups)
	}
}

// TestManyKeysAcrossSlots checks GetMany, SetMany and DeleteMany on many
// keys, which spread over many slots of the Cluster.
func TestManyKeysAcrossSlots(t *testing.T) {
	topologies(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := t.Context()
		c, _ := newCache(t, rdb, nil, nil)
		items := map[string]any{}
		keys := []string{}
		for i := range 500 {
			k := "key-" + strconv.Itoa(i)
			items[k] = i
			keys = append(keys, k)
		}
		if failed, err := c.SetMany(ctx, items); err != nil || len(failed) != 0 {
			t.Fatalf("SetMany = %v, %v", failed, err)
		}
		got, err := djcache.GetMany[int](ctx, c, append(keys, "missing"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(keys) {
			t.Fatalf("GetMany found %d keys, want %d", len(got), len(keys))
		}
		for i, k := range keys {
			if got[k] != i {
				t.Fatalf("GetMany[%q] = %d, want %d", k, got[k], i)
			}
		}
		if err := c.DeleteMany(ctx, keys[:400]); err != nil {
			t.Fatal(err)
		}
		got, err = djcache.GetMany[int](ctx, c, keys)
		if err != nil || len(got) != 100 {
			t.Fatalf("GetMany after DeleteMany of 400 = %d keys, %v; want 100", len(got), err)
		}
	})
}

// pttl returns the raw PTTL of the made key.
func pttl(t *testing.T, rdb goredis.UniversalClient, key string) time.Duration {
	t.Helper()
	d, err := rdb.PTTL(t.Context(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCommands checks what reaches Redis: millisecond expiry, no expiry for
// Forever (clearing an old one), integers as decimal text, Incr keeping the
// TTL, and Touch.
func TestCommands(t *testing.T) {
	topologies(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := t.Context()
		c, ns := newCache(t, rdb, nil, nil)
		k := ns + ":1:k"

		if err := c.Set(ctx, "k", 42, djcache.Timeout(1500*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if d := pttl(t, rdb, k); d <= 1300*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("PTTL after Set with Timeout(1.5s) = %v, want about 1.5s", d)
		}
		if v, _ := rdb.Get(ctx, k).Result(); v != "42" {
			t.Errorf("stored bytes of 42 = %q, want decimal text", v)
		}
		if n, err := c.Incr(ctx, "k", 8); n != 50 || err != nil {
			t.Errorf("Incr = %d, %v; want 50", n, err)
		}
		if d := pttl(t, rdb, k); d <= 1000*time.Millisecond {
			t.Errorf("PTTL after Incr = %v, want the TTL kept", d)
		}
		// Native INCRBY by another program works on djcache's integers, and
		// djcache reads the result.
		rdb.IncrBy(ctx, k, 10)
		if n, _, err := djcache.Get[int](ctx, c, "k"); n != 60 || err != nil {
			t.Errorf("Get after INCRBY = %d, %v; want 60", n, err)
		}

		if err := c.Set(ctx, "k", "v", djcache.Forever); err != nil {
			t.Fatal(err)
		}
		if d := pttl(t, rdb, k); d != -1 {
			t.Errorf("PTTL after Set Forever over a key with a TTL = %v, want -1 (none)", d)
		}
		// Touch Forever of a key without expiry: true (Django's RedisCache
		// says false there, djcache's contract says true).
		if ok, err := c.Touch(ctx, "k", djcache.Forever); !ok || err != nil {
			t.Errorf("Touch Forever of a key without expiry = %v, %v; want true", ok, err)
		}
		if ok, err := c.Touch(ctx, "k", djcache.Timeout(2*time.Second)); !ok || err != nil {
			t.Errorf("Touch(2s) = %v, %v; want true", ok, err)
		}
		if d := pttl(t, rdb, k); d <= 1500*time.Millisecond || d > 2*time.Second {
			t.Errorf("PTTL after Touch(2s) = %v", d)
		}
		if ok, err := c.Touch(ctx, "k", djcache.Forever); !ok || err != nil || pttl(t, rdb, k) != -1 {
			t.Errorf("Touch Forever of a key with a TTL = %v, %v; want true and no TTL", ok, err)
		}
		if ok, err := c.Touch(ctx, "missing", djcache.Forever); ok || err != nil {
			t.Errorf("Touch Forever of a missing key = %v, %v; want false", ok, err)
		}
		if ok, err := c.Touch(ctx, "k", djcache.Timeout(0)); !ok || err != nil {
			t.Errorf("Touch(0) = %v, %v; want true", ok, err)
		}
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Error("the key exists after Touch(0)")
		}
		if added, err := c.Add(ctx, "k", 1, djcache.Timeout(0)); !added || err != nil {
			t.Errorf("Add(0) of a missing key = %v, %v; want true", added, err)
		}
		if n, _ := rdb.Exists(ctx, k).Result(); n != 0 {
			t.Error("the key exists after Add with Timeout(0)")
		}
		// Sub-second precision.
		if err := c.Set(ctx, "ms", 1, djcache.Timeout(250*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if d := pttl(t, rdb, ns+":1:ms"); d <= 0 || d > 250*time.Millisecond {
			t.Errorf("PTTL after Set with Timeout(250ms) = %v", d)
		}
	})
}

// TestIncrErrors maps Redis's refusals to djcache's errors.
func TestIncrErrors(t *testing.T) {
	topologies(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := t.Context()
		c, ns := newCache(t, rdb, nil, nil)
		raw := func(k, v string) {
			if err := rdb.Set(ctx, ns+":1:"+k, v, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		raw("text", "\x02abc")
		raw("foreign", "hello")
		raw("float", "1.5")
		raw("zeros", "007") // an integer to Go's parser, not to Redis
		raw("big", "9223372036854775808")
		raw("max", strconv.FormatInt(math.MaxInt64, 10))
		raw("long", strings.Repeat("9", 100))
		rdb.RPush(ctx, ns+":1:list", "x")
		rdb.Expire(ctx, ns+":1:list", time.Minute)
		if err := c.Set(ctx, "nil", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "u", uint64(math.MaxUint64)); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			key   string
			delta int64
			want  error
		}{
			{"missing", 1, djcache.ErrNotFound},
			{"text", 1, djcache.ErrNotInteger},
			{"foreign", 1, djcache.ErrNotInteger},
			{"float", 1, djcache.ErrNotInteger},
			{"zeros", 1, djcache.ErrNotInteger},
			{"nil", 1, djcache.ErrNotInteger},
			{"list", 1, djcache.ErrNotInteger},
			{"big", 1, djcache.ErrOverflow},
			{"u", 1, djcache.ErrOverflow},
			{"long", 1, djcache.ErrNotInteger},
			{"max", 1, djcache.ErrOverflow},
			{"max", math.MinInt64, nil},
		} {
			_, err := c.Incr(ctx, tt.key, tt.delta)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Errorf("Incr(%q, %d) = %v, want %v", tt.key, tt.delta, err, tt.want)
			}
			var oe *djcache.OpError
			if err != nil && (!errors.As(err, &oe) || oe.Op != "incr") {
				t.Errorf("Incr(%q) error %v is not an *OpError naming incr", tt.key, err)
			}
		}
		// Sums beyond 2^53 stay exact (Lua numbers are doubles).
		raw("near", strconv.FormatInt(math.MaxInt64-10, 10))
		if n, err := c.Incr(ctx, "near", 3); n != math.MaxInt64-7 || err != nil {
			t.Errorf("Incr(MaxInt64-10, 3) = %d, %v; want %d", n, err, int64(math.MaxInt64-7))
		}
		if n, err := c.Decr(ctx, "near", math.MaxInt64); n != -7 || err != nil {
			t.Errorf("Decr(MaxInt64-7, MaxInt64) = %d, %v; want -7", n, err)
		}
		if v, _ := rdb.Get(ctx, ns+":1:max").Result(); v != "-1" {
			t.Errorf("after the failed and the good Incr, max = %q, want -1", v)
		}
	})
}

// TestGetWithExpiry reads expiries back: IncrVersion keeps the remaining
// lifetime through it.
func TestGetWithExpiry(t *testing.T) {
	topologies(t, func(t *testing.T, rdb goredis.UniversalClient) {
		ctx := t.Context()
		c, _ := newCache(t, rdb, nil, nil)
		d := c.Driver().(*Driver)
		// The expiry read back lies an hour after the write: no earlier
		// than an hour after the instant before the Set, no later than an
		// hour after the read returned (a busy machine widens the window).
		const ms = time.Millisecond
		before := time.Now()
		c.Set(ctx, "t", "v", djcache.Timeout(time.Hour))
		c.Set(ctx, "f", "v", djcache.Forever)
		v, exp, found, err := d.GetWithExpiry(ctx, ":1:t")
		if err != nil || !found || string(v) != "\x02v" || exp.Before(before.Add(time.Hour-ms)) || exp.After(time.Now().Add(time.Hour+ms)) {
			t.Errorf("GetWithExpiry(t) = %q, %v, %v, %v; want the value expiring an hour after the Set", v, exp, found, err)
		}
		if _, exp, found, err := d.GetWithExpiry(ctx, ":1:f"); err != nil || !found || !exp.IsZero() {
			t.Errorf("GetWithExpiry(f) = %v, %v, %v; want found with no expiry", exp, found, err)
		}
		if _, _, found, err := d.GetWithExpiry(ctx, ":1:missing"); err != nil || found {
			t.Errorf("GetWithExpiry(missing) = %v, %v; want not found", found, err)
		}
		if nv, err := c.IncrVersion(ctx, "t", 1); nv != 2 || err != nil {
			t.Fatalf("IncrVersion = %d, %v", nv, err)
		}
		if _, exp, _, _ := d.GetWithExpiry(ctx, ":2:t"); exp.Before(before.Add(time.Hour-ms)) || exp.After(time.Now().Add(time.Hour+ms)) {
			t.Errorf("after IncrVersion the entry expires at %v, want the hour kept", exp)
		}
	})
}

// TestNewDoesNotCloseClient: a client passed to New stays open after Close
// unless CloseClient asks otherwise.
func TestNewDoesNotCloseClient(t *testing.T) {
	singleClient(t)
	ctx := t.Context()
	rdb := goredis.NewClient(&goredis.Options{Addr: singleAddr})
	d := New(rdb, nil)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("the client after the driver's Close: %v, want it still open", err)
	}
	d = New(rdb, &Options{CloseClient: true})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v, want the first one's nil", err)
	}
	if err := rdb.Ping(ctx).Err(); !errors.Is(err, goredis.ErrClosed) {
		t.Errorf("the client after Close with CloseClient: %v, want ErrClosed", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("New(nil, nil) did not panic")
		}
	}()
	New(nil, nil)
}

// TestConformanceRing runs the kit on a go-redis Ring of two shards: the
// shared server and one of the test's own (many-key calls go key by key).
func TestConformanceRing(t *testing.T) {
	t.Parallel()
	singleClient(t)
	s := startServer(t)
	ring := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"shared": singleAddr, "own": s.addr()}})
	t.Cleanup(func() { ring.Close() })
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &harness{c: ring, ns: uniqueName("ring")}, nil
	}, nil)
}

// TestCollectValues: the values of one GetMany share a buffer, but each is
// the caller's: writing or appending to one leaves the others alone.
func TestCollectValues(t *testing.T) {
	m := map[string][]byte{}
	collectValues(m, 2, [][]string{{"n:a", "n:b"}, {"n:c", "n:d"}}, [][]any{{"aa", nil}, {"", "dd"}})
	if len(m) != 3 || string(m["a"]) != "aa" || m["c"] == nil || len(m["c"]) != 0 || string(m["d"]) != "dd" {
		t.Fatalf("collectValues = %q", m)
	}
	m["a"][1] = 'X'
	m["a"] = append(m["a"], "ppend"...)
	m["c"] = append(m["c"], 'c')
	if string(m["d"]) != "dd" || string(m["a"]) != "aXppend" || string(m["c"]) != "c" {
		t.Errorf("after writes and appends: %q", m)
	}
}
