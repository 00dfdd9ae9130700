package bench

import (
	"strconv"
	"testing"
	"time"
)

func TestShardedLRUDjangoCull(t *testing.T) {
	c := NewShardedLRU[int](9, 1, 3)
	for i := range 9 {
		c.Set("k"+strconv.Itoa(i), i, 0)
	}
	if _, ok := c.Get("k0"); !ok { // k0 becomes the most recently used
		t.Fatal("k0 missing before the store is full")
	}
	c.Set("k9", 9, 0) // full: drops 9/3 = 3 least recently used (k1, k2, k3), then stores
	if n := c.Len(); n != 7 {
		t.Fatalf("Len = %d after the cull, want 7", n)
	}
	for i := range 10 {
		_, ok := c.Get("k" + strconv.Itoa(i))
		if want := i == 0 || i > 3; ok != want {
			t.Errorf("k%d present = %v, want %v", i, ok, want)
		}
	}
}

func TestShardedLRUCullOnOverwrite(t *testing.T) {
	// Django checks the length before every set, even of a present key.
	c := NewShardedLRU[int](3, 1, 3)
	for i := range 3 {
		c.Set("k"+strconv.Itoa(i), i, 0)
	}
	c.Set("k2", 20, 0) // full: drops k0, then replaces k2
	if _, ok := c.Get("k0"); ok {
		t.Error("k0 survived the cull")
	}
	if v, ok := c.Get("k2"); !ok || v != 20 {
		t.Errorf("k2 = %v, %v; want 20, true", v, ok)
	}
}

func TestShardedLRUClearWhenFull(t *testing.T) {
	c := NewShardedLRU[int](4, 1, 0)
	for i := range 5 {
		c.Set("k"+strconv.Itoa(i), i, 0)
	}
	if n := c.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 (cleared, then k4 stored)", n)
	}
}

func TestShardedLRUExpiry(t *testing.T) {
	c := NewShardedLRU[string](100, 4, 3)
	c.Set("short", "v", time.Nanosecond)
	c.Set("long", "v", time.Hour)
	time.Sleep(time.Millisecond)
	if _, ok := c.Get("short"); ok {
		t.Error("expired entry was returned")
	}
	if _, ok := c.Get("long"); !ok {
		t.Error("live entry is missing")
	}
	c.Delete("long")
	if n := c.Len(); n != 0 {
		t.Errorf("Len = %d after the expired read and the delete, want 0", n)
	}
}
