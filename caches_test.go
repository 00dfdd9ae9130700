package djcache

import (
	"cmp"
	"strings"
	"testing"
	"time"
)

// TestSettingsDjangoDocs pastes the CACHES examples of Django's cache
// documentation, as JSON, and checks the URL each alias opens (the shared
// backends with Django's pickle serializer, see TestSettingsSerializer).
func TestSettingsDjangoDocs(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"memcached", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211"}}`,
			"memcached://127.0.0.1:11211?serializer=pickle"},
		{"memcached unix socket", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "unix:/tmp/memcached.sock"}}`,
			"memcached://unix:%2Ftmp%2Fmemcached.sock?serializer=pickle"},
		{"memcached list", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": ["172.19.26.240:11211", "172.19.26.242:11211"]}}`,
			"memcached://172.19.26.240:11211,172.19.26.242:11211?serializer=pickle"},
		{"memcached semicolons", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "172.19.26.240:11211;172.19.26.242:11212;172.19.26.244:11213"}}`,
			"memcached://172.19.26.240:11211,172.19.26.242:11212,172.19.26.244:11213?serializer=pickle"},
		{"pymemcache options", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211",
			"OPTIONS": {"no_delay": true, "ignore_exc": true, "max_pool_size": 4, "use_pooling": true, "timeout": 3}}}`,
			"memcached://127.0.0.1:11211?max_idle_conns=4&serializer=pickle&socket_timeout=3"},
		{"pylibmc", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache", "LOCATION": "127.0.0.1:11211",
			"OPTIONS": {"binary": true, "behaviors": {"ketama": true}}}}`,
			"memcached://127.0.0.1:11211?serializer=pickle"},
		{"redis", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379"}}`,
			"redis://127.0.0.1:6379?serializer=pickle"},
		{"redis with password", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://username:password@127.0.0.1:6379"}}`,
			"redis://username:password@127.0.0.1:6379?serializer=pickle"},
		{"redis leader and replicas", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
			"LOCATION": ["redis://127.0.0.1:6379", "redis://127.0.0.1:6378", "redis://127.0.0.1:6377"]}}`,
			"redis://127.0.0.1:6379?replica=127.0.0.1%3A6378&replica=127.0.0.1%3A6377&serializer=pickle"},
		{"redis options", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379",
			"OPTIONS": {"db": "10", "pool_class": "redis.BlockingConnectionPool"}}}`,
			"redis://127.0.0.1:6379?db=10&serializer=pickle"},
		{"django-redis", `{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1",
			"OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5, "PASSWORD": "s3cret"}}}`,
			"redis://:s3cret@127.0.0.1:6379/1?dial_timeout=5&read_timeout=5&serializer=pickle"},
		{"database", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "my_cache_table"}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}}}`,
			"sqlite:///srv/app/db.sqlite3?serializer=pickle&table=my_cache_table"},
		{"database postgres", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "my_cache_table", "OPTIONS": {"MAX_ENTRIES": 500}}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "app", "PASSWORD": "s3cret", "HOST": "db.internal", "PORT": 5433, "CONN_MAX_AGE": 60}}}`,
			"postgres://app:s3cret@db.internal:5433/shop?max_entries=500&serializer=pickle&table=my_cache_table"},
		{"database mysql", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "test", "USER": "root", "HOST": "127.0.0.1", "PORT": "3306"}}}`,
			"mysql://root@127.0.0.1:3306/test?serializer=pickle&table=cache"},
		{"filesystem", `{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/django_cache"}}`,
			"file:///var/tmp/django_cache?serializer=pickle"},
		{"local memory", `{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "unique-snowflake"}}`,
			"locmem://unique-snowflake"},
		{"dummy", `{"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}`,
			"dummy:"},
		{"cache arguments", `{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/django_cache",
			"TIMEOUT": 60, "OPTIONS": {"MAX_ENTRIES": 1000}}}`,
			"file:///var/tmp/django_cache?max_entries=1000&serializer=pickle"},
		{"legacy lower-case", `{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "max_entries": 30, "cull_frequency": 0}}`,
			"locmem:?cull_frequency=0&max_entries=30"},
		{"scheme as BACKEND with a URL", `{"default": {"BACKEND": "sqlite", "LOCATION": "sqlite:///tmp/c.db?table=t"}}`,
			"sqlite:///tmp/c.db?table=t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := mustCaches(t, tc.json, nil)
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

// TestSettingsSerializer checks which serializer each alias gets: pickle by
// default for Django's shared backends, native for locmem, dummy and djcache
// schemes, then CachesOptions, the LOCATION URL and OPTIONS, the most
// specific winning. The URL shows the outcome.
func TestSettingsSerializer(t *testing.T) {
	const (
		file      = `"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/c"`
		locmem    = `"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ser"`
		schemeURL = `"BACKEND": "redis", "LOCATION": "redis://127.0.0.1:6379/2"`
		djRedis   = `"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/1"`
	)
	native, pickle := &Options{Serializer: NativeSerializer}, &Options{Serializer: PickleSerializer}
	for _, tc := range []struct {
		name, json string
		base       *Options // CachesOptions.Options
		wantURL    string
		want       Serializer
	}{
		// The default of each backend.
		{"file", `{"default": {` + file + `}}`, nil, "file:///var/tmp/c?serializer=pickle", PickleSerializer},
		{"db sqlite", `{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table"}},
			"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/db.sqlite3"}}}`,
			nil, "sqlite:///srv/db.sqlite3?serializer=pickle&table=cache_table", PickleSerializer},
		{"memcached", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": "127.0.0.1:11211"}}`,
			nil, "memcached://127.0.0.1:11211?serializer=pickle", PickleSerializer},
		{"pylibmc", `{"default": {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache", "LOCATION": "127.0.0.1:11211"}}`,
			nil, "memcached://127.0.0.1:11211?serializer=pickle", PickleSerializer},
		{"redis", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379"}}`,
			nil, "redis://127.0.0.1:6379?serializer=pickle", PickleSerializer},
		{"django_redis", `{"default": {` + djRedis + `}}`, nil, "redis://127.0.0.1:6379/1?serializer=pickle", PickleSerializer},
		{"locmem", `{"default": {` + locmem + `}}`, nil, "locmem://ser", NativeSerializer},
		{"dummy", `{"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}`, nil, "dummy:", NativeSerializer},
		{"scheme with a URL", `{"default": {` + schemeURL + `}}`, nil, "redis://127.0.0.1:6379/2", NativeSerializer},
		{"scheme with a directory", `{"default": {"BACKEND": "file", "LOCATION": "/var/tmp/c"}}`, nil, "file:///var/tmp/c", NativeSerializer},
		{"scheme URL says pickle", `{"default": {"BACKEND": "redis", "LOCATION": "redis://127.0.0.1:6379/2?serializer=pickle"}}`,
			nil, "redis://127.0.0.1:6379/2?serializer=pickle", PickleSerializer},
		{"scheme URL says djcache", `{"default": {"BACKEND": "redis", "LOCATION": "redis://127.0.0.1:6379/2?serializer=djcache"}}`,
			nil, "redis://127.0.0.1:6379/2", NativeSerializer},

		// CachesOptions.Options.Serializer over the default.
		{"base native over file", `{"default": {` + file + `}}`, native, "file:///var/tmp/c", NativeSerializer},
		{"base pickle over locmem", `{"default": {` + locmem + `}}`, pickle, "locmem://ser?serializer=pickle", PickleSerializer},
		{"base pickle over scheme", `{"default": {` + schemeURL + `}}`, pickle, "redis://127.0.0.1:6379/2?serializer=pickle", PickleSerializer},
		{"empty base keeps the default", `{"default": {` + file + `}}`, &Options{Logger: nil}, "file:///var/tmp/c?serializer=pickle", PickleSerializer},

		// The LOCATION URL over CachesOptions.
		{"URL pickle over base native", `{"default": {"BACKEND": "redis", "LOCATION": "redis://127.0.0.1:6379/2?serializer=pickle"}}`,
			native, "redis://127.0.0.1:6379/2?serializer=pickle", PickleSerializer},
		{"URL djcache over base pickle", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379?serializer=djcache"}}`,
			pickle, "redis://127.0.0.1:6379", NativeSerializer},

		// OPTIONS over everything.
		{"OPTIONS djcache over file", `{"default": {` + file + `, "OPTIONS": {"SERIALIZER": "djcache"}}}`, nil, "file:///var/tmp/c", NativeSerializer},
		{"OPTIONS pickle over locmem", `{"default": {` + locmem + `, "OPTIONS": {"SERIALIZER": "pickle"}}}`, nil, "locmem://ser?serializer=pickle", PickleSerializer},
		{"OPTIONS pickle over base native", `{"default": {` + locmem + `, "OPTIONS": {"SERIALIZER": "pickle"}}}`, native, "locmem://ser?serializer=pickle", PickleSerializer},
		{"OPTIONS djcache over base pickle", `{"default": {` + file + `, "OPTIONS": {"SERIALIZER": "djcache"}}}`, pickle, "file:///var/tmp/c", NativeSerializer},
		{"OPTIONS djcache over URL pickle", `{"default": {"BACKEND": "redis", "LOCATION": "redis://127.0.0.1:6379/2?serializer=pickle", "OPTIONS": {"SERIALIZER": "djcache"}}}`,
			nil, "redis://127.0.0.1:6379/2", NativeSerializer},
		{"django-redis PickleSerializer", `{"default": {` + schemeURL + `, "OPTIONS": {"SERIALIZER": "django_redis.serializers.pickle.PickleSerializer"}}}`,
			nil, "redis://127.0.0.1:6379/2?serializer=pickle", PickleSerializer},
		{"Django RedisSerializer", `{"default": {` + schemeURL + `, "OPTIONS": {"serializer": "django.core.cache.backends.redis.RedisSerializer"}}}`,
			native, "redis://127.0.0.1:6379/2?serializer=pickle", PickleSerializer},
		{"both spellings agree", `{"default": {` + file + `, "OPTIONS": {"SERIALIZER": "djcache", "serializer": "djcache"}}}`, nil, "file:///var/tmp/c", NativeSerializer},

		// django-redis's pickle options, accepted and ignored.
		{"PICKLE_VERSION and identity COMPRESSOR", `{"default": {` + djRedis + `, "OPTIONS": {"PICKLE_VERSION": -1, "COMPRESSOR": "django_redis.compressors.identity.IdentityCompressor"}}}`,
			nil, "redis://127.0.0.1:6379/1?serializer=pickle", PickleSerializer},
		{"PICKLE_VERSION 5 as text", `{"default": {` + djRedis + `, "OPTIONS": {"PICKLE_VERSION": "5"}}}`, nil, "redis://127.0.0.1:6379/1?serializer=pickle", PickleSerializer},
		{"PICKLE_VERSION 0", `{"default": {` + file + `, "OPTIONS": {"PICKLE_VERSION": 0}}}`, nil, "file:///var/tmp/c?serializer=pickle", PickleSerializer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := mustCaches(t, tc.json, &CachesOptions{Options: tc.base})
			if got, _ := cs.URL("default"); got != tc.wantURL {
				t.Errorf("URL = %s, want %s", got, tc.wantURL)
			}
			if got := cs.targets["default"].opts.Serializer; got != tc.want {
				t.Errorf("Options.Serializer = %q, want %q", got, tc.want)
			}
			// The URL alone opens the alias's serializer.
			var o Options
			u := *cs.targets["default"].u
			if _, err := portableParams(&u, &o); err != nil {
				t.Fatal(err)
			}
			if got := cmp.Or(o.Serializer, NativeSerializer); got != tc.want {
				t.Errorf("the URL alone gives serializer %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSettingsCodecAndSerializer checks that a Codec survives on a native
// alias and that one a pickle alias would drop is an error.
func TestSettingsCodecAndSerializer(t *testing.T) {
	s, err := ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
		"files":   {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/c", "OPTIONS": {"SERIALIZER": "djcache"}}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewCaches(s, &CachesOptions{Options: &Options{Codec: Gob}})
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range cs.Aliases() {
		if got := cs.targets[alias].opts; got.Codec != Gob || got.Serializer != NativeSerializer {
			t.Errorf("%s: Codec %v, Serializer %q; want Gob, native", alias, got.Codec, got.Serializer)
		}
	}
	// The same with a base Serializer = NativeSerializer instead of OPTIONS.
	s.Caches["files"] = CacheSettings{Backend: "django.core.cache.backends.filebased.FileBasedCache", Location: []string{"/var/tmp/c"}}
	if _, err := NewCaches(s, &CachesOptions{Options: &Options{Codec: Gob, Serializer: NativeSerializer}}); err != nil {
		t.Errorf("Codec with a native base serializer: %v", err)
	}
}

func TestSettingsSerializerErrors(t *testing.T) {
	const file = `"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/c"`
	codec := &Options{Codec: Gob}
	for _, tc := range []struct {
		name, json string
		base       *Options
		want       []string // all in the error
	}{
		{"json serializer", `{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h", "OPTIONS": {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"}}}`, nil,
			[]string{`OPTIONS["SERIALIZER"] = "django_redis.serializers.json.JSONSerializer" is not supported`,
				`accepted: "pickle", "djcache", "django_redis.serializers.pickle.PickleSerializer", "django.core.cache.backends.redis.RedisSerializer"`}},
		{"msgpack serializer", `{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h", "OPTIONS": {"SERIALIZER": "django_redis.serializers.msgpack.MSGPackSerializer"}}}`, nil,
			[]string{`"django_redis.serializers.msgpack.MSGPackSerializer" is not supported`}},
		{"Django RedisCache serializer", `{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://h", "OPTIONS": {"serializer": "myapp.JSONSerializer"}}}`, nil,
			[]string{`OPTIONS["serializer"] = "myapp.JSONSerializer" is not supported`}},
		{"serializer not a string", `{"default": {` + file + `, "OPTIONS": {"SERIALIZER": 5}}}`, nil,
			[]string{`OPTIONS["SERIALIZER"] = 5 is not supported`}},
		{"spellings disagree", `{"default": {` + file + `, "OPTIONS": {"SERIALIZER": "djcache", "serializer": "pickle"}}}`, nil,
			[]string{`OPTIONS["SERIALIZER"] and OPTIONS["serializer"] disagree`}},
		{"PICKLE_VERSION too high", `{"default": {` + file + `, "OPTIONS": {"PICKLE_VERSION": 6}}}`, nil,
			[]string{`OPTIONS["PICKLE_VERSION"] = 6: want an integer from -1 to 5`}},
		{"PICKLE_VERSION too low", `{"default": {` + file + `, "OPTIONS": {"PICKLE_VERSION": -2}}}`, nil,
			[]string{`OPTIONS["PICKLE_VERSION"] = -2`}},
		{"PICKLE_VERSION not a number", `{"default": {` + file + `, "OPTIONS": {"PICKLE_VERSION": "high"}}}`, nil,
			[]string{`OPTIONS["PICKLE_VERSION"] = high: want an integer`}},
		{"zlib compressor", `{"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h", "OPTIONS": {"COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"}}}`, nil,
			[]string{`OPTIONS["COMPRESSOR"] = django_redis.compressors.zlib.ZlibCompressor: compressed values are not supported`,
				`accepted: "django_redis.compressors.identity.IdentityCompressor"`}},
		{"URL serializer", `{"default": {"BACKEND": "redis", "LOCATION": "redis://h?serializer=json"}}`, nil,
			[]string{`LOCATION: URL parameter serializer = "json": want "djcache" or "pickle"`}},
		{"base serializer", `{"default": {` + file + `}}`, &Options{Serializer: "yaml"},
			[]string{`CachesOptions.Options.Serializer = "yaml": want "djcache" or "pickle"`}},
		{"codec with the default pickle", `{"default": {"BACKEND": "locmem"}, "files": {` + file + `}}`, codec,
			[]string{`CACHES["files"]`, `CachesOptions.Options.Codec is set`, `(django.core.cache.backends.filebased.FileBasedCache)`, `is pickle (Django's, the default for this backend)`,
				`set OPTIONS "SERIALIZER": "djcache" in CACHES["files"] or CachesOptions.Options.Serializer = djcache.NativeSerializer`}},
		{"codec with OPTIONS pickle", `{"default": {"BACKEND": "locmem", "OPTIONS": {"serializer": "pickle"}}}`, codec,
			[]string{`CACHES["default"]`, `is pickle (OPTIONS["serializer"])`}},
		{"codec with base pickle", `{"default": {"BACKEND": "locmem"}}`, &Options{Codec: Gob, Serializer: PickleSerializer},
			[]string{`is pickle (CachesOptions.Options.Serializer)`}},
		{"codec with URL pickle", `{"default": {"BACKEND": "redis", "LOCATION": "redis://h?serializer=pickle"}}`, codec,
			[]string{`is pickle (the LOCATION URL's serializer parameter)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			_, err = NewCaches(s, &CachesOptions{Options: tc.base})
			if err == nil {
				t.Fatalf("NewCaches succeeded, want an error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %s", err, w)
				}
			}
		})
	}
}

// TestSettingsTimeZone: USE_TZ false gives every DatabaseCache alias's URL
// django_time_zone=TIME_ZONE (Django's default zone if absent); USE_TZ true
// or absent gives none, except from a database's own TIME_ZONE; an alias's
// OPTIONS override both.
func TestSettingsTimeZone(t *testing.T) {
	const (
		sqlite = `"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/app/db.sqlite3"}`
		mysql  = `"default": {"ENGINE": "django.db.backends.mysql", "NAME": "shop", "USER": "app", "HOST": "db"}`
		pg     = `"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "db"}`
		dbc    = `"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"`
	)
	for _, tc := range []struct {
		name, json string
		want       map[string]string // alias -> URL
	}{
		{"sqlite, USE_TZ false", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + sqlite + `}, "USE_TZ": false, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{"default": "sqlite:///srv/app/db.sqlite3?django_time_zone=Asia%2FTokyo&serializer=pickle&table=cache"}},
		{"mysql, USE_TZ false", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + mysql + `}, "USE_TZ": false, "TIME_ZONE": "Europe/Paris"}`,
			map[string]string{"default": "mysql://app@db/shop?django_time_zone=Europe%2FParis&serializer=pickle&table=cache"}},
		{"postgres, USE_TZ false", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + pg + `}, "TIME_ZONE": "UTC", "USE_TZ": false}`,
			map[string]string{"default": "postgres://db/shop?django_time_zone=UTC&serializer=pickle&table=cache"}},
		{"USE_TZ false, Django's default TIME_ZONE", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + sqlite + `}, "USE_TZ": false}`,
			map[string]string{"default": "sqlite:///srv/app/db.sqlite3?django_time_zone=America%2FChicago&serializer=pickle&table=cache"}},
		{"USE_TZ false, TIME_ZONE null", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + sqlite + `}, "USE_TZ": false, "TIME_ZONE": null}`,
			map[string]string{"default": "sqlite:///srv/app/db.sqlite3?django_time_zone=Local&serializer=pickle&table=cache"}},
		{"USE_TZ true", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + sqlite + `}, "USE_TZ": true, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{"default": "sqlite:///srv/app/db.sqlite3?serializer=pickle&table=cache"}},
		{"TIME_ZONE alone", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {` + mysql + `}, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{"default": "mysql://app@db/shop?serializer=pickle&table=cache"}},
		{"database TIME_ZONE", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "shop", "HOST": "db", "TIME_ZONE": "Europe/Paris"}}, "USE_TZ": true}`,
			map[string]string{"default": "mysql://db/shop?django_time_zone=Europe%2FParis&serializer=pickle&table=cache"}},
		{"database TIME_ZONE, USE_TZ absent", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/db", "TIME_ZONE": "Europe/Paris"}}}`,
			map[string]string{"default": "sqlite:///db?django_time_zone=Europe%2FParis&serializer=pickle&table=cache"}},
		{"database TIME_ZONE null", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/db", "TIME_ZONE": null}}}`,
			map[string]string{"default": "sqlite:///db?serializer=pickle&table=cache"}},
		{"database TIME_ZONE, USE_TZ false", `{"CACHES": {"default": {` + dbc + `}}, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/db", "TIME_ZONE": "Europe/Paris"}}, "USE_TZ": false, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{"default": "sqlite:///db?django_time_zone=Asia%2FTokyo&serializer=pickle&table=cache"}},
		{"OPTIONS override", `{"CACHES": {"default": {` + dbc + `, "OPTIONS": {"DJANGO_TIME_ZONE": "UTC"}}}, "DATABASES": {` + sqlite + `}, "USE_TZ": false, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{"default": "sqlite:///srv/app/db.sqlite3?django_time_zone=UTC&serializer=pickle&table=cache"}},
		{"every database alias, no other", `{"CACHES": {
				"default": {` + dbc + `},
				"other":   {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "c2", "OPTIONS": {"DATABASE": "replica"}},
				"files":   {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": "/var/tmp/c"},
				"local":   {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
			"DATABASES": {` + sqlite + `, "replica": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "HOST": "replica"}},
			"USE_TZ": false, "TIME_ZONE": "Asia/Tokyo"}`,
			map[string]string{
				"default": "sqlite:///srv/app/db.sqlite3?django_time_zone=Asia%2FTokyo&serializer=pickle&table=cache",
				"other":   "postgres://replica/shop?django_time_zone=Asia%2FTokyo&serializer=pickle&table=c2",
				"files":   "file:///var/tmp/c?serializer=pickle",
				"local":   "locmem:",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := mustCaches(t, tc.json, nil)
			if len(cs.Aliases()) != len(tc.want) {
				t.Errorf("aliases %v, want %d", cs.Aliases(), len(tc.want))
			}
			for alias, want := range tc.want {
				if got := cs.targets[alias].u.String(); got != want {
					t.Errorf("%s: URL = %s\n want %s", alias, got, want)
				}
			}
		})
	}

	// The parsed fields.
	s, err := ParseSettings([]byte(`{"CACHES": {}, "USE_TZ": false, "TIME_ZONE": "Asia/Tokyo",
		"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/db", "TIME_ZONE": "Europe/Paris"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.UseTZ == nil || *s.UseTZ || s.TimeZone != "Asia/Tokyo" || s.Databases["default"].TimeZone != "Europe/Paris" {
		t.Errorf("parsed UseTZ %v, TimeZone %q, DATABASES TimeZone %q", s.UseTZ, s.TimeZone, s.Databases["default"].TimeZone)
	}
	if s, _ := ParseSettings([]byte(`{"CACHES": {}}`)); s.UseTZ != nil || s.TimeZone != "" {
		t.Errorf("absent: UseTZ %v, TimeZone %q; want nil and empty", s.UseTZ, s.TimeZone)
	}

	for _, tc := range []struct{ json, want string }{
		{`{"CACHES": {}, "USE_TZ": "False"}`, `USE_TZ: want true or false, not "False"`},
		{`{"CACHES": {}, "USE_TZ": null}`, `USE_TZ: want true or false, not null`},
		{`{"CACHES": {}, "USE_TZ": 0}`, `USE_TZ: want true or false`},
		{`{"CACHES": {}, "TIME_ZONE": 9}`, `TIME_ZONE: want a time zone name`},
		{`{"CACHES": {}, "TIME_ZONE": ""}`, `TIME_ZONE: want a time zone name`},
		{`{"CACHES": {}, "USE_TZ": false, "LANGUAGE_CODE": "en-us"}`, `unknown key "LANGUAGE_CODE" next to CACHES (expected CACHES, DATABASES, USE_TZ and TIME_ZONE)`},
		{`{"default": {"BACKEND": "locmem"}, "USE_TZ": false}`, `USE_TZ given without CACHES`},
		{`{"default": {"BACKEND": "locmem"}, "TIME_ZONE": "UTC"}`, `TIME_ZONE given without CACHES`},
		{`{"CACHES": {}, "DATABASES": {"default": {"ENGINE": "x", "TIME_ZONE": ["UTC"]}}}`, `TIME_ZONE`},
	} {
		if _, err := ParseSettings([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSettings(%s) = %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
}

// mustCaches parses JSON settings and builds their handler, failing the
// test on any error.
func mustCaches(t *testing.T, settings string, o *CachesOptions) *Caches {
	t.Helper()
	s, err := ParseSettings([]byte(settings))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewCaches(s, o)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
