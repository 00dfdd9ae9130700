// Package interop holds djcache's end-to-end tests against real Django:
// a Go service and a Django application sharing one cache, on every
// backend both can reach (a directory, a database table on SQLite,
// PostgreSQL and MariaDB, Redis, two memcached servers).
//
// The tests drive Django 3.2 through peer.py, a small Python program that
// configures Django standalone (settings.configure) and runs a list of
// cache operations (set, get, incr, touch, delete, ...) sent as JSON. Values
// cross between the two programs as tagged JSON that is exact for every
// type (ints of any size as decimal, floats as their bits, bytes as base64,
// tuples, sets, datetimes and decimals by name), so each side compares what
// it read with what the other wrote, bit for bit.
//
// Each backend runs the same steps, with Django's default key function and
// again with a KEY_PREFIX and a VERSION (and the database backends once
// more with USE_TZ = False and TIME_ZONE = "Asia/Tokyo", whose naive
// expiry times a wrong zone would shift by nine hours, and MariaDB once
// more on the table Django's createcachetable makes):
//
//  1. Django writes the fixture (peer.py's fixture(): ints from -3**80 to
//     2**70, ASCII and non-ASCII text, all 256 byte values, floats, bools,
//     None, lists, tuples, nested dicts, sets, datetimes, decimals, and keys
//     with timeouts of 0, an hour and none) and djcache reads it back.
//  2. djcache writes the same fixture and Django reads it back; the value
//     bytes are compared with Django's own for the same values.
//  3. incr, decr, add, touch, delete, has_key and expiry, each done by one
//     side and seen by the other.
//
// The Python side needs Debian's python3-django, python3-django-redis,
// python3-pymemcache, python3-psycopg2 and python3-mysqldb (.ci/services
// installs them) under /usr/bin/python3, or DJCACHE_PYTHON. Without them
// the tests skip, and fail under CI=true.
package interop
