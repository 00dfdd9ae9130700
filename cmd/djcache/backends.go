package main

// Every backend, so that any URL or settings work, and the L1 tier, so
// that local=N works on any of them.
import (
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
	_ "github.com/djcache/djcache/tiered"
)
