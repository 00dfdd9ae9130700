package redis

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
)

// TestURLFastFailDefaults: a URL without timeout parameters gets this
// backend's fail-fast defaults in every form, not go-redis's 5s timeouts,
// 3 retries (3 redirects on a Cluster) and 5 dial attempts; the URL's own
// values win; write_timeout
// follows read_timeout; durations may be fractions of seconds.
func TestURLFastFailDefaults(t *testing.T) {
	type got struct {
		dial, read, write, pool, minB, maxB time.Duration
		retries, dialerRetries              int
	}
	want := got{DefaultDialTimeout, DefaultReadTimeout, 0, DefaultPoolTimeout,
		DefaultMinRetryBackoff, DefaultMaxRetryBackoff, DefaultMaxRetries, DefaultDialerRetries}
	clusterWant := want
	clusterWant.retries = 0 // go-redis's: no retry on the node, max_redirects over the cluster

	s := mustParse(t, "redis://h:1/0").single
	if g := (got{s.DialTimeout, s.ReadTimeout, s.WriteTimeout, s.PoolTimeout, s.MinRetryBackoff, s.MaxRetryBackoff, s.MaxRetries, s.DialerRetries}); g != want {
		t.Errorf("single-server defaults = %+v, want %+v", g, want)
	}
	c := mustParse(t, "redis://h:1?addr=h:2").cluster
	if g := (got{c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.PoolTimeout, c.MinRetryBackoff, c.MaxRetryBackoff, c.MaxRetries, c.DialerRetries}); g != clusterWant || c.MaxRedirects != DefaultMaxRedirects {
		t.Errorf("cluster defaults = %+v, max redirects %d; want %+v, %d", g, c.MaxRedirects, clusterWant, DefaultMaxRedirects)
	}
	f := mustParse(t, "redis://h:1?master_name=m").failover
	if g := (got{f.DialTimeout, f.ReadTimeout, f.WriteTimeout, f.PoolTimeout, f.MinRetryBackoff, f.MaxRetryBackoff, f.MaxRetries, f.DialerRetries}); g != want {
		t.Errorf("sentinel defaults = %+v, want %+v", g, want)
	}

	// What go-redis makes of them: the write timeout follows the read
	// timeout.
	client := goredis.NewClient(mustParse(t, "redis://h:1/0").single)
	if o := client.Options(); o.WriteTimeout != DefaultReadTimeout || o.ReadTimeout != DefaultReadTimeout || o.DialerRetries != DefaultDialerRetries {
		t.Errorf("client options: write %v, read %v, dialer retries %d", o.WriteTimeout, o.ReadTimeout, o.DialerRetries)
	}
	client.Close()

	// The URL's values win, in every form; seconds may be fractions.
	const params = "dial_timeout=2s&read_timeout=0.75&write_timeout=3&pool_timeout=4s&min_retry_backoff=1ms&max_retry_backoff=2ms&max_retries=-1&dialer_retries=5&dialer_retry_timeout=0.02"
	given := got{2 * time.Second, 750 * time.Millisecond, 3 * time.Second, 4 * time.Second, time.Millisecond, 2 * time.Millisecond, -1, 5}
	s = mustParse(t, "redis://h:1/0?"+params).single
	if g := (got{s.DialTimeout, s.ReadTimeout, s.WriteTimeout, s.PoolTimeout, s.MinRetryBackoff, s.MaxRetryBackoff, s.MaxRetries, s.DialerRetries}); g != given || s.DialerRetryTimeout != 20*time.Millisecond {
		t.Errorf("single-server with %s = %+v (dialer retry timeout %v), want %+v", params, g, s.DialerRetryTimeout, given)
	}
	c = mustParse(t, "redis://h:1?cluster=true&max_redirects=3&"+params).cluster
	if g := (got{c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.PoolTimeout, c.MinRetryBackoff, c.MaxRetryBackoff, c.MaxRetries, c.DialerRetries}); g != given || c.DialerRetryTimeout != 20*time.Millisecond || c.MaxRedirects != 3 {
		t.Errorf("cluster with %s = %+v, want %+v", params, g, given)
	}
	f = mustParse(t, "redis://h:1?master_name=m&"+params).failover
	if g := (got{f.DialTimeout, f.ReadTimeout, f.WriteTimeout, f.PoolTimeout, f.MinRetryBackoff, f.MaxRetryBackoff, f.MaxRetries, f.DialerRetries}); g != given || f.DialerRetryTimeout != 20*time.Millisecond {
		t.Errorf("sentinel with %s = %+v, want %+v", params, g, given)
	}
	// go-redis's grammar: 0 turns the read timeout off, an empty value is
	// the default.
	s = mustParse(t, "redis://h:1/0?read_timeout=0&dial_timeout=").single
	if s.ReadTimeout != -1 || s.DialTimeout != DefaultDialTimeout {
		t.Errorf("read_timeout=0&dial_timeout= parsed as read %v, dial %v; want -1 (off) and the default", s.ReadTimeout, s.DialTimeout)
	}

	for raw, want := range map[string]string{
		"redis://h:1?dialer_retries=many":               "invalid dialer_retries number",
		"redis://h:1?dialer_retry_timeout=soon":         "invalid dialer_retry_timeout duration",
		"redis://h:1?read_timeout=0.5.5":                "invalid read_timeout duration",
		"redis://h:1?addr=h:2&dial_timeout=1.x":         "invalid dial_timeout duration",
		"redis://h:1?master_name=m&bogus_x=0.5":         `unknown URL parameter "bogus_x"`,
		"redis://h:1?dialer_retries=1&typo=true":        `unknown URL parameter "typo"`,
		"redis://h:1?dial_timeout=0":                    "dial_timeout=0: want a positive duration",
		"redis://h:1?addr=h:2&pool_timeout=-1s":         "pool_timeout=-1s: want a positive duration",
		"redis://h:1?master_name=m&dial_timeout=0.0001": "", // 100µs: positive

	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseURL(u)
		if want == "" {
			if err != nil {
				t.Errorf("parseURL(%q): %v", raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseURL(%q) = %v, want an error with %q", raw, err, want)
		}
	}
}

// TestOutage: with this backend's defaults (no timeout parameter in the
// URL), a Get whose context has no deadline fails with a timeout, by the
// client's own read timeout, when the server stops answering (SIGSTOP),
// and with "connection refused" when it is gone. It asserts the kind of
// error, not how long the calls take: go run ./internal/outage measures
// that. The calls are bounded by a generous 30s, through a cancellation
// (not a deadline, which would bound the client's I/O itself).
func TestOutage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c, err := djcache.Open("redis://" + s.addr() + "/0?key_prefix=outage")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stop := time.AfterFunc(30*time.Second, cancel)
	defer stop.Stop()
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}

	s.signal(syscall.SIGSTOP)
	for i := range 3 {
		var v string
		_, err := c.Get(ctx, "k", &v)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, context.Canceled) {
			t.Errorf("Get %d from a stopped server = %v; want the client's timeout error", i, err)
		}
	}
	s.signal(syscall.SIGCONT)
	var v string
	if _, err := c.Get(ctx, "k", &v); err != nil || v != "v" {
		t.Errorf("Get after SIGCONT = %q, %v; want v", v, err)
	}

	s.stop()
	for i := range 3 {
		_, err := c.Get(ctx, "k", &v)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("Get %d from a killed server = %v; want connection refused", i, err)
		}
	}
}
