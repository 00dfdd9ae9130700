package memcached

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// TestMetadumpModes lists keys both ways Clear can: "hash" (the hash
// table, recent 1.6 releases) and "all" (the LRU lists, the fallback for
// older servers), with keys that need URL-decoding.
func TestMetadumpModes(t *testing.T) {
	const addr = "127.0.0.1:11211"
	testenv.NeedTCP(t, "memcached", addr, "run .ci/services (as root) to install memcached and start it on 127.0.0.1:11211 and 127.0.0.1:11212")
	b := make([]byte, 5)
	rand.Read(b)
	ns := "djt.dump." + hex.EncodeToString(b) + "."
	d, err := New([]string{addr}, &Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	want := []string{":1:a", ":1:100%", ":1:é/ü?&=+", ":2:x"}
	for _, k := range want {
		if err := d.Set(ctx, k, []byte("\x01v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	defer d.Clear(ctx, driver.Scope{})
	for _, mode := range []string{"hash", "all"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := &rawConn{ctx: ctx, conn: conn, timeout: time.Second, rw: bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn)), dump: mode}
		got, err := c.metadump(func(k string) bool { return strings.HasPrefix(k, ns) })
		conn.Close()
		if err != nil {
			t.Fatalf("metadump %s: %v", mode, err)
		}
		for i := range got {
			got[i] = strings.TrimPrefix(got[i], ns)
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, w) {
			t.Errorf("metadump %s listed %q, want %q", mode, got, w)
		}
		if c.dump != mode {
			t.Errorf("metadump %s fell back to %q", mode, c.dump)
		}
	}
}
