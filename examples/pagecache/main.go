// Command pagecache is djcache's demo: a product page built from several
// expensive queries that change at different intervals, each cached with its
// own timeout, rendered first without the cache and then with it.
//
//	go run ./examples/pagecache
//
// It needs no server: by default it uses an in-process locmem cache. Set
// DJCACHE_URL to run the same code against another backend, for example
// DJCACHE_URL=dummy:// to see what no caching at all costs.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/locmem"
)

// A query is one expensive part of the page: how long it takes to compute
// and how long its result may be cached.
type query struct {
	key     string
	cost    time.Duration
	timeout djcache.Option
	compute func(n int) any
}

// The page's queries, as a shop might have them: stock changes by the
// second, prices by the minute, reviews by the hour, the category tree
// almost never.
var queries = []query{
	{"product:42:stock", 30 * time.Millisecond, djcache.Timeout(time.Second),
		func(n int) any { return 17 - n%3 }},
	{"product:42:price", 45 * time.Millisecond, djcache.Timeout(time.Minute),
		func(int) any { return 19.90 }},
	{"product:42:reviews", 80 * time.Millisecond, djcache.Timeout(time.Hour),
		func(int) any { return []string{"Great tea", "Smells of smoke, in a good way"} }},
	{"categories", 60 * time.Millisecond, djcache.Forever,
		func(int) any { return map[string][]string{"tea": {"black", "green"}, "coffee": {"beans"}} }},
}

// render builds the page once. With c == nil every query runs; otherwise
// each goes through GetOrSet with its own timeout. It returns the number of
// queries that actually ran.
func render(ctx context.Context, c *djcache.Cache, n int) (ran int, err error) {
	for _, q := range queries {
		run := func(context.Context) (any, error) {
			time.Sleep(q.cost) // the expensive part
			ran++
			return q.compute(n), nil
		}
		var v any
		if c == nil {
			v, _ = run(ctx)
		} else if err := c.GetOrSet(ctx, q.key, &v, run, q.timeout); err != nil {
			return ran, err
		}
		_ = v // a real page would render v here
	}
	return ran, nil
}

func main() {
	renders := flag.Int("n", 8, "number of page renders per round")
	pause := flag.Duration("pause", 250*time.Millisecond, "pause between renders (lets the 1 s stock entry expire)")
	flag.Parse()

	url := os.Getenv("DJCACHE_URL")
	if url == "" {
		url = "locmem://pagecache"
	}
	c, err := djcache.Open(url)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Clear(ctx); err != nil { // start cold
		log.Fatal(err)
	}

	fmt.Printf("A product page from %d queries (stock 1 s, price 1 min, reviews 1 h, categories forever)\n", len(queries))
	fmt.Printf("cache: %s\n\n", url)
	fmt.Printf("%-8s %14s %14s %s\n", "render", "no cache", "with cache", "queries run with cache")
	var totalNo, totalWith time.Duration
	for i := range *renders {
		start := time.Now()
		render(ctx, nil, i)
		no := time.Since(start)

		start = time.Now()
		ran, err := render(ctx, c, i)
		if err != nil {
			log.Fatal(err)
		}
		with := time.Since(start)
		totalNo += no
		totalWith += with
		fmt.Printf("%-8d %14v %14v %s\n", i+1, no.Round(time.Millisecond), with.Round(10*time.Microsecond), strings.Repeat("#", ran))
		time.Sleep(*pause)
	}
	st := c.Stats()
	fmt.Printf("\ntotal: %v without the cache, %v with it (%.0fx faster)\n",
		totalNo.Round(time.Millisecond), totalWith.Round(time.Millisecond), float64(totalNo)/float64(max(totalWith, 1)))
	fmt.Printf("cache stats: %d hits, %d misses, %d sets\n", st.Hits, st.Misses, st.Sets)
}
