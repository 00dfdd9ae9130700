package djcache_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/dummy"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/pickle"
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

// TestCachesPickleFile pastes a FileBasedCache alias and checks that the
// file it writes is the one Django writes: Django's file name, a pickled
// expiry, then a zlib stream of the value's protocol-5 pickle. An alias
// with OPTIONS SERIALIZER "djcache" and a LocMemCache alias keep djcache's
// encoding.
func TestCachesPickleFile(t *testing.T) {
	dir := t.TempDir()
	cs := newCaches(t, `{
		"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "`+dir+`/django"},
		"native":  {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "`+dir+`/native", "OPTIONS": {"SERIALIZER": "djcache"}},
		"local":   {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pickle-file-local"}
	}`)
	defer cs.Close()
	ctx := context.Background()
	if u, _ := cs.URL("default"); u != "file://"+dir+"/django?serializer=pickle" {
		t.Errorf("URL(default) = %s, want serializer=pickle", u)
	}

	// readFile returns the expiry and the value bytes of the entry under
	// the made key ":1:greeting".
	readFile := func(sub string) (exp any, value []byte) {
		t.Helper()
		sum := md5.Sum([]byte(":1:greeting"))
		data, err := os.ReadFile(filepath.Join(dir, sub, hex.EncodeToString(sum[:])+".djcache"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte{0x80, 0x05}) {
			t.Fatalf("file starts % x, want a protocol-5 pickle of the expiry", data[:min(len(data), 4)])
		}
		rest, err := pickle.UnmarshalPrefix(data, &exp)
		if err != nil {
			t.Fatalf("expiry pickle: %v", err)
		}
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			t.Fatalf("value is not a zlib stream: %v", err)
		}
		if value, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
		return exp, value
	}

	c, err := cs.Default()
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := c.Set(ctx, "greeting", "bar"); err != nil {
		t.Fatal(err)
	}
	exp, value := readFile("django")
	f, ok := exp.(float64)
	if want := float64(before.Add(djcache.DefaultTimeout).Unix()); !ok || f < want-1 || f > want+5 {
		t.Errorf("expiry = %v, want a float Unix time near %v", exp, want)
	}
	// pickle.dumps("bar", 5), as CPython (and Django) write it.
	want := []byte{0x80, 0x05, 0x95, 0x07, 0, 0, 0, 0, 0, 0, 0, 0x8c, 0x03, 'b', 'a', 'r', 0x94, 0x2e}
	if !bytes.Equal(value, want) {
		t.Errorf("value bytes = % x, want pickle.dumps(\"bar\", 5) = % x", value, want)
	}
	var s string
	if err := pickle.Unmarshal(value, &s); err != nil || s != "bar" {
		t.Errorf("unpickled value = %q, %v", s, err)
	}
	if found, err := c.Get(ctx, "greeting", &s); err != nil || !found || s != "bar" {
		t.Errorf("Get = %q, %v, %v", s, found, err)
	}

	native, err := cs.Cache("native")
	if err != nil {
		t.Fatal(err)
	}
	if err := native.Set(ctx, "greeting", "bar"); err != nil {
		t.Fatal(err)
	}
	if _, value := readFile("native"); bytes.HasPrefix(value, []byte{0x80}) || !bytes.HasSuffix(value, []byte("bar")) {
		t.Errorf("native alias value bytes = % x, want djcache's tagged text", value)
	}

	local, err := cs.Cache("local")
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Set(ctx, "greeting", "bar"); err != nil {
		t.Fatal(err)
	}
	if raw, found, err := local.Driver().Get(ctx, ":1:greeting"); err != nil || !found || bytes.HasPrefix(raw, []byte{0x80}) || !bytes.HasSuffix(raw, []byte("bar")) {
		t.Errorf("locmem alias stored % x (found %v, %v), want djcache's tagged text", raw, found, err)
	}
}
