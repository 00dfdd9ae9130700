// Package djcache is Django's low-level cache API (django.core.cache) for
// Go: one small API with Django's semantics over interchangeable backends.
// Swap the URL, keep the code.
//
// The typical use caches the results of several expensive queries that
// change at different intervals, each with its own timeout:
//
//	import (
//		"github.com/djcache/djcache"
//		_ "github.com/djcache/djcache/backends/locmem"
//	)
//
//	c, err := djcache.Open("locmem://default?timeout=300")
//	if err != nil { … }
//	defer c.Close()
//
//	// Prices change every minute, the catalogue every hour.
//	prices, err := djcache.GetOrSet(ctx, c, "prices", loadPrices, djcache.Timeout(time.Minute))
//	catalogue, err := djcache.GetOrSet(ctx, c, "catalogue", loadCatalogue, djcache.Timeout(time.Hour))
//
// [Cache] has Django's methods: Get, Set, Add, GetOrSet, GetMany, SetMany,
// Delete, DeleteMany, Has (has_key), Touch, Incr, Decr, IncrVersion,
// DecrVersion, Clear and Close; the generic helpers [Get], [GetOrSet] and
// [GetMany] return typed values. Two calls go beyond Django's API:
// [Cache.TTL] returns an entry's remaining lifetime (django-redis's ttl(),
// [NeverExpires] for Forever), and [Cache.Ping] checks that every server of
// the backend answers, for health checks and readiness probes, since
// [Open] does no I/O. Every method takes a context and is safe for
// concurrent use.
//
// # Keys
//
// The stored key is made by a [KeyFunc] from the caller's key, the cache's
// key prefix and a version. The default, [DefaultKeyFunc], is Django's
// prefix + ":" + version + ":" + key, byte for byte (":1:foo" with no
// prefix), so djcache and a Django app address the same entries. The version
// is the cache's default (1) unless a call passes [Version].
//
// Every made key is checked as Django's validate_key does: a key longer than
// 250 bytes ([MaxKeyLength]), or holding a space, a control character or
// DEL, is logged through log/slog as a warning with Django's exact message
// (one warning per broken rule, on every call, as Django warns on every
// call), and then used anyway, since locmem, files, SQL and Redis can store
// it. The memcached backend cannot, and rejects such keys with
// [ErrInvalidKey] before any I/O. Warnings go to [Options].Logger, or to
// slog.Default() at the time of the warning. Empty keys are allowed, as in
// Django. [KeyWarnings] returns the messages for a key.
//
// # Timeouts
//
// A call without a timeout option uses the cache's default (300 seconds
// unless [Options].Timeout or the URL's timeout parameter says otherwise).
// [Timeout](d) sets a lifetime; sub-second durations work where the backend
// can store them. [Timeout](0), or a negative duration, is Django's "timeout
// 0": nothing stays cached (Set removes any earlier value, Add reports true
// and stores nothing visible, Touch reports true and expires the entry).
// [Forever] never expires (Django's None). Durations of 100 years or more
// count as Forever. Backends receive absolute expiry times computed here,
// never Django's special values.
//
// # Values
//
// nil is a value like any other, as Django's None: after Set(ctx, k, nil),
// Has reports true, Get reports found and zeroes dst, GetMany includes the
// key, IncrVersion moves it, and Incr fails with [ErrNotInteger].
//
// Strings, byte slices, integers, floats and bools (and named types over
// them, such as type Score int) are encoded without reflection. Integers are
// stored as their decimal text, so that Redis INCRBY and memcached incr work
// on them natively and other languages read them as numbers; every other
// value starts with a tag byte that tells its kind (see the driver package).
// Everything else (structs, maps, slices, time.Time, …) goes through a
// [Codec]: [JSON] by default, chosen by BenchmarkCodec (codec_test.go) over
// gob, which on a small struct is about 5x slower to encode, 8x slower to
// decode and 60% larger, because gob sends its type description with every
// value. [Gob] is available for values JSON cannot represent. Decoding into
// *any gives nil, int64, string, []byte, float64, bool, or what the codec
// produces (JSON: map[string]any and []any, with int64 for integral numbers
// and float64 for the others). Decoding into a pointer works as in
// encoding/json, at any depth: a stored nil gives a nil pointer, any other
// value a pointer to a new decoded value (Get into a **int, GetMany into a
// map[string]*T), so a pointer tells a stored nil from a stored zero.
//
// Stored values are copies, as in Django, which pickles even in locmem:
// changing a value after Set, or a decoded value after Get, never changes
// the cache. Get replaces what dst held (a struct or map is not merged
// into). A value that cannot be encoded (a channel, a function) gives an
// [*EncodeError] and leaves the earlier value intact; a stored value that
// does not fit dst gives a [*DecodeError] naming both types.
//
// # Errors
//
// A miss is never an error. Conditions are sentinels matched with
// [errors.Is]: [ErrNotFound] (Incr, IncrVersion or TTL of a missing key),
// [ErrNotInteger], [ErrOverflow], [ErrInvalidKey], [ErrClosed] and
// [ErrNotSupported] (TTL on a backend that cannot read expiry times:
// memcached). Every error of a call is an [*OpError] that names the
// operation, the backend and the made key, for example
//
//	djcache: locmem: incr ":1:views": key not found
//
// and wraps the cause, including context.Canceled and
// context.DeadlineExceeded.
//
// GetMany (the method and the generic function) does not fail as a whole
// when some stored values do not decode into the destination type: it
// returns the values that decode, and an *OpError wrapping a
// [*ManyDecodeError] whose Keys are the caller's keys left out, each with
// its [*DecodeError] (errors.As finds both):
//
//	views, err := djcache.GetMany[int](ctx, c, keys)
//	var bad *djcache.ManyDecodeError
//	if errors.As(err, &bad) {
//		log.Printf("skipping %q: %v", bad.Keys, err) // views holds the others
//	} else if err != nil {
//		return err
//	}
//
// # Atomicity and Django's differences
//
// Add and Incr are atomic on every backend (Django's file and database
// backends are not). Incr keeps the entry's expiry on every backend (Django's
// generic incr resets it to the default timeout), and IncrVersion keeps the
// remaining lifetime where the backend can read it. GetOrSet calls its fill
// function once per key and process for concurrent misses. Clear removes this
// cache's entries and never a neighbour's data on a shared server (Django's
// Redis clear flushes the whole database).
//
// # Hot keys
//
// GetOrSet protects a key that many requests read and whose value is
// expensive to make. Without options it fills a missing key once per
// process (a single flight). The options below, per call or as the cache's
// defaults (Options fields, URL parameters, Django OPTIONS of the same
// names), go further. A key cached with Timeout(60s), Stale(30s) and
// FillLock(5s) lives so:
//
//	0s      fill (one process, under the lock; the others wait for its value)
//	0-60s   fresh: GetOrSet returns the stored value
//	60-90s  stale: GetOrSet returns the stored value at once and one
//	        background refresh (one per process; with the lock, one in
//	        all) replaces it; if the refresh fails, the stale value is
//	        served on (fail-safe), the failure is logged and counted, and
//	        the next try waits RetryAfter (1s)
//	90s     gone: the next GetOrSet fills, as at 0s
//
// The options:
//
//   - Stale(d) / stale=SECONDS: the stale window above.
//   - EarlyRefresh(beta) / early_refresh=BETA: XFetch. Each read of a fresh
//     entry refreshes it in the background with a probability that grows
//     as the expiry nears, in proportion to how long its last fill took
//     (stored with the entry) and beta (1 is usual, 0 off), so a hot key is
//     renewed before it expires and nobody waits.
//   - FillLock(d) / fill_lock=SECONDS: one fill at a time across every
//     process sharing the storage, on every backend: a lock entry taken
//     with Add (atomic everywhere), expiring after d if its holder dies,
//     released only by its holder. A caller that does not get the lock
//     serves the stale value if there is one, else polls for the holder's
//     value (2ms, doubling to 100ms) and fills itself once the lock is gone.
//     The lock's key is the entry's made key plus ":djcache-fill-lock".
//   - FillTimeout(soft, hard) / soft_timeout, hard_timeout: a caller with a
//     stale value waits at most soft for the refresh, then gets the stale
//     value while the refresh goes on; after hard the fill's context is
//     cancelled.
//   - Jitter(f) / jitter=FRACTION: every write's timeout is drawn within
//     ±f of itself (each entry of a SetMany its own), so keys written
//     together do not expire together.
//   - ErrAbsent and AbsentTimeout(d) / absent_timeout=SECONDS: a fill
//     returns ErrAbsent for "no such row"; the absence is cached and
//     GetOrSet returns ErrAbsent without calling the fill until it expires.
//   - GetOrSetMany: one read, one fill call for the missing keys, one
//     write; concurrent callers share fills per key.
//
// A refresh replaces the entry with Set: a value that another writer stored
// while the refresh ran is overwritten by the refresh's (both came from the
// source of truth; the refresh's is at most one fill old). A fill that
// panics is an error for every caller waiting on it, and its lock is
// released. A caller's cancelled context never cancels a
// background refresh; Close cancels them and waits for them. Stats counts
// Fills, FillErrors, StaleServed, RefreshErrors, EarlyRefreshes and
// LockWaits.
//
// The metadata these options need (the end of the fresh life, the last
// fill's duration, an absence) is stored inside the entry's value on every
// backend. A Django application sharing a pickle-serialized cache reads
// such an entry as the plain value (Python's pickle.loads ignores the
// metadata that follows the pickle), alive for timeout plus Stale; a cached
// absence reads as None. With the pickle serializer, such values are always
// pickled, also integers and strings (Django reads them the same), so Incr
// on an entry written by GetOrSet with Stale or EarlyRefresh gives
// ErrNotInteger. Entries written by Set, and by GetOrSet without those
// options, carry no metadata and stay byte-identical to Django's.
//
// # URLs
//
// [Open] picks the backend by URL scheme; the backend's package registers
// the scheme when imported. Parameters common to every backend:
//
//   - timeout: the default timeout in seconds (fractions allowed), or
//     "none" for Forever;
//   - key_prefix: Django's KEY_PREFIX;
//   - version: Django's VERSION (the default version);
//   - serializer: "djcache" (the default) or "pickle", to share the cache
//     with a Django application (see [Serializer]).
//
// A backend reads its own parameters strictly: an unknown one is an error
// that names it, so a misspelling fails at Open. Open of a scheme whose
// package is not imported says which import to add.
//
// # Settings
//
// [Caches] is Django's caches handler: named caches built from [Settings]
// in the exact shape of Django's CACHES dict, opened lazily, one *Cache per
// alias, closed together. [ParseSettings] reads them from JSON (a pasted
// CACHES works as it is); package settings reads TOML and YAML and the
// DJCACHE_SETTINGS and DJCACHE_URL environment variables.
//
//	s, err := djcache.ParseSettings([]byte(`{
//	  "default":  {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379"},
//	  "sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "TIMEOUT": null}
//	}`))
//	caches, err := djcache.NewCaches(s, nil)
//	defer caches.Close()
//	sessions, err := caches.Cache("sessions")
//
// BACKEND is Django's dotted path (LocMemCache, FileBasedCache,
// DatabaseCache, PyMemcacheCache, PyLibMCCache, RedisCache, django_redis's
// RedisCache, DummyCache) or a djcache scheme. LOCATION is what Django
// takes: a locmem name, a directory, a table name, memcached servers (a
// list, or one string separated by ";" or ","), Redis URLs (the first is
// the leader, which takes every write; as in Django, reads go to one of the
// others at random, the read replicas, which must share the leader's user,
// password, database and URL parameters: see package backends/redis). A
// DatabaseCache takes its connection from DATABASES["default"] (or
// OPTIONS["DATABASE"]), so give the settings as {"CACHES": …, "DATABASES":
// …}. TIMEOUT null is Forever and numbers are cut to whole seconds as
// Django's int() does. OPTIONS["MAX_ENTRIES"] and ["CULL_FREQUENCY"] bound
// locmem, file and database caches; the other OPTIONS become the backend's
// URL parameters (Django client options without a Go meaning, such as
// pymemcache's no_delay, are accepted and ignored), so an option the
// backend does not know is an error that names it. KEY_FUNCTION names a Go
// function given in [CachesOptions].KeyFuncs.
//
// # Sharing a cache with Django
//
// A Go service and a Django application can read and write the same cache
// entries, on the same directory, database table, Redis or memcached
// servers. Both sides need the same location, the same KEY_PREFIX and
// VERSION, Django's default KEY_FUNCTION, and the pickle serializer on the
// Go side, which stores values exactly as Django does. The simplest way to
// get all of it is to give djcache Django's own CACHES setting:
//
//	# settings.py (Django)
//	CACHES = {
//	    "default": {
//	        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
//	        "LOCATION": ["10.0.0.1:11211", "10.0.0.2:11211"],
//	        "KEY_PREFIX": "shop",
//	        "VERSION": 2,
//	    }
//	}
//
//	// Go: the same dict, as JSON (or TOML or YAML with package settings)
//	s, err := djcache.ParseSettings([]byte(`{"default": {
//	    "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
//	    "LOCATION": ["10.0.0.1:11211", "10.0.0.2:11211"],
//	    "KEY_PREFIX": "shop", "VERSION": 2}}`))
//	caches, err := djcache.NewCaches(s, nil)
//	c, err := caches.Default()
//
// For Django's file, database, memcached and Redis backends (and
// django-redis), the settings choose the pickle serializer by themselves;
// OPTIONS {"SERIALIZER": "djcache"} turns it off. With a URL, add
// serializer=pickle and the same prefix and version:
//
//	djcache.Open("memcached://10.0.0.1:11211,10.0.0.2:11211?serializer=pickle&key_prefix=shop&version=2")
//	djcache.Open("file:///var/cache/django?serializer=pickle")
//	djcache.Open("postgres://app@db/app?table=my_cache_table&serializer=pickle")
//	djcache.Open("redis://cache:6379/1?serializer=pickle")
//
// With the pickle serializer, values are written as each Django backend
// writes them, byte for byte for the values the tests compare:
//
//	filebased, db   every value a protocol-5 pickle (Django's HIGHEST_PROTOCOL),
//	                integers included, in Django's file and row formats
//	redis           integers as decimal text (so INCRBY works), everything else,
//	                bool included, a protocol-5 pickle
//	memcached       pymemcache's flags: []byte flag 0, string flag 16 (UTF-8),
//	                integers flag 2 (decimal), everything else flag 1 (a pickle)
//
// and every value Django writes is read, whichever serializer the cache
// has (a pickle never executes anything; see package pickle for the type
// mapping and the classes it accepts: datetime, date, time, timedelta,
// timezone, Decimal and UUID, among others). A Django value of another class,
// such as a model instance or an HttpResponse from the page cache, is a
// [*DecodeError] naming the class, not a miss.
//
// Python's types map to Go's as package pickle documents: None is nil,
// int is int64 (or *big.Int beyond 64 bits), float is float64, str is
// string, bytes is []byte, list is []any, tuple is pickle.Tuple, dict is
// map[string]any (or map[any]any for other keys), set is pickle.Set,
// datetime is time.Time, Decimal is pickle.Decimal, and UUID is
// pickle.UUID. Get into a typed
// destination converts: a dict into a struct or a map[string]T, a list into
// a []T, an int into any Go integer that holds it; a mismatch is an error
// naming the Python and the Go type. Structs are written as dicts of their
// fields, with the json or pickle tag names.
//
// Incr works on counters written by either side, atomically on djcache's
// side (Django's file and database incr is a read and a write, so a Django
// incr racing a djcache Incr can lose one of the two). Django's file and
// database incr also resets the entry's timeout; djcache's keeps it.
// Integers beyond 64 bits are read, but Incr on them fails with
// [ErrOverflow].
//
// What to keep in mind, backend by backend:
//
//   - Files: both processes need read and write access to the directory
//     (Django creates it with mode 0700: run both as the same user).
//   - Databases: a table made by Django's createcachetable works, and so
//     does one made by "djcache createcachetable". On MySQL and MariaDB,
//     Django's table compares keys case-insensitively ("Key" and "key"
//     share one row, for Django too); djcache uses it as it is and logs a
//     warning with the ALTER TABLE statement that makes keys exact, which
//     Django takes as well (djcache's own table is exact from the start).
//     Django before 5.1 connects to MySQL in three-byte utf8 unless its
//     DATABASES OPTIONS say "charset": "utf8mb4", and then fails on keys
//     beyond the BMP (emoji); Django 5.1 and later, and djcache, connect in
//     utf8mb4. Expiry times are stored in UTC, as Django does with USE_TZ =
//     True (or in the zone of the DATABASES entry's TIME_ZONE, as Django
//     4.0 and later write them). A Django project with USE_TZ = False (the
//     global default before Django 5.0) stores its local time: put "USE_TZ": false and its
//     "TIME_ZONE" next to CACHES in the pasted settings, or add
//     django_time_zone=ZONE to the URL (see package backends/db, which also
//     explains the one trap: Django's settings.configure() does not set the
//     process's time zone, so start such a program with TZ=TIME_ZONE).
//   - Redis: Django's RedisCache (Django 4.0 and later) and django-redis with
//     its default pickle serializer and no compressor. django-redis writes
//     pickle protocol 4 and Django protocol 5; both read both. With several
//     LOCATIONs both sides write to the first and read from the others
//     (see package backends/redis, "Read replicas").
//   - Memcached: PyMemcacheCache, with the servers written alike on both
//     sides ("localhost:11211" and "127.0.0.1:11211" hash differently);
//     pymemcache's hashing puts every key on the server djcache picks.
//     PyLibMCCache spreads keys its own way and cannot share.
//   - Clear: djcache's Clear removes this cache's keys only; Django's clear
//     flushes the whole Redis database or memcached server, djcache's entries
//     included.
//
// Package interop holds the end-to-end tests: Django 3.2, 4.2 and 5.2 and
// djcache write and read the same entries on every one of these backends,
// both ways; its documentation has the table of Django versions and
// backends, and what to set for each.
//
// # Backends
//
//	locmem://NAME                      backends/locmem     LocMemCache: this process's memory
//	file:///ABS/DIR                    backends/filebased  FileBasedCache: one file per key
//	sqlite:///ABS/FILE.db?table=T      backends/db         DatabaseCache on SQLite (pure Go)
//	postgres://U:P@HOST/DB?table=T     backends/db         DatabaseCache on PostgreSQL
//	mysql://U:P@HOST/DB?table=T        backends/db         DatabaseCache on MySQL and MariaDB
//	redis://HOST:6379/0                backends/redis      RedisCache; Cluster and Sentinel forms too
//	memcached://HOST:11211,HOST:11212  backends/memcached  PyMemcacheCache, pymemcache's server hashing
//	dummy://                           backends/dummy      DummyCache: caches nothing
//
// Backends are drivers: small byte-level stores implementing
// [driver.Driver]. Third-party backends register with [Register] and test
// themselves with the conformance kit in package djcachetest.
package djcache
