package interop

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// A backend is one cache both sides can share: the settings a Django
// application would have, which djcache reads as they are.
type backend struct {
	name      string
	server    string // host:port the backend needs, "" for none
	cache     func(t *testing.T) map[string]any
	databases map[string]any
	// table: who creates the cache table ("django" runs Django's
	// createcachetable, "djcache" the db backend's), "" for no table.
	table string
	// protocol4: Django's side writes pickle protocol 4 (django-redis),
	// so value bytes are compared past the protocol byte.
	protocol4 bool
	// timeZone: USE_TZ = False with this TIME_ZONE, in the settings of
	// both sides, and peer.py runs with TZ set to it (as under manage.py);
	// "" for USE_TZ = True.
	timeZone string
	// dbTimeZone: the TIME_ZONE of the DATABASES entry (with USE_TZ =
	// True), the zone of the naive expiry times Django 4.0 and later write
	// to SQLite and MySQL; "" for UTC.
	dbTimeZone string
	// variant: a second configuration of a backend (time zones, Django's
	// MariaDB table), run with one keying only: the key formats are the
	// base backend's.
	variant bool
}

var runID = fmt.Sprintf("%d%d", os.Getpid()%10000, time.Now().UnixNano()%100000)

var tables atomic.Int64

// uniqueTable is a cache table name of this run, so that parallel runs and
// earlier runs never share a table.
func uniqueTable() string {
	return fmt.Sprintf("djcache_interop_%s_%d", runID, tables.Add(1))
}

// noCull is the OPTIONS of the file and database caches: Django's default
// MAX_ENTRIES, 300, is fewer than the entries a test writes, and both
// sides would cull (Django's file cache deletes a random third of the
// files), so entries would vanish between a write and its read.
var noCull = map[string]any{"MAX_ENTRIES": 100000}

// backends returns the caches both sides share for Django release v.
func backends(v *djangoVersion) []backend {
	// Django before 5.1 connects to MySQL in utf8 (MySQL's three-byte
	// utf8mb3) unless told otherwise, and then fails on keys beyond the BMP
	// (an emoji); every project that stores them says utf8mb4. Django 5.1
	// made utf8mb4 the default, so the 5.2 settings leave it out.
	mysqlOptions := map[string]any{}
	if !v.atLeast(5, 1) {
		mysqlOptions["charset"] = "utf8mb4"
	}
	bs := []backend{
		{
			name: "filebased",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": t.TempDir(), "OPTIONS": noCull}
			},
		},
		{
			name:  "db-sqlite",
			table: "django",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": uniqueTable(), "OPTIONS": noCull}
			},
			// NAME is set per test (a file in its temporary directory).
			databases: map[string]any{"default": map[string]any{"ENGINE": "django.db.backends.sqlite3"}},
		},
		{
			name:   "db-postgres",
			server: "127.0.0.1:5432",
			table:  "django",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": uniqueTable(), "OPTIONS": noCull}
			},
			databases: map[string]any{"default": map[string]any{
				"ENGINE": "django.db.backends.postgresql", "NAME": "test", "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432",
			}},
		},
		{
			// djcache makes the table (keys exact); the variant
			// db-mariadb-django-table below uses Django's.
			name:   "db-mariadb",
			server: "127.0.0.1:3306",
			table:  "djcache",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": uniqueTable(), "OPTIONS": noCull}
			},
			databases: map[string]any{"default": map[string]any{
				"ENGINE": "django.db.backends.mysql", "NAME": "test", "USER": "root", "PASSWORD": "", "HOST": "127.0.0.1", "PORT": "3306",
				"OPTIONS": mysqlOptions,
			}},
		},
		{
			name:      "django-redis",
			server:    "127.0.0.1:6379",
			protocol4: true,
			cache: func(t *testing.T) map[string]any {
				// Generous socket timeouts on both sides (django-redis's
				// names, which djcache maps to dial_timeout and
				// read_timeout): a machine busy with other work must not
				// time out a loopback call (djcache's defaults fail fast).
				return map[string]any{"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0",
					"OPTIONS": map[string]any{"SOCKET_CONNECT_TIMEOUT": 10, "SOCKET_TIMEOUT": 10}}
			},
		},
		{
			name:   "memcached",
			server: "127.0.0.1:11211",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": []string{"127.0.0.1:11211", "127.0.0.1:11212"}}
			},
		},
	}
	if v.atLeast(4, 0) {
		// Django's own RedisCache (Django 4.0 and later), with the redis-py
		// options a Django project writes (djcache maps them to
		// dial_timeout and read_timeout).
		bs = append(bs, backend{
			name:   "redis-builtin",
			server: "127.0.0.1:6379",
			cache: func(t *testing.T) map[string]any {
				return map[string]any{"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379",
					"OPTIONS": map[string]any{"db": 0, "socket_connect_timeout": 10, "socket_timeout": 10}}
			},
		})
	}
	// The database caches again with USE_TZ = False: Django writes naive
	// local times. Tokyo is UTC+9 without DST, so a wrong zone shows as a
	// nine-hour error.
	for _, b := range bs {
		if strings.HasPrefix(b.name, "db-") {
			b.name += "-naive-tokyo"
			b.timeZone, b.variant = "Asia/Tokyo", true
			bs = append(bs, b)
		}
	}
	// With USE_TZ = True and the database's own TIME_ZONE (SQLite and
	// MySQL only: Django refuses it for PostgreSQL), Django 4.0 and later
	// write naive times of that zone. (Django 3.2 wrote UTC there and read
	// the database's zone back, so that its own entries lived nine hours
	// less in Tokyo: not a setting to share.)
	if v.atLeast(4, 0) {
		for _, b := range bs {
			if b.name == "db-sqlite" || b.name == "db-mariadb" {
				b.name += "-dbzone-tokyo"
				b.dbTimeZone, b.variant = "Asia/Tokyo", true
				bs = append(bs, b)
			}
		}
	}
	// MariaDB with the table Django's createcachetable makes, whose keys
	// compare case-insensitively: djcache takes it as Django does (with
	// a warning), since it shares the table with Django.
	for _, b := range bs {
		if b.name == "db-mariadb" {
			b.name, b.table, b.variant = "db-mariadb-django-table", "django", true
			bs = append(bs, b)
			break
		}
	}
	return bs
}

// keying is a key configuration: Django's default key function, or a
// KEY_PREFIX and a VERSION.
type keying struct {
	name    string
	prefix  string
	version int
}

var keyings = []keying{{"default-keys", "", 0}, {"prefix-and-version", "shop", 3}}

// side is one test's two sides: Django (through peer.py) and djcache,
// configured from the same settings.
type side struct {
	b      backend
	django *peer
	c      *djcache.Cache
	keys   string // the test's own key prefix, so that runs never collide
	k      keying
}

// version is the cache's default version.
func (s *side) version() int { return max(s.k.version, 1) }

// key is a key of this test: the same on both sides.
func (s *side) key(name string) string { return s.keys + name }

// TestDjango runs every step on every backend, against each Django
// release (TestDjango/django52/redis-builtin/default-keys/Counters). The
// releases run at once: each test has its own keys (the release and the
// backend are in them), table or directory.
func TestDjango(t *testing.T) {
	for _, v := range djangoVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			python := needDjango(t, v)
			for _, b := range backends(v) {
				for _, k := range keyings {
					if b.variant && k.prefix == "" {
						continue
					}
					t.Run(b.name+"/"+k.name, func(t *testing.T) {
						t.Parallel()
						s := open(t, v, python, b, k)
						t.Run("DjangoWritesDjcacheReads", s.djangoWrites)
						t.Run("DjcacheWritesDjangoReads", s.djcacheWrites)
						t.Run("Counters", s.counters)
						t.Run("AddTouchDelete", s.addTouchDelete)
						t.Run("Expiry", s.expiry)
						t.Run("UnicodeKeys", s.unicodeKeys)
						t.Run("HotKeys", s.hotKeys)
						if b.name == "memcached" {
							t.Run("Servers", s.servers)
						}
						if b.server == "" || b.table != "" {
							// Last: it empties the test's directory or table.
							// Django's clear on Redis and memcached flushes the
							// whole database or server, other tests' keys too.
							t.Run("Clear", s.clear)
						}
					})
				}
			}
		})
	}
}

// open builds both sides from one CACHES setting, the way a Go service
// reuses its Django project's settings: djcache.ParseSettings reads the same
// dict Django's settings.configure receives.
func open(t *testing.T, v *djangoVersion, python string, b backend, k keying) *side {
	if b.server != "" {
		testenv.NeedTCP(t, b.name, b.server, "run .ci/services")
	}
	cache := b.cache(t)
	if k.prefix != "" {
		cache["KEY_PREFIX"] = k.prefix
		cache["VERSION"] = k.version
	}
	var databases map[string]any
	if b.databases != nil {
		def := map[string]any{}
		for name, v := range b.databases["default"].(map[string]any) {
			def[name] = v
		}
		if def["ENGINE"] == "django.db.backends.sqlite3" {
			def["NAME"] = filepath.Join(t.TempDir(), "db.sqlite3")
		}
		if b.dbTimeZone != "" {
			def["TIME_ZONE"] = b.dbTimeZone
		}
		databases = map[string]any{"default": def}
	}
	top := map[string]any{"CACHES": map[string]any{"default": cache}}
	if databases != nil {
		top["DATABASES"] = databases
	}
	if b.timeZone != "" {
		top["USE_TZ"], top["TIME_ZONE"] = false, b.timeZone
	}
	settings, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := djcache.ParseSettings(settings)
	if err != nil {
		t.Fatalf("djcache.ParseSettings(%s): %v", settings, err)
	}
	caches, err := djcache.NewCaches(parsed, nil)
	if err != nil {
		t.Fatalf("djcache.NewCaches: %v", err)
	}
	t.Cleanup(func() { caches.Close() })
	c, err := caches.Default()
	if err != nil {
		t.Fatalf("opening %s: %v", settings, err)
	}
	// Keys of this run, release and backend: the releases' tests share the
	// Redis database and the memcached servers, as do Django's RedisCache
	// and django-redis.
	keys := fmt.Sprintf("ix%s-%s-%s-", runID, strings.TrimPrefix(v.name, "django"), b.name)
	s := &side{b: b, c: c, django: &peer{python: python, cache: cache, databases: databases, timeZone: b.timeZone}, keys: keys, k: k}
	s.django.start(t) // for the whole test, not its first subtest
	ctx := context.Background()
	switch b.table {
	case "django":
		s.django.one(t, op{"op": "createcachetable"})
	case "djcache":
		d, ok := c.Driver().(interface {
			CreateTable(context.Context) (bool, error)
		})
		if !ok {
			t.Fatalf("%T cannot create tables", c.Driver())
		}
		if _, err := d.CreateTable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if b.table != "" {
		table := cache["LOCATION"].(string)
		t.Cleanup(func() {
			d := c.Driver().(interface{ DB() *sql.DB })
			d.DB().Exec("DROP TABLE " + table)
		})
	}
	return s
}

// fixture returns peer.py's values, by key, as tags.
func (s *side) fixture(t *testing.T) (names []string, tags map[string]any) {
	t.Helper()
	tags = map[string]any{}
	for _, kv := range s.django.one(t, op{"op": "fixture"}).([]any) {
		pair := kv.([]any)
		names = append(names, pair[0].(string))
		tags[pair[0].(string)] = pair[1]
	}
	return names, tags
}

// The timed keys of the fixture: Django's timeout 0 (not stored), None
// (never expires) and an hour.
var timed = []struct {
	name    string
	timeout any // for Django
	opt     djcache.Option
}{
	{"t_zero", 0, djcache.Timeout(0)},
	{"t_never", nil, djcache.Forever},
	{"t_hour", 3600, djcache.Timeout(time.Hour)},
}

// djangoWrites: Django writes every fixture value; djcache reads each one
// back exactly, one by one, with GetMany, and into typed destinations.
func (s *side) djangoWrites(t *testing.T) {
	ctx := context.Background()
	names, tags := s.fixture(t)
	ops := []op{{"op": "set_fixture", "prefix": s.key("dj-")}}
	for _, tm := range timed {
		ops = append(ops, op{"op": "set", "key": s.key("dj-" + tm.name), "value": tag{"str", tm.name}, "timeout": tm.timeout})
	}
	written := time.Now() // before Django's writes: the expiries are later
	for i, r := range s.django.run(t, ops...) {
		if r != true {
			t.Fatalf("Django %v: %v", ops[i], r)
		}
	}

	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = s.key("dj-" + n)
		var got any
		found, err := s.c.Get(ctx, keys[i], &got)
		if err != nil || !found {
			t.Errorf("Get(%s) of Django's %s = found %v, %v", n, short(canon(tags[n])), found, err)
			continue
		}
		if g, w := canon(toTag(got)), canon(tags[n]); g != w {
			t.Errorf("Get(%s):\n got %s\nwant %s (Django's)", n, short(g), short(w))
		}
	}
	many, err := djcache.GetMany[any](ctx, s.c, keys)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	for i, n := range names {
		if g, w := canon(toTag(many[keys[i]])), canon(tags[n]); g != w {
			t.Errorf("GetMany[%s]:\n got %s\nwant %s", n, short(g), short(w))
		}
	}

	// Timeout 0: Django stored nothing that lives. None and an hour: the
	// expiry djcache reads is Django's.
	if found, err := s.c.Has(ctx, s.key("dj-t_zero")); found || err != nil {
		t.Errorf("Has of Django's timeout-0 key = %v, %v; want false", found, err)
	}
	for _, n := range []string{"t_never", "t_hour"} {
		var v string
		if found, err := s.c.Get(ctx, s.key("dj-"+n), &v); !found || err != nil || v != n {
			t.Errorf("Get of Django's %s key = %q, %v, %v", n, v, found, err)
		}
	}
	s.checkGoExpiry(t, "dj-t_never", 0, written)
	s.checkGoExpiry(t, "dj-t_hour", time.Hour, written)

	// Typed destinations: a Django dict into a struct, ints into Go ints,
	// an aware datetime into a time.Time, and a mismatch as an error that
	// names both types.
	var user struct {
		N    int `pickle:"n"`
		User struct {
			Name    string
			Roles   []string
			Address map[string]*string
		}
	}
	if _, err := s.c.Get(ctx, s.key("dj-dict_nested"), &user); err != nil || user.N != 3 || user.User.Name != "Ada" ||
		strings.Join(user.User.Roles, ",") != "admin,dev" || *user.User.Address["city"] != "London" || user.User.Address["zip"] != nil {
		t.Errorf("Get of Django's nested dict into a struct = %+v, %v", user, err)
	}
	if n, _, err := djcache.Get[int](ctx, s.c, s.key("dj-int_neg")); n != -7 || err != nil {
		t.Errorf("Get[int] of Django's -7 = %d, %v", n, err)
	}
	if l, _, err := djcache.Get[[]int](ctx, s.c, s.key("dj-list_long")); len(l) != 2500 || l[2499] != 2499 || err != nil {
		t.Errorf("Get[[]int] of Django's list(range(2500)) = %d items, %v", len(l), err)
	}
	if m, _, err := djcache.Get[map[int]*string](ctx, s.c, s.key("dj-dict_int_keys")); len(m) != 3 || *m[2] != "two" || m[-3] != nil || err != nil {
		t.Errorf("Get[map[int]*string] of Django's int-keyed dict = %v, %v", m, err)
	}
	want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if tm, _, err := djcache.Get[time.Time](ctx, s.c, s.key("dj-datetime_utc")); !tm.Equal(want) || err != nil {
		t.Errorf("Get[time.Time] of Django's aware datetime = %v, %v; want %v", tm, err, want)
	}
	// Values only Django's own code makes: timezone.now() (pytz's UTC on
	// Django 3.2), a pytz or zoneinfo zone, a SafeString, an OrderedDict.
	for _, kv := range s.django.one(t, op{"op": "set_django_values", "prefix": s.key("djv-")}).([]any) {
		pair := kv.([]any)
		var got any
		found, err := s.c.Get(ctx, s.key("djv-"+pair[0].(string)), &got)
		if g, w := canon(toTag(got)), canon(pair[1]); !found || err != nil || g != w {
			t.Errorf("Get of Django's %s = %s, %v, %v; want %s", pair[0], g, found, err, w)
		}
	}

	// A class outside package pickle's allow-list is an error that names
	// it, not a miss and not garbage.
	s.django.one(t, op{"op": "set_fraction", "key": s.key("dj-fraction")})
	var x any
	var de *djcache.DecodeError
	if found, err := s.c.Get(ctx, s.key("dj-fraction"), &x); !errors.As(err, &de) || !strings.Contains(err.Error(), "fractions.Fraction") {
		t.Errorf("Get of Django's Fraction(1, 3) = %v, %v, %v; want a DecodeError naming fractions.Fraction", x, found, err)
	}
	if n, _, err := djcache.Get[int](ctx, s.c, s.key("dj-str")); err == nil || !strings.Contains(err.Error(), "str") || !strings.Contains(err.Error(), "int") {
		t.Errorf("Get[int] of Django's 'bar' = %d, %v; want an error naming Python's str and Go's int", n, err)
	}
}

// djcacheWrites: djcache writes every fixture value; Django reads each one
// back exactly, and the stored bytes are the ones Django stores for the
// same value.
func (s *side) djcacheWrites(t *testing.T) {
	ctx := context.Background()
	names, tags := s.fixture(t)
	for _, n := range names {
		if err := s.c.Set(ctx, s.key("go-"+n), fromTag(t, tags[n])); err != nil {
			t.Fatalf("Set(%s): %v", n, err)
		}
	}
	written := time.Now() // before the timed writes: the expiries are later
	for _, tm := range timed {
		if err := s.c.Set(ctx, s.key("go-"+tm.name), tm.name, tm.opt); err != nil {
			t.Fatal(err)
		}
	}
	expiries := s.django.run(t, op{"op": "expiry", "key": s.key("go-t_never")}, op{"op": "expiry", "key": s.key("go-t_hour")})
	// A Go struct is a dict of its fields, named by their tags.
	type product struct {
		Name   string    `json:"name"`
		Tags   []string  `json:"tags"`
		Price  float64   `json:"price"`
		When   time.Time `json:"when"`
		Secret string    `json:"-"`
		Note   *string   `json:"note,omitempty"`
	}
	when := time.Date(2024, 5, 6, 7, 8, 9, 10000, time.UTC)
	if err := s.c.Set(ctx, s.key("go-struct"), product{Name: "pen", Tags: []string{"a", "b"}, Price: 2.5, When: when, Secret: "x"}); err != nil {
		t.Fatal(err)
	}
	wantStruct := toTag(map[string]any{"name": "pen", "tags": []any{"a", "b"}, "price": 2.5, "when": when})
	s.checkDjangoSees(t, s.key("go-struct"), wantStruct)

	// SetMany (one round trip or statement where the backend allows) and
	// DeleteMany, seen by Django's get_many.
	batch := map[string]any{s.key("many-a"): "α", s.key("many-b"): int64(-3), s.key("many-c"): []any{true, nil}}
	if failed, err := s.c.SetMany(ctx, batch); err != nil || len(failed) != 0 {
		t.Fatalf("SetMany = %v, %v", failed, err)
	}
	keysOf := []string{s.key("many-a"), s.key("many-b"), s.key("many-c")}
	got := s.django.one(t, op{"op": "get_many", "keys": keysOf}).(map[string]any)
	for k, v := range batch {
		if canon(got[k]) != canon(toTag(v)) {
			t.Errorf("Django get_many after SetMany: %s = %v; want %s", k, got[k], canon(toTag(v)))
		}
	}
	if err := s.c.DeleteMany(ctx, keysOf[:2]); err != nil {
		t.Fatal(err)
	}
	if got := s.django.one(t, op{"op": "get_many", "keys": keysOf}).(map[string]any); len(got) != 1 || got[keysOf[2]] == nil {
		t.Errorf("Django get_many after DeleteMany of two keys = %v; want only %s", got, keysOf[2])
	}

	// Django's own bytes for the same values, to compare with.
	var ops []op
	for _, n := range names {
		ops = append(ops, op{"op": "set", "key": s.key("ref-" + n), "value": tags[n]})
	}
	for _, n := range names {
		ops = append(ops, op{"op": "get", "key": s.key("go-" + n)})
	}
	for _, n := range names {
		ops = append(ops, op{"op": "stored", "key": s.key("go-" + n)}, op{"op": "stored", "key": s.key("ref-" + n)})
	}
	ops = append(ops,
		op{"op": "get", "key": s.key("go-t_zero")},
		op{"op": "get", "key": s.key("go-t_never")},
		op{"op": "get_many", "keys": []string{s.key("go-int"), s.key("go-none"), s.key("go-nope"), s.key("go-str_nonascii")}},
	)
	res := s.django.run(t, ops...)
	n := len(names)
	gets, stored, rest := res[n:2*n], res[2*n:4*n], res[4*n:]
	for i, name := range names {
		got, ok := gets[i].(map[string]any)
		if !ok || got["found"] != true {
			t.Errorf("Django get(%s) of djcache's %s = %v", name, short(canon(tags[name])), gets[i])
			continue
		}
		if g, w := canon(got["value"]), canon(tags[name]); g != w {
			t.Errorf("Django get(%s):\n got %s\nwant %s", name, short(g), short(w))
		}
	}
	// Byte for byte: the value djcache stored is the one Django stores,
	// with the same memcached flags. Sets and dicts whose keys are not
	// in djcache's (sorted) order are equal values but other bytes.
	unordered := map[string]bool{"set": true, "set_str": true, "frozenset": true, "dict_mixed_keys": true}
	for i, name := range names {
		ours, theirs := stored[2*i], stored[2*i+1]
		if unordered[name] {
			continue
		}
		o, _ := ours.(map[string]any)
		th, _ := theirs.(map[string]any)
		_, ok1 := o["bytes"].(string)
		_, ok2 := th["bytes"].(string)
		if !ok1 || !ok2 {
			t.Errorf("stored %s: djcache's %v, Django's %v", name, ours, theirs)
			continue
		}
		ob, _ := base64.StdEncoding.DecodeString(o["bytes"].(string))
		tb, _ := base64.StdEncoding.DecodeString(th["bytes"].(string))
		if s.b.protocol4 && len(ob) > 1 && len(tb) > 1 && ob[0] == 0x80 && tb[0] == 0x80 && tb[1] == 4 {
			tb = append([]byte{0x80, 5}, tb[2:]...) // django-redis pickles with protocol 4
		}
		if !bytes.Equal(ob, tb) || fmt.Sprint(o["flags"]) != fmt.Sprint(th["flags"]) {
			t.Errorf("stored %s: djcache wrote %s %x, Django writes %s %x", name, flagText(o), trim(ob), flagText(th), trim(tb))
		}
	}
	if r := rest[0].(map[string]any); r["found"] != false {
		t.Errorf("Django get of djcache's timeout-0 key = %v; want a miss", r)
	}
	if r := rest[1].(map[string]any); r["found"] != true || canon(r["value"]) != canon(tag{"str", "t_never"}) {
		t.Errorf("Django get of djcache's never-expiring key = %v", r)
	}
	if r, _ := expiries[0].(map[string]any); r == nil || r["error"] != nil || r["expiry"] != nil {
		t.Errorf("Django reads the expiry of djcache's never-expiring key as %v; want None", expiries[0])
	}
	checkDjangoExpiry(t, "djcache's one-hour key", expiries[1], time.Hour, written)
	if m, _ := rest[2].(map[string]any); len(m) != 3 || canon(m[s.key("go-none")]) != canon(tag{"none"}) || canon(m[s.key("go-int")]) != canon(tag{"int", "42"}) {
		t.Errorf("Django get_many of djcache's keys = %v; want int, none and str_nonascii, not the missing key", rest[2])
	}
}

func flagText(m map[string]any) string {
	if f, ok := m["flags"]; ok {
		return fmt.Sprintf("flags %v", f)
	}
	return ""
}

func trim(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

// counters: incr and decr by either side on counters either side wrote.
func (s *side) counters(t *testing.T) {
	ctx := context.Background()
	dj, gk := s.key("cnt-dj"), s.key("cnt-go")
	s.django.one(t, op{"op": "set", "key": dj, "value": tag{"int", "10"}, "timeout": 3600})
	if n, err := s.c.Incr(ctx, dj, 5); n != 15 || err != nil {
		t.Fatalf("Incr(5) of Django's 10 = %d, %v; want 15", n, err)
	}
	s.checkDjangoSees(t, dj, tag{"int", "15"})
	if r := s.django.one(t, op{"op": "incr", "key": dj}); canon(r) != canon(tag{"int", "16"}) {
		t.Errorf("Django incr after djcache's = %v; want 16", r)
	}
	if n, err := s.c.Decr(ctx, dj, 6); n != 10 || err != nil {
		t.Errorf("Decr(6) of 16 = %d, %v; want 10", n, err)
	}
	if r := s.django.one(t, op{"op": "decr", "key": dj, "delta": 3}); canon(r) != canon(tag{"int", "7"}) {
		t.Errorf("Django decr(3) after djcache's = %v; want 7", r)
	}
	if n, _, err := djcache.Get[int64](ctx, s.c, dj); n != 7 || err != nil {
		t.Errorf("Get of Django's counter = %d, %v; want 7", n, err)
	}

	if err := s.c.Set(ctx, gk, 100, djcache.Timeout(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := s.django.one(t, op{"op": "incr", "key": gk, "delta": 2}); canon(r) != canon(tag{"int", "102"}) {
		t.Errorf("Django incr(2) of djcache's 100 = %v; want 102", r)
	}
	if n, err := s.c.Incr(ctx, gk, 1); n != 103 || err != nil {
		t.Errorf("Incr after Django's = %d, %v; want 103", n, err)
	}
	s.checkDjangoSees(t, gk, tag{"int", "103"})
	// djcache's Incr keeps the entry's expiry (Django's own incr on the
	// file and database backends resets it to the default timeout).
	written := time.Now()
	s.c.Set(ctx, gk, 1, djcache.Timeout(2*time.Hour))
	s.c.Incr(ctx, gk, 1)
	checkDjangoExpiry(t, "djcache's counter after Incr", s.django.one(t, op{"op": "expiry", "key": gk}), 2*time.Hour, written)

	// A missing counter: an error on both sides.
	if _, err := s.c.Incr(ctx, s.key("cnt-nope"), 1); !errors.Is(err, djcache.ErrNotFound) {
		t.Errorf("Incr of a missing key: %v; want ErrNotFound", err)
	}
	if r := s.django.run(t, op{"op": "incr", "key": s.key("cnt-nope")})[0].(map[string]any); !strings.HasPrefix(fmt.Sprint(r["error"]), "ValueError") {
		t.Errorf("Django incr of a missing key = %v; want ValueError", r)
	}
	// A Django string is not a counter for djcache (Django's memcached
	// would count it: memcached's incr takes digits whatever the flags).
	s.django.one(t, op{"op": "set", "key": s.key("cnt-str"), "value": tag{"str", "bar"}})
	if _, err := s.c.Incr(ctx, s.key("cnt-str"), 1); !errors.Is(err, djcache.ErrNotInteger) {
		t.Errorf("Incr of Django's 'bar': %v; want ErrNotInteger", err)
	}
}

// checkDjangoSees fails the test unless Django reads want under key.
func (s *side) checkDjangoSees(t *testing.T, key string, want any) {
	t.Helper()
	r := s.django.one(t, op{"op": "get", "key": key}).(map[string]any)
	if r["found"] != true || canon(r["value"]) != canon(want) {
		t.Errorf("Django get(%s) = %v; want %s", key, r, canon(want))
	}
}

// checkDjangoMisses fails the test unless Django misses key.
func (s *side) checkDjangoMisses(t *testing.T, key, why string) {
	t.Helper()
	if r := s.django.one(t, op{"op": "get", "key": key}).(map[string]any); r["found"] != false {
		t.Errorf("Django get(%s) %s = %v; want a miss", key, why, r)
	}
}

// addTouchDelete: add, touch, delete and has_key by one side, seen by the
// other; and incr_version's move, seen by both.
func (s *side) addTouchDelete(t *testing.T) {
	ctx := context.Background()
	dj, gk := s.key("atd-dj"), s.key("atd-go")
	s.django.one(t, op{"op": "set", "key": dj, "value": tag{"str", "django"}, "timeout": 3600})
	if added, err := s.c.Add(ctx, dj, "go"); added || err != nil {
		t.Errorf("Add over Django's live key = %v, %v; want false", added, err)
	}
	if added, err := s.c.Add(ctx, gk, "go", djcache.Timeout(time.Hour)); !added || err != nil {
		t.Errorf("Add of a new key = %v, %v; want true", added, err)
	}
	if r := s.django.one(t, op{"op": "add", "key": gk, "value": tag{"str", "django"}}); r != false {
		t.Errorf("Django add over djcache's live key = %v; want False", r)
	}
	if r := s.django.one(t, op{"op": "has_key", "key": gk}); r != true {
		t.Errorf("Django has_key of djcache's key = %v", r)
	}
	if ok, err := s.c.Has(ctx, dj); !ok || err != nil {
		t.Errorf("Has of Django's key = %v, %v", ok, err)
	}

	// touch, both ways: never, then two hours.
	if ok, err := s.c.Touch(ctx, dj, djcache.Forever); !ok || err != nil {
		t.Errorf("Touch(Forever) of Django's key = %v, %v", ok, err)
	}
	if r := s.django.one(t, op{"op": "expiry", "key": dj}).(map[string]any); r["expiry"] != nil {
		t.Errorf("after Touch(Forever), Django's expiry = %v; want None", r["expiry"])
	}
	touched := time.Now()
	if ok, err := s.c.Touch(ctx, dj, djcache.Timeout(2*time.Hour)); !ok || err != nil {
		t.Errorf("Touch(2h) of Django's key = %v, %v", ok, err)
	}
	checkDjangoExpiry(t, "Django's key after Touch(2h)", s.django.one(t, op{"op": "expiry", "key": dj}), 2*time.Hour, touched)
	if r := s.django.one(t, op{"op": "touch", "key": gk, "timeout": nil}); r != true {
		t.Errorf("Django touch(None) of djcache's key = %v", r)
	}
	s.checkGoExpiry(t, "atd-go", 0, time.Time{})
	touched = time.Now()
	if r := s.django.one(t, op{"op": "touch", "key": gk, "timeout": 7200}); r != true {
		t.Errorf("Django touch(7200) of djcache's key = %v", r)
	}
	s.checkGoExpiry(t, "atd-go", 2*time.Hour, touched)
	s.checkDjangoSees(t, gk, tag{"str", "go"})

	// incr_version by djcache, seen by Django, and back.
	v0 := s.version()
	if v, err := s.c.IncrVersion(ctx, dj, 1); v != v0+1 || err != nil {
		t.Errorf("IncrVersion of Django's key = %d, %v; want %d", v, err, v0+1)
	}
	if r := s.django.one(t, op{"op": "get", "key": dj, "version": v0 + 1}).(map[string]any); r["found"] != true || canon(r["value"]) != canon(tag{"str", "django"}) {
		t.Errorf("Django get at version %d after IncrVersion = %v", v0+1, r)
	}
	s.checkDjangoMisses(t, dj, "at the old version after IncrVersion")
	if r := s.django.one(t, op{"op": "incr_version", "key": dj, "version": v0 + 1}); fmt.Sprint(r) != fmt.Sprint(v0+2) {
		t.Errorf("Django incr_version = %v; want %d", r, v0+2)
	}
	var got string
	if found, err := s.c.Get(ctx, dj, &got, djcache.Version(v0+2)); !found || got != "django" || err != nil {
		t.Errorf("Get at version %d after Django's incr_version = %q, %v, %v", v0+2, got, found, err)
	}

	// delete, both ways.
	if ok, err := s.c.Delete(ctx, dj, djcache.Version(v0+2)); !ok || err != nil {
		t.Errorf("Delete of Django's key = %v, %v", ok, err)
	}
	if r := s.django.one(t, op{"op": "get", "key": dj, "version": v0 + 2}).(map[string]any); r["found"] != false {
		t.Errorf("Django get after djcache's Delete = %v", r)
	}
	if r := s.django.one(t, op{"op": "delete", "key": gk}); r != true {
		t.Errorf("Django delete of djcache's key = %v", r)
	}
	if ok, err := s.c.Has(ctx, gk); ok || err != nil {
		t.Errorf("Has after Django's delete = %v, %v", ok, err)
	}
}

// unicodeKeys: keys beyond ASCII (Django allows them; memcached hashes
// them as pymemcache does, code point by code point) name the same entry
// on both sides, both ways.
func (s *side) unicodeKeys(t *testing.T) {
	ctx := context.Background()
	// None of them folds to another key of the test: on Django's MariaDB
	// table "Iñt" would be the fixture's "int" (utf8mb4_general_ci), one
	// row for both, for Django as for djcache.
	names := []string{"clé-é", "ключ", "清-key", "emoji-😀", "Iñtërnâtiônàl"}
	for _, n := range names {
		s.django.one(t, op{"op": "set", "key": s.key("dj-" + n), "value": tag{"str", n}})
		if err := s.c.Set(ctx, s.key("go-"+n), n); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range names {
		var v string
		if found, err := s.c.Get(ctx, s.key("dj-"+n), &v); !found || err != nil || v != n {
			t.Errorf("Get of Django's key %q = %q, %v, %v", s.key("dj-"+n), v, found, err)
		}
		s.checkDjangoSees(t, s.key("go-"+n), tag{"str", n})
	}
	if s.b.name == "memcached" {
		for _, n := range names {
			for _, k := range []string{s.key("dj-" + n), s.key("go-" + n)} {
				m := s.django.one(t, op{"op": "server", "key": k}).(map[string]any)
				if h, _ := m["holders"].([]any); len(h) != 1 || h[0] != m["hashed"] {
					t.Errorf("%q: held by %v, pymemcache hashes it to %v", k, m["holders"], m["hashed"])
				}
			}
		}
	}
}

// expiry: entries of a few seconds, written by each side, live and then
// die for the other.
func (s *side) expiry(t *testing.T) {
	// Three seconds (memcached and the database keep whole seconds); if
	// the machine is so busy that an entry may have expired before it was
	// looked at, the attempt proves nothing and runs again, three times
	// longer.
	for _, secs := range []int{3, 9, 27} {
		if s.expiryAttempt(t, secs) {
			return
		}
		t.Logf("expiry: inconclusive with a %ds timeout (machine busy); trying %ds", secs, 3*secs)
	}
	t.Skip("expiry: inconclusive at every timeout: the machine was too busy")
}

// expiryAttempt is one try of expiry, with a timeout of secs seconds. It
// reports false, having failed nothing, when a "still alive" check failed
// too late to tell.
func (s *side) expiryAttempt(t *testing.T, secs int) (conclusive bool) {
	ctx := context.Background()
	ttl := time.Duration(secs) * time.Second
	dj, gk := s.key(fmt.Sprintf("exp%d-dj", secs)), s.key(fmt.Sprintf("exp%d-go", secs))
	start := time.Now()
	s.django.one(t, op{"op": "set", "key": dj, "value": tag{"str", "short"}, "timeout": secs})
	if err := s.c.Set(ctx, gk, "short", djcache.Timeout(ttl)); err != nil {
		t.Fatal(err)
	}
	ok, err := s.c.Has(ctx, dj)
	r := s.django.one(t, op{"op": "get", "key": gk})
	// Whole-second backends may end an entry up to a second early.
	if time.Since(start) > ttl-time.Second-500*time.Millisecond {
		return false
	}
	if !ok || err != nil {
		t.Errorf("Has of Django's %ds key at once = %v, %v", secs, ok, err)
	}
	if m, _ := r.(map[string]any); m["found"] != true || canon(m["value"]) != canon(tag{"str", "short"}) {
		t.Errorf("Django get of djcache's %ds key at once = %v", secs, r)
	}
	time.Sleep(time.Until(start.Add(ttl + 1500*time.Millisecond)))
	var v string
	if found, err := s.c.Get(ctx, dj, &v); found || err != nil {
		t.Errorf("Get of Django's %ds key after %v = %q, %v, %v; want a miss", secs, time.Since(start).Round(time.Millisecond), v, found, err)
	}
	s.checkDjangoMisses(t, gk, fmt.Sprintf("%v after djcache's %ds Set", time.Since(start).Round(time.Millisecond), secs))
	return true
}

// hotKeys: entries that GetOrSet writes with hot-key options carry
// djcache's metadata after the pickle; Django reads the plain values (an
// integer and a string, pickled here, as Django reads them), and a cached
// absence as None.
func (s *side) hotKeys(t *testing.T) {
	ctx := context.Background()
	opts := []djcache.Option{djcache.Timeout(time.Hour), djcache.Stale(time.Hour), djcache.EarlyRefresh(1)}
	var n int
	if err := s.c.GetOrSet(ctx, s.key("hot-int"), &n, func(context.Context) (any, error) { return 42, nil }, opts...); err != nil || n != 42 {
		t.Fatalf("GetOrSet(hot-int) = %d, %v", n, err)
	}
	var str string
	if err := s.c.GetOrSet(ctx, s.key("hot-str"), &str, func(context.Context) (any, error) { return "été", nil }, opts...); err != nil || str != "été" {
		t.Fatalf("GetOrSet(hot-str) = %q, %v", str, err)
	}
	var v any
	if err := s.c.GetOrSet(ctx, s.key("hot-absent"), &v, func(context.Context) (any, error) { return nil, djcache.ErrAbsent }, opts...); !errors.Is(err, djcache.ErrAbsent) {
		t.Fatalf("GetOrSet(hot-absent) = %v, want ErrAbsent", err)
	}
	s.checkDjangoSees(t, s.key("hot-int"), tag{"int", "42"})
	s.checkDjangoSees(t, s.key("hot-str"), tag{"str", "été"})
	s.checkDjangoSees(t, s.key("hot-absent"), tag{"none"})
	// And djcache reads back what Django sees.
	if got, found, err := djcache.Get[int](ctx, s.c, s.key("hot-int")); err != nil || !found || got != 42 {
		t.Errorf("Get(hot-int) = %d, %v, %v", got, found, err)
	}
}

// clear: Clear by either side empties the cache for the other (a
// directory's or a table's entries, whoever wrote them).
func (s *side) clear(t *testing.T) {
	ctx := context.Background()
	for _, who := range []string{"djcache", "Django"} {
		dj, gk := s.key("clr-dj-"+who), s.key("clr-go-"+who)
		s.django.one(t, op{"op": "set", "key": dj, "value": tag{"str", "x"}})
		if err := s.c.Set(ctx, gk, "x"); err != nil {
			t.Fatal(err)
		}
		if who == "djcache" {
			if err := s.c.Clear(ctx); err != nil {
				t.Fatalf("Clear: %v", err)
			}
		} else {
			s.django.one(t, op{"op": "clear"})
		}
		for _, k := range []string{dj, gk} {
			s.checkDjangoMisses(t, k, "after "+who+"'s clear")
			if found, err := s.c.Has(ctx, k); found || err != nil {
				t.Errorf("Has(%s) after %s's clear = %v, %v; want false", k, who, found, err)
			}
		}
	}
}

// servers: on memcached, every key is on the server pymemcache's hashing
// picks, whichever side wrote it, and both servers are used.
func (s *side) servers(t *testing.T) {
	names, _ := s.fixture(t)
	var ops []op
	for _, n := range names {
		ops = append(ops, op{"op": "server", "key": s.key("dj-" + n)}, op{"op": "server", "key": s.key("go-" + n)})
	}
	used := map[string]int{}
	for i, r := range s.django.run(t, ops...) {
		m := r.(map[string]any)
		holders, _ := m["holders"].([]any)
		if len(holders) != 1 || holders[0] != m["hashed"] {
			t.Errorf("%v: held by %v, pymemcache hashes it to %v", ops[i]["key"], holders, m["hashed"])
			continue
		}
		used[m["hashed"].(string)]++
	}
	if len(used) != 2 {
		t.Errorf("keys by server: %v; want both servers used", used)
	}
}

// expirySlack is how far a stored expiry may stray from the window a test
// observed: the database and memcached keep whole seconds (and MySQL
// rounds), and Python's and Go's clocks are read a little apart.
const expirySlack = 1500 * time.Millisecond

// checkExpiryWindow checks that exp (Unix seconds) lies ttl after the write
// that the test made, or asked Django to make, between written (taken
// before the write was issued) and now (after the expiry was read back),
// give or take expirySlack. A busy machine widens the window, never
// fails it.
func checkExpiryWindow(t *testing.T, what, who string, exp float64, ttl time.Duration, written time.Time) {
	t.Helper()
	lo := float64(written.Add(ttl-expirySlack).UnixNano()) / 1e9
	hi := float64(time.Now().Add(ttl+expirySlack).UnixNano()) / 1e9
	if exp < lo || exp > hi {
		t.Errorf("%s: %s reads an expiry %.1fs after the write began; want %v after it (window %.1fs to %.1fs, ± %v)",
			what, who, exp-float64(written.UnixNano())/1e9, ttl, lo-float64(written.UnixNano())/1e9, hi-float64(written.UnixNano())/1e9, expirySlack)
	}
}

// checkGoExpiry checks the expiry djcache reads for name (a key of this
// test): never for 0, else ttl after the write that began at written.
// Backends whose driver cannot read expiries (memcached) are checked
// through Django instead.
func (s *side) checkGoExpiry(t *testing.T, name string, ttl time.Duration, written time.Time) {
	t.Helper()
	er, ok := s.c.Driver().(driver.ExpiryReader)
	if !ok {
		r := s.django.one(t, op{"op": "expiry", "key": s.key(name)})
		if ttl == 0 {
			if r.(map[string]any)["expiry"] != nil {
				t.Errorf("%s: stored expiry %v; want never", name, r)
			}
			return
		}
		checkDjangoExpiry(t, name, r, ttl, written)
		return
	}
	made := djcache.DefaultKeyFunc(s.key(name), s.k.prefix, s.version())
	_, exp, found, err := er.GetWithExpiry(context.Background(), made)
	if !found || err != nil {
		t.Errorf("%s: GetWithExpiry(%q) = found %v, %v", name, made, found, err)
		return
	}
	if ttl == 0 {
		if !exp.IsZero() {
			t.Errorf("%s: djcache reads expiry %v; want never", name, exp)
		}
		return
	}
	checkExpiryWindow(t, name, "djcache", float64(exp.UnixNano())/1e9, ttl, written)
}

// checkDjangoExpiry checks an "expiry" result of peer.py, read after the
// write that began at written: ttl after that write.
func checkDjangoExpiry(t *testing.T, what string, r any, ttl time.Duration, written time.Time) {
	t.Helper()
	m, _ := r.(map[string]any)
	exp, ok := m["expiry"].(float64)
	if !ok {
		t.Errorf("%s: Django reads expiry %v; want about %v from the write", what, r, ttl)
		return
	}
	checkExpiryWindow(t, what, "Django", exp, ttl, written)
}
