// Package interop holds djcache's end-to-end tests against real Django:
// a Go service and a Django application sharing one cache, on every
// backend both can reach (a directory, a database table on SQLite,
// PostgreSQL and MariaDB, Redis, two memcached servers), against Django
// 3.2, 4.2 and 5.2.
//
// The tests drive Django through peer.py, a small Python program that
// configures Django standalone (settings.configure) and runs a list of
// cache operations (set, get, incr, touch, delete, ...) sent as JSON. Values
// cross between the two programs as tagged JSON that is exact for every
// type (ints of any size as decimal, floats as their bits, bytes as base64,
// tuples, sets, datetimes and decimals by name), so each side compares what
// it read with what the other wrote, bit for bit.
//
// TestDjango runs every step on every backend once per Django release
// (TestDjango/django32/..., /django42/..., /django52/...), the releases at
// once: each test has its own keys, table or directory. Each backend runs
// the steps with Django's default key function and again with a KEY_PREFIX
// and a VERSION (and the database backends once more with USE_TZ = False
// and TIME_ZONE = "Asia/Tokyo", whose naive expiry times a wrong zone would
// shift by nine hours; from Django 4.2 on SQLite and MariaDB once more with
// USE_TZ = True and the database's own TIME_ZONE = "Asia/Tokyo"; and
// MariaDB once more on the table Django's createcachetable makes). Redis
// runs twice from Django 4.2 on: with Django's own RedisCache and with
// django-redis.
//
//  1. Django writes the fixture (peer.py's fixture(): ints from -3**80 to
//     2**70, ASCII and non-ASCII text, all 256 byte values, floats, bools,
//     None, lists, tuples, nested dicts, sets, datetimes, decimals, and keys
//     with timeouts of 0, an hour and none) and djcache reads it back; so
//     are values only Django's code makes (timezone.now(), pytz or zoneinfo
//     datetimes, SafeString, OrderedDict).
//  2. djcache writes the same fixture and Django reads it back; the value
//     bytes are compared with Django's own for the same values.
//  3. incr, decr, add, touch, delete, has_key, incr_version, get_many and
//     set_many, expiry, GetOrSet with hot-key options, and (on files and
//     tables) clear, each done by one side and seen by the other.
//
// TestDjangoRedisReplicas pastes the CACHES of a Django 5.2 project whose
// RedisCache has a leader and a read replica (two redis-server children of
// the test) and redis-py OPTIONS, and checks that Django 4.2 and 5.2 and
// djcache all write to the leader and read from the replica; and the same
// with django-redis (which reads from replicas alike) on every release.
//
// # Django version × backend: supported, and what to set
//
//	backend                  Django 3.2            Django 4.2            Django 5.2
//	FileBasedCache           yes                   yes                   yes
//	DatabaseCache SQLite     yes (1)               yes (2)               yes (2)
//	DatabaseCache PostgreSQL yes (psycopg2)        yes (psycopg 3)       yes (psycopg 3)
//	DatabaseCache MariaDB    yes (1) (3)           yes (2) (3)           yes (2)
//	PyMemcacheCache          yes (pymemcache 3.5)  yes (pymemcache 4.0)  yes (pymemcache 4.0)
//	RedisCache (Django's)    no such backend       yes (4)               yes (4)
//	django-redis             yes (5.2) (5)         yes (6.0) (5)         yes (7.0) (5)
//
// What to set:
//
//   - (1) Leave TIME_ZONE out of the DATABASES entry: Django 3.2 writes its
//     expiry times in UTC there and reads them back in that zone, so its own
//     entries expire early or late.
//   - (2) A TIME_ZONE in the DATABASES entry (with USE_TZ = True) is the
//     zone of the expiry times Django writes from 4.0 on; djcache follows
//     it.
//   - (3) Set "OPTIONS": {"charset": "utf8mb4"} in DATABASES for keys beyond
//     the BMP: Django before 5.1 connects in utf8 (utf8mb3) and then fails
//     on them itself. Django 5.1 made utf8mb4 its default.
//   - (4) A LOCATION list is the leader and its read replicas: both sides
//     write to the first and read (get, get_many, has_key) from one of the
//     others at random. The replicas must share the leader's user, password,
//     database and URL parameters. redis-py OPTIONS map to go-redis's (db,
//     socket_timeout, socket_connect_timeout, max_connections, client_name);
//     parser_class, pool_class, retry_on_timeout and health_check_interval
//     are accepted and ignored.
//   - (5) The pickle serializer and no compressor (django-redis's
//     defaults). A LOCATION list is leader and replicas, as in (4).
//
// On every release, paste USE_TZ as the project has it: Django before 5.0
// runs with USE_TZ = False when settings.py does not set it, where
// djcache, like Django 5, defaults to true.
//
// What differs between the releases, as these tests found it: every
// Django backend writes pickle protocol 5 on the Python 3.8 and later that
// Django 3.2 to 5.2 run on, byte for byte what djcache writes (checked on
// every backend and release); django-redis 5.2, 6.0 and 7.0 write protocol
// 4 (Python's DEFAULT_PROTOCOL up to 3.13), which djcache reads and whose
// bytes past the protocol equal djcache's, and read djcache's protocol 5.
// Django's RedisCache (4.0 and later) stores integers as decimal text and
// all else, bools included, pickled: django-redis's format but for the
// protocol. Django 3.2's datetimes carry pytz zones, 4.2's and 5.2's
// zoneinfo or datetime.timezone ones: both decode to time.Time. The
// memcached backend, pymemcache's flags and its server hashing are the
// same in every release. Django's clear() empties the whole Redis
// database or memcached server in every release (these tests check clear
// on files and tables only, where it stays inside the test's directory or
// table); djcache's Clear deletes only the cache's own keys unless told
// otherwise (clear=flushdb, clear=flush).
//
// # Running them
//
// .ci/services installs what the tests need: Debian's python3-django
// (3.2), python3-django-redis, python3-pymemcache, python3-psycopg2 and
// python3-mysqldb under /usr/bin/python3 (or DJCACHE_PYTHON), and virtual
// environments of Debian's python3 with Django 4.2 and 5.2 from PyPI in
// /opt/djcache-venvs/django42 and django52 (or DJCACHE_VENVS), with
// exactly the versions of requirements-django42.txt and
// requirements-django52.txt: Django, django-redis, redis-py, pymemcache,
// psycopg 3 (its binary wheel) and PyMySQL, which peer.py installs as
// MySQLdb (mysqlclient would have to be compiled against libmariadb). A
// release whose interpreter or server is missing skips, and fails under
// CI=true.
package interop
