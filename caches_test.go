package djcache

import (
	"strings"
	"testing"
	"time"
)

// TestSettingsDjangoDocs pastes the CACHES examples of Django's cache
// documentation, as JSON, and checks the URL each alias opens.
func TestSettingsDjangoDocs(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"memcached", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211"}}`,
			"memcached://127.0.0.1:11211"},
		{"memcached unix socket", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "unix:/tmp/memcached.sock"}}`,
			"memcached://unix:%2Ftmp%2Fmemcached.sock"},
		{"memcached list", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": ["172.19.26.240:11211", "172.19.26.242:11211"]}}`,
			"memcached://172.19.26.240:11211,172.19.26.242:11211"},
		{"memcached semicolons", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "172.19.26.240:11211;172.19.26.242:11212;172.19.26.244:11213"}}`,
			"memcached://172.19.26.240:11211,172.19.26.242:11212,172.19.26.244:11213"},
		{"pymemcache options", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211",
			"OPTIONS": {"no_delay": true, "ignore_exc": true, "max_pool_size": 4, "use_pooling": true, "timeout": 3}}}`,
			"memcached://127.0.0.1:11211?max_idle_conns=4&socket_timeout=3"},
		{"pylibmc", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache", "LOCATION": "127.0.0.1:11211",
			"OPTIONS": {"binary": true, "behaviors": {"ketama": true}}}}`,
			"memcached://127.0.0.1:11211"},
		{"redis", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379"}}`,
			"redis://127.0.0.1:6379"},
		{"redis with password", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://username:password@127.0.0.1:6379"}}`,
			"redis://username:password@127.0.0.1:6379"},
		{"redis leader and replicas", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://127.0.0.1:6379", "redis://127.0.0.1:6378", "redis://127.0.0.1:6377"]}}`,
			"redis://127.0.0.1:6379"},
		{"redis options", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379",
			"OPTIONS": {"db": "10", "pool_class": "redis.BlockingConnectionPool"}}}`,
			"redis://127.0.0.1:6379?db=10"},
		{"django-redis", `{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1",
			"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5, "PASSWORD": "s3cret"}}}`,
			"redis://:s3cret@127.0.0.1:6379/1?dial_timeout=5&read_timeout=5"},
		{"database", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "my_cache_table"}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}}}`,
			"sqlite:///srv/app/db.sqlite3?table=my_cache_table"},
		{"database postgres", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "my_cache_table", "OPTIONS": {"MAX_ENTRIES": 500}}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "app", "PASSWORD": "s3cret", "HOST": "db.internal", "PORT": 5433, "CONN_MAX_AGE": 60}}}`,
			"postgres://app:s3cret@db.internal:5433/shop?max_entries=500&table=my_cache_table"},
		{"database mysql", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "test", "USER": "root", "HOST": "127.0.0.1", "PORT": "3306"}}}`,
			"mysql://root@127.0.0.1:3306/test?table=cache"},
		{"filesystem", `{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/django_cache"}}`,
			"file:///var/tmp/django_cache"},
		{"local memory", `{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "unique-snowflake"}}`,
			"locmem://unique-snowflake"},
		{"dummy", `{"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}`,
			"dummy:"},
		{"cache arguments", `{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/django_cache",
			"TIMEOUT": 60, "OPTIONS": {"MAX_ENTRIES": 1000}}}`,
			"file:///var/tmp/django_cache?max_entries=1000"},
		{"legacy lower-case", `{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "max_entries": 30, "cull_frequency": 0}}`,
			"locmem:?cull_frequency=0&max_entries=30"},
		{"scheme as BACKEND with a URL", `{"default": {"BACKEND": "sqlite", "LOCATION": "sqlite:///tmp/c.db?table=t"}}`,
			"sqlite:///tmp/c.db?table=t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			cs, err := NewCaches(s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := cs.targets["default"].u.String(); got != tc.want {
				t.Errorf("URL = %s, want %s", got, tc.want)
			}
			if red, _ := cs.URL("default"); strings.Contains(red, "s3cret") || strings.Contains(red, "password@") {
				t.Errorf("URL(alias) = %s shows a password", red)
			}
		})
	}
}

func TestSettingsCommonKeys(t *testing.T) {
	s, err := ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": null, "KEY_PREFIX": "shop", "VERSION": 3},
		"short":   {"BACKEND": "locmem", "LOCATION": "short", "TIMEOUT": 0.5},
		"str":     {"BACKEND": "locmem", "LOCATION": "str", "TIMEOUT": "60", "VERSION": "2", "KEY_PREFIX": 7},
		"none":    {"BACKEND": "locmem", "LOCATION": "none", "TIMEOUT": "none"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	d := s.Caches["default"]
	if d.Timeout != Forever || d.KeyPrefix != "shop" || d.Version != 3 {
		t.Errorf("default = %+v, want Forever, shop, 3", d)
	}
	// Django's int(): TIMEOUT 0.5 is 0, "60" is 60.
	if got := s.Caches["short"].Timeout; got != Timeout(0) {
		t.Errorf("TIMEOUT 0.5 = %v, want Timeout(0) as Django's int()", got)
	}
	if got := s.Caches["str"]; got.Timeout != Timeout(time.Minute) || got.Version != 2 || got.KeyPrefix != "7" {
		t.Errorf("str = %+v", got)
	}
	if got := s.Caches["none"].Timeout; got != Forever {
		t.Errorf(`TIMEOUT "none" = %v, want Forever`, got)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOT": 3}}`, `unknown key "TIMEOT"`},
		{`{"default": {"LOCATION": "x"}}`, `BACKEND is missing`},
		{`{"default": {"BACKEND": "locmem", "TIMEOUT": "soon"}}`, `"soon" is not a number of seconds`},
		{`{"default": {"BACKEND": "locmem", "TIMEOUT": [1]}}`, `TIMEOUT`},
		{`{"default": {"BACKEND": "locmem", "VERSION": 0}}`, `non-zero integer version`},
		{`{"default": {"BACKEND": "locmem", "LOCATION": 3}}`, `want a string or a list of strings`},
		{`{"CACHES": {}, "SECRET_KEY": "x"}`, `unknown key "SECRET_KEY" next to CACHES`},
		{`{"CACHES": {"default": {"BACKEND": "locmem"}}, "DATABASES": {"default": {"ENGINE": "x", "NAMES": "y"}}}`, `unknown key "NAMES"`},
		{`not json`, `settings`},
	} {
		if _, err := ParseSettings([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSettings(%s) = %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
	for _, tc := range []struct{ json, want string }{
		{`{"other": {"BACKEND": "locmem"}}`, `you must define a 'default' cache`},
		{`{"default": {"BACKEND": "myapp.cache.FancyCache"}}`, `unknown BACKEND "myapp.cache.FancyCache"`},
		{`{"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}`, `needs DATABASES["default"]`},
		{`{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}, "DATABASES": {"default": {"ENGINE": "django.db.backends.oracle"}}}`, `ENGINE "django.db.backends.oracle" is not supported`},
		{`{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}}`, `needs a directory`},
		{`{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": ["a", "b"]}}`, `takes one location`},
		{`{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache"}}`, `needs at least one server`},
		{`{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h", "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}}`, `ShardClient`},
		{`{"default": {"BACKEND": "locmem", "KEY_FUNCTION": "myapp.make_key"}}`, `KEY_FUNCTION "myapp.make_key" is not registered`},
		{`{"default": {"BACKEND": "locmem", "OPTIONS": {"X": [1]}}}`, `OPTIONS["X"]`},
	} {
		s, err := ParseSettings([]byte(tc.json))
		if err == nil {
			_, err = NewCaches(s, nil)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("settings %s: err = %v, want one containing %q", tc.json, err, tc.want)
		}
	}
}
