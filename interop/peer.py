#!/usr/bin/env python3
"""The Django side of djcache's end-to-end interop tests (interop_test.go).

It configures Django standalone (settings.configure) with one cache, runs a
list of cache operations through django.core.cache, and prints their
results. The Go test runs it under three interpreters, one per Django
release: /usr/bin/python3 with Debian's packages for Django 3.2
(python3-django, python3-django-redis, python3-pymemcache, python3-psycopg2
and python3-mysqldb), and the virtual environments of Django 4.2 and 5.2
that .ci/services makes from interop/requirements-django42.txt and
requirements-django52.txt (Django, django-redis, redis-py, pymemcache,
psycopg 3 and PyMySQL, which stands in for MySQLdb: see main). The same
code serves every release; where they differ (pytz, Django's own
RedisCache), it asks which it runs.

It is a long-running process, so that Django starts once per test. The
first line on stdin is the configuration:

    {"cache": {...},          Django's CACHES["default"] (BACKEND, LOCATION, ...)
     "databases": {...},      Django's DATABASES (for DatabaseCache), or null
     "use_tz": true,          Django's USE_TZ
     "time_zone": "Asia/Tokyo"}   Django's TIME_ZONE (optional)

settings.configure() does not set the process's TZ to TIME_ZONE, as a
settings module does: with USE_TZ False, the Go test starts the process
with TZ=TIME_ZONE, so that Django's naive local times are TIME_ZONE's.

Every further line is a request, {"ops": [{"op": "set", "key": "k", "value":
TAG, "timeout": 300}, ...]}, answered by one line on stdout:
{"results": [...]}, one result per op (an op that raises gives
{"error": "ValueError: ..."}).

Values cross the boundary as tagged JSON (TAG), exact for every type the
tests use: ["none"], ["bool", true], ["int", "123"] (decimal, any size),
["float", "3ff8000000000000"] (the IEEE 754 bits, big-endian hex),
["str", "..."], ["bytes", "base64"], ["list", [TAG...]], ["tuple", [TAG...]],
["dict", [[TAG, TAG]...]], ["set", [TAG...]], ["frozenset", [TAG...]],
["datetime", "isoformat"], ["date", "iso"], ["time", "iso"],
["timedelta", [days, seconds, microseconds]], ["decimal", "str"],
["uuid", "str"]. A value of
any other type comes back as ["unknown", "its type"], so that a test fails.

A timeout is "default" (the cache's), null (never expires) or a number of
seconds, as Django takes them.
"""

import base64
import datetime
import decimal
import json
import os
import pickle
import socket
import struct
import sys
import time
import uuid
import zlib


def to_tag(v):
    if v is None:
        return ["none"]
    if isinstance(v, bool):
        return ["bool", v]
    if isinstance(v, int):
        return ["int", str(v)]
    if isinstance(v, float):
        return ["float", struct.pack(">d", v).hex()]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, (bytes, bytearray)):
        return ["bytes", base64.b64encode(bytes(v)).decode()]
    if isinstance(v, list):
        return ["list", [to_tag(x) for x in v]]
    if isinstance(v, tuple):
        return ["tuple", [to_tag(x) for x in v]]
    if isinstance(v, dict):
        return ["dict", [[to_tag(k), to_tag(x)] for k, x in v.items()]]
    if isinstance(v, frozenset):
        return ["frozenset", [to_tag(x) for x in v]]
    if isinstance(v, set):
        return ["set", [to_tag(x) for x in v]]
    if isinstance(v, datetime.datetime):
        return ["datetime", v.isoformat()]
    if isinstance(v, datetime.date):
        return ["date", v.isoformat()]
    if isinstance(v, datetime.time):
        return ["time", v.isoformat()]
    if isinstance(v, datetime.timedelta):
        return ["timedelta", [v.days, v.seconds, v.microseconds]]
    if isinstance(v, decimal.Decimal):
        return ["decimal", str(v)]
    if isinstance(v, uuid.UUID):
        return ["uuid", str(v)]
    return ["unknown", "%s.%s" % (type(v).__module__, type(v).__qualname__)]


def from_tag(t):
    kind = t[0]
    if kind == "none":
        return None
    if kind == "bool":
        return bool(t[1])
    if kind == "int":
        return int(t[1])
    if kind == "float":
        return struct.unpack(">d", bytes.fromhex(t[1]))[0]
    if kind == "str":
        return t[1]
    if kind == "bytes":
        return base64.b64decode(t[1])
    if kind == "list":
        return [from_tag(x) for x in t[1]]
    if kind == "tuple":
        return tuple(from_tag(x) for x in t[1])
    if kind == "dict":
        return {from_tag(k): from_tag(x) for k, x in t[1]}
    if kind == "set":
        return {from_tag(x) for x in t[1]}
    if kind == "frozenset":
        return frozenset(from_tag(x) for x in t[1])
    if kind == "datetime":
        return datetime.datetime.fromisoformat(t[1])
    if kind == "date":
        return datetime.date.fromisoformat(t[1])
    if kind == "time":
        return datetime.time.fromisoformat(t[1])
    if kind == "timedelta":
        d, s, us = t[1]
        return datetime.timedelta(days=d, seconds=s, microseconds=us)
    if kind == "decimal":
        return decimal.Decimal(t[1])
    if kind == "uuid":
        return uuid.UUID(t[1])
    raise ValueError("unknown tag %r" % (kind,))


def timeout_arg(op):
    """The timeout keyword arguments of an op: none for the default."""
    t = op.get("timeout", "default")
    if t == "default":
        return {}
    return {"timeout": t}


def version_arg(op):
    return {"version": op["version"]} if "version" in op else {}


# --------------------------------------------------------------- backends
#
# Reading a backend's storage directly, for what the cache API does not
# show: the stored expiry and the stored value bytes.


def memcached_servers(cache):
    loc = cache._servers
    return [s.strip() for s in loc]


def memcached_command(server, line):
    """Sends one text-protocol command to a memcached server and returns
    the reply up to its end marker."""
    host, port = server.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n")
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if line.startswith("mg ") and buf.endswith(b"\r\n"):
                break
            if line.startswith("get ") and buf.endswith(b"END\r\n"):
                break
    return buf


def memcached_find(cache, made):
    """The servers that hold made, with its raw item: [(server, flags, data)]."""
    found = []
    for server in memcached_servers(cache):
        reply = memcached_command(server, "get " + made)
        if reply.startswith(b"VALUE "):
            header, rest = reply.split(b"\r\n", 1)
            _, _, flags, n = header.split(b" ")
            found.append((server, int(flags), rest[: int(n)]))
    return found


def redis_client(cache):
    """The redis-py client of a Redis cache, for the server's view of a key:
    django-redis's connection, or the leader (the first LOCATION) of
    Django's own RedisCache (Django 4.0 and later)."""
    from django.core.cache import caches

    cache = caches["default"]  # the backend, not the cache proxy
    if type(cache).__module__.startswith("django_redis"):
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    return cache._cache.get_client(None, write=True)


def stored_expiry(cache, backend, made, op):
    """The absolute expiry (unix seconds) the backend stores for a key, None
    for never, or the string "missing"."""
    if backend == "file":
        fname = cache._key_to_file(op["key"], op.get("version"))
        try:
            with open(fname, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            return "missing"
    if backend == "db":
        from django.db import connections, router

        db = router.db_for_read(cache.cache_model_class)
        conn = connections[db]
        table = conn.ops.quote_name(cache._table)
        with conn.cursor() as cur:
            cur.execute("SELECT expires FROM %s WHERE cache_key = %%s" % table, [made])
            row = cur.fetchone()
        if row is None:
            return "missing"
        exp = row[0]
        if isinstance(exp, str):  # SQLite without converters
            exp = datetime.datetime.fromisoformat(exp)
        if exp.year == 9999:
            return None
        if exp.tzinfo is None:
            from django.conf import settings

            if settings.USE_TZ:
                # UTC, or the database's TIME_ZONE (its DATABASES entry's),
                # in which Django 4.0 and later write it.
                exp = exp.replace(tzinfo=conn.timezone)
            # Else a naive local time, as Django writes and reads it
            # (SQLite and MySQL store it; psycopg2 gives PostgreSQL's in the
            # session's zone, which Django sets to TIME_ZONE): timestamp()
            # reads it in the process's zone, TIME_ZONE by its TZ.
        return exp.timestamp()
    if backend == "redis":
        ms = redis_client(cache).pttl(made)
        if ms == -2:
            return "missing"
        if ms == -1:
            return None
        return time.time() + ms / 1000.0
    if backend == "memcached":
        for server in memcached_servers(cache):
            reply = memcached_command(server, "mg %s t" % made)
            if reply.startswith(b"HD"):
                ttl = int(reply.split(b" t", 1)[1].split()[0])
                return None if ttl == -1 else time.time() + ttl
        return "missing"
    raise ValueError("no expiry reader for %s" % backend)


def stored_value(cache, backend, made, op):
    """The value bytes the backend stores for a key (the pickle, or the
    decimal text of an int on Redis), base64, with memcached's flags."""
    if backend == "file":
        fname = cache._key_to_file(op["key"], op.get("version"))
        with open(fname, "rb") as f:
            pickle.load(f)
            data = zlib.decompressobj().decompress(f.read())
        return {"bytes": base64.b64encode(data).decode()}
    if backend == "db":
        from django.db import connections, router

        conn = connections[router.db_for_read(cache.cache_model_class)]
        with conn.cursor() as cur:
            cur.execute("SELECT value FROM %s WHERE cache_key = %%s" % conn.ops.quote_name(cache._table), [made])
            row = cur.fetchone()
        if row is None:
            return "missing"
        return {"bytes": base64.b64encode(base64.b64decode(row[0])).decode()}
    if backend == "redis":
        data = redis_client(cache).get(made)
        if data is None:
            return "missing"
        return {"bytes": base64.b64encode(data).decode()}
    if backend == "memcached":
        found = memcached_find(cache, made)
        if not found:
            return "missing"
        server, flags, data = found[0]
        return {"bytes": base64.b64encode(data).decode(), "flags": flags}
    raise ValueError("no value reader for %s" % backend)


def fixture():
    """The values both sides write and read, by key. The Go test asks for
    them (op "fixture") so that they are written down once, here."""
    tz2 = datetime.timezone(datetime.timedelta(hours=2))
    return {
        "int": 42,
        "int_zero": 0,
        "int_neg": -7,
        "int_neg_129": -129,
        "int_300": 300,
        "int_65536": 65536,
        "int_2_31": 2**31,
        "int_max64": 2**63 - 1,
        "int_min64": -(2**63),
        "int_2_63": 2**63,
        "int_2_70": 2**70,
        "int_big_neg": -(3**80),
        "str": "bar",
        "str_empty": "",
        "str_nonascii": "I\u00f1t\u00ebrn\u00e2ti\u00f4n\u00e0liz\u00e6ti\u00f8n \u6e05 \u2603 \U0001f600",
        "str_digits": "12",
        "str_spaces_digits": " 7 ",
        "str_long": "x" * 70000,
        "bytes_all": bytes(range(256)),
        "bytes_empty": b"",
        "bytes_digits": b"12",
        "float": 1.5,
        "float_pi": 3.141592653589793,
        "float_neg_zero": -0.0,
        "float_inf": float("inf"),
        "float_tiny": 5e-324,
        "float_integral": 2.0,
        "true": True,
        "false": False,
        "none": None,
        "list": [1, 2.5, None, True, "s", b"b"],
        "list_empty": [],
        "list_long": list(range(2500)),
        "list_nested": [[1, [2, [3, []]]], {"k": [None]}],
        "tuple": (1, "a", (2, 3)),
        "tuple_empty": (),
        "tuple_one": (1,),
        "tuple_long": tuple(range(10)),
        "dict": {"a": [1, 2.5, None, True], "b": b"x"},
        # Keys in sorted order, the order in which djcache writes a Go
        # map's keys, so that the two sides' pickles are byte-identical.
        "dict_nested": {"n": 3, "user": {"address": {"city": "London", "zip": None}, "name": "Ada", "roles": ["admin", "dev"]}},
        "dict_empty": {},
        "dict_int_keys": {-3: None, 1: "one", 2: "two"},
        "dict_mixed_keys": {1: "a", "b": 2, (1, 2): "t", 2.5: False, None: 0},
        "set": {1, 2, 3},
        "set_str": {"a", "b", "c"},
        "frozenset": frozenset({1, "x"}),
        "datetime_naive": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        "datetime_utc": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "datetime_offset": datetime.datetime(2024, 7, 1, 23, 59, 59, 999999, tzinfo=tz2),
        "date": datetime.date(2024, 2, 29),
        "time": datetime.time(13, 14, 15, 16),
        "timedelta": datetime.timedelta(days=1, seconds=2, microseconds=3),
        "timedelta_neg": datetime.timedelta(days=-2, seconds=5),
        "decimal": decimal.Decimal("3.14"),
        "decimal_neg": decimal.Decimal("-0.001"),
        "decimal_exp": decimal.Decimal("1E+3"),
        "decimal_nan": decimal.Decimal("NaN"),
        "bytes_long": bytes(range(256)) * 400,
        "bytearray": bytearray(b"mutable"),
        "list_shared": [[1, 2]] * 3,
        "tuple_keys": {(1, "a"): [None], (2, "b"): {"x": 1.5}},
        "set_tuples": {(1, 2), (3, 4)},
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "uuid_list": [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)],
        "uuid_key": {uuid.UUID(int=7): "seven"},
    }


def fixture_django():
    """Values only Django's own code makes: timezone.now() (a datetime in
    pytz's UTC on Django 3.2, in datetime.timezone.utc from 4.0 on), an
    aware datetime in a named zone (pytz's on 3.2, zoneinfo's from 4.0 on,
    where Django dropped pytz), a SafeString, an OrderedDict. djcache reads
    them; it writes them back as their plain Python equivalents, so they are
    not part of fixture()."""
    import collections

    import django
    from django.utils import timezone
    from django.utils.safestring import mark_safe

    if django.VERSION < (4, 0):
        import pytz

        return {
            "pytz_utc": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=pytz.utc),
            "pytz_paris": pytz.timezone("Europe/Paris").localize(datetime.datetime(2024, 7, 1, 12, 0)),
            "now": timezone.now(),
            "safestring": mark_safe("<b>bold</b>"),
            "ordereddict": collections.OrderedDict([("b", 1), ("a", 2)]),
        }
    import zoneinfo

    return {
        "utc": datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.timezone.utc),
        "zoneinfo_paris": datetime.datetime(2024, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        "zoneinfo_utc": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=zoneinfo.ZoneInfo("UTC")),
        "now": timezone.now(),
        "safestring": mark_safe("<b>bold</b>"),
        "ordereddict": collections.OrderedDict([("b", 1), ("a", 2)]),
    }


MISSING = object()


def run(cache, backend, op):
    name = op["op"]
    key = op.get("key")
    if name == "set":
        cache.set(key, from_tag(op["value"]), **timeout_arg(op), **version_arg(op))
        return True
    if name == "set_fraction":
        # A class djcache's decoder does not accept.
        import fractions

        cache.set(key, fractions.Fraction(1, 3))
        return True
    if name == "add":
        return cache.add(key, from_tag(op["value"]), **timeout_arg(op), **version_arg(op))
    if name == "get":
        v = cache.get(key, MISSING, **version_arg(op))
        if v is MISSING:
            return {"found": False}
        return {"found": True, "value": to_tag(v)}
    if name == "get_many":
        got = cache.get_many(op["keys"], **version_arg(op))
        return {k: to_tag(v) for k, v in got.items()}
    if name == "has_key":
        return cache.has_key(key, **version_arg(op))
    if name == "delete":
        return bool(cache.delete(key, **version_arg(op)))
    if name == "touch":
        return bool(cache.touch(key, **timeout_arg(op), **version_arg(op)))
    if name == "incr":
        return to_tag(cache.incr(key, op.get("delta", 1), **version_arg(op)))
    if name == "decr":
        return to_tag(cache.decr(key, op.get("delta", 1), **version_arg(op)))
    if name == "incr_version":
        return cache.incr_version(key, op.get("delta", 1), **version_arg(op))
    if name == "make_key":
        return cache.make_key(key, **version_arg(op))
    if name == "expiry":
        return {"expiry": stored_expiry(cache, backend, cache.make_key(key, **version_arg(op)), op), "now": time.time()}
    if name == "stored":
        return stored_value(cache, backend, cache.make_key(key, **version_arg(op)), op)
    if name == "server":
        # Where pymemcache's hashing puts the key, and where it is.
        made = cache.make_key(key, **version_arg(op))
        return {"hashed": cache._cache.hasher.get_node(made), "holders": [s for s, _, _ in memcached_find(cache, made)]}
    if name == "fixture":
        return [[k, to_tag(v)] for k, v in fixture().items()]
    if name == "set_fixture":
        # The fixture's own objects (not rebuilt from tags), so that what
        # Django writes keeps Python's sharing: [[1, 2]] * 3 pickles the
        # inner list once and refers to it twice.
        for k, v in fixture().items():
            cache.set(op["prefix"] + k, v)
        return True
    if name == "set_django_values":
        # Written here, compared in Go with the tags of their plain forms.
        out = []
        for k, v in fixture_django().items():
            cache.set(op["prefix"] + k, v)
            plain = v
            if isinstance(v, str):
                plain = str(v)
            elif isinstance(v, dict):
                plain = dict(v)
            elif isinstance(v, datetime.datetime) and v.tzinfo is not None:
                plain = v.astimezone(datetime.timezone(v.utcoffset()))
            out.append([k, to_tag(plain)])
        return out
    if name == "clear":
        cache.clear()
        return True
    if name == "version":
        import django

        return django.get_version()
    if name == "createcachetable":
        from django.core.management import call_command

        call_command("createcachetable", verbosity=0)
        return True
    if name == "sleep":
        time.sleep(op["seconds"])
        return True
    raise ValueError("unknown op %r" % (name,))


BACKENDS = {
    "django.core.cache.backends.filebased.FileBasedCache": "file",
    "django.core.cache.backends.db.DatabaseCache": "db",
    "django.core.cache.backends.memcached.PyMemcacheCache": "memcached",
    "django_redis.cache.RedisCache": "redis",
    "django.core.cache.backends.redis.RedisCache": "redis",
}


def main():
    """Reads the configuration from the first line of stdin, then one
    request per line ({"ops": [...]}), and writes one reply per line."""
    config = json.loads(sys.stdin.readline())
    engines = [db.get("ENGINE") for db in (config.get("databases") or {}).values()]
    if "django.db.backends.mysql" in engines:
        try:
            import MySQLdb  # noqa: F401 (Debian's python3-mysqldb, beside Django 3.2)
        except ImportError:
            # The venvs of Django 4.2 and 5.2 have PyMySQL, a pure-Python
            # client, where mysqlclient (MySQLdb) would have to be compiled
            # against libmariadb: PyMySQL then answers Django's
            # "import MySQLdb".
            import pymysql

            pymysql.install_as_MySQLdb()
    import django
    from django.conf import settings

    extra = {}
    if config.get("time_zone"):
        extra["TIME_ZONE"] = config["time_zone"]
    settings.configure(
        CACHES={"default": config["cache"]},
        DATABASES=config.get("databases") or {},
        USE_TZ=config.get("use_tz", True),
        INSTALLED_APPS=[],
        **extra,
    )
    django.setup()
    from django.core.cache import cache

    backend = BACKENDS.get(config["cache"]["BACKEND"], "other")
    for line in sys.stdin:
        results = []
        for op in json.loads(line)["ops"]:
            try:
                results.append(run(cache, backend, op))
            except Exception as e:  # reported to the Go test, which decides
                results.append({"error": "%s: %s" % (type(e).__name__, e)})
        sys.stdout.write(json.dumps({"results": results}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
