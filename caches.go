package djcache

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAlias is the alias of the default cache (Django's
// DEFAULT_CACHE_ALIAS).
const DefaultAlias = "default"

// Settings are Django's cache settings: the CACHES dict, and for the
// database backend the DATABASES dict it takes its connection from and the
// USE_TZ and TIME_ZONE settings that decide how it stores expiry times.
type Settings struct {
	// Caches is Django's CACHES: alias -> settings.
	Caches map[string]CacheSettings
	// Databases is Django's DATABASES, for DatabaseCache aliases.
	Databases map[string]DatabaseSettings
	// UseTZ is Django's USE_TZ. Nil (left out) means true, as in every
	// project made by startproject and by default from Django 5.0 on: the
	// database backend's naive times are UTC. False: they are TimeZone's
	// local times (see ParseSettings).
	UseTZ *bool
	// TimeZone is Django's TIME_ZONE, used with UseTZ false: an IANA name,
	// "UTC", or "Local" for the machine's zone. "" means Django's default,
	// "America/Chicago".
	TimeZone string
}

// djangoDefaultTimeZone is the TIME_ZONE of Django's global settings.
const djangoDefaultTimeZone = "America/Chicago"

// CacheSettings is one alias of Django's CACHES.
type CacheSettings struct {
	// Backend is BACKEND: Django's dotted path (such as
	// "django.core.cache.backends.locmem.LocMemCache" or
	// "django_redis.cache.RedisCache") or a djcache URL scheme ("locmem").
	Backend string
	// Location is LOCATION as Django takes it: a locmem name, a directory, a
	// table name, memcached servers, Redis URLs. A string is one element;
	// for memcached and Redis it may hold several servers separated by ";"
	// or ",", as in Django.
	Location []string
	// Timeout is TIMEOUT: the zero Option means Django's default (300 s);
	// null in JSON is Forever.
	Timeout Option
	// KeyPrefix is KEY_PREFIX.
	KeyPrefix string
	// Version is VERSION (0 means 1).
	Version int
	// KeyFunction is KEY_FUNCTION, a dotted path resolved through
	// CachesOptions.KeyFuncs.
	KeyFunction string
	// Options is OPTIONS. MAX_ENTRIES and CULL_FREQUENCY (and the legacy
	// top-level max_entries and cull_frequency) apply to locmem, file and
	// database caches. SERIALIZER (or Django's RedisCache's serializer),
	// django-redis's PICKLE_VERSION and COMPRESSOR apply to every backend
	// and choose how values are written (see NewCaches). Other keys are
	// backend options, which become the backend's URL parameters (see the
	// package documentation, section Settings).
	Options map[string]any
}

// DatabaseSettings is one alias of Django's DATABASES, as far as a
// DatabaseCache needs it.
type DatabaseSettings struct {
	Engine, Name, User, Password, Host, Port string
	// TimeZone is the database's TIME_ZONE: with USE_TZ true, the zone of
	// the naive datetimes Django stores in a database without time zone
	// support (SQLite, MySQL; on PostgreSQL, Django's session zone). ""
	// (left out or null) means UTC.
	TimeZone string
	// Options is the database's OPTIONS, passed to the database backend as
	// URL parameters.
	Options map[string]any
}

// ParseSettings parses JSON settings: either Django's CACHES dict itself
//
//	{"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
//
// or an object with CACHES and, for database caches, DATABASES, USE_TZ and
// TIME_ZONE:
//
//	{"CACHES": {…}, "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/db.sqlite3"}},
//	 "USE_TZ": false, "TIME_ZONE": "Europe/Paris"}
//
// USE_TZ (a boolean) and TIME_ZONE (a string) matter to DatabaseCache
// aliases only, whose expires column Django fills with naive times on
// SQLite and MySQL: UTC with USE_TZ true, local times with USE_TZ false.
// With "USE_TZ": false, every DatabaseCache alias's URL gets the db
// backend's django_time_zone=TIME_ZONE (TIME_ZONE defaulting to Django's
// "America/Chicago"; null, the machine's zone, is "Local"). USE_TZ true or
// left out changes nothing, except that a DATABASES entry's own TIME_ZONE
// (the zone of the naive datetimes Django stores in a database without
// time zone support when USE_TZ is true) becomes django_time_zone for the
// caches on that database; with USE_TZ false it is ignored (Django
// refuses it). Django 3.2 still wrote the cache's expiry times in UTC
// whatever the database's TIME_ZONE (which its own get then read in the
// database's zone); newer releases write them in the database's zone. An
// alias's OPTIONS "django_time_zone" (Django ignores it) overrides both.
// Django's
// local time is TIME_ZONE only in a process whose TZ environment variable
// is TIME_ZONE, which Django sets when it loads a settings module but not
// under settings.configure(); see package backends/db, "Expiry and time
// zones". TIME_ZONE is checked when a database alias opens.
//
// Keys Django does not define are errors that name them. OPTIONS are kept
// as given: NewCaches reads them, and with them decides each alias's
// serializer (a pasted file, database, memcached or Redis cache writes
// Django's pickles). The package settings reads TOML and YAML into the
// same shape.
func ParseSettings(data []byte) (*Settings, error) {
	var top map[string]json.RawMessage
	if err := strictJSON(data, &top); err != nil {
		return nil, fmt.Errorf("djcache: settings: %v", err)
	}
	s := &Settings{Caches: map[string]CacheSettings{}, Databases: map[string]DatabaseSettings{}}
	caches := top
	if raw, ok := top["CACHES"]; ok {
		for k := range top {
			if k != "CACHES" && k != "DATABASES" && k != "USE_TZ" && k != "TIME_ZONE" {
				return nil, fmt.Errorf("djcache: settings: unknown key %q next to CACHES (expected CACHES, DATABASES, USE_TZ and TIME_ZONE)", k)
			}
		}
		if err := s.parseTimeSettings(top); err != nil {
			return nil, fmt.Errorf("djcache: settings: %v", err)
		}
		caches = nil
		if err := strictJSON(raw, &caches); err != nil {
			return nil, fmt.Errorf("djcache: settings: CACHES: %v", err)
		}
		if raw, ok := top["DATABASES"]; ok {
			var dbs map[string]map[string]json.RawMessage
			if err := strictJSON(raw, &dbs); err != nil {
				return nil, fmt.Errorf("djcache: settings: DATABASES: %v", err)
			}
			for alias, fields := range dbs {
				db, err := parseDatabase(fields)
				if err != nil {
					return nil, fmt.Errorf("djcache: settings: DATABASES[%q]: %v", alias, err)
				}
				s.Databases[alias] = db
			}
		}
	} else {
		for _, k := range []string{"DATABASES", "USE_TZ", "TIME_ZONE"} {
			if _, ok := top[k]; ok {
				return nil, fmt.Errorf("djcache: settings: %s given without CACHES: give the settings as {\"CACHES\": …, %q: …}", k, k)
			}
		}
	}
	for alias, raw := range caches {
		var fields map[string]json.RawMessage
		if err := strictJSON(raw, &fields); err != nil {
			return nil, fmt.Errorf("djcache: settings: CACHES[%q]: %v", alias, err)
		}
		cs, err := parseCache(fields)
		if err != nil {
			return nil, fmt.Errorf("djcache: settings: CACHES[%q]: %v", alias, err)
		}
		s.Caches[alias] = cs
	}
	return s, nil
}

// parseTimeSettings reads USE_TZ and TIME_ZONE.
func (s *Settings) parseTimeSettings(top map[string]json.RawMessage) error {
	if raw, ok := top["USE_TZ"]; ok {
		var v any
		if err := strictJSON(raw, &v); err != nil {
			return fmt.Errorf("USE_TZ: %v", err)
		}
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("USE_TZ: want true or false, not %s", raw)
		}
		s.UseTZ = &b
	}
	if raw, ok := top["TIME_ZONE"]; ok {
		var v any
		if err := strictJSON(raw, &v); err != nil {
			return fmt.Errorf("TIME_ZONE: %v", err)
		}
		switch x := v.(type) {
		case nil:
			s.TimeZone = "Local" // Django: the system's time zone
		case string:
			if x == "" {
				return errors.New(`TIME_ZONE: want a time zone name such as "Europe/Paris", not ""`)
			}
			s.TimeZone = x
		default:
			return fmt.Errorf("TIME_ZONE: want a time zone name such as \"Europe/Paris\", not %s", raw)
		}
	}
	return nil
}

// djangoTimeZone is the zone of the naive times Django writes to db, as
// the db backend's django_time_zone parameter, or "" for UTC.
func (s *Settings) djangoTimeZone(db DatabaseSettings) string {
	if s.UseTZ != nil && !*s.UseTZ {
		return cmp.Or(s.TimeZone, djangoDefaultTimeZone)
	}
	return db.TimeZone
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

func parseCache(f map[string]json.RawMessage) (CacheSettings, error) {
	var cs CacheSettings
	opts := map[string]any{}
	for k, raw := range f {
		var err error
		switch k {
		case "BACKEND":
			err = json.Unmarshal(raw, &cs.Backend)
		case "LOCATION":
			cs.Location, err = parseLocation(raw)
		case "TIMEOUT", "timeout":
			cs.Timeout, err = parseTimeout(raw)
		case "KEY_PREFIX":
			var v any
			if err = strictJSON(raw, &v); err == nil {
				cs.KeyPrefix, err = scalarString(v)
			}
		case "VERSION":
			cs.Version, err = parseVersion(raw)
		case "KEY_FUNCTION":
			if string(raw) != "null" {
				err = json.Unmarshal(raw, &cs.KeyFunction)
			}
		case "OPTIONS":
			var o map[string]any
			if err = strictJSON(raw, &o); err == nil {
				for ok, ov := range o {
					opts[ok] = ov
				}
			}
		case "max_entries", "cull_frequency": // Django's legacy spellings
			var v any
			if err = strictJSON(raw, &v); err == nil {
				opts[strings.ToUpper(k)] = v
			}
		default:
			return cs, fmt.Errorf("unknown key %q (Django's keys: BACKEND, LOCATION, TIMEOUT, KEY_PREFIX, VERSION, KEY_FUNCTION, OPTIONS)", k)
		}
		if err != nil {
			return cs, fmt.Errorf("%s: %v", k, err)
		}
	}
	if cs.Backend == "" {
		return cs, errors.New("BACKEND is missing")
	}
	if len(opts) > 0 {
		cs.Options = opts
	}
	return cs, nil
}

func parseLocation(raw json.RawMessage) ([]string, error) {
	var v any
	if err := strictJSON(raw, &v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a string or a list of strings, found %v in the list", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, not %s", raw)
}

// parseTimeout reads TIMEOUT as Django does: null is forever; otherwise
// int() of the value (so 0.5 is 0, "60" is 60). Django falls back to 300 on
// a value int() refuses; djcache reports it instead.
func parseTimeout(raw json.RawMessage) (Option, error) {
	var v any
	if err := strictJSON(raw, &v); err != nil {
		return Option{}, err
	}
	var f float64
	switch x := v.(type) {
	case nil:
		return Forever, nil
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return Option{}, err
		}
	case string:
		if strings.EqualFold(strings.TrimSpace(x), "none") {
			return Forever, nil // TOML has no null
		}
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return Option{}, fmt.Errorf("%q is not a number of seconds or null", x)
		}
		f = float64(n)
	default:
		return Option{}, fmt.Errorf("%s is not a number of seconds or null", raw)
	}
	f = math.Trunc(f)
	if math.IsNaN(f) || math.Abs(f) > float64(math.MaxInt64/int64(time.Second)) {
		return Option{}, fmt.Errorf("%s is out of range", raw)
	}
	return Timeout(time.Duration(f) * time.Second), nil
}

func parseVersion(raw json.RawMessage) (int, error) {
	var v any
	if err := strictJSON(raw, &v); err != nil {
		return 0, err
	}
	s, err := scalarString(v)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%s: djcache needs a non-zero integer version", raw)
	}
	return n, nil
}

// scalarString renders a JSON scalar as Python's str() would for the
// settings that Django formats with %s.
func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	}
	return "", fmt.Errorf("want a string or a number, not %v", v)
}

// Keys of a DATABASES entry that do not matter to a cache.
var ignoredDatabaseKeys = []string{"ATOMIC_REQUESTS", "AUTOCOMMIT", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "DISABLE_SERVER_SIDE_CURSORS", "TEST"}

func parseDatabase(f map[string]json.RawMessage) (DatabaseSettings, error) {
	var db DatabaseSettings
	for k, raw := range f {
		var v any
		if err := strictJSON(raw, &v); err != nil {
			return db, fmt.Errorf("%s: %v", k, err)
		}
		if k == "OPTIONS" {
			m, ok := v.(map[string]any)
			if !ok && v != nil {
				return db, fmt.Errorf("OPTIONS: want an object")
			}
			db.Options = m
			continue
		}
		if slices.Contains(ignoredDatabaseKeys, k) {
			continue
		}
		var s string
		if v != nil {
			var err error
			if s, err = scalarString(v); err != nil {
				return db, fmt.Errorf("%s: %v", k, err)
			}
		}
		switch k {
		case "ENGINE":
			db.Engine = s
		case "NAME":
			db.Name = s
		case "USER":
			db.User = s
		case "PASSWORD":
			db.Password = s
		case "HOST":
			db.Host = s
		case "PORT":
			db.Port = s
		case "TIME_ZONE":
			db.TimeZone = s
		default:
			return db, fmt.Errorf("unknown key %q", k)
		}
	}
	return db, nil
}

// backendKinds maps Django's dotted backend paths to djcache's schemes.
var backendKinds = map[string]string{
	"django.core.cache.backends.locmem.LocMemCache":        "locmem",
	"django.core.cache.backends.filebased.FileBasedCache":  "file",
	"django.core.cache.backends.db.DatabaseCache":          "db",
	"django.core.cache.backends.memcached.PyMemcacheCache": "memcached",
	"django.core.cache.backends.memcached.PyLibMCCache":    "memcached",
	"django.core.cache.backends.memcached.MemcachedCache":  "memcached",
	"django.core.cache.backends.redis.RedisCache":          "redis",
	"django_redis.cache.RedisCache":                        "redis",
	"django.core.cache.backends.dummy.DummyCache":          "dummy",
}

// databaseSchemes maps Django's database ENGINEs to the db backend's schemes.
var databaseSchemes = map[string]string{
	"django.db.backends.sqlite3":             "sqlite",
	"django.db.backends.postgresql":          "postgres",
	"django.db.backends.postgresql_psycopg2": "postgres",
	"django.db.backends.mysql":               "mysql",
}

// optionParams maps OPTIONS keys that Django's backends (or their client
// libraries) define to the URL parameters of djcache's backends. An empty
// value means an option that has no effect in Go and is accepted and
// ignored. Keys not listed here become URL parameters as they are, lower
// case, so the backend accepts or names them.
var optionParams = map[string]map[string]string{
	"storage": {"MAX_ENTRIES": "max_entries", "CULL_FREQUENCY": "cull_frequency"},
	"memcached": {
		// pymemcache HashClient options with no meaning for gomemcache.
		"no_delay": "", "ignore_exc": "", "use_pooling": "", "allow_unicode_keys": "", "default_noreply": "",
		"max_pool_size": "max_idle_conns", "connect_timeout": "connect_timeout", "timeout": "socket_timeout",
		// pylibmc's behaviors (binary protocol, tcp_nodelay, ketama, ...) are libmemcached tuning.
		"binary": "", "behaviors": "",
	},
	"redis": {
		"PARSER_CLASS": "", "CONNECTION_POOL_KWARGS": "", "parser_class": "", "pool_class": "",
		"SOCKET_CONNECT_TIMEOUT": "dial_timeout", "SOCKET_TIMEOUT": "read_timeout",
		"socket_connect_timeout": "dial_timeout", "socket_timeout": "read_timeout",
		// redis-py connection options of Django's RedisCache: go-redis
		// decides which failures to retry (max_retries) and checks pooled
		// connections itself.
		"retry_on_timeout": "", "health_check_interval": "", "socket_keepalive": "", "socket_keepalive_options": "",
		"max_connections": "pool_size",
	},
}

// ignoredValues are OPTIONS that name a Python class, for any backend:
// the class that behaves as djcache does is accepted and ignored, any
// other is an error that gives the reason.
var ignoredValues = map[string]struct{ value, reason string }{
	"CLIENT_CLASS": {"django_redis.client.DefaultClient", "djcache's Redis client behaves as django-redis's DefaultClient; other clients (sharding, herd) are not supported"},
	"COMPRESSOR":   {"django_redis.compressors.identity.IdentityCompressor", "compressed values are not supported"},
}

// sharedKinds are the kinds of Django's backends whose entries another
// process can read: a pasted alias of one of them writes Django's pickles
// by default (see NewCaches). locmem lives in one process and dummy stores
// nothing, so they keep djcache's native serializer.
var sharedKinds = []string{"file", "db", "memcached", "redis"}

// serializerValues are the accepted values of OPTIONS["SERIALIZER"]
// (django-redis's spelling) and OPTIONS["serializer"] (Django's
// RedisCache's): djcache's names, and the Python classes that write what
// the pickle serializer writes (pickles, integers raw on Redis).
var serializerValues = []struct {
	value string
	sz    Serializer
}{
	{string(PickleSerializer), PickleSerializer},
	{string(NativeSerializer), NativeSerializer},
	{"django_redis.serializers.pickle.PickleSerializer", PickleSerializer},
	{"django.core.cache.backends.redis.RedisSerializer", PickleSerializer},
}

// serializerOption reads OPTIONS[k], k being SERIALIZER or serializer.
func serializerOption(k string, v any) (Serializer, error) {
	accepted := make([]string, len(serializerValues))
	for i, sv := range serializerValues {
		if v == sv.value {
			return sv.sz, nil
		}
		accepted[i] = strconv.Quote(sv.value)
	}
	shown := fmt.Sprint(v)
	if s, ok := v.(string); ok {
		shown = strconv.Quote(s)
	}
	return "", fmt.Errorf("OPTIONS[%q] = %s is not supported (accepted: %s; django-redis's JSON and msgpack serializers are not)", k, shown, strings.Join(accepted, ", "))
}

// checkSerializer checks a serializer given outside OPTIONS (the LOCATION
// URL's serializer parameter, CachesOptions.Options.Serializer).
func checkSerializer(where string, sz Serializer) error {
	if sz != NativeSerializer && sz != PickleSerializer {
		return fmt.Errorf("%s = %q: want %q or %q", where, string(sz), NativeSerializer, PickleSerializer)
	}
	return nil
}

// aliasTarget is what an alias opens: a URL and the Options that the
// settings fix.
type aliasTarget struct {
	u    *url.URL
	opts Options
}

var locationSplit = regexp.MustCompile(`[;,]`)

// target turns one alias into the URL of its backend.
func (s *Settings) target(alias string, cs CacheSettings, co *CachesOptions) (aliasTarget, error) {
	var t aliasTarget
	if co != nil && co.Options != nil {
		t.opts = *co.Options
	}
	t.opts.Timeout = cs.Timeout
	t.opts.KeyPrefix = cs.KeyPrefix
	t.opts.Version = cs.Version
	if cs.KeyFunction != "" {
		var kf KeyFunc
		if co != nil {
			kf = co.KeyFuncs[cs.KeyFunction]
		}
		if kf == nil {
			return t, fmt.Errorf("KEY_FUNCTION %q is not registered: pass it in CachesOptions.KeyFuncs", cs.KeyFunction)
		}
		t.opts.KeyFunc = kf
	}
	kind, django := backendKinds[cs.Backend]
	if !django {
		kind = strings.ToLower(cs.Backend)
	}
	q := url.Values{}
	loc := ""
	if len(cs.Location) > 0 {
		loc = cs.Location[0]
	}
	one := func() error {
		if len(cs.Location) > 1 {
			return fmt.Errorf("LOCATION: %s takes one location, not %d", cs.Backend, len(cs.Location))
		}
		return nil
	}
	optKind := kind
	var redisLocations []string       // a Redis alias's LOCATIONs, the leader first
	var redisDB, redisPassword string // its OPTIONS db and password, if given
	switch kind {
	case "locmem":
		t.u = &url.URL{Scheme: "locmem", Host: loc}
		optKind = "storage"
	case "file":
		if loc == "" {
			return t, errors.New("LOCATION: FileBasedCache needs a directory")
		}
		t.u = &url.URL{Scheme: "file", Path: loc}
		optKind = "storage"
	case "db":
		u, err := s.databaseURL(cs)
		if err != nil {
			return t, err
		}
		t.u = u
		q = u.Query()
		if loc == "" {
			return t, errors.New("LOCATION: DatabaseCache needs a table name")
		}
		q.Set("table", loc)
		optKind = "storage"
	case "memcached":
		var servers []string
		for _, l := range cs.Location {
			for _, s := range locationSplit.Split(l, -1) {
				if s = strings.TrimSpace(s); s != "" {
					servers = append(servers, s)
				}
			}
		}
		if len(servers) == 0 {
			return t, errors.New("LOCATION: memcached needs at least one server")
		}
		t.u = &url.URL{Scheme: "memcached", Host: strings.Join(servers, ",")}
	case "redis":
		var urls []string
		for _, l := range cs.Location {
			for _, s := range locationSplit.Split(l, -1) {
				if s = strings.TrimSpace(s); s != "" {
					urls = append(urls, s)
				}
			}
		}
		if len(urls) == 0 {
			return t, errors.New("LOCATION: Redis needs a URL such as redis://127.0.0.1:6379")
		}
		// Django's RedisCache (and django-redis) writes to the first server
		// and reads from the others, its replicas: they become the URL's
		// replica parameters once OPTIONS are read (see redisReplicas).
		u, err := parseRedisLocation(urls[0])
		if err != nil {
			return t, fmt.Errorf("LOCATION: %v", err)
		}
		t.u = u
		q = u.Query()
		redisLocations = urls
	case "dummy":
		t.u = &url.URL{Scheme: "dummy"}
	default:
		if err := one(); err != nil {
			return t, err
		}
		if !django && strings.Contains(loc, "://") {
			u, err := url.Parse(loc)
			if err != nil {
				return t, fmt.Errorf("LOCATION: not a URL")
			}
			t.u = u
			q = u.Query()
			break
		}
		return t, fmt.Errorf("unknown BACKEND %q: use one of Django's (%s) or a djcache URL scheme with a URL as LOCATION", cs.Backend, strings.Join(sortedKeys(backendKinds), ", "))
	}
	if kind == "locmem" || kind == "file" || kind == "db" {
		if err := one(); err != nil {
			return t, err
		}
	}
	// The serializer, least specific first (NewCaches documents the order):
	// Django's default for the backend, CachesOptions.Options.Serializer,
	// the LOCATION URL's serializer parameter, OPTIONS["SERIALIZER"].
	sz, from := NativeSerializer, ""
	if django && slices.Contains(sharedKinds, kind) {
		sz, from = PickleSerializer, "Django's, the default for this backend"
	}
	if base := t.opts.Serializer; base != "" {
		if err := checkSerializer("CachesOptions.Options.Serializer", base); err != nil {
			return t, err
		}
		sz, from = base, "CachesOptions.Options.Serializer"
	}
	if q.Has("serializer") {
		us := Serializer(q.Get("serializer"))
		if err := checkSerializer("LOCATION: URL parameter serializer", us); err != nil {
			return t, err
		}
		sz, from = us, "the LOCATION URL's serializer parameter"
	}
	var optSz Serializer // from OPTIONS, under optKey
	optKey := ""
	for k, v := range cs.Options {
		switch {
		case kind == "db" && k == "DATABASE":
			continue // read by databaseURL
		case kind == "redis" && k == "db":
			// redis-py's db keyword: a database the URL names wins over it
			// (see redisReplicas).
			val, err := paramValue(v)
			if err != nil {
				return t, fmt.Errorf("OPTIONS[%q]: %v", k, err)
			}
			redisDB = val
			continue
		case kind == "redis" && (k == "PASSWORD" || k == "password"):
			// In the URL's user information, where Redacted hides it.
			pw, ok := v.(string)
			if !ok {
				return t, fmt.Errorf("OPTIONS[%q]: want a string", k)
			}
			if _, inURL := t.u.User.Password(); !inURL {
				// redis-py, under both Redis backends: the URL's own
				// password wins.
				t.u.User = url.UserPassword(t.u.User.Username(), pw)
			}
			redisPassword = pw
			continue
		case k == "SERIALIZER" || k == "serializer":
			o, err := serializerOption(k, v)
			if err != nil {
				return t, err
			}
			if optSz != "" && o != optSz {
				return t, errors.New(`OPTIONS["SERIALIZER"] and OPTIONS["serializer"] disagree`)
			}
			optSz, optKey = o, k
			continue
		case k == "PICKLE_VERSION":
			// django-redis's pickle protocol. djcache always writes
			// protocol 5, which every Python from 3.8 on reads, and reads
			// every protocol.
			s, _ := paramValue(v)
			if n, err := strconv.Atoi(s); err != nil || n < -1 || n > 5 {
				return t, fmt.Errorf("OPTIONS[%q] = %v: want an integer from -1 to 5", k, v)
			}
			continue
		}
		if iv, ok := ignoredValues[k]; ok {
			if v != iv.value {
				return t, fmt.Errorf("OPTIONS[%q] = %v: %s (accepted: %q)", k, v, iv.reason, iv.value)
			}
			continue
		}
		param, known := optionParams[optKind][k]
		if known && param == "" {
			continue
		}
		if !known {
			param = strings.ToLower(k)
		}
		val, err := paramValue(v)
		if err != nil {
			return t, fmt.Errorf("OPTIONS[%q]: %v", k, err)
		}
		q.Set(param, val)
	}
	if optSz != "" {
		sz, from = optSz, fmt.Sprintf("OPTIONS[%q]", optKey)
	}
	if kind == "redis" {
		if err := redisReplicas(redisLocations, redisDB, redisPassword, q); err != nil {
			return t, err
		}
	}
	// The URL shows a pickle alias as such; a native one has no parameter,
	// so that the URL alone opens what the alias opens.
	t.opts.Serializer = sz
	q.Del("serializer")
	if sz == PickleSerializer {
		if t.opts.Codec != nil {
			return t, fmt.Errorf("CachesOptions.Options.Codec is set, but the serializer of CACHES[%q] is pickle (%s), which encodes every value itself: to keep the codec, set OPTIONS \"SERIALIZER\": \"djcache\" in CACHES[%q] or CachesOptions.Options.Serializer = djcache.NativeSerializer", alias, from, alias)
		}
		q.Set("serializer", string(PickleSerializer))
	}
	t.u.RawQuery = q.Encode()
	return t, nil
}

// parseRedisLocation parses one Redis LOCATION; its errors never show the
// URL, which may hold a password.
func parseRedisLocation(loc string) (*url.URL, error) {
	u, err := url.Parse(loc)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	return u, nil
}

// redisDatabase is the database a Redis LOCATION selects, as redis-py
// picks it: the URL's db parameter, else its path, else OPTIONS["db"]
// (optDB), else 0.
func redisDatabase(u *url.URL, optDB string) string {
	if db := u.Query().Get("db"); db != "" {
		return db
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return p
	}
	return cmp.Or(optDB, "0")
}

// redisReplicas completes the query q of a Redis alias's URL (made from
// locs[0], the leader) with what the other LOCATIONs and OPTIONS say.
//
// OPTIONS["db"] (Django's RedisCache passes it to redis-py, under the
// URL's own choice) becomes the db parameter when the leader's URL names
// no database; go-redis would let a db parameter override the URL's path.
//
// Each further LOCATION is a read replica, as Django's RedisCache and
// django-redis use them (reads from one of them at random, writes to the
// first): it becomes a replica=HOST:PORT parameter, whose client the redis
// backend makes with the leader's URL but that address. So a replica must
// have the leader's scheme, user, password, database and URL parameters;
// one that differs is an error that says in what (djcache would otherwise
// read from another database, or fail to log in).
func redisReplicas(locs []string, optDB, optPassword string, q url.Values) error {
	if len(locs) == 0 {
		return nil
	}
	leader, err := parseRedisLocation(locs[0])
	if err != nil {
		return fmt.Errorf("LOCATION: %v", err)
	}
	if optDB != "" && !q.Has("db") && strings.Trim(leader.Path, "/") == "" {
		q.Set("db", optDB)
	}
	// What a LOCATION shares with the leader, as redis-py reads it (the
	// URL's password wins over OPTIONS).
	type shared struct{ scheme, user, password, db, params string }
	sharedOf := func(u *url.URL) shared {
		pw, ok := u.User.Password()
		if !ok {
			pw = optPassword
		}
		params := u.Query()
		params.Del("db")
		return shared{strings.ToLower(u.Scheme), u.User.Username(), pw, redisDatabase(u, optDB), params.Encode()}
	}
	want := sharedOf(leader)
	for i, loc := range locs[1:] {
		r, err := parseRedisLocation(loc)
		if err != nil {
			return fmt.Errorf("LOCATION[%d]: %v", i+1, err)
		}
		got := sharedOf(r)
		var differs []string
		if got.scheme != want.scheme {
			differs = append(differs, "scheme")
		}
		if got.user != want.user || got.password != want.password {
			differs = append(differs, "user or password")
		}
		if got.db != want.db {
			differs = append(differs, fmt.Sprintf("database (%s, not %s)", got.db, want.db))
		}
		if got.params != want.params {
			differs = append(differs, "URL parameters")
		}
		if len(differs) > 0 {
			return fmt.Errorf("LOCATION[%d] (host %s): djcache reads from the replicas with the first LOCATION's scheme, user, password, database and URL parameters, and this one differs in its %s", i+1, r.Host, strings.Join(differs, ", "))
		}
		host, port := r.Hostname(), r.Port()
		if host == "" {
			host = "localhost" // redis-py's and go-redis's default
		}
		if port == "" {
			port = "6379"
		}
		q.Add("replica", net.JoinHostPort(host, port))
	}
	return nil
}

// databaseURL builds a db backend URL from the DATABASES alias a
// DatabaseCache uses: "default", or OPTIONS["DATABASE"] (a djcache
// extension, for Django's database routers).
func (s *Settings) databaseURL(cs CacheSettings) (*url.URL, error) {
	alias := "default"
	if a, ok := cs.Options["DATABASE"].(string); ok {
		alias = a
	}
	db, ok := s.Databases[alias]
	if !ok {
		return nil, fmt.Errorf("DatabaseCache needs DATABASES[%q] (give the settings as {\"CACHES\": …, \"DATABASES\": …})", alias)
	}
	scheme, ok := databaseSchemes[db.Engine]
	if !ok {
		return nil, fmt.Errorf("DATABASES[%q]: ENGINE %q is not supported (supported: %s)", alias, db.Engine, strings.Join(sortedKeys(databaseSchemes), ", "))
	}
	u := &url.URL{Scheme: scheme}
	if scheme == "sqlite" {
		u.Path = db.Name
	} else {
		u.Host = db.Host
		if u.Host == "" {
			u.Host = "localhost"
		}
		if db.Port != "" {
			u.Host += ":" + db.Port
		}
		u.Path = "/" + db.Name
		if db.User != "" {
			if db.Password != "" {
				u.User = url.UserPassword(db.User, db.Password)
			} else {
				u.User = url.User(db.User)
			}
		}
	}
	q := url.Values{}
	for k, v := range db.Options {
		val, err := paramValue(v)
		if err != nil {
			return nil, fmt.Errorf("DATABASES[%q] OPTIONS[%q]: %v", alias, k, err)
		}
		q.Set(k, val)
	}
	if tz := s.djangoTimeZone(db); tz != "" {
		q.Set("django_time_zone", tz)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

func paramValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "none", nil
	case bool:
		return strconv.FormatBool(x), nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	}
	return "", fmt.Errorf("value %v is not a string, number, boolean or null", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CachesOptions configures a Caches handler. A nil *CachesOptions means the
// defaults.
type CachesOptions struct {
	// Options are the base Options of every cache (a Logger, a Codec); the
	// settings' TIMEOUT, KEY_PREFIX, VERSION and KEY_FUNCTION override
	// their fields. A non-empty Serializer overrides the default serializer
	// of every alias, and an alias's own choice overrides it (see
	// NewCaches). A Codec is used only by aliases with the native
	// serializer: NewCaches fails if an alias with the pickle serializer
	// would drop it.
	Options *Options
	// KeyFuncs resolves KEY_FUNCTION dotted paths to Go functions.
	KeyFuncs map[string]KeyFunc
	// URLMux opens the backends; nil means DefaultURLMux().
	URLMux *URLMux
}

// Caches is Django's caches handler: named caches built from settings,
// opened lazily on first use, one *Cache per alias shared by all
// goroutines. It is safe for concurrent use.
type Caches struct {
	mux     *URLMux
	targets map[string]aliasTarget
	order   []string

	mu        sync.Mutex        // protects opened, closed and observers
	opened    map[string]*Cache // by alias
	closed    bool
	observers []Observer // attached to every cache opened (observe.go)
}

// NewCaches returns a handler for the aliases in s. It checks every alias
// (backend, LOCATION, OPTIONS shapes, serializer) but opens none; a
// backend's own parameters are checked when the alias is first used. As
// Django's system check does, it requires a "default" alias.
//
// An alias pasted from a Django application shares its entries with that
// application, so its serializer is chosen as follows, the most specific
// choice winning:
//
//  1. OPTIONS["SERIALIZER"] (django-redis's key; Django's RedisCache spells
//     it "serializer"): "pickle" or "djcache" ([PickleSerializer] or
//     [NativeSerializer]), or the Python classes that write Django's
//     pickles, "django_redis.serializers.pickle.PickleSerializer" and
//     "django.core.cache.backends.redis.RedisSerializer". Any other value,
//     such as django-redis's JSON or msgpack serializers, is an error.
//  2. The serializer parameter of a LOCATION URL (a Redis URL, or the URL
//     of a BACKEND given as a djcache scheme).
//  3. CachesOptions.Options.Serializer, if not empty.
//  4. The default: pickle for Django's backends that other processes read
//     (FileBasedCache, DatabaseCache, the memcached caches, RedisCache and
//     django_redis's RedisCache), so that the Go service and the Django
//     application read each other's entries; djcache's native serializer
//     for LocMemCache (nothing outside the process can read it, so the
//     faster native encoding loses nothing), DummyCache, and a BACKEND
//     given as a djcache scheme.
//
// The URL of an alias (Caches.URL, the command-line tool) shows the
// result: serializer=pickle for a pickle alias, no serializer parameter
// for a native one. django-redis's OPTIONS["PICKLE_VERSION"] (an integer
// from -1 to 5) is accepted and ignored: djcache writes pickle protocol 5,
// which every Python from 3.8 on reads, and reads every protocol.
// OPTIONS["COMPRESSOR"] is accepted only as
// "django_redis.compressors.identity.IdentityCompressor", because djcache
// neither reads nor writes compressed values. An alias whose serializer is
// pickle while CachesOptions.Options.Codec is set is an error: pickle
// encodes every value itself, so set OPTIONS "SERIALIZER": "djcache" in
// that alias, or CachesOptions.Options.Serializer = NativeSerializer, to
// keep the codec.
func NewCaches(s *Settings, o *CachesOptions) (*Caches, error) {
	if s == nil || len(s.Caches) == 0 {
		return nil, errors.New("djcache: settings define no caches")
	}
	if _, ok := s.Caches[DefaultAlias]; !ok {
		return nil, errors.New("djcache: you must define a 'default' cache in your CACHES setting")
	}
	cs := &Caches{mux: &defaultMux, targets: map[string]aliasTarget{}, opened: map[string]*Cache{}}
	if o != nil && o.URLMux != nil {
		cs.mux = o.URLMux
	}
	for _, alias := range sortedKeys(s.Caches) {
		t, err := s.target(alias, s.Caches[alias], o)
		if err != nil {
			return nil, &contextError{fmt.Sprintf("djcache: CACHES[%q] (%s): ", alias, s.Caches[alias].Backend), err}
		}
		cs.targets[alias] = t
		cs.order = append(cs.order, alias)
	}
	return cs, nil
}

// CachesFromURL returns a handler whose only alias, "default", is the cache
// at rawURL (the DJCACHE_URL convention). It opens nothing.
func CachesFromURL(rawURL string, o *CachesOptions) (*Caches, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("djcache: invalid cache URL: %w", err)
	}
	t := aliasTarget{u: u}
	cs := &Caches{mux: &defaultMux, targets: map[string]aliasTarget{DefaultAlias: t}, order: []string{DefaultAlias}, opened: map[string]*Cache{}}
	if o != nil {
		if o.URLMux != nil {
			cs.mux = o.URLMux
		}
		if o.Options != nil {
			t.opts = *o.Options
			cs.targets[DefaultAlias] = t
		}
	}
	return cs, nil
}

// Aliases returns the aliases, sorted.
func (cs *Caches) Aliases() []string { return slices.Clone(cs.order) }

// URL returns the URL an alias opens, with any password redacted, for
// messages and the command-line tool.
func (cs *Caches) URL(alias string) (string, error) {
	t, ok := cs.targets[alias]
	if !ok {
		return "", cs.noAlias(alias)
	}
	return t.u.Redacted(), nil
}

// Cache returns the cache of an alias, opening it on first use (Django's
// caches[alias]). Every call for one alias returns the same *Cache.
func (cs *Caches) Cache(alias string) (*Cache, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return nil, ErrClosed
	}
	if c, ok := cs.opened[alias]; ok {
		return c, nil
	}
	t, ok := cs.targets[alias]
	if !ok {
		return nil, cs.noAlias(alias)
	}
	c, err := cs.mux.openURL(context.Background(), t.u, &t.opts)
	if err != nil {
		return nil, &contextError{fmt.Sprintf("djcache: cache %q (%s): ", alias, t.u.Redacted()), err}
	}
	cs.attach(alias, c)
	cs.opened[alias] = c
	return c, nil
}

// Default returns the "default" cache (Django's cache).
func (cs *Caches) Default() (*Cache, error) { return cs.Cache(DefaultAlias) }

// contextError is err with context in front of its message. The
// message says "djcache: " once: err's own leading "djcache: " is dropped.
type contextError struct {
	context string // ends with ": "
	err     error
}

func (e *contextError) Error() string {
	return e.context + strings.TrimPrefix(e.err.Error(), "djcache: ")
}

func (e *contextError) Unwrap() error { return e.err }

func (cs *Caches) noAlias(alias string) error {
	return fmt.Errorf("djcache: the cache alias %q doesn't exist (aliases: %s)", alias, strings.Join(cs.order, ", "))
}

// Close closes every cache opened so far, and reports their errors joined.
// Later calls of Cache return ErrClosed.
func (cs *Caches) Close() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	var errs []error
	for _, alias := range sortedKeys(cs.opened) {
		errs = append(errs, cs.opened[alias].Close())
	}
	return errors.Join(errs...)
}
