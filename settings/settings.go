// Package settings loads Django's CACHES settings from JSON, TOML or YAML
// files and from the environment, into a djcache.Caches handler. It keeps
// the TOML and YAML parsers out of package djcache's imports.
//
// The files have the shape of Django's settings, so a Django user can paste
// theirs: either the CACHES dict itself, or an object with CACHES and, for
// database caches, DATABASES, USE_TZ and TIME_ZONE (with USE_TZ false,
// Django stores a DatabaseCache's expiry times in TIME_ZONE's local time,
// and djcache then does too). In YAML:
//
//	CACHES:
//	  default:
//	    BACKEND: django.core.cache.backends.redis.RedisCache
//	    LOCATION: redis://127.0.0.1:6379
//	    TIMEOUT: 600
//	  sessions:
//	    BACKEND: django.core.cache.backends.locmem.LocMemCache
//	    LOCATION: sessions
//	    TIMEOUT: null
//
// In TOML, which has no null, write TIMEOUT = "none" for a cache whose
// entries never expire:
//
//	[default]
//	BACKEND = "django.core.cache.backends.filebased.FileBasedCache"
//	LOCATION = "/var/tmp/django_cache"
//	TIMEOUT = "none"
//	OPTIONS = { MAX_ENTRIES = 1000 }
//
// A database cache of a project with USE_TZ = False, in TOML (top-level
// keys come before the tables):
//
//	USE_TZ = false
//	TIME_ZONE = "Europe/Paris"
//
//	[CACHES.default]
//	BACKEND = "django.core.cache.backends.db.DatabaseCache"
//	LOCATION = "my_cache_table"
//
//	[DATABASES.default]
//	ENGINE = "django.db.backends.sqlite3"
//	NAME = "/srv/app/db.sqlite3"
//
// See djcache.ParseSettings for the meaning of each key. As pasted, a
// file, database, memcached or Redis cache reads and writes Django's
// pickles, so that the Go service and the Django application share its
// entries; OPTIONS SERIALIZER = "djcache" keeps djcache's own encoding for
// one alias (djcache.NewCaches gives all the rules).
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/djcache/djcache"
)

// Environment variables read by FromEnv.
const (
	// EnvSettings names a settings file (.json, .toml, .yaml or .yml).
	EnvSettings = "DJCACHE_SETTINGS"
	// EnvURL is a cache URL, which becomes the "default" alias.
	EnvURL = "DJCACHE_URL"
)

// Parse parses settings in a format: "json", "toml" or "yaml".
func Parse(data []byte, format string) (*djcache.Settings, error) {
	switch strings.ToLower(format) {
	case "json":
		return djcache.ParseSettings(data)
	case "toml":
		var m map[string]any
		if _, err := toml.Decode(string(data), &m); err != nil {
			return nil, fmt.Errorf("djcache: settings: TOML: %v", err)
		}
		return viaJSON(m)
	case "yaml", "yml":
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("djcache: settings: YAML: %v", err)
		}
		return viaJSON(m)
	}
	return nil, fmt.Errorf("djcache: settings: unknown format %q (want json, toml or yaml)", format)
}

// viaJSON hands a decoded document to djcache.ParseSettings, which owns the
// rules of Django's settings.
func viaJSON(m map[string]any) (*djcache.Settings, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("djcache: settings: %v", err)
	}
	return djcache.ParseSettings(data)
}

// Load reads a settings file; its extension (.json, .toml, .yaml, .yml)
// gives the format.
func Load(path string) (*djcache.Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("djcache: settings: %w", err)
	}
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	if ext == "" {
		return nil, fmt.Errorf("djcache: settings: %s has no extension (.json, .toml or .yaml) to tell its format", path)
	}
	s, err := Parse(data, ext)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return s, nil
}

// ErrNoConfig reports that neither DJCACHE_SETTINGS nor DJCACHE_URL is set.
var ErrNoConfig = errors.New("djcache: neither " + EnvSettings + " nor " + EnvURL + " is set")

// FromEnv returns a Caches handler from the environment: the settings file
// named by DJCACHE_SETTINGS if set, else the URL in DJCACHE_URL as the
// "default" alias, else ErrNoConfig.
func FromEnv(o *djcache.CachesOptions) (*djcache.Caches, error) {
	if path := os.Getenv(EnvSettings); path != "" {
		s, err := Load(path)
		if err != nil {
			return nil, err
		}
		return djcache.NewCaches(s, o)
	}
	if u := os.Getenv(EnvURL); u != "" {
		return djcache.CachesFromURL(u, o)
	}
	return nil, ErrNoConfig
}
