package memcached_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
)

// Open a cache on two servers from a URL, as Django's LOCATION lists them.
// (It needs the servers to run; Open itself does no I/O.)
func Example() {
	c, err := djcache.Open("memcached://127.0.0.1:11211,127.0.0.1:11212?key_prefix=shop&timeout=60")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	n, err := c.Incr(ctx, "visits", 1)
	fmt.Println(n, err)
}

// Build a driver from Go, with options a URL cannot hold.
func ExampleNew() {
	d, err := memcached.New([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, &memcached.Options{
		Namespace: "app1.",
		Timeout:   time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := djcache.New(d, &djcache.Options{KeyPrefix: "shop"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
}

// The server of a key, as pymemcache's HashClient (Django's
// PyMemcacheCache) chooses it.
func ExampleSelector() {
	s, err := memcached.NewSelector([]string{"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, key := range []string{":1:foo", ":1:bar", ":1:baz"} {
		fmt.Println(key, "->", s.Server(key))
	}
	// Output:
	// :1:foo -> 127.0.0.1:11211
	// :1:bar -> 127.0.0.1:11212
	// :1:baz -> 127.0.0.1:11213
}

// A bad key fails before any I/O, with Django's message.
func ExampleDriver_CheckKey() {
	d, err := memcached.New([]string{"127.0.0.1:11211"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.CheckKey(":1:key with spaces"))
	// Output:
	// Cache key contains characters that will cause errors if used with memcached: ':1:key with spaces'
}

// The servers of a URL, split as Django splits LOCATION.
func ExampleServersFromURL() {
	for _, raw := range []string{
		"memcached://cache1:11211;cache2:11212",
		"memcached:cache1,[::1]:11211,unix:/run/memcached.sock", // the opaque form takes any LOCATION
	} {
		u, err := url.Parse(raw)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(memcached.ServersFromURL(u))
	}
	// Output:
	// [cache1:11211 cache2:11212] <nil>
	// [cache1 [::1]:11211 unix:/run/memcached.sock] <nil>
}
