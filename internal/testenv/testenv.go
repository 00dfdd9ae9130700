// Package testenv decides what a test does when the server it needs is not
// there: outside CI it skips with a message saying how to start the server;
// under CI=true a skip would hide a broken setup, so it fails instead.
package testenv

import (
	"flag"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// CI reports whether the tests run under CI (the environment variable CI is
// "true", "1" or similar).
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Unavailable skips the test (or fails it under CI) because what it needs,
// named by what, is unavailable: why says what went wrong, howTo how to make
// it available.
func Unavailable(t testing.TB, what, why, howTo string) {
	t.Helper()
	msg := what + " is not available (" + why + "); " + howTo
	if CI() {
		t.Fatal("CI=true: " + msg)
		return
	}
	t.Skip(msg)
}

// NeedTCP dials addr (host:port) and skips the test (fails it under CI) if
// nothing answers within two seconds. what names the server, such as
// "Redis"; howTo says how to start it, such as "run .ci/services".
func NeedTCP(t testing.TB, what, addr, howTo string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Unavailable(t, what+" at "+addr, err.Error(), howTo)
		return
	}
	conn.Close()
}

// DefaultParallel sets go test's -parallel flag to n unless the command
// line set it. Call it from TestMain, after flag.Parse, in packages whose
// parallel tests mostly wait (for servers, for entries to expire): with go
// test's default of GOMAXPROCS slots they would run a few at a time.
func DefaultParallel(n int) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}
