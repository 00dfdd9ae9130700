package djcache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/locmem"
)

// open returns a cache on a locmem store of its own.
func open(name string) *djcache.Cache {
	c, err := djcache.Open("locmem://example-" + name)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func ExampleOpen() {
	// The scheme picks the backend; timeout, key_prefix and version work on
	// every backend, and each backend has parameters of its own.
	c, err := djcache.Open("locmem://sessions?timeout=60&key_prefix=shop&max_entries=1000")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = djcache.Open("locmem://sessions?max_entires=1000")
	fmt.Println(err)
	// Output:
	// djcache: locmem: unknown URL parameter "max_entires"
}

func ExampleCache_Get() {
	ctx := context.Background()
	c := open("get")
	defer c.Close()

	c.Set(ctx, "greeting", "hello")

	var s string
	found, err := c.Get(ctx, "greeting", &s)
	fmt.Println(s, found, err)

	// On a miss, dst is left alone: a pre-filled dst is the default.
	color := "blue"
	found, _ = c.Get(ctx, "color", &color)
	fmt.Println(color, found)
	// Output:
	// hello true <nil>
	// blue false
}

func ExampleGet() {
	ctx := context.Background()
	c := open("generic-get")
	defer c.Close()

	c.Set(ctx, "views", 41)
	views, found, err := djcache.Get[int](ctx, c, "views")
	fmt.Println(views, found, err)
	// Output:
	// 41 true <nil>
}

func ExampleCache_Set() {
	ctx := context.Background()
	c := open("set")
	defer c.Close()

	type Product struct {
		Name  string
		Price float64
	}
	// The default timeout, an explicit one, and no expiry at all.
	c.Set(ctx, "product:1", Product{"Tea", 4.5})
	c.Set(ctx, "banner", "Sale!", djcache.Timeout(10*time.Minute))
	c.Set(ctx, "country-codes", []string{"FR", "NL"}, djcache.Forever)

	var p Product
	c.Get(ctx, "product:1", &p)
	fmt.Printf("%+v\n", p)

	// Timeout(0) is Django's "don't cache": the entry is gone at once.
	c.Set(ctx, "banner", "Sale!", djcache.Timeout(0))
	found, _ := c.Has(ctx, "banner")
	fmt.Println(found)
	// Output:
	// {Name:Tea Price:4.5}
	// false
}

func ExampleCache_Add() {
	ctx := context.Background()
	c := open("add")
	defer c.Close()

	// Add stores only if the key is absent, atomically: a simple lock.
	first, _ := c.Add(ctx, "lock:report", "worker-1", djcache.Timeout(time.Minute))
	second, _ := c.Add(ctx, "lock:report", "worker-2", djcache.Timeout(time.Minute))
	fmt.Println(first, second)
	// Output:
	// true false
}

func ExampleCache_GetOrSet() {
	ctx := context.Background()
	c := open("get-or-set")
	defer c.Close()

	calls := 0
	expensive := func(ctx context.Context) (any, error) {
		calls++
		return []string{"tea", "coffee"}, nil
	}
	var menu []string
	for range 3 {
		if err := c.GetOrSet(ctx, "menu", &menu, expensive, djcache.Timeout(time.Hour)); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(menu, "computed", calls, "time")
	// Output:
	// [tea coffee] computed 1 time
}

func ExampleGetOrSet() {
	ctx := context.Background()
	c := open("generic-get-or-set")
	defer c.Close()

	total, err := djcache.GetOrSet(ctx, c, "orders:total", func(ctx context.Context) (int, error) {
		return 1234, nil // a slow SUM(...) query
	}, djcache.Timeout(5*time.Minute))
	fmt.Println(total, err)
	// Output:
	// 1234 <nil>
}

func ExampleCache_GetMany() {
	ctx := context.Background()
	c := open("get-many")
	defer c.Close()

	failed, err := c.SetMany(ctx, map[string]any{"a": 1, "b": 2, "c": 3})
	fmt.Println(failed, err)

	// Only the keys found are in the result, under the caller's keys.
	var got map[string]int
	c.GetMany(ctx, []string{"a", "c", "missing"}, &got)
	fmt.Println(got)

	c.DeleteMany(ctx, []string{"a", "b"})
	left, _ := djcache.GetMany[int](ctx, c, []string{"a", "b", "c"})
	fmt.Println(left)
	// Output:
	// [] <nil>
	// map[a:1 c:3]
	// map[c:3]
}

func ExampleCache_Incr() {
	ctx := context.Background()
	c := open("incr")
	defer c.Close()

	c.Set(ctx, "hits", 10, djcache.Timeout(time.Hour))
	n, _ := c.Incr(ctx, "hits", 1) // atomic, and the hour still runs
	fmt.Println(n)
	n, _ = c.Decr(ctx, "hits", 5)
	fmt.Println(n)

	_, err := c.Incr(ctx, "nope", 1)
	fmt.Println(errors.Is(err, djcache.ErrNotFound), err)
	// Output:
	// 11
	// 6
	// true djcache: locmem: incr ":1:nope": key not found
}

func ExampleCache_IncrVersion() {
	ctx := context.Background()
	c := open("incr-version")
	defer c.Close()

	// Versions invalidate a whole family of keys at once: bump the version,
	// and old entries are no longer seen.
	c.Set(ctx, "report", "old numbers")
	v, _ := c.IncrVersion(ctx, "report", 1)
	fmt.Println("moved to version", v)

	var s string
	found, _ := c.Get(ctx, "report", &s) // version 1: gone
	fmt.Println(found)
	c.Get(ctx, "report", &s, djcache.Version(2))
	fmt.Println(s)
	// Output:
	// moved to version 2
	// false
	// old numbers
}

func ExampleCache_Ping() {
	// Open does no I/O: a readiness probe pings the cache, with a deadline,
	// to find a wrong address before the first request does.
	c, err := djcache.Open("locmem://example-ping")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		log.Fatal(err) // names the backend and the server that failed
	}
	fmt.Println("ready")

	c.Close()
	fmt.Println(c.Ping(ctx))
	// Output:
	// ready
	// djcache: locmem: ping: cache is closed
}

func ExampleCache_TTL() {
	ctx := context.Background()
	c := open("ttl")
	defer c.Close()

	c.Set(ctx, "session", "data", djcache.Timeout(30*time.Minute))
	ttl, _ := c.TTL(ctx, "session")
	fmt.Println(ttl.Round(time.Minute))

	c.Set(ctx, "settings", "data", djcache.Forever)
	ttl, _ = c.TTL(ctx, "settings")
	fmt.Println(ttl == djcache.NeverExpires)

	_, err := c.TTL(ctx, "nope")
	fmt.Println(errors.Is(err, djcache.ErrNotFound), err)
	// Output:
	// 30m0s
	// true
	// true djcache: locmem: ttl ":1:nope": key not found
}

func ExampleCache_Stats() {
	ctx := context.Background()
	c := open("stats")
	defer c.Close()

	c.Set(ctx, "k", "v")
	var s string
	c.Get(ctx, "k", &s)
	c.Get(ctx, "other", &s)
	st := c.Stats()
	fmt.Println(st.Hits, st.Misses, st.Sets)
	// Output:
	// 1 1 1
}

func ExampleKeyWarnings() {
	fmt.Println(djcache.KeyWarnings(":1:key with spaces"))
	// Output:
	// [Cache key contains characters that will cause errors if used with memcached: ':1:key with spaces']
}
