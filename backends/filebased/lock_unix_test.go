//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filebased_test

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

// TestFlockInterop: a writer waits for a flock held on the key's file by
// another party (such as Django's touch), a cancelled context ends the
// wait with its error and changes nothing, and readers do not wait.
func TestFlockInterop(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	c := newCache(t, d)
	if err := c.Set(ctx, "n", 10, djcache.Forever); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(d.Path(":1:n"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	// Readers take no lock.
	if v, found, err := djcache.Get[int](ctx, c, "n"); err != nil || !found || v != 10 {
		t.Fatalf("Get under a foreign flock = %d, %v, %v; want 10", v, found, err)
	}

	// A context that ends stops the wait.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.Incr(tctx, "n", 1)
	if !errors.Is(err, context.DeadlineExceeded) || tctx.Err() == nil {
		t.Errorf("Incr under a foreign flock with a 100ms deadline = %v (context: %v); want DeadlineExceeded once the deadline passed", err, tctx.Err())
	}

	// A context without a deadline waits (in the kernel) until the flock
	// is released.
	done := make(chan error, 1)
	go func() {
		_, err := c.Incr(context.Background(), "n", 5)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Incr did not wait for the flock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, _, err := djcache.Get[int](ctx, c, "n"); err != nil || v != 15 {
		t.Errorf("after the flock: %d, %v; want 15 (the cancelled Incr changed nothing)", v, err)
	}
}
