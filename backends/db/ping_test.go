package db_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/db"
)

func pingOpen(t *testing.T, rawURL string) *djcache.Cache {
	t.Helper()
	c, err := djcache.Open(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPingTable: Ping reads the cache table and never creates it; a
// missing table is ErrNoTable (reads fail on it), and a table that is not a
// cache table is an error too.
func TestPingTable(t *testing.T) {
	ctx := t.Context()
	file := filepath.ToSlash(filepath.Join(t.TempDir(), "cache.db"))
	c := pingOpen(t, "sqlite://"+file+"?table=ping_cache")
	d := c.Driver().(*db.Driver)

	err := c.Ping(ctx)
	var oe *djcache.OpError
	if !errors.Is(err, db.ErrNoTable) || !errors.As(err, &oe) || oe.Op != "ping" || !strings.Contains(err.Error(), "ping_cache") {
		t.Errorf("Ping without the table: %v; want an *OpError ping wrapping db.ErrNoTable naming the table", err)
	}
	if exists, err := d.TableExists(ctx); err != nil || exists {
		t.Fatalf("after Ping, TableExists = %v, %v; want false: Ping must not create the table", exists, err)
	}

	if err := c.Set(ctx, "k", "v"); err != nil { // creates the table
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping with the table: %v", err)
	}

	if _, err := d.DB().ExecContext(ctx, `CREATE TABLE "not_a_cache" (id integer)`); err != nil {
		t.Fatal(err)
	}
	err = pingOpen(t, "sqlite://"+file+"?table=not_a_cache").Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "not_a_cache") {
		t.Errorf("Ping of a table without the cache columns: %v; want an error naming it", err)
	}
}

// TestPingUnreachable: a wrong address shows at Ping, with an error that
// names the server and not the password.
func TestPingUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr := pingClosedAddr(t)
	for _, u := range []string{
		"postgres://app:s3cr3t-pw@" + addr + "/test",
		"mysql://app:s3cr3t-pw@" + addr + "/test",
	} {
		err := pingOpen(t, u).Ping(ctx)
		var oe *djcache.OpError
		if !errors.As(err, &oe) || oe.Op != "ping" || oe.Backend != "db" {
			t.Errorf("Ping of %s: %v; want an *OpError ping on db", u, err)
			continue
		}
		if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("Ping of %s: %q; want the address and not the password", u, err)
		}
	}
}

// TestPingDeadline: a server that accepts connections and never answers
// makes Ping fail when the context's deadline passes, with an error that
// errors.Is finds context.DeadlineExceeded in.
func TestPingDeadline(t *testing.T) {
	addr := pingSilentServer(t)
	for _, u := range []string{"postgres://app@" + addr + "/test", "mysql://app@" + addr + "/test"} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		err := pingOpen(t, u).Ping(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping of %s, a silent server, with a deadline: %v; want an error wrapping context.DeadlineExceeded", u, err)
		}
	}
}

// pingClosedAddr returns a local address where nothing listens.
func pingClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// pingSilentServer listens on a local port, accepts connections and never
// answers. It stops when the test ends.
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
