package memcached

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// Scheme is the URL scheme of this backend.
const Scheme = "memcached"

func init() { djcache.Register(Scheme, &URLOpener{}) }

// URLOpener opens URLs like
//
//	memcached://HOST:PORT[,HOST:PORT...]?namespace=app1&socket_timeout=0.5
//
// The servers are Django's LOCATION: separated by "," or ";", each
// "host:port", "host" (port 11211), "[ipv6]:port", or a Unix socket as
// "unix:/path" or "/path" (memcached:///run/memcached.sock, or
// memcached://unix:/run/memcached.sock). Go's URL parser checks what
// follows "//" as one host and port, so a list with several IPv6 literals,
// a host without a port before the last one, or a socket after a host
// needs the opaque form, memcached:LOCATION, which it does not check:
//
//	memcached:cache1,[::1]:11211,unix:/run/memcached.sock?namespace=app1
//
// Parameters, besides djcache's portable ones (timeout, key_prefix,
// version):
//
//   - namespace: a string put in front of every made key on the wire, as
//     pymemcache's client key_prefix does (Options.Namespace). Default "".
//   - socket_timeout: seconds (fractions allowed) for each socket read,
//     write and dial (Options.Timeout); pymemcache's timeout. Default 0.5.
//   - connect_timeout: seconds for a dial, at most socket_timeout
//     (Options.DialTimeout); pymemcache's connect_timeout. Default
//     socket_timeout.
//   - max_idle_conns: idle connections kept per server
//     (Options.MaxIdleConns). Default 16.
//   - max_value_size: the largest encoded value sent, in bytes; -1 leaves
//     the limit to the server (Options.MaxValueSize). Default 1048064.
//   - clear: "scan" (the default) deletes only this cache's keys, listed by
//     memcached's LRU crawler; "flush" sends flush_all to every server,
//     removing every application's data (Options.Clear).
//
// Any other parameter is an error, and so is a user name or password
// (memcached's text protocol has no authentication).
type URLOpener struct{}

// OpenDriverURL implements djcache.DriverURLOpener.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	servers, err := ServersFromURL(u)
	if err != nil {
		return nil, err
	}
	r := urlparam.New(Scheme, u)
	o := &Options{Namespace: r.String("namespace", "")}
	if d, _, ok := r.Seconds("socket_timeout", false); ok {
		if d <= 0 {
			return nil, fmt.Errorf("djcache: memcached: URL parameter socket_timeout must be a positive number of seconds")
		}
		o.Timeout = max(d, time.Millisecond)
	}
	if d, _, ok := r.Seconds("connect_timeout", false); ok {
		if d <= 0 {
			return nil, fmt.Errorf("djcache: memcached: URL parameter connect_timeout must be a positive number of seconds")
		}
		o.DialTimeout = max(d, time.Millisecond)
	}
	o.MaxIdleConns = r.Int("max_idle_conns", DefaultMaxIdleConns, 1, 1<<20)
	o.MaxValueSize = r.Int("max_value_size", DefaultMaxValueSize, -1, 1<<30)
	if o.MaxValueSize == 0 {
		return nil, fmt.Errorf("djcache: memcached: URL parameter max_value_size=0: want a number of bytes, or -1 for no limit")
	}
	switch c := r.String("clear", "scan"); c {
	case "scan":
		o.Clear = ClearScan
	case "flush":
		o.Clear = ClearFlushAll
	default:
		return nil, fmt.Errorf("djcache: memcached: URL parameter clear=%q: want scan or flush", c)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return New(servers, o)
}

var serverSep = regexp.MustCompile("[;,]")

// ServersFromURL returns the servers of a memcached URL, split as Django
// splits LOCATION (on "," and ";"), without opening anything.
func ServersFromURL(u *url.URL) ([]string, error) {
	if u == nil {
		return nil, fmt.Errorf("djcache: memcached: nil URL")
	}
	if u.User != nil {
		return nil, fmt.Errorf("djcache: memcached: URLs take no user name or password (memcached's text protocol has no authentication)")
	}
	loc := u.Opaque // memcached:unix:/run/memcached.sock
	if l, err := url.PathUnescape(loc); err == nil {
		loc = l
	}
	if loc == "" {
		loc = u.Host
		if u.Path != "/" { // memcached://host:11211/ names one server
			loc += u.Path
		}
	}
	if strings.TrimSpace(loc) == "" {
		return nil, fmt.Errorf("djcache: memcached: URL names no server, such as memcached://127.0.0.1:11211")
	}
	var servers []string
	for _, s := range serverSep.Split(loc, -1) {
		if s = strings.TrimSpace(s); s != "" {
			servers = append(servers, s)
		}
	}
	return servers, nil
}
