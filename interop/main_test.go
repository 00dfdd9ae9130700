package interop

import (
	"flag"
	"os"
	"testing"

	"github.com/djcache/djcache/internal/testenv"
)

// TestMain runs the tests with -parallel 16 unless the command line sets
// it: each backend's test spends most of its time waiting (for Django's
// process, for entries to expire), so with go test's default of GOMAXPROCS
// slots the sixty of them (about twenty per Django release) would run two
// at a time.
func TestMain(m *testing.M) {
	flag.Parse()
	testenv.DefaultParallel(16)
	os.Exit(m.Run())
}
