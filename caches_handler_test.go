package djcache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
)

func newCaches(t *testing.T, settings string) *djcache.Caches {
	t.Helper()
	s, err := djcache.ParseSettings([]byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCachesHandler checks Django's caches[alias]: one instance per alias,
// opened on first use, settings applied, an unknown alias named.
func TestCachesHandler(t *testing.T) {
	cs := newCaches(t, `{
		"default":  {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "handler-default", "KEY_PREFIX": "p", "VERSION": 2},
		"sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "handler-sessions", "TIMEOUT": null},
		"off":      {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
	}`)
	defer cs.Close()
	ctx := context.Background()

	if got := strings.Join(cs.Aliases(), ","); got != "default,off,sessions" {
		t.Errorf("Aliases() = %s", got)
	}
	// Concurrent first uses get the same instance.
	var wg sync.WaitGroup
	got := make([]*djcache.Cache, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := cs.Cache("sessions")
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for _, c := range got {
		if c != got[0] {
			t.Fatal("Cache(alias) returned different instances for one alias")
		}
	}

	def, err := cs.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := def.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	// KEY_PREFIX and VERSION shape the made key: a raw locmem cache on the
	// same store sees "p:2:k".
	raw, _ := djcache.Open("locmem://handler-default")
	var s string
	if found, _ := raw.Get(ctx, "k", &s, djcache.Version(2)); found {
		t.Error("the prefixed entry is visible without the prefix")
	}
	rawP, _ := djcache.Open("locmem://handler-default?key_prefix=p&version=2")
	if found, _ := rawP.Get(ctx, "k", &s); !found || s != "v" {
		t.Errorf("entry under p:2:k = %q, %v", s, found)
	}

	off, _ := cs.Cache("off")
	off.Set(ctx, "k", "v")
	if found, _ := off.Get(ctx, "k", &s); found {
		t.Error("DummyCache alias stored a value")
	}

	if _, err := cs.Cache("nope"); err == nil || !strings.Contains(err.Error(), `"nope" doesn't exist`) {
		t.Errorf("unknown alias: %v", err)
	}

	if err := cs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := def.Set(ctx, "k", "v"); !errors.Is(err, djcache.ErrClosed) {
		t.Errorf("Set after Caches.Close = %v, want ErrClosed", err)
	}
	if _, err := cs.Cache("default"); !errors.Is(err, djcache.ErrClosed) {
		t.Errorf("Cache after Close = %v, want ErrClosed", err)
	}
}

// TestCachesBackendErrors checks that a backend option the backend does not
// know fails on first use, naming it, with the URL it became.
func TestCachesBackendErrors(t *testing.T) {
	cs := newCaches(t, `{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 10, "SHARDS": 4}}}`)
	defer cs.Close()
	_, err := cs.Default()
	if err == nil || !strings.Contains(err.Error(), `unknown URL parameter "shards"`) {
		t.Errorf("err = %v, want one naming the unknown option", err)
	}
}

func TestCachesFromURL(t *testing.T) {
	cs, err := djcache.CachesFromURL("locmem://from-url?timeout=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	c, err := cs.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
}

// TestCachesEveryDjangoBackend opens (without I/O) an alias of every
// Django backend path, with the LOCATION and OPTIONS shapes of Django's
// documentation, through the real backends.
func TestCachesEveryDjangoBackend(t *testing.T) {
	dir := t.TempDir()
	cs := newCaches(t, `{"CACHES": {
		"default":    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "every-backend"},
		"files":      {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "`+dir+`/files", "TIMEOUT": 60, "OPTIONS": {"MAX_ENTRIES": 1000}},
		"db":         {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "my_cache_table", "OPTIONS": {"CULL_FREQUENCY": 4}},
		"pymemcache": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211;127.0.0.1:11212",
		               "OPTIONS": {"no_delay": true, "ignore_exc": true, "max_pool_size": 4, "use_pooling": true}},
		"pylibmc":    {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache", "LOCATION": ["127.0.0.1:11211"], "OPTIONS": {"binary": true, "behaviors": {"ketama": true}}},
		"socket":     {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "unix:/tmp/memcached.sock"},
		"redis":      {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": ["redis://127.0.0.1:6379", "redis://127.0.0.1:6378"],
		               "OPTIONS": {"db": "10", "pool_class": "redis.BlockingConnectionPool"}},
		"django_redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1",
		               "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "PASSWORD": "s3cret", "SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5}},
		"dummy":      {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
	}, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "`+dir+`/db.sqlite3"}}}`)
	defer cs.Close()
	for _, alias := range cs.Aliases() {
		c, err := cs.Cache(alias)
		if err != nil {
			t.Errorf("%s: %v", alias, err)
			continue
		}
		if c == nil {
			t.Errorf("%s: nil cache", alias)
		}
	}
}
