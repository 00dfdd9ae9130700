package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/redis"
)

// Open a cache on one Redis server by URL. (This example needs a server on
// 127.0.0.1:6379, so it has no output to check.)
func Example() {
	c, err := djcache.Open("redis://127.0.0.1:6379/0?key_prefix=shop&timeout=300")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.Set(ctx, "greeting", "hello", djcache.Timeout(time.Minute)); err != nil {
		log.Fatal(err)
	}
	s, found, err := djcache.Get[string](ctx, c, "greeting")
	fmt.Println(s, found, err)

	// Counters are decimal text in Redis, incremented by INCRBY.
	c.Set(ctx, "views", 0, djcache.Forever)
	n, err := c.Incr(ctx, "views", 1)
	fmt.Println(n, err)

	// Clear deletes this cache's keys ("shop:VERSION:*") and nothing else.
	if err := c.Clear(ctx); err != nil {
		log.Fatal(err)
	}
}

// Pass in a go-redis client you already have: here a Redis Cluster.
func ExampleNew() {
	rdb := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs: []string{"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"},
	})
	defer rdb.Close() // the driver leaves the client to its owner

	c, err := djcache.New(redis.New(rdb, nil), &djcache.Options{KeyPrefix: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	// On a Cluster, GetMany sends one MGET per hash slot, in one pipeline.
	c.SetMany(ctx, map[string]any{"a": 1, "b": 2, "c": 3})
	m, err := djcache.GetMany[int](ctx, c, []string{"a", "b", "c", "missing"})
	fmt.Println(m, err)
}

// The three URL forms. Parameters are strict: a misspelt one fails at Open,
// before any connection, and errors never show the password.
func ExampleURLOpener() {
	for _, u := range []string{
		// One server: user, password, database, go-redis options.
		"redis://app:secret@127.0.0.1:6379/2?dial_timeout=2s&pool_size=20",
		// A Redis Cluster: seeds in the host and the addr parameters.
		"redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002",
		// A master found through Sentinel.
		"redis://127.0.0.1:26379?master_name=djcache&addr=127.0.0.1:26380",
		// A typo.
		"redis://app:secret@127.0.0.1:6379/2?max_retires=3",
	} {
		c, err := djcache.Open(u)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(c.Driver().(*redis.Driver).Client() != nil)
		c.Close()
	}
	// Output:
	// true
	// true
	// true
	// djcache: redis: unknown URL parameter "max_retires" for the single-server form (see the go-redis ParseURL documentation)
}
