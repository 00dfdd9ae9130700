package memcached_test

import (
	"context"
	"testing"
	"time"

	"github.com/djcache/djcache/backends/memcached"
	"github.com/djcache/djcache/djcachetest"
)

// kitOptions are memcached's documented limits: unsigned counters that stop
// at 0, numeric text that memcached's incr counts under the pickle
// serializer (stored as Django stores it), whole-second expiry, and values
// up to DefaultMaxValueSize bytes.
var kitOptions = &djcachetest.Options{
	Unsupported:      []djcachetest.Feature{djcachetest.NegativeCounters, djcachetest.PickledTextIsNotACounter},
	MaxValueSize:     memcached.DefaultMaxValueSize,
	ExpiryResolution: time.Second,
}

// TestConformance runs the kit against one shared server.
func TestConformance(t *testing.T) {
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &harness{t: t, servers: needShared(t)[:1], ns: uniqueNS("conf1")}, nil
	}, kitOptions)
}

// TestConformanceTwoServers runs the kit against both shared servers, keys
// spread over them by rendezvous hashing.
func TestConformanceTwoServers(t *testing.T) {
	djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		return &harness{t: t, servers: needShared(t), ns: uniqueNS("conf2")}, nil
	}, kitOptions)
}
