package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/internal/testenv"
)

// server is a redis-server child process of one test, on a port of its own.
type server struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

// startServer starts redis-server on a free port, or skips the test (fails
// it under CI) when the binary is missing.
func startServer(t *testing.T) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		testenv.Unavailable(t, "redis-server", err.Error(), "install the Debian package redis-server (run .ci/services)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &server{t: t, port: port, dir: t.TempDir()}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no", "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", s.addr()); err == nil {
			conn.Close()
			return
		}
	}
	s.t.Fatalf("redis-server did not come up on %s", s.addr())
}

// stop kills the server, as a crash would.
func (s *server) stop() {
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// load runs goroutines that write and read their own keys through c until
// stopped, counting successes and failures, and checking that every error
// is an *djcache.OpError and that no value read is one never written.
type load struct {
	c        *djcache.Cache
	ok, errs atomic.Int64
	phase    atomic.Int64 // the window's number: a call counts only in the window it began and ended in
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex // protects bad
	bad      []string
}

func startLoad(ctx context.Context, c *djcache.Cache, workers int) *load {
	l := &load{c: c, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Go(func() {
			key := "worker-" + strconv.Itoa(w)
			last := 0 // the last value Set reported stored
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				phase := l.phase.Load()
				err := c.Set(ctx, key, n)
				if err == nil {
					last = n
					var got int
					var found bool
					found, err = c.Get(ctx, key, &got)
					if err == nil && found && (got < 1 || got > last) {
						l.report(fmt.Sprintf("%s: Get = %d after Set of %d", key, got, last))
					}
				}
				if err != nil {
					var oe *djcache.OpError
					if !errors.As(err, &oe) || oe.Op == "" || oe.Backend != "redis" {
						l.report(fmt.Sprintf("error %v is not an *OpError naming the operation", err))
					}
				}
				// A call that straddled two windows (it began before the
				// server stopped and ended after, say) counts in neither.
				if l.phase.Load() == phase {
					if err != nil {
						l.errs.Add(1)
					} else {
						l.ok.Add(1)
					}
				}
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return l
}

func (l *load) report(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) < 10 {
		l.bad = append(l.bad, s)
	}
}

// window starts a new window, waits d and returns the counts of the calls
// that began and ended in it. The length of d decides only how many calls
// are counted, never whether the test passes.
func (l *load) window(d time.Duration) (ok, errs int64) {
	l.phase.Add(1)
	l.ok.Store(0)
	l.errs.Store(0)
	time.Sleep(d)
	ok, errs = l.ok.Load(), l.errs.Load()
	l.phase.Add(1)
	return ok, errs
}

func (l *load) end(t *testing.T) {
	close(l.stop)
	l.wg.Wait()
	for _, b := range l.bad {
		t.Error(b)
	}
}

// TestRestart stops and starts a Redis server of its own in the middle of
// a load: calls fail with wrapped errors while it is down, succeed again by
// themselves once it is back (go-redis reconnects), nothing panics or
// hangs, and Close leaves no goroutine behind. Nothing it checks depends on
// how fast the machine is: calls are counted in the window they began and
// ended in, and waits for recovery are bounded only to catch a hang. It is not parallel, so that
// the goroutines it counts are its own (the parallel tests start after it).
func TestRestart(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	before := runtime.NumGoroutine()

	// Long read and write timeouts: a call on a busy machine must not fail
	// by timing out while the server is up; a killed server refuses at once.
	c, err := djcache.Open("redis://" + s.addr() + "?key_prefix=restart&max_retries=1&dial_timeout=10s&read_timeout=10s&write_timeout=10s&min_retry_backoff=10ms&max_retry_backoff=50ms")
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(ctx, c, 8)

	if ok, errs := l.window(300 * time.Millisecond); ok == 0 || errs != 0 {
		t.Errorf("server up: %d calls succeeded, %d failed; want successes only", ok, errs)
	}

	s.stop()
	if ok, errs := l.window(700 * time.Millisecond); ok != 0 || errs == 0 {
		t.Errorf("server down: %d calls succeeded, %d failed; want failures only", ok, errs)
	}

	// Back: calls succeed again by themselves. Each pooled connection to
	// the dead server fails once, so the first windows may still see
	// errors; a window with successes only must come (a minute of windows
	// without one is a hang, not a slow machine).
	s.start()
	recovered := time.Now()
	for attempt := 0; ; attempt++ {
		ok, errs := l.window(300 * time.Millisecond)
		if ok > 0 && errs == 0 {
			break
		}
		if time.Since(recovered) > time.Minute {
			t.Fatalf("server back for a minute: the last window had %d successes and %d failures; want successes only", ok, errs)
		}
	}
	t.Logf("calls succeed again (a clean window) %v after the restart", time.Since(recovered).Round(time.Millisecond))
	l.end(t)

	// A deadline bounds a call to a server that does not answer, and a
	// cancelled context shows in the error.
	s.signal(syscall.SIGSTOP)
	// The client's read timeout is 10s: a call that ignored its deadline
	// would end with the client's own timeout error instead.
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	var v int
	_, err = c.Get(dctx, "worker-0", &v)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get with a 100ms deadline from a stopped server = %v; want context.DeadlineExceeded", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.Get(cctx, "worker-0", &v)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get cancelled while the server does not answer = %v, want an error wrapping context.Canceled", err)
	}
	s.signal(syscall.SIGCONT)

	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := c.Get(ctx, "worker-0", &v); !errors.Is(err, djcache.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	s.stop()

	deadline := time.Now().Add(time.Minute) // catches a leak, not slowness
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), before, bytes.TrimSpace(buf))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
