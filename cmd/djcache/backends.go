package main

// Every backend, so that any URL or settings work.
import (
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/locmem"
)
