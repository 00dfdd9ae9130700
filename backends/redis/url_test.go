package redis

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
)

func mustParse(t *testing.T, raw string) *config {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := parseURL(u)
	if err != nil {
		t.Fatalf("parseURL(%q): %v", raw, err)
	}
	return cfg
}

func TestParseURLForms(t *testing.T) {
	// One server: userinfo, database, go-redis parameters.
	cfg := mustParse(t, "redis://app:s3cret@cache.internal:6380/2?dial_timeout=2s&read_timeout=500ms&pool_size=20&max_retries=1")
	o := cfg.single
	if cfg.form != "single-server" || o == nil || o.Addr != "cache.internal:6380" || o.Username != "app" || o.Password != "s3cret" ||
		o.DB != 2 || o.DialTimeout != 2*time.Second || o.ReadTimeout != 500*time.Millisecond || o.PoolSize != 20 ||
		o.MaxRetries != 1 || o.TLSConfig != nil || !o.ContextTimeoutEnabled {
		t.Errorf("single-server URL parsed as %s %+v", cfg.form, o)
	}
	if !cfg.opts.CloseClient || cfg.opts.FlushDB || cfg.opts.Namespace != "" {
		t.Errorf("driver options of a plain URL = %+v, want CloseClient only", cfg.opts)
	}

	// TLS.
	cfg = mustParse(t, "rediss://:pw@secure.example.com:6390/0?skip_verify=true")
	if o := cfg.single; o.TLSConfig == nil || o.TLSConfig.ServerName != "secure.example.com" || !o.TLSConfig.InsecureSkipVerify || o.Password != "pw" {
		t.Errorf("rediss URL parsed as %+v", o)
	}
	if cfg := mustParse(t, "REDISS://h:1"); cfg.single.TLSConfig == nil {
		t.Error("REDISS:// (upper case) did not turn TLS on")
	}

	// Defaults: localhost:6379, database 0.
	if cfg := mustParse(t, "redis://"); cfg.single.Addr != "localhost:6379" || cfg.single.DB != 0 {
		t.Errorf("redis:// parsed as %+v", cfg.single)
	}

	// Cluster with several seeds, and with one seed.
	cfg = mustParse(t, "redis://u:p@10.0.0.1:7000?addr=10.0.0.2:7001&addr=10.0.0.3:7002&read_only=true&route_randomly=true")
	if c := cfg.cluster; cfg.form != "cluster" || c == nil || !slices.Equal(c.Addrs, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}) ||
		c.Username != "u" || c.Password != "p" || !c.ReadOnly || !c.RouteRandomly || !c.ContextTimeoutEnabled {
		t.Errorf("cluster URL parsed as %s %+v", cfg.form, c)
	}
	cfg = mustParse(t, "redis://10.0.0.1:7000/0?cluster=true")
	if c := cfg.cluster; c == nil || !slices.Equal(c.Addrs, []string{"10.0.0.1:7000"}) {
		t.Errorf("cluster=true URL parsed as %s %+v", cfg.form, c)
	}
	if cfg := mustParse(t, "rediss://10.0.0.1:7000?cluster=1"); cfg.cluster == nil || cfg.cluster.TLSConfig == nil {
		t.Error("rediss cluster URL without TLS")
	}

	// Sentinel.
	cfg = mustParse(t, "redis://su:sp@127.0.0.1:26379/3?master_name=djcache&addr=127.0.0.1:26380&username=mu&password=mp&replica_only=false")
	if f := cfg.failover; cfg.form != "sentinel" || f == nil || f.MasterName != "djcache" ||
		!slices.Equal(f.SentinelAddrs, []string{"127.0.0.1:26379", "127.0.0.1:26380"}) || f.DB != 3 ||
		f.SentinelUsername != "su" || f.SentinelPassword != "sp" || f.Username != "mu" || f.Password != "mp" || !f.ContextTimeoutEnabled {
		t.Errorf("sentinel URL parsed as %s %+v", cfg.form, f)
	}

	// This backend's parameters.
	cfg = mustParse(t, "redis://h:1?namespace=app1:&clear=flushdb&clear_match=x*&context_timeout_enabled=false")
	if cfg.opts.Namespace != "app1:" || !cfg.opts.FlushDB || cfg.opts.ClearMatch != "x*" || cfg.single.ContextTimeoutEnabled {
		t.Errorf("own parameters parsed as %+v, %+v", cfg.opts, cfg.single)
	}
	if cfg := mustParse(t, "redis://h:1?clear=scan"); cfg.opts.FlushDB {
		t.Error("clear=scan set FlushDB")
	}
}

func TestParseURLErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"redis://:hunter2@h:1?max_retires=3":                                `unknown URL parameter "max_retires" for the single-server form`,
		"redis://:hunter2@h:1?a=1&b=2":                                      `unknown URL parameters "a", "b"`,
		"redis://:hunter2@h:1?read_only=true":                               `unknown URL parameter "read_only"`,
		"redis://:hunter2@h:1?addr=h2:2&bogus=1":                            `unknown URL parameter "bogus" for the cluster form`,
		"redis://:hunter2@h:1?master_name=m&bogus=1":                        `unknown URL parameter "bogus" for the sentinel form`,
		"redis://:hunter2@h:1?master_name=":                                 "master_name is empty",
		"redis://:hunter2@h:1?master_name=m&cluster=true":                   "both master_name (Sentinel) and cluster=true",
		"redis://:hunter2@h:1/3?cluster=true":                               "a Redis Cluster has only database 0",
		"redis://:hunter2@h:1?addr=nohostport":                              "unable to parse addr param",
		"redis://:hunter2@h:1/x":                                            "invalid database number",
		"redis://:hunter2@h:1?pool_size=many":                               "invalid pool_size number",
		"redis://:hunter2@h:1?dial_timeout=soon":                            "invalid dial_timeout duration",
		"redis://:hunter2@h:1?clear=all":                                    `clear="all": want scan or flushdb`,
		"redis://:hunter2@h:1?cluster=maybe":                                `cluster="maybe": want true or false`,
		"redis://:hunter2@h:1?namespace=a&namespace=b":                      `"namespace" is given 2 times`,
		"redis://:hunter2@h:1?%zz":                                          "invalid URL query",
		"redis://:hunter2@h:1?master_name=m&password=hunter2&pool_size=big": "invalid pool_size number",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseURL(u)
		if err == nil {
			t.Errorf("parseURL(%q) succeeded, want an error with %q", raw, want)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "djcache: redis: ") {
			t.Errorf("parseURL(%q) = %q, want a djcache: redis: error with %q", raw, err, want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("parseURL(%q) = %q shows the password", raw, err)
		}
	}
}

// TestOpenURL opens each form through djcache.Open and uses it.
func TestOpenURL(t *testing.T) {
	ctx := t.Context()
	use := func(t *testing.T, raw string, want any) {
		t.Helper()
		c, err := djcache.Open(raw)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer c.Close()
		if err := c.Set(ctx, "k", "v"); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if v, found, err := djcache.Get[string](ctx, c, "k"); v != "v" || !found || err != nil {
			t.Errorf("Get = %q, %v, %v", v, found, err)
		}
		d := c.Driver().(*Driver)
		if got := d.Client(); got == nil || !sameType(got, want) {
			t.Errorf("client %T, want %T", got, want)
		}
		if err := c.Clear(ctx); err != nil {
			t.Errorf("Clear: %v", err)
		}
		if found, _ := c.Has(ctx, "k"); found {
			t.Error("Has after Clear = true")
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := d.Client().Ping(ctx).Err(); err == nil {
			t.Error("the URL's client is still open after Close")
		}
	}
	t.Run("single", func(t *testing.T) {
		singleClient(t)
		use(t, "redis://"+singleAddr+"/0?key_prefix="+url.QueryEscape(uniqueName("url")), (*goredis.Client)(nil))
	})
	t.Run("cluster", func(t *testing.T) {
		clusterClient(t)
		use(t, "redis://"+clusterAddrs[0]+"?addr="+clusterAddrs[1]+"&addr="+clusterAddrs[2]+"&key_prefix="+url.QueryEscape(uniqueName("url")), (*goredis.ClusterClient)(nil))
	})
	t.Run("cluster-one-seed", func(t *testing.T) {
		clusterClient(t)
		use(t, "redis://"+clusterAddrs[1]+"?cluster=true&namespace="+url.QueryEscape(uniqueName("url")), (*goredis.ClusterClient)(nil))
	})
	t.Run("sentinel", func(t *testing.T) {
		needSentinel(t)
		use(t, "redis://"+sentinelAddrs[0]+"?master_name=djcache&addr="+sentinelAddrs[1]+"&key_prefix="+url.QueryEscape(uniqueName("url")), (*goredis.Client)(nil))
	})
	if _, err := djcache.Open("redis://:hunter2@h:1?typo=1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open with an unknown parameter = %v, want an error without the password", err)
	}
}

func sameType(a, b any) bool {
	switch a.(type) {
	case *goredis.Client:
		_, ok := b.(*goredis.Client)
		return ok
	case *goredis.ClusterClient:
		_, ok := b.(*goredis.ClusterClient)
		return ok
	}
	return false
}
