package settings

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/djcache/djcache"
)

const jsonSettings = `{"CACHES": {
  "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379", "TIMEOUT": 600},
  "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sessions", "TIMEOUT": null, "OPTIONS": {"MAX_ENTRIES": 1000}}
}}`

const yamlSettings = `
CACHES:
  default:
    BACKEND: django.core.cache.backends.redis.RedisCache
    LOCATION: redis://127.0.0.1:6379
    TIMEOUT: 600
  sessions:
    BACKEND: django.core.cache.backends.locmem.LocMemCache
    LOCATION: sessions
    TIMEOUT: null
    OPTIONS:
      MAX_ENTRIES: 1000
`

const tomlSettings = `
[CACHES.default]
BACKEND = "django.core.cache.backends.redis.RedisCache"
LOCATION = "redis://127.0.0.1:6379"
TIMEOUT = 600

[CACHES.sessions]
BACKEND = "django.core.cache.backends.locmem.LocMemCache"
LOCATION = "sessions"
TIMEOUT = "none"
OPTIONS = { MAX_ENTRIES = 1000 }
`

// TestFormatsAgree parses the same settings written in the three formats.
func TestFormatsAgree(t *testing.T) {
	want, err := Parse([]byte(jsonSettings), "json")
	if err != nil {
		t.Fatal(err)
	}
	if want.Caches["sessions"].Timeout != djcache.Forever || want.Caches["default"].Timeout != djcache.Timeout(600e9) {
		t.Fatalf("JSON parsed to %+v", want.Caches)
	}
	for format, text := range map[string]string{"yaml": yamlSettings, "toml": tomlSettings} {
		got, err := Parse([]byte(text), format)
		if err != nil {
			t.Errorf("%s: %v", format, err)
			continue
		}
		// Numbers differ in type (json.Number, int64) but not in value.
		for alias, cs := range got.Caches {
			w := want.Caches[alias]
			if cs.Backend != w.Backend || cs.Timeout != w.Timeout || !reflect.DeepEqual(cs.Location, w.Location) || len(cs.Options) != len(w.Options) {
				t.Errorf("%s: CACHES[%q] = %+v, want %+v", format, alias, cs, w)
			}
		}
	}
}

func TestLoadAndFromEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "caches.yaml")
	if err := os.WriteFile(path, []byte(yamlSettings), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvSettings, path)
	t.Setenv(EnvURL, "locmem://ignored")
	cs, err := FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.Aliases(); !reflect.DeepEqual(got, []string{"default", "sessions"}) {
		t.Errorf("aliases from %s = %v", EnvSettings, got)
	}

	t.Setenv(EnvSettings, "")
	cs, err = FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := cs.URL("default"); u != "locmem://ignored" {
		t.Errorf("default from %s = %s", EnvURL, u)
	}

	t.Setenv(EnvURL, "")
	if _, err := FromEnv(nil); !errors.Is(err, ErrNoConfig) {
		t.Errorf("no configuration: %v, want ErrNoConfig", err)
	}

	noExt := filepath.Join(dir, "caches")
	os.WriteFile(noExt, []byte(jsonSettings), 0o600)
	if _, err := Load(noExt); err == nil {
		t.Error("Load of a file without an extension succeeded")
	}
	if _, err := Parse([]byte("a: [b"), "yaml"); err == nil {
		t.Error("bad YAML parsed")
	}
	if _, err := Parse([]byte("x"), "ini"); err == nil {
		t.Error("unknown format parsed")
	}
}

// TestTimeZoneSettings: USE_TZ and TIME_ZONE pass through the TOML and
// YAML readers to djcache.ParseSettings, which gives the DatabaseCache
// aliases their django_time_zone.
func TestTimeZoneSettings(t *testing.T) {
	for _, tc := range []struct {
		format, text, want string
	}{
		{"toml", `
USE_TZ = false
TIME_ZONE = "Asia/Tokyo"

[CACHES.default]
BACKEND = "django.core.cache.backends.db.DatabaseCache"
LOCATION = "my_cache_table"

[DATABASES.default]
ENGINE = "django.db.backends.sqlite3"
NAME = "/srv/app/db.sqlite3"
`, "sqlite:///srv/app/db.sqlite3?django_time_zone=Asia%2FTokyo&serializer=pickle&table=my_cache_table"},
		{"yaml", `
USE_TZ: False
TIME_ZONE: Europe/Paris
CACHES:
  default:
    BACKEND: django.core.cache.backends.db.DatabaseCache
    LOCATION: my_cache_table
DATABASES:
  default:
    ENGINE: django.db.backends.mysql
    NAME: shop
    HOST: db
    TIME_ZONE: ~
`, "mysql://db/shop?django_time_zone=Europe%2FParis&serializer=pickle&table=my_cache_table"},
		{"yaml", `
USE_TZ: true
TIME_ZONE: Europe/Paris
CACHES:
  default:
    BACKEND: django.core.cache.backends.db.DatabaseCache
    LOCATION: my_cache_table
DATABASES:
  default:
    ENGINE: django.db.backends.mysql
    NAME: shop
    HOST: db
`, "mysql://db/shop?serializer=pickle&table=my_cache_table"},
	} {
		s, err := Parse([]byte(tc.text), tc.format)
		if err != nil {
			t.Errorf("%s: %v", tc.format, err)
			continue
		}
		cs, err := djcache.NewCaches(s, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.format, err)
			continue
		}
		if got, _ := cs.URL("default"); got != tc.want {
			t.Errorf("%s: URL = %s\n want %s", tc.format, got, tc.want)
		}
	}
	if _, err := Parse([]byte("USE_TZ = \"no\"\n[CACHES]\n"), "toml"); err == nil {
		t.Error(`TOML USE_TZ = "no" parsed`)
	}
}
