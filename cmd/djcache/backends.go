package main

// Every backend, so that any URL or settings work.
import (
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
)
