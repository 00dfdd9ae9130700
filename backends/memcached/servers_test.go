package memcached_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
)

// The tests in this file start memcached processes of their own, which
// they may kill, restart or flush; they never touch the shared servers.

// TestKeyMovement measures, on real servers, the keys that move when a
// third server joins two: rendezvous hashing moves about a third of them,
// all to the new server; the others are still found where they were.
func TestKeyMovement(t *testing.T) {
	t.Parallel()
	a, b, c := startServer(t, false), startServer(t, false), startServer(t, false)
	ctx := context.Background()
	const n = 3000
	two, err := djcache.Open("memcached://" + a.addr + "," + b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	items := map[string]any{}
	for i := range n {
		items[fmt.Sprintf("user:%d", i)] = i
	}
	if failed, err := two.SetMany(ctx, items); err != nil || len(failed) > 0 {
		t.Fatalf("SetMany: %v, failed %d", err, len(failed))
	}
	three, err := djcache.Open("memcached://" + a.addr + "," + b.addr + "," + c.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer three.Close()
	keys := make([]string, 0, n)
	for k := range items {
		keys = append(keys, k)
	}
	found, err := djcache.GetMany[int](ctx, three, keys)
	if err != nil {
		t.Fatal(err)
	}
	moved := n - len(found)
	frac := float64(moved) / n
	// gomemcache's default, crc32 % N, on the same keys.
	var before, after memcache.ServerList
	before.SetServers(a.addr, b.addr)
	after.SetServers(a.addr, b.addr, c.addr)
	crcMoved := 0
	for _, k := range keys {
		made := djcache.DefaultKeyFunc(k, "", 1)
		x, _ := before.PickServer(made)
		y, _ := after.PickServer(made)
		if x.String() != y.String() {
			crcMoved++
		}
	}
	t.Logf("adding a third server moved %d of %d keys (%.1f%%; ideal 33.3%%); crc32 %% N would move %.1f%%", moved, n, 100*frac, 100*float64(crcMoved)/n)
	if frac < 0.28 || frac > 0.39 {
		t.Errorf("%.1f%% of the keys moved when a third server joined, want about a third", 100*frac)
	}
	sel := three.Driver().(*memcached.Driver).Selector()
	for _, k := range keys {
		if _, ok := found[k]; !ok && sel.Server(djcache.DefaultKeyFunc(k, "", 1)) != c.addr {
			t.Fatalf("%s moved between the old servers", k)
		}
	}
}

// TestServerKilled kills one of two servers under load: the keys of the
// dead server fail with an error (never a panic, never another key's
// value), the other server's keys keep working, and once the server is back
// the keys work again at once (empty, as memcached keeps nothing).
func TestServerKilled(t *testing.T) {
	t.Parallel()
	a, b := startServer(t, false), startServer(t, false)
	c, err := djcache.Open("memcached://"+a.addr+","+b.addr+"?socket_timeout=1", &djcache.Options{Timeout: djcache.Forever})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sel := c.Driver().(*memcached.Driver).Selector()
	ctx := context.Background()
	var onA, onB []string
	for i := 0; len(onA) < 20 || len(onB) < 20; i++ {
		k := fmt.Sprintf("k%d", i)
		if sel.Server(djcache.DefaultKeyFunc(k, "", 1)) == a.addr {
			onA = append(onA, k)
		} else {
			onB = append(onB, k)
		}
		if err := c.Set(ctx, k, k); err != nil {
			t.Fatal(err)
		}
	}

	// Load: goroutines read and write keys of both servers while b dies.
	var (
		stop       atomic.Bool
		dead       atomic.Bool // b is dead: every read of its keys that starts now must fail
		wg         sync.WaitGroup
		aErrs, bOK atomic.Int64
		wrongValue atomic.Value
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				ka, kb := onA[(g+i)%len(onA)], onB[(g+i)%len(onB)]
				if v, found, err := djcache.Get[string](ctx, c, ka); err != nil {
					aErrs.Add(1)
				} else if found && v != ka {
					wrongValue.Store(ka + "=" + v)
				}
				if err := c.Set(ctx, ka, ka); err != nil {
					aErrs.Add(1)
				}
				afterDeath := dead.Load()
				if v, found, err := djcache.Get[string](ctx, c, kb); err == nil && found && v != kb {
					wrongValue.Store(kb + "=" + v)
				} else if err == nil && afterDeath {
					bOK.Add(1)
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // load before the death (its length is not checked)
	b.kill()
	dead.Store(true)
	time.Sleep(500 * time.Millisecond) // and after
	stop.Store(true)
	wg.Wait()
	if n := aErrs.Load(); n > 0 {
		t.Errorf("%d calls on the live server's keys failed while the other server was down", n)
	}
	if n := bOK.Load(); n > 0 {
		t.Errorf("%d reads of the dead server's keys succeeded", n)
	}
	if v := wrongValue.Load(); v != nil {
		t.Errorf("a read returned another key's value: %v", v)
	}

	// Every call on the dead server's keys fails with a wrapped error.
	if _, _, err := djcache.Get[string](ctx, c, onB[0]); err == nil {
		t.Error("Get of a key on the dead server: no error")
	} else {
		var oe *djcache.OpError
		if !errors.As(err, &oe) || oe.Backend != "memcached" {
			t.Errorf("Get of a key on the dead server: %v, want a *djcache.OpError of memcached", err)
		}
		t.Logf("the dead server's keys fail with: %v", err)
	}
	if err := c.Set(ctx, onB[0], "x"); err == nil {
		t.Error("Set of a key on the dead server: no error")
	}
	if err := c.GetMany(ctx, []string{onA[0], onB[0]}, new(map[string]string)); err == nil {
		t.Error("GetMany over both servers with one dead: no error")
	}
	if v, found, err := djcache.Get[string](ctx, c, onA[0]); err != nil || !found || v != onA[0] {
		t.Errorf("Get of a key on the live server = %q, %v, %v", v, found, err)
	}

	// Back: the first calls work (the pool's dead connections are retried
	// once), and the restarted server is empty.
	b.start()
	if _, found, err := djcache.Get[string](ctx, c, onB[1]); err != nil || found {
		t.Errorf("first Get on the restarted server = found %v, %v; want a miss", found, err)
	}
	if err := c.Set(ctx, onB[1], "again"); err != nil {
		t.Errorf("first Set on the restarted server: %v", err)
	}
	if v, _, err := djcache.Get[string](ctx, c, onB[1]); v != "again" || err != nil {
		t.Errorf("Get after the restart = %q, %v", v, err)
	}
	if _, err := djcache.GetMany[string](ctx, c, append(onA[:5:5], onB[:5]...)); err != nil {
		t.Errorf("GetMany after the restart: %v", err)
	}
}

// TestRestartReusesPool checks that pooled connections to a server that
// restarted do not fail the next Get and Set: gomemcache hands out a
// connection the server closed, and the driver retries such calls once.
func TestRestartReusesPool(t *testing.T) {
	t.Parallel()
	s := startServer(t, false)
	c, err := djcache.Open("memcached://" + s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.kill()
	s.start()
	if _, _, err := djcache.Get[string](ctx, c, "k"); err != nil {
		t.Errorf("Get on a pooled connection to a restarted server: %v", err)
	}
	s.kill()
	s.start()
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Errorf("Set on a pooled connection to a restarted server: %v", err)
	}
}

// TestUnixSocket opens a server on a Unix socket with both URL forms.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	s := startServer(t, true)
	ctx := context.Background()
	for _, u := range []string{"memcached://" + s.addr, "memcached://unix:" + s.addr, "memcached:unix:" + s.addr} {
		c, err := djcache.Open(u)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if err := c.Set(ctx, "k", u); err != nil {
			t.Errorf("%s: Set: %v", u, err)
		}
		if v, _, err := djcache.Get[string](ctx, c, "k"); v != u || err != nil {
			t.Errorf("%s: Get = %q, %v", u, v, err)
		}
		if err := c.Clear(ctx); err != nil {
			t.Errorf("%s: Clear: %v", u, err)
		}
		c.Close()
	}
}

// TestClearFlush checks the explicit flush mode: flush_all empties every
// server, other applications' keys included (on servers of the test's own).
func TestClearFlush(t *testing.T) {
	t.Parallel()
	a, b := startServer(t, false), startServer(t, false)
	ctx := context.Background()
	c, err := djcache.Open("memcached://"+a.addr+";"+b.addr+"?clear=flush", &djcache.Options{KeyPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other := memcache.New(a.addr, b.addr)
	defer other.Close()
	for i := range 20 {
		other.Set(&memcache.Item{Key: fmt.Sprintf("other:%d", i), Value: []byte("x")})
		c.Set(ctx, fmt.Sprint(i), i)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := other.Get(fmt.Sprintf("other:%d", i)); !errors.Is(err, memcache.ErrCacheMiss) {
			t.Errorf("after a flush, other:%d: %v, want a miss", i, err)
		}
		if has, _ := c.Has(ctx, fmt.Sprint(i)); has {
			t.Errorf("after a flush, the cache's key %d is there", i)
		}
	}
}

// TestClearWithoutNamespace checks the default scan with no namespace and
// no prefix: it removes every key of Django's ":version:key" shape (the key
// space such a Django cache shares) and nothing else. It runs on a server
// of its own, since such keys on the shared servers may be other tests'.
func TestClearWithoutNamespace(t *testing.T) {
	t.Parallel()
	s := startServer(t, false)
	ctx := context.Background()
	c, err := djcache.Open("memcached://" + s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other := memcache.New(s.addr)
	defer other.Close()
	spared := []string{"app:1:k", "1:k", ":x:k", "::k", "k"}
	for _, k := range spared {
		other.Set(&memcache.Item{Key: k, Value: []byte("x")})
	}
	// Written by Django with the default settings: it is this cache's.
	other.Set(&memcache.Item{Key: ":2:django", Value: []byte("x"), Flags: 16})
	for i := range 500 {
		c.Set(ctx, fmt.Sprint(i), i)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for _, k := range spared {
		if _, err := other.Get(k); err != nil {
			t.Errorf("Clear removed %q: %v", k, err)
		}
	}
	if _, err := other.Get(":2:django"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Errorf("Clear left :2:django, a key of the same Django key space: %v", err)
	}
	n := 0
	for i := range 500 {
		if has, _ := c.Has(ctx, fmt.Sprint(i)); has {
			n++
		}
	}
	if n > 0 {
		t.Errorf("Clear left %d of 500 keys", n)
	}
}

// TestClearConcurrent runs Clears of several caches at once on one server:
// memcached's crawler takes one listing at a time and answers BUSY to the
// others, which wait and try again.
func TestClearConcurrent(t *testing.T) {
	t.Parallel()
	s := startServer(t, false)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := djcache.Open(fmt.Sprintf("memcached://%s?namespace=g%d.", s.addr, g))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range 200 {
				c.Set(ctx, fmt.Sprint(i), i)
			}
			if err := c.Clear(ctx); err != nil {
				errs <- fmt.Errorf("cache %d: Clear: %w", g, err)
				return
			}
			if m, _ := djcache.GetMany[int](ctx, c, []string{"0", "100", "199"}); len(m) > 0 {
				errs <- fmt.Errorf("cache %d: Clear left %v", g, m)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// blackhole returns the address of a server that accepts connections and
// never answers.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestContextDeadline checks that a context's deadline ends a call on a
// server that never answers long before the client's timeout, for single
// calls, many-key calls and Clear, and that a cancelled context stops a
// call before any I/O. The client's timeout is an hour, so a call that
// ignored its deadline could only end with the client's timeout error
// (after the test binary's own timeout): the error is what is checked,
// never the time taken.
func TestContextDeadline(t *testing.T) {
	t.Parallel()
	d, err := memcached.New([]string{blackhole(t)}, &memcached.Options{Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := djcache.New(d, nil)
	defer c.Close()
	calls := map[string]func(context.Context) error{
		"Get":     func(ctx context.Context) error { _, err := c.Get(ctx, "k", new(any)); return err },
		"Set":     func(ctx context.Context) error { return c.Set(ctx, "k", "v") },
		"Incr":    func(ctx context.Context) error { _, err := c.Incr(ctx, "k", 1); return err },
		"GetMany": func(ctx context.Context) error { return c.GetMany(ctx, []string{"a", "b"}, new(map[string]any)) },
		"SetMany": func(ctx context.Context) error { _, err := c.SetMany(ctx, map[string]any{"a": 1, "b": 2}); return err },
		"Clear":   func(ctx context.Context) error { return c.Clear(ctx) },
	}
	for name, call := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a silent server: %v, want context.DeadlineExceeded", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range calls {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
}

// TestClientTimeout checks the client's own timeout: a server that never
// answers fails a call with a timeout error after socket_timeout.
func TestClientTimeout(t *testing.T) {
	t.Parallel()
	c, err := djcache.Open("memcached://" + blackhole(t) + "?socket_timeout=0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Get(context.Background(), "k", new(any))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Get on a silent server with socket_timeout=0.2: %v, want a timeout error", err)
	}
}

// TestContextCancelInline checks a cancellation without a deadline: the
// call runs in the caller's goroutine, so it ends on the client's timeout,
// and then reports the cancellation.
func TestContextCancelInline(t *testing.T) {
	t.Parallel()
	d, err := memcached.New([]string{blackhole(t)}, &memcached.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := djcache.New(d, nil)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = c.Get(ctx, "k", new(any))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Get cancelled during the call: %v, want context.Canceled", err)
	}
}

// TestExistingClient uses a gomemcache client of the caller's: the driver
// works through it, Clear needs the server list to scan, and Close leaves
// the client usable.
func TestExistingClient(t *testing.T) {
	t.Parallel()
	s := startServer(t, false)
	ctx := context.Background()
	mc := memcache.New(s.addr)
	defer mc.Close()
	d, err := memcached.New([]string{s.addr}, &memcached.Options{Client: mc, Namespace: "mine."})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := djcache.New(d, nil)
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if it, err := mc.Get("mine.:1:k"); err != nil || string(it.Value) != "v" || it.Flags != memcached.FlagText {
		t.Errorf("the caller's client reads %v, %v", it, err)
	}
	if _, err := c.SetMany(ctx, map[string]any{"a": 1, "b": 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := djcache.GetMany[any](ctx, c, []string{"k", "a", "b"}); len(m) > 0 {
		t.Errorf("after Clear: %v", m)
	}
	c.Close()
	if err := mc.Set(&memcache.Item{Key: "still", Value: []byte("usable")}); err != nil {
		t.Errorf("the caller's client after the Cache closed: %v", err)
	}

	// Without servers, Clear cannot scan; flush_all goes through the client.
	noList, err := memcached.New(nil, &memcached.Options{Client: mc})
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := djcache.New(noList, nil)
	defer c2.Close()
	if err := c2.Clear(ctx); err == nil || !strings.Contains(err.Error(), "server list") {
		t.Errorf("Clear with a client and no servers: %v, want an error asking for the server list", err)
	}
	flush, _ := memcached.New(nil, &memcached.Options{Client: mc, Clear: memcached.ClearFlushAll})
	c3, _ := djcache.New(flush, nil)
	defer c3.Close()
	if err := c3.Clear(ctx); err != nil {
		t.Errorf("Clear by flush_all through the client: %v", err)
	}
	if _, err := mc.Get("still"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Errorf("after flush_all: %v, want a miss", err)
	}
	if _, err := memcached.New(nil, nil); err == nil {
		t.Error("New with no servers and no client: no error")
	}
}
