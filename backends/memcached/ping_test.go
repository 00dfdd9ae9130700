package memcached_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/memcached"
)

// pingSilentServer listens on a local port, accepts connections and never
// answers: a server that hangs. It stops when the test ends.
func pingSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex // protects conns
		conns []net.Conn
	)
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
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// pingRefusedAddr returns a local address where nothing listens.
func pingRefusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func pingOpen(t *testing.T, rawURL string) *djcache.Cache {
	t.Helper()
	c, err := djcache.Open(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPingEveryServer: Ping reaches every server, and its error names each
// server that did not answer (a read of one key would reach one server).
func TestPingEveryServer(t *testing.T) {
	servers := needShared(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := pingOpen(t, "memcached://"+strings.Join(servers, ",")).Ping(ctx); err != nil {
		t.Fatalf("Ping of the shared servers: %v", err)
	}
	dead1, dead2 := pingRefusedAddr(t), pingRefusedAddr(t)
	c := pingOpen(t, "memcached://"+servers[0]+","+dead1+","+dead2)
	err := c.Ping(ctx)
	var oe *djcache.OpError
	if !errors.As(err, &oe) || oe.Op != "ping" || oe.Backend != "memcached" {
		t.Fatalf("Ping with two servers down: %v; want an *OpError ping on memcached", err)
	}
	for _, dead := range []string{dead1, dead2} {
		if !strings.Contains(err.Error(), "server "+dead) {
			t.Errorf("Ping error %q does not name the server %s that is down", err, dead)
		}
	}
	if strings.Contains(err.Error(), "server "+servers[0]+":") {
		t.Errorf("Ping error %q names the server %s that answered", err, servers[0])
	}
}

// TestPingDeadline: a server that accepts connections and never answers
// makes Ping fail when the context's deadline passes, with an error that
// errors.Is finds context.DeadlineExceeded in.
func TestPingDeadline(t *testing.T) {
	c := pingOpen(t, "memcached://"+pingSilentServer(t))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := c.Ping(ctx)
	var oe *djcache.OpError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &oe) || oe.Op != "ping" {
		t.Errorf("Ping of a silent server with a deadline: %v; want an *OpError ping wrapping context.DeadlineExceeded", err)
	}
}
