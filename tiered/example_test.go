package tiered_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/tiered"
)

// The URL parameter local puts a tier in front of any backend; here a
// file cache, whose entries the tier keeps for at most 30 seconds.
func Example() {
	dir, _ := os.MkdirTemp("", "tiered-example")
	defer os.RemoveAll(dir)
	c, err := djcache.Open("file://" + filepath.Join(dir, "cache") + "?local=1000&local_timeout=30")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "greeting", "hello")
	v, found, _ := djcache.Get[string](ctx, c, "greeting") // from the file, then kept in the L1
	fmt.Println(v, found)
	v, found, _ = djcache.Get[string](ctx, c, "greeting") // from the L1
	fmt.Println(v, found)
	// Output:
	// hello true
	// hello true
}

// New makes one Cache of two: an L1 (a private locmem store) in front of
// an L2, configured as the L2.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "tiered-example")
	defer os.RemoveAll(dir)
	l1d, err := locmem.NewPrivate(&locmem.Options{MaxEntries: 10000})
	if err != nil {
		log.Fatal(err)
	}
	l1, _ := djcache.New(l1d, nil)
	l2d, err := filebased.New(filepath.Join(dir, "cache"), nil)
	if err != nil {
		log.Fatal(err)
	}
	l2, _ := djcache.New(l2d, &djcache.Options{KeyPrefix: "shop"})
	c, err := tiered.New(l1, l2, nil) // c owns both from now on
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "n", 41)
	n, _ := c.Incr(ctx, "n", 1)
	v, _, _ := djcache.Get[int](ctx, c, "n")
	fmt.Println(n, v)
	// Output: 42 42
}
