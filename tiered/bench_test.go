package tiered_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/internal/testenv"
)

const redisAddr = "127.0.0.1:6379"

// BenchmarkGetHit reads one 64-byte value that is in the cache, from one
// goroutine (and, under /parallel, from GOMAXPROCS goroutines): through a
// tier over Redis (local=), against a plain locmem Cache and a plain Redis
// Cache. Redis on 127.0.0.1:6379 (.ci/services) or the Redis cases skip.
//
//	go test ./tiered -run '^$' -bench GetHit -benchmem
func BenchmarkGetHit(b *testing.B) {
	value := bytes.Repeat([]byte("x"), 64)
	prefix := fmt.Sprintf("djcache-bench-%d", seq.Add(1))
	for _, bc := range []struct {
		name, url string
		redis     bool
	}{
		{"locmem", "locmem://" + uniqueName("bench") + "?max_entries=1000", false},
		{"tiered-redis", "redis://" + redisAddr + "/0?local=1000&key_prefix=" + prefix, true},
		{"redis", "redis://" + redisAddr + "/0?key_prefix=" + prefix, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.redis {
				testenv.NeedTCP(b, "Redis", redisAddr, "run .ci/services as root")
			}
			c, err := djcache.Open(bc.url)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			defer c.Clear(b.Context())
			if err := c.Set(b.Context(), "hot", value); err != nil {
				b.Fatal(err)
			}
			b.Run("serial", func(b *testing.B) {
				ctx := b.Context()
				var dst []byte
				for b.Loop() {
					if found, err := c.Get(ctx, "hot", &dst); !found || err != nil {
						b.Fatal(found, err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				ctx := b.Context()
				b.RunParallel(func(pb *testing.PB) {
					var dst []byte
					for pb.Next() {
						if found, err := c.Get(ctx, "hot", &dst); !found || err != nil {
							b.Error(found, err)
							return
						}
					}
				})
			})
		})
	}
}
