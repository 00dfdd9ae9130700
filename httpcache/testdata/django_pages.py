#!/usr/bin/env python3
"""Django's side of httpcache's shared-cache test (django_test.go).

It reads one JSON document on stdin,

    {"dir": "/tmp/...", "action": "render" | "check", "settings": {...},
     "request": {"path": "/page/", "query": "x=1", "host": "testserver",
                 "headers": [["Accept-Encoding", "gzip"]]}}

configures Django with a FileBasedCache in dir (the directory the Go test
shares) and the settings given, and then either renders a view decorated
with cache_page(60), which stores the page as Django does (a pickled
HttpResponse) and the header list, or checks what is stored for the
request. It prints {"key": get_cache_key(request), "list": the stored
header list, "value_type": the type of the value under the key}.
"""

import io
import json
import sys
from urllib.parse import unquote

import django
from django.conf import settings


def main():
    doc = json.load(sys.stdin)
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        CACHES={"default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": doc["dir"],
        }},
        **doc.get("settings", {})
    )
    django.setup()
    from django.core.cache import caches
    from django.core.handlers.wsgi import WSGIRequest
    from django.http import HttpResponse
    from django.utils.cache import _generate_cache_header_key, get_cache_key, patch_vary_headers
    from django.views.decorators.cache import cache_page

    req = doc["request"]
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(req["path"], "iso-8859-1"),
        "QUERY_STRING": req.get("query", ""),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": req["host"],
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
    }
    for name, value in req.get("headers", []):
        environ["HTTP_" + name.replace("-", "_").upper()] = value
    request = WSGIRequest(environ)
    cache = caches["default"]

    if doc["action"] == "render":
        @cache_page(60)
        def view(request):
            response = HttpResponse("rendered by Django")
            patch_vary_headers(response, ["Accept-Encoding"])
            return response

        view(request)

    key = get_cache_key(request, "", "GET", cache)
    out = {
        "key": key,
        "list": cache.get(_generate_cache_header_key("", request)),
        "value_type": type(cache.get(key)).__name__ if key else None,
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
