package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/internal/testenv"
)

// The Redis benchmarks put djcache and raw go-redis side by side on the
// same client and the same keys: each sub-benchmark "X/djcache" has an
// "X/go-redis" twin that sends the same commands directly. The ratio of the
// two is djcache's overhead per call (target: at most 1.05). See redis.md.

const redisHowTo = "run .ci/services as root to start Redis on 6379 and the Cluster on 7000-7002"

// redisBenchValue is the value of the benchmarks, about 40 bytes of text.
const redisBenchValue = "a short value of about forty bytes......."

func BenchmarkRedis(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		testenv.NeedTCP(b, "Redis", "127.0.0.1:6379", redisHowTo)
		rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
		defer rdb.Close()
		benchRedis(b, rdb)
	})
	b.Run("cluster", func(b *testing.B) {
		testenv.NeedTCP(b, "Redis Cluster", "127.0.0.1:7000", redisHowTo)
		rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}})
		defer rdb.Close()
		benchRedis(b, rdb)
	})
}

// BenchmarkRedisKit runs the conformance kit's standard benchmarks on the
// single server, for comparison with the other backends.
func BenchmarkRedisKit(b *testing.B) {
	testenv.NeedTCP(b, "Redis", "127.0.0.1:6379", redisHowTo)
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	c, err := djcache.New(redis.New(rdb, nil), &djcache.Options{KeyPrefix: benchPrefix()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(context.Background())
	djcachetest.RunBenchmarks(b, c)
}

// benchPrefix is a key prefix of its own for each run.
func benchPrefix() string {
	r := make([]byte, 4)
	rand.Read(r)
	return "djcache-bench-" + hex.EncodeToString(r)
}

func benchRedis(b *testing.B, rdb goredis.UniversalClient) {
	ctx := context.Background()
	prefix := benchPrefix()
	c, err := djcache.New(redis.New(rdb, nil), &djcache.Options{KeyPrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(ctx)
	made := func(k string) string { return djcache.DefaultKeyFunc(k, prefix, 1) }

	keys := make([]string, 100)
	madeKeys := make([]string, len(keys))
	items := make(map[string]any, len(keys))
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		madeKeys[i] = made(keys[i])
		items[keys[i]] = redisBenchValue
	}
	if _, err := c.SetMany(ctx, items, djcache.Timeout(time.Hour)); err != nil {
		b.Fatal(err)
	}
	if err := c.Set(ctx, "counter", 0, djcache.Forever); err != nil {
		b.Fatal(err)
	}
	// The exact bytes djcache stored, for the raw twin of Set.
	stored, err := rdb.Get(ctx, madeKeys[0]).Bytes()
	if err != nil {
		b.Fatal(err)
	}

	b.Run("Get/djcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s string
			if found, err := c.Get(ctx, keys[0], &s); err != nil || !found {
				b.Fatal(found, err)
			}
		}
	})
	b.Run("Get/go-redis", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rdb.Get(ctx, madeKeys[0]).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("Set/djcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Set(ctx, "set", redisBenchValue); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Set/go-redis", func(b *testing.B) {
		b.ReportAllocs()
		k := made("set")
		for b.Loop() {
			if err := rdb.Set(ctx, k, stored, 300*time.Second).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("Incr/djcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Incr(ctx, "counter", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same script djcache runs (EXISTS then INCRBY, atomic), through
	// go-redis's Script (EVALSHA).
	b.Run("Incr/go-redis", func(b *testing.B) {
		b.ReportAllocs()
		script := goredis.NewScript(incrScriptSource)
		k := []string{made("counter")}
		for b.Loop() {
			if _, err := script.Run(ctx, rdb, k, 1).Result(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// For reference: a bare INCRBY, which would create a missing key.
	b.Run("Incr/go-redis-INCRBY", func(b *testing.B) {
		b.ReportAllocs()
		k := made("counter")
		for b.Loop() {
			if err := rdb.IncrBy(ctx, k, 1).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("GetMany100/djcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := djcache.GetMany[string](ctx, c, keys)
			if err != nil || len(m) != len(keys) {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("GetMany100/go-redis", func(b *testing.B) {
		b.ReportAllocs()
		cluster, isCluster := rdb.(*goredis.ClusterClient)
		for b.Loop() {
			m := make(map[string][]byte, len(keys))
			if !isCluster {
				// One MGET, as djcache sends on one server.
				vals, err := rdb.MGet(ctx, madeKeys...).Result()
				if err != nil {
					b.Fatal(err)
				}
				for i, v := range vals {
					if s, ok := v.(string); ok {
						m[keys[i]] = []byte(s)
					}
				}
			} else {
				// A pipeline of GETs, the usual way with go-redis on a
				// Cluster (MGET refuses keys of several slots); djcache
				// sends one MGET per slot in one pipeline instead.
				cmds := make([]*goredis.StringCmd, len(madeKeys))
				if _, err := cluster.Pipelined(ctx, func(p goredis.Pipeliner) error {
					for i, k := range madeKeys {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				for i, cmd := range cmds {
					m[keys[i]], _ = cmd.Bytes()
				}
			}
			if len(m) != len(keys) {
				b.Fatal(len(m))
			}
		}
	})
	// 100 sequential Gets versus one GetMany(100), both through djcache.
	b.Run("Get100Sequential/djcache", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, k := range keys {
				var s string
				if found, err := c.Get(ctx, k, &s); err != nil || !found {
					b.Fatal(found, err)
				}
			}
		}
	})
}

// BenchmarkRedisOverhead measures djcache's overhead over raw go-redis
// robustly on a busy machine: each iteration makes one call through djcache
// and its raw twin, in alternating order, timing each, so both see the same
// load. It reports the median time of each ("djcache-ns" and
// "go-redis-ns") and their ratio ("ratio", the target being at most 1.05),
// plus, for GetMany, the ratio of 100 sequential Gets to one GetMany(100)
// ("speedup", at least 20).
func BenchmarkRedisOverhead(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		testenv.NeedTCP(b, "Redis", "127.0.0.1:6379", redisHowTo)
		rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
		defer rdb.Close()
		benchOverhead(b, rdb)
	})
	b.Run("cluster", func(b *testing.B) {
		testenv.NeedTCP(b, "Redis Cluster", "127.0.0.1:7000", redisHowTo)
		rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"}})
		defer rdb.Close()
		benchOverhead(b, rdb)
	})
}

// pair times two functions alternately, b.N times each, and reports their
// medians and ratio.
func pair(b *testing.B, ours, raw func()) {
	b.Helper()
	ours() // warm both (connections, script cache)
	raw()
	dj := make([]time.Duration, 0, b.N)
	gr := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			t0 := time.Now()
			ours()
			t1 := time.Now()
			raw()
			dj, gr = append(dj, t1.Sub(t0)), append(gr, time.Since(t1))
		} else {
			t0 := time.Now()
			raw()
			t1 := time.Now()
			ours()
			gr, dj = append(gr, t1.Sub(t0)), append(dj, time.Since(t1))
		}
	}
	b.StopTimer()
	mdj, mgr := median(dj), median(gr)
	b.ReportMetric(float64(mdj.Nanoseconds()), "djcache-ns")
	b.ReportMetric(float64(mgr.Nanoseconds()), "go-redis-ns")
	b.ReportMetric(float64(mdj)/float64(mgr), "ratio")
	b.ReportMetric(0, "ns/op")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

func benchOverhead(b *testing.B, rdb goredis.UniversalClient) {
	ctx := context.Background()
	prefix := benchPrefix()
	c, err := djcache.New(redis.New(rdb, nil), &djcache.Options{KeyPrefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(ctx)
	made := func(k string) string { return djcache.DefaultKeyFunc(k, prefix, 1) }
	keys := make([]string, 100)
	madeKeys := make([]string, len(keys))
	items := make(map[string]any, len(keys))
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		madeKeys[i] = made(keys[i])
		items[keys[i]] = redisBenchValue
	}
	if _, err := c.SetMany(ctx, items, djcache.Timeout(time.Hour)); err != nil {
		b.Fatal(err)
	}
	c.Set(ctx, "counter", 0, djcache.Forever)
	stored, err := rdb.Get(ctx, madeKeys[0]).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	b.Run("Get", func(b *testing.B) {
		pair(b, func() {
			var s string
			_, err := c.Get(ctx, keys[0], &s)
			check(err)
		}, func() {
			_, err := rdb.Get(ctx, madeKeys[0]).Bytes()
			check(err)
		})
	})
	b.Run("Set", func(b *testing.B) {
		k := made("set")
		pair(b, func() {
			check(c.Set(ctx, "set", redisBenchValue))
		}, func() {
			check(rdb.Set(ctx, k, stored, 300*time.Second).Err())
		})
	})
	b.Run("Incr", func(b *testing.B) {
		script := goredis.NewScript(incrScriptSource)
		k := []string{made("counter")}
		pair(b, func() {
			_, err := c.Incr(ctx, "counter", 1)
			check(err)
		}, func() {
			check(script.Run(ctx, rdb, k, 1).Err())
		})
	})
	if cluster, isCluster := rdb.(*goredis.ClusterClient); isCluster {
		// MGET refuses keys of several slots: the raw twin is a pipeline
		// of GETs, the usual way with go-redis on a Cluster.
		b.Run("GetMany100", func(b *testing.B) {
			pair(b, func() {
				m, err := djcache.GetMany[string](ctx, c, keys)
				check(err)
				if len(m) != len(keys) {
					b.Fatal(len(m))
				}
			}, func() {
				cmds := make([]*goredis.StringCmd, len(madeKeys))
				_, err := cluster.Pipelined(ctx, func(p goredis.Pipeliner) error {
					for i, k := range madeKeys {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				})
				check(err)
				m := make(map[string]string, len(keys))
				for i, cmd := range cmds {
					m[keys[i]] = cmd.Val()
				}
			})
		})
	} else {
		b.Run("GetMany100", func(b *testing.B) {
			pair(b, func() {
				m, err := djcache.GetMany[string](ctx, c, keys)
				check(err)
				if len(m) != len(keys) {
					b.Fatal(len(m))
				}
			}, func() {
				vals, err := rdb.MGet(ctx, madeKeys...).Result()
				check(err)
				m := make(map[string]string, len(keys))
				for i, v := range vals {
					if s, ok := v.(string); ok {
						m[keys[i]] = s
					}
				}
				if len(m) != len(keys) {
					b.Fatal(len(m))
				}
			})
		})
	}
	// The driver alone (made keys in, bytes out) against the same raw
	// commands: what the backend adds, without the Cache's key making and
	// decoding.
	d := c.Driver().(*redis.Driver)
	b.Run("GetMany100-driver", func(b *testing.B) {
		cluster, isCluster := rdb.(*goredis.ClusterClient)
		pair(b, func() {
			m, err := d.GetMany(ctx, madeKeys)
			check(err)
			if len(m) != len(keys) {
				b.Fatal(len(m))
			}
		}, func() {
			m := make(map[string][]byte, len(keys))
			if isCluster {
				cmds := make([]*goredis.StringCmd, len(madeKeys))
				_, err := cluster.Pipelined(ctx, func(p goredis.Pipeliner) error {
					for i, k := range madeKeys {
						cmds[i] = p.Get(ctx, k)
					}
					return nil
				})
				check(err)
				for i, cmd := range cmds {
					m[madeKeys[i]], _ = cmd.Bytes()
				}
				return
			}
			vals, err := rdb.MGet(ctx, madeKeys...).Result()
			check(err)
			for i, v := range vals {
				if s, ok := v.(string); ok {
					m[madeKeys[i]] = []byte(s)
				}
			}
		})
	})
	b.Run("Get100-vs-GetMany100", func(b *testing.B) {
		pair(b, func() {
			for _, k := range keys {
				var s string
				_, err := c.Get(ctx, k, &s)
				check(err)
			}
		}, func() {
			_, err := djcache.GetMany[string](ctx, c, keys)
			check(err)
		})
	})
}

// incrScriptSource is a copy of the source of the redis driver's Incr
// script, for its raw twin.
var incrScriptSource = strings.TrimSpace(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'not an integer', 1, true) and redis.call('STRLEN', KEYS[1]) <= 64 then
    return {0, redis.call('GET', KEYS[1])}
  end
  return r
end
return redis.call('GET', KEYS[1])
`)
