package memcached_test

import (
	"flag"
	"os"
	"testing"

	"github.com/djcache/djcache/internal/testenv"
)

// TestMain runs the tests with -parallel 16 unless the command line sets
// it: most conformance cases wait out whole-second expiries (memcached's
// resolution) and use no CPU meanwhile, so with go test's default of
// GOMAXPROCS slots the package would take minutes instead of seconds (see
// the djcachetest package documentation).
func TestMain(m *testing.M) {
	flag.Parse()
	testenv.DefaultParallel(16)
	os.Exit(m.Run())
}
