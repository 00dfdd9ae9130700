package memcached

import (
	"fmt"
	"strings"
	"testing"
)

// TestMurmur3Vectors checks pymemcache's murmur3_32 (DJANGO.md §6.2), which
// hashes the low byte of each code point.
func TestMurmur3Vectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"", 0},
		{"hello", 0x248bfa47},
		{"127.0.0.1:11211-:1:foo", 0xd534d121},
		{"127.0.0.1:11211-:1:Iñt", 0xebd58f4b}, // pymemcache: ñ hashes as its low byte 0xf1
	} {
		if got := murmur3(appendLowBytes(nil, tc.in)); got != tc.want {
			t.Errorf("murmur3(%q) = %#08x, want %#08x", tc.in, got, tc.want)
		}
	}
	// UTF-8 bytes would give another hash: the vector tells the two apart.
	if got := murmur3([]byte("127.0.0.1:11211-:1:Iñt")); got != 0x07590688 {
		t.Errorf("murmur3 of the UTF-8 bytes = %#08x, want %#08x (DJANGO.md)", got, 0x07590688)
	}
}

// TestSelectorVectors checks that keys land where pymemcache's HashClient
// puts them (DJANGO.md §6.2), so djcache and Django agree.
func TestSelectorVectors(t *testing.T) {
	s, err := NewSelector([]string{"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		":1:foo": "127.0.0.1:11211",
		":1:bar": "127.0.0.1:11212",
		":1:baz": "127.0.0.1:11213",
		":1:a":   "127.0.0.1:11213",
		":1:Iñt": "127.0.0.1:11211",
	} {
		if got := s.Server(key); got != want {
			t.Errorf("Server(%q) = %s, want %s", key, got, want)
		}
		a, err := s.PickServer(key)
		if err != nil || a.String() != want || a.Network() != "tcp" {
			t.Errorf("PickServer(%q) = %v (%v), %v; want tcp %s", key, a, a.Network(), err, want)
		}
	}
	// The order of the servers does not matter.
	r, _ := NewSelector([]string{"127.0.0.1:11213", "127.0.0.1:11212", "127.0.0.1:11211"}, "")
	for i := range 1000 {
		k := fmt.Sprintf(":1:key%d", i)
		if s.Server(k) != r.Server(k) {
			t.Fatalf("Server(%q) depends on the order of the servers", k)
		}
	}
}

// TestSelectorNamespace checks that the namespace takes no part in the
// choice, as pymemcache hashes keys without its key_prefix.
func TestSelectorNamespace(t *testing.T) {
	servers := []string{"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}
	plain, _ := NewSelector(servers, "")
	ns, _ := NewSelector(servers, "app1.")
	for _, k := range []string{":1:foo", ":1:bar", ":1:baz", ":1:a"} {
		if got, want := ns.Server("app1."+k), plain.Server(k); got != want {
			t.Errorf("with namespace: Server(%q) = %s, want %s", "app1."+k, got, want)
		}
	}
}

// TestSelectorHighestScore checks the choice against the scores computed
// one by one: the highest score wins, and on a tie (rare with 32-bit
// scores) the greater node name, as in pymemcache.
func TestSelectorHighestScore(t *testing.T) {
	s := &Selector{nodes: []node{newNode("b:1", &addr{"tcp", "b:1"}), newNode("a:1", &addr{"tcp", "a:1"})}}
	for i := range 200000 {
		k := fmt.Sprintf("k%d", i)
		sa := murmur3(appendLowBytes(nil, "a:1-"+k))
		sb := murmur3(appendLowBytes(nil, "b:1-"+k))
		want := "a:1"
		if sb >= sa {
			want = "b:1" // on a tie, max("a:1", "b:1")
		}
		if got := s.Server(k); got != want {
			t.Fatalf("Server(%q) = %s, want %s (scores a %#x, b %#x)", k, got, want, sa, sb)
		}
	}
}

// TestParseServer checks pymemcache's normalization of server names.
func TestParseServer(t *testing.T) {
	for _, tc := range []struct{ in, name, network, dial string }{
		{"127.0.0.1:11211", "127.0.0.1:11211", "tcp", "127.0.0.1:11211"},
		{"cache.example", "cache.example:11211", "tcp", "cache.example:11211"},
		{" cache:011212 ", "cache:11212", "tcp", "cache:11212"},
		{"[::1]:11211", "::1:11211", "tcp", "[::1]:11211"},
		{"[::1]", "::1:11211", "tcp", "[::1]:11211"},
		{"unix:/run/memcached.sock", "/run/memcached.sock", "unix", "/run/memcached.sock"},
		{"/run/memcached.sock", "/run/memcached.sock", "unix", "/run/memcached.sock"},
	} {
		n, err := parseServer(tc.in)
		if err != nil {
			t.Errorf("parseServer(%q): %v", tc.in, err)
			continue
		}
		if n.name != tc.name || n.addr.Network() != tc.network || n.addr.String() != tc.dial {
			t.Errorf("parseServer(%q) = %q %s %q, want %q %s %q", tc.in, n.name, n.addr.Network(), n.addr.String(), tc.name, tc.network, tc.dial)
		}
	}
	for _, bad := range []string{"", "  ", "host:port", "host:0", "host:70000", ":11211", "unix:relative", "a b:1"} {
		if _, err := parseServer(bad); err == nil {
			t.Errorf("parseServer(%q): no error", bad)
		}
	}
	if _, err := NewSelector([]string{"h:11211", "h"}, ""); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("NewSelector with a server listed twice: %v, want an error saying so", err)
	}
	if _, err := NewSelector(nil, ""); err == nil {
		t.Error("NewSelector(nil): no error")
	}
}

// TestSelectorMovement measures the keys that move when a third server
// joins two, and when one of three leaves: rendezvous hashing moves about
// 1/N of them (gomemcache's crc32 % N would move about 2/3 of them).
func TestSelectorMovement(t *testing.T) {
	two, _ := NewSelector([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, "")
	three, _ := NewSelector([]string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}, "")
	const n = 30000
	moved, toNew := 0, 0
	perServer := map[string]int{}
	for i := range n {
		k := fmt.Sprintf(":1:user:%d", i)
		a, b := two.Server(k), three.Server(k)
		perServer[a]++
		if a != b {
			moved++
			if b == "10.0.0.3:11211" {
				toNew++
			}
		}
	}
	frac := float64(moved) / n
	t.Logf("2 -> 3 servers: %.1f%% of %d keys moved (ideal 33.3%%); split on 2: %v", 100*frac, n, perServer)
	if frac < 0.30 || frac > 0.37 {
		t.Errorf("%.1f%% of keys moved when a third server joined, want about 33%%", 100*frac)
	}
	if toNew != moved {
		t.Errorf("%d keys moved between the old servers; only keys the new server wins may move", moved-toNew)
	}
	for s, c := range perServer {
		if f := float64(c) / n; f < 0.47 || f > 0.53 {
			t.Errorf("server %s holds %.1f%% of keys, want about 50%%", s, 100*f)
		}
	}
}

func BenchmarkPickServer(b *testing.B) {
	s, _ := NewSelector([]string{"127.0.0.1:11211", "127.0.0.1:11212"}, "")
	for b.Loop() {
		s.PickServer(":1:user:00001234")
	}
}
