package memcached

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bradfitz/gomemcache/memcache"
)

// DefaultPort is the port of a server given without one, as in pymemcache.
const DefaultPort = 11211

// Selector picks the server of a key the way pymemcache's HashClient does
// (Django's PyMemcacheCache): rendezvous hashing, also called highest random
// weight. Each server has a node name ("host:port", or the socket path); a
// key's score on a node is murmur3_32(node + "-" + key, seed 0), and the
// node with the highest score holds the key (on a tie, the greater name).
//
// Because every key compares the same per-node scores, adding or removing
// one of N servers moves only the keys that the new node wins, or that the
// removed node held: about 1/N of them. gomemcache's default ServerList
// picks crc32(key) % N, which moves almost every key when N changes.
//
// pymemcache's murmur3 hashes the low byte of each Unicode code point (not
// the UTF-8 bytes) and counts the length in code points; Selector does the
// same, so a Go service and a Django app on the same servers agree on where
// every key lives, non-ASCII keys included.
//
// A Selector implements memcache.ServerSelector. It is immutable and safe
// for concurrent use.
type Selector struct {
	nodes []node
	// ns is the driver's namespace (pymemcache's client key_prefix): it is
	// stripped from a key before hashing, as pymemcache hashes the key
	// without its prefix.
	ns string
}

var _ memcache.ServerSelector = (*Selector)(nil)

// node is one server.
type node struct {
	name string   // pymemcache's node name: "host:port" or the socket path
	hash []byte   // the low bytes of name + "-", the start of every hashed string
	addr net.Addr // where to dial
}

// addr is a net.Addr that is not resolved until it is dialled, so that New
// does no I/O and a host name follows DNS changes.
type addr struct{ network, address string }

func (a *addr) Network() string { return a.network }
func (a *addr) String() string  { return a.address }

// NewSelector returns a Selector over servers, each written as Django's
// LOCATION writes them: "host:port", "host" (port 11211), "[ipv6]:port",
// or a Unix socket as "unix:/path" or "/path". namespace is the driver's
// namespace (see [Options.Namespace]), stripped from keys before hashing;
// pass "" if there is none. The order of servers does not matter.
func NewSelector(servers []string, namespace string) (*Selector, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("djcache: memcached: no servers")
	}
	s := &Selector{ns: namespace, nodes: make([]node, 0, len(servers))}
	seen := make(map[string]string, len(servers))
	for _, spec := range servers {
		n, err := parseServer(spec)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[n.name]; dup {
			return nil, fmt.Errorf("djcache: memcached: server %q is listed twice (as %q and %q)", n.name, prev, spec)
		}
		seen[n.name] = spec
		s.nodes = append(s.nodes, n)
	}
	return s, nil
}

// parseServer reads one server the way pymemcache normalizes a server
// string: "unix:/p" and "/p" are sockets; "h", "h:p", "[v6]" and "[v6]:p"
// are TCP, the node name being host + ":" + port without brackets.
func parseServer(spec string) (node, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return node{}, fmt.Errorf("djcache: memcached: empty server name in the server list")
	}
	if p, ok := strings.CutPrefix(s, "unix:"); ok || strings.HasPrefix(s, "/") {
		if !ok {
			p = s
		}
		if !strings.HasPrefix(p, "/") {
			return node{}, fmt.Errorf("djcache: memcached: server %q: a Unix socket needs an absolute path", spec)
		}
		return newNode(p, &addr{"unix", p}), nil
	}
	host, port := s, strconv.Itoa(DefaultPort)
	if strings.Contains(s, ":") && !strings.HasSuffix(s, "]") {
		i := strings.LastIndexByte(s, ':')
		host, port = s[:i], s[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return node{}, fmt.Errorf("djcache: memcached: server %q: port %q is not a number from 1 to 65535", spec, port)
		}
		port = strconv.Itoa(n)
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return node{}, fmt.Errorf("djcache: memcached: server %q has no host", spec)
	}
	if strings.ContainsAny(host, " /\t") {
		return node{}, fmt.Errorf("djcache: memcached: server %q: invalid host %q", spec, host)
	}
	return newNode(host+":"+port, &addr{"tcp", net.JoinHostPort(host, port)}), nil
}

func newNode(name string, a net.Addr) node {
	return node{name: name, hash: appendLowBytes(nil, name+"-"), addr: a}
}

// PickServer returns the server of key (memcache.ServerSelector).
func (s *Selector) PickServer(key string) (net.Addr, error) {
	if len(s.nodes) == 0 {
		return nil, memcache.ErrNoServers
	}
	return s.nodes[s.pick(key)].addr, nil
}

// Each calls f for every server, in the order given (memcache.ServerSelector).
func (s *Selector) Each(f func(net.Addr) error) error {
	for _, n := range s.nodes {
		if err := f(n.addr); err != nil {
			return err
		}
	}
	return nil
}

// Servers returns the node names, pymemcache's "host:port" or socket path,
// in the order given.
func (s *Selector) Servers() []string {
	names := make([]string, len(s.nodes))
	for i, n := range s.nodes {
		names[i] = n.name
	}
	return names
}

// Server returns the node name of the server that holds key, as
// pymemcache's HashClient would choose it.
func (s *Selector) Server(key string) string {
	if len(s.nodes) == 0 {
		return ""
	}
	return s.nodes[s.pick(key)].name
}

// pick returns the index of the winning node of key.
func (s *Selector) pick(key string) int {
	if len(s.nodes) == 1 {
		return 0
	}
	key = strings.TrimPrefix(key, s.ns)
	var kb [256]byte
	k := appendLowBytes(kb[:0], key)
	var buf [512]byte
	best, bestScore := 0, uint32(0)
	for i, n := range s.nodes {
		b := append(append(buf[:0], n.hash...), k...)
		score := murmur3(b)
		if i == 0 || score > bestScore || (score == bestScore && n.name > s.nodes[best].name) {
			best, bestScore = i, score
		}
	}
	return best
}

// appendLowBytes appends the low byte of each code point of s, what
// pymemcache's murmur3 hashes (ord(c) & 0xff). An ASCII string is copied as
// it is. Bytes that are not UTF-8 count as U+FFFD, as Go decodes them.
func appendLowBytes(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return append(b, s...)
	}
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

// murmur3 is MurmurHash3's 32-bit hash (x86_32) of data with seed 0.
func murmur3(data []byte) uint32 {
	const (
		c1 = 0xcc9e2d51
		c2 = 0x1b873593
	)
	var h uint32
	n := len(data)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		data = data[4:]
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch len(data) {
	case 3:
		k ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}
