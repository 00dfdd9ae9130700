// Package bench holds djcache's benchmarks that need third-party code, in a
// module of its own so that the peers stay out of djcache's go.mod.
//
// The locmem comparison measures the locmem backend against other
// in-process Go caches (otter v2, patrickmn/go-cache, ristretto v2,
// hashicorp/golang-lru v2) and against a hand-written Django-policy engine,
// [ShardedLRU]: speed, memory per entry and hit ratio on synthetic and real
// traces. The other backends' benchmarks compare each one with its client
// library. The benchmarks are in the _test.go files; README.md says how to
// run them and holds the locmem results.
package bench
