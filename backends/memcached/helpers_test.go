package memcached_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// The shared servers that .ci/services starts. Other tests use them at the
// same time: every test works in a namespace of its own and never flushes.
var sharedServers = []string{"127.0.0.1:11211", "127.0.0.1:11212"}

const howTo = "run .ci/services (as root) to install memcached and start it on 127.0.0.1:11211 and 127.0.0.1:11212"

// needShared skips the test (fails it under CI) unless both shared servers
// answer, and returns them.
func needShared(t testing.TB) []string {
	t.Helper()
	for _, s := range sharedServers {
		testenv.NeedTCP(t, "memcached", s, howTo)
	}
	return sharedServers
}

// uniqueNS returns a namespace no other test or run uses.
func uniqueNS(what string) string {
	b := make([]byte, 5)
	rand.Read(b)
	return "djt." + what + "." + hex.EncodeToString(b) + "."
}

// harness gives every driver it makes the same fresh namespace on the same
// servers, and deletes the namespace's keys when it closes.
type harness struct {
	t       testing.TB // where Close reports a failed clean-up (nil: nowhere)
	servers []string
	ns      string
}

// testTimeout is the client timeout of the tests' drivers, unless a test
// sets its own: gomemcache's default (500ms, for the dial too) fails calls
// on a machine busy with other work, and only the timeout tests are about
// timeouts.
const testTimeout = 10 * time.Second

func (h *harness) MakeDriver(context.Context) (driver.Driver, error) {
	return memcached.New(h.servers, &memcached.Options{Namespace: h.ns, Timeout: testTimeout})
}

func (h *harness) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := memcached.New(h.servers, &memcached.Options{Namespace: h.ns, Timeout: testTimeout})
	if err != nil {
		return
	}
	defer d.Close()
	// A custom key function: Clear deletes the whole namespace.
	if err := d.Clear(ctx, driver.Scope{}); err != nil && h.t != nil {
		// Not a failure of the test: the keys expire with their timeouts.
		h.t.Logf("cleaning namespace %s up: %v", h.ns, err)
	}
}

// newCache returns a Cache on servers in a fresh namespace (with the driver
// options in o), closed and emptied when the test ends, and its driver.
func newCache(t *testing.T, servers []string, o *memcached.Options, co *djcache.Options) (*djcache.Cache, *memcached.Driver) {
	t.Helper()
	h := &harness{servers: servers, ns: uniqueNS("t")}
	t.Cleanup(h.Close)
	var opts memcached.Options
	if o != nil {
		opts = *o
	}
	opts.Namespace = h.ns
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	d, err := memcached.New(servers, &opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := djcache.New(d, co)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, d
}

// server is a memcached process of the test's own, which it may kill and
// restart (never the shared servers).
type server struct {
	t    testing.TB
	args []string
	addr string // "127.0.0.1:PORT", or the socket path
	cmd  *exec.Cmd
}

// memcachedBinary returns the memcached program, or skips the test (fails
// it under CI) when it is not installed.
func memcachedBinary(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/memcached", "memcached"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Unavailable(t, "the memcached program", "not found in /usr/bin or PATH", "install Debian's memcached package (.ci/services does)")
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer starts a memcached of the test's own on a free port (or, with
// unix, on a socket in a temporary directory), stopped when the test ends.
func startServer(t testing.TB, unix bool, extra ...string) *server {
	t.Helper()
	bin := memcachedBinary(t)
	s := &server{t: t}
	if unix {
		s.addr = filepath.Join(t.TempDir(), "mc.sock")
		s.args = []string{"-s", s.addr}
	} else {
		port := freePort(t)
		s.addr = "127.0.0.1:" + strconv.Itoa(port)
		s.args = []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
	}
	s.args = append(s.args, "-m", "16", "-t", "1")
	if os.Geteuid() == 0 {
		s.args = append(s.args, "-u", "root")
	}
	s.args = append(append([]string{bin}, s.args...), extra...)
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start runs the process and waits until it answers.
func (s *server) start() {
	s.t.Helper()
	s.cmd = &exec.Cmd{Path: s.args[0], Args: s.args}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting %v: %v", s.args, err)
	}
	network := "tcp"
	if filepath.IsAbs(s.addr) {
		network = "unix"
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout(network, s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.kill()
			s.t.Fatalf("memcached %v did not answer: %v", s.args, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the process (the test's own, by its pid), losing its data.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
