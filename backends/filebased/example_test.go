package filebased_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
)

// Open a cache in a directory by URL, as Django's FileBasedCache with
// LOCATION set to that directory.
func Example() {
	dir, err := os.MkdirTemp("", "djcache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	c, err := djcache.Open("file://" + filepath.Join(dir, "cache") + "?max_entries=1000&timeout=60")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if err := c.Set(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	var s string
	found, err := c.Get(ctx, "greeting", &s)
	fmt.Println(s, found, err)

	// Add and Incr are atomic, even across processes sharing the directory.
	added, _ := c.Add(ctx, "views", 0, djcache.Forever)
	n, _ := c.Incr(ctx, "views", 1)
	fmt.Println(added, n)

	// The file is where Django looks for ":1:greeting".
	d := c.Driver().(*filebased.Driver)
	fmt.Println(filepath.Base(d.Path(":1:greeting")))
	// Output:
	// hello true <nil>
	// true 1
	// a8c535041f5413d9d97a326f865e146a.djcache
}

// Build a Driver from Go values and give it to djcache.New.
func ExampleNew() {
	d, err := filebased.New("/var/cache/myapp", &filebased.Options{
		MaxEntries:    10000,
		CullFrequency: 4, // a full directory loses a quarter of its files
		Sync:          true,
	})
	if err != nil {
		log.Fatal(err)
	}
	c, err := djcache.New(d, &djcache.Options{KeyPrefix: "shop", Timeout: djcache.Timeout(10 * time.Minute)})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(d.Dir())
	// Output: /var/cache/myapp
}
