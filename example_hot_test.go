package djcache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/djcache/djcache"
)

// Runnable examples of GetOrSet and GetOrSetMany under load.

func ExampleGetOrSetMany() {
	ctx := context.Background()
	c := open("generic-get-or-set-many")
	defer c.Close()

	// Two of the four users are cached already.
	c.SetMany(ctx, map[string]any{"user:1": "Ada", "user:3": "Grace"})

	// One read for the four keys, one query for the two that missed, one
	// write for their rows. user:4 has no row: fill leaves it out, so it is
	// neither cached nor returned.
	users, err := djcache.GetOrSetMany(ctx, c, []string{"user:1", "user:2", "user:3", "user:4"},
		func(ctx context.Context, missing []string) (map[string]string, error) {
			fmt.Println("query for", missing)
			return map[string]string{"user:2": "Edsger"}, nil // SELECT ... WHERE id IN (...)
		}, djcache.Timeout(10*time.Minute), djcache.Jitter(0.1))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users)
	// Output:
	// query for [user:2 user:4]
	// map[user:1:Ada user:2:Edsger user:3:Grace]
}

func ExampleCache_GetOrSetMany() {
	ctx := context.Background()
	c := open("get-or-set-many")
	defer c.Close()

	fill := func(ctx context.Context, missing []string) (map[string]any, error) {
		fmt.Println("fill", missing)
		prices := map[string]any{}
		for _, sku := range missing {
			prices[sku] = 100 * len(sku)
		}
		return prices, nil
	}
	for range 2 { // the second call finds every key: no fill
		var prices map[string]int
		if err := c.GetOrSetMany(ctx, []string{"ab", "abc"}, &prices, fill); err != nil {
			log.Fatal(err)
		}
		fmt.Println(prices)
	}
	// Output:
	// fill [ab abc]
	// map[ab:200 abc:300]
	// map[ab:200 abc:300]
}
