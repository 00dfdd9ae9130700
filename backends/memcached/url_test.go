package memcached_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/memcached"
)

// TestServersFromURL checks Django's LOCATION forms in URLs.
func TestServersFromURL(t *testing.T) {
	for raw, want := range map[string][]string{
		"memcached://127.0.0.1:11211":                 {"127.0.0.1:11211"},
		"memcached://127.0.0.1:11211/":                {"127.0.0.1:11211"},
		"memcached://a:11211,b:11212":                 {"a:11211", "b:11212"},
		"memcached://a:11211;b:11212":                 {"a:11211", "b:11212"},
		"memcached://a;b,c":                           {"a", "b", "c"},
		"memcached://[::1]:11211":                     {"[::1]:11211"},
		"memcached:[::1]:11211,[::2]:11212":           {"[::1]:11211", "[::2]:11212"}, // what url.Parse refuses after "//"
		"memcached:///run/memcached.sock":             {"/run/memcached.sock"},
		"memcached://unix:/run/memcached.sock":        {"unix:/run/memcached.sock"},
		"memcached:unix:/run/memcached.sock":          {"unix:/run/memcached.sock"},
		"memcached:h:11211,/run/a.sock":               {"h:11211", "/run/a.sock"},
		"memcached:h:11211;unix:/run/a.sock?x=1":      {"h:11211", "unix:/run/a.sock"},
		"memcached:///run/a%20b.sock":                 {"/run/a b.sock"},
		"memcached://a:11211,b:11212?namespace=x&y=1": {"a:11211", "b:11212"},
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("url.Parse(%q): %v", raw, err)
			continue
		}
		got, err := memcached.ServersFromURL(u)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ServersFromURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

// TestOpenURL checks the parameters and the errors of Open, which does no
// I/O.
func TestOpenURL(t *testing.T) {
	c, err := djcache.Open("memcached://127.0.0.1:11211,127.0.0.1:11212?namespace=app.&socket_timeout=0.25&connect_timeout=0.1&max_idle_conns=4&max_value_size=1000&clear=flush&timeout=60&key_prefix=p")
	if err != nil {
		t.Fatal(err)
	}
	d := c.Driver().(*memcached.Driver)
	if d.Namespace() != "app." || d.Client().Timeout != 250*time.Millisecond || d.Client().MaxIdleConns != 4 || d.Client().DialContext == nil {
		t.Errorf("parameters not applied: namespace %q, timeout %v, idle %d", d.Namespace(), d.Client().Timeout, d.Client().MaxIdleConns)
	}
	if got := d.Selector().Servers(); !slices.Equal(got, []string{"127.0.0.1:11211", "127.0.0.1:11212"}) {
		t.Errorf("servers %q", got)
	}
	if err := c.Set(context.Background(), "k", make([]byte, 1000)); err == nil || !strings.Contains(err.Error(), "over the limit of 1000") {
		t.Errorf("Set over max_value_size=1000: %v", err)
	}
	c.Close()

	for raw, want := range map[string]string{
		"memcached://h:11211?bogus=1":                    `unknown URL parameter "bogus"`,
		"memcached://h:11211?clear=all":                  `clear="all"`,
		"memcached://h:11211?socket_timeout=-1":          "socket_timeout",
		"memcached://h:11211?socket_timeout=abc":         "socket_timeout",
		"memcached://h:11211?connect_timeout=0":          "connect_timeout",
		"memcached://h:11211?max_idle_conns=0":           "max_idle_conns",
		"memcached://h:11211?max_value_size=0":           "max_value_size",
		"memcached://h:11211?namespace=a%20b":            "namespace",
		"memcached://":                                   "names no server",
		"memcached://h:port":                             "port",
		"memcached://h:11211,h:11211":                    "twice",
		"memcached://user:s3cret@h:11211":                "no user name or password",
		"memcached://h:11211?namespace=a&namespace=b":    "given 2 times",
		"memcached:h:11211,unix:relative/path.sock":      "absolute path",
		"memcached://h:11211?max_value_size=1000000000x": "max_value_size",
	} {
		c, err := djcache.Open(raw)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q): no error, want one about %s", raw, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v, want an error about %s", raw, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): the error shows the password: %v", raw, err)
		}
	}
}
