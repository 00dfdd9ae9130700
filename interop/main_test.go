package interop

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the tests with -parallel 16 unless the command line sets
// it: each backend's test spends most of its time waiting (for Django's
// process, for entries to expire), so with go test's default of GOMAXPROCS
// slots the eighteen of them would run two at a time.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "16")
	}
	os.Exit(m.Run())
}
