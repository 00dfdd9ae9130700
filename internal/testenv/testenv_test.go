package testenv

import (
	"net"
	"strings"
	"testing"
)

func TestCI(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"true", true}, {"1", true}, {"TRUE", true}, {"", false}, {"false", false}, {"no", false}} {
		t.Setenv("CI", tc.env)
		if got := CI(); got != tc.want {
			t.Errorf("CI=%q: CI() = %v, want %v", tc.env, got, tc.want)
		}
	}
}

func TestNeedTCPListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("CI", "true")
	NeedTCP(t, "test server", ln.Addr().String(), "nothing to do") // must neither skip nor fail
}

// recorder captures what Unavailable does instead of ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(args ...any)      { r.skipped = args[0].(string) }
func (r *recorder) Fatal(args ...any)     { r.failed = args[0].(string) }
func (r *recorder) Logf(string, ...any)   {}
func (r *recorder) Errorf(string, ...any) {}

func TestNeedTCPAbsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	t.Setenv("CI", "")
	r := &recorder{TB: t}
	NeedTCP(r, "Redis", addr, "run .ci/services")
	if r.skipped == "" || r.failed != "" {
		t.Fatalf("outside CI: skipped=%q failed=%q, want a skip", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	NeedTCP(r, "Redis", addr, "run .ci/services")
	if r.failed == "" || r.skipped != "" {
		t.Fatalf("under CI: skipped=%q failed=%q, want a failure", r.skipped, r.failed)
	}
	if want := "run .ci/services"; !strings.Contains(r.failed, want) {
		t.Errorf("message %q does not say how to start the server (%q)", r.failed, want)
	}
}
