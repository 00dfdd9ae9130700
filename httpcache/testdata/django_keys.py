#!/usr/bin/env python3
"""Django's side of httpcache's key tests (django_test.go).

It reads one JSON document on stdin, computes with Django's own functions
(django.utils.cache, django.core.cache.utils) what package httpcache must
reproduce byte for byte, and prints one JSON document on stdout. The Go
test runs it under each Django release it can find (Debian's 3.2 under
/usr/bin/python3, 4.2 and 5.2 in the virtual environments of .ci/services).

Input:

    {"groups": [{"settings": {...override_settings kwargs...}, "prefix": "p",
                 "cases": [CASE, ...]}, ...],
     "fragments": [["name", [TAG, ...]], ...],
     "cache_control": [{"initial": "..." | null, "directives": ["max-age=5", "public", ...]}, ...],
     "never": ["initial Cache-Control" | null, ...],
     "vary": [{"initial": "..." | null, "names": [...]}, ...],
     "max_age": ["Cache-Control", ...]}

A CASE is an HTTP request as a WSGI server receives it, and the Vary
header of its response:

    {"method": "GET", "path": "/a%20b/", "query": "x=1", "host": "h:8000",
     "secure": false, "headers": [["Accept-Encoding", "gzip"], ...],
     "vary": "Cookie" | null, "language": "de" | null, "timezone": "Asia/Tokyo" | null}

The environ is built as wsgiref builds it (PATH_INFO percent-decoded as
Latin-1, QUERY_STRING and header values as Latin-1 text of their bytes,
repeated headers joined by ","), leaving out headers whose names hold "_"
as Django's runserver does. A TAG is ["int", "5"], ["str", "x"],
["bool", true], ["none"] or ["float", "1e16"].
"""

import io
import json
import pickle
import sys
from urllib.parse import unquote

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    USE_I18N=True,
    USE_TZ=True,
)
django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.cache.utils import make_template_fragment_key  # noqa: E402
from django.core.handlers.wsgi import WSGIRequest  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone, translation  # noqa: E402
from django.utils.cache import (  # noqa: E402
    _generate_cache_header_key,
    add_never_cache_headers,
    get_cache_key,
    get_max_age,
    learn_cache_key,
    patch_cache_control,
    patch_vary_headers,
)


def make_request(case):
    secure = case.get("secure", False)
    environ = {
        "REQUEST_METHOD": case["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(case["path"], "iso-8859-1"),
        "QUERY_STRING": case.get("query", ""),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "443" if secure else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "https" if secure else "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if case.get("host") is not None:
        environ["HTTP_HOST"] = case["host"]
    for name, value in case.get("headers", []):
        if "_" in name:
            continue
        k = name.replace("-", "_").upper()
        if k in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[k] = value
            continue
        k = "HTTP_" + k
        environ[k] = environ[k] + "," + value if k in environ else value
    request = WSGIRequest(environ)
    if case.get("language") is not None:
        request.LANGUAGE_CODE = case["language"]
    return request


def run_case(case, prefix, cache):
    request = make_request(case)
    if case.get("timezone"):
        timezone.activate(case["timezone"])
    try:
        response = HttpResponse()
        if case.get("vary") is not None:
            response["Vary"] = case["vary"]
        out = {"uri": request.build_absolute_uri()}
        header_key = _generate_cache_header_key(prefix, request)
        out["header_key"] = header_key
        out["before"] = get_cache_key(request, prefix, "GET", cache)
        out["learned"] = learn_cache_key(request, response, 60, prefix, cache)
        out["get"] = get_cache_key(request, prefix, "GET", cache)
        out["head"] = get_cache_key(request, prefix, "HEAD", cache)
        headerlist = cache.get(header_key)
        out["list"] = headerlist
        out["pickle"] = pickle.dumps(headerlist, 5).hex()
        return out
    finally:
        timezone.deactivate()


def untag(t):
    kind = t[0]
    if kind == "int":
        return int(t[1])
    if kind == "str":
        return t[1]
    if kind == "bool":
        return bool(t[1])
    if kind == "none":
        return None
    if kind == "float":
        return float(t[1])
    raise ValueError("unknown tag %r" % (kind,))


def kwargs_of(directives):
    kw = {}
    for d in directives:
        name, eq, value = d.partition("=")
        name = name.replace("-", "_")
        if not eq:
            kw[name] = True
        elif value.lstrip("-").isdigit():
            kw[name] = int(value)
        else:
            kw[name] = value
    return kw


def response_with(name, value):
    r = HttpResponse()
    if value is not None:
        r[name] = value
    return r


def main():
    doc = json.load(sys.stdin)
    cache = caches["default"]
    out = {"version": django.get_version(), "groups": []}
    for group in doc.get("groups", []):
        results = []
        with override_settings(**group.get("settings", {})):
            for case in group["cases"]:
                cache.clear()
                results.append(run_case(case, group.get("prefix", ""), cache))
        out["groups"].append(results)
    out["fragments"] = [
        make_template_fragment_key(name, [untag(t) for t in args] if args is not None else None)
        for name, args in doc.get("fragments", [])
    ]
    cc = []
    for c in doc.get("cache_control", []):
        r = response_with("Cache-Control", c["initial"])
        patch_cache_control(r, **kwargs_of(c["directives"]))
        cc.append(r.get("Cache-Control"))
    out["cache_control"] = cc
    never = []
    for initial in doc.get("never", []):
        r = response_with("Cache-Control", initial)
        add_never_cache_headers(r)
        never.append(r.get("Cache-Control"))
    out["never"] = never
    vary = []
    for v in doc.get("vary", []):
        r = response_with("Vary", v["initial"])
        patch_vary_headers(r, v["names"])
        vary.append(r.get("Vary"))
    out["vary"] = vary
    out["max_age"] = [get_max_age(response_with("Cache-Control", c)) for c in doc.get("max_age", [])]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
