// Package httpcache is Django's page cache for net/http: the per-view
// cache_page decorator, the per-site cache middleware and the helpers of
// django.utils.cache, with Django's keys, byte for byte, on any djcache
// backend. It works with any router that takes func(http.Handler)
// http.Handler.
//
//	c, err := djcache.Open("redis://127.0.0.1:6379/0?serializer=pickle")
//	mux := http.NewServeMux()
//	mux.Handle("GET /products/", httpcache.CachePage(c, 15*time.Minute)(products))
//
// # Django and Go
//
//	Django                                   httpcache
//	---------------------------------------  -----------------------------------------------
//	@cache_page(60 * 15)                     CachePage(c, 15*time.Minute)
//	cache_page(..., key_prefix="site1")      CachePage(c, d, KeyPrefix("site1"))
//	cache_page(..., cache="pages")           CachePage(nil, d, FromCaches(caches, "pages"))
//	UpdateCache/FetchFromCacheMiddleware     NewFromSettings(caches, settings).Handler
//	CACHE_MIDDLEWARE_SECONDS, _KEY_PREFIX,   Settings (ParseSettings reads them pasted from
//	  _ALIAS, USE_I18N, LANGUAGE_CODE,         Django, with CACHES); WithSettings
//	  USE_TZ, TIME_ZONE
//	request.LANGUAGE_CODE (LocaleMiddleware) Language(func(*http.Request) string)
//	timezone.activate(...)                   TimeZone(func(*http.Request) string)
//	get_cache_key, learn_cache_key           GetCacheKey, LearnCacheKey
//	patch_cache_control(r, max_age=60)       PatchCacheControl(h, "max-age=60")
//	patch_vary_headers(r, ["Cookie"])        PatchVaryHeaders(h, "Cookie")
//	add_never_cache_headers                  AddNeverCacheHeaders
//	patch_response_headers                   PatchResponseHeaders
//	make_template_fragment_key               MakeTemplateFragmentKey
//	ConditionalGetMiddleware                 built in, for pages the middleware serves
//
// The helpers take the response's http.Header where Django takes the
// HttpResponse. A Go header with several field lines counts as their
// values joined by ", ", which is what HTTP says they mean.
//
// # Keys
//
// Keys are Django's, so that a Go service finds, purges and stores the
// entries a Django application on the same cache does:
//
//	views.decorators.cache.cache_header.PREFIX.MD5(URI).LANG.TZ            the learned header list
//	views.decorators.cache.cache_page.PREFIX.METHOD.MD5(URI).MD5(VALUES).LANG.TZ   the page
//
// PREFIX is the middleware's key prefix (not the cache's KEY_PREFIX, which
// djcache applies on top, as Django does); URI is request.build_absolute_uri()
// computed as Django computes it behind a WSGI server (the decoded path
// re-escaped by escape_uri_path, bytes that are not UTF-8 as %25XX, the raw
// query string through iri_to_uri, "." and ".." segments resolved, the scheme
// from TLS or SECURE_PROXY_SSL_HEADER, the host from Host or, with
// USE_X_FORWARDED_HOST, X-Forwarded-Host); VALUES are the request's values of
// the learned headers in order (repeated header lines joined by ",", bytes
// read as Latin-1 and written as UTF-8, as WSGI and Django do; Content-Type
// and Content-Length never count, as WSGI names them without HTTP_; names
// with "_" are ignored, as Django's runserver and most servers drop them);
// LANG is present with USE_I18N and TZ with USE_TZ (a fixed-offset zone such
// as Etc/GMT+5 is named by its abbreviation, -05, as Django names it).
//
// One detail changes between Django releases: a learned header that the
// request lacks adds "-," to the hash in Django 5.2 (tested: 5.2.19) and in
// Debian's 3.2.25 (security update deb12u7), and nothing in 4.2 (tested:
// 4.2.30) and earlier releases. Settings.DjangoVersion ("5.2" by default)
// chooses. The tests compute every key, URI, header list (and its pickle),
// template-fragment key and Cache-Control and Vary result with Django 3.2,
// 4.2 and 5.2 themselves, for a table of requests (query strings, escaped
// and broken paths, Vary on Cookie, Accept-Encoding and several headers,
// absent and empty headers, HEAD, https and proxies, i18n and time zones on
// and off), and compare them byte for byte.
//
// The learned header list is stored as Django stores it: a list of str,
// which with the pickle serializer is the pickle Django writes, so each side
// reads the other's lists.
//
// # What is stored
//
// Only GET and HEAD requests are served from the cache, a HEAD from the GET's
// page first, then from its own. A response is stored, as Django's
// UpdateCacheMiddleware stores it, when its status is 200, it does not set a
// cookie while varying on Cookie, its Cache-Control has none of private,
// no-cache and no-store, it does not vary on *, it is not streamed (the
// handler did not call Flush or Hijack) and its body fits MaxBodySize (1 MiB
// unless set). It is stored for cache_page's timeout, else its max-age (a
// max-age of 0 is not stored), else CACHE_MIDDLEWARE_SECONDS, and is sent
// with Expires and Cache-Control max-age added as patch_response_headers
// adds them (a 304 from the handler gets them too, and is not stored).
// A response to a request with Authorization varies on Authorization unless
// it is public. Hits carry Age.
//
// These rules are the strictest of the three releases, whatever
// DjangoVersion says: 3.2 and 4.2 still store no-store and no-cache
// responses and responses that vary on *, 4.2 stores a response that sets a
// cookie while varying on Cookie when the request had cookies, and only 5.2
// adds Vary: Authorization and Age. Storing less never breaks a shared
// cache; storing those responses could leak one user's page to another.
//
// As in Django, a response that sets a cookie without varying on Cookie is
// stored with its Set-Cookie header and replayed to everyone: mark such
// responses private, or vary them on Cookie.
//
// GET requests answered by the middleware (hits, and misses whose response
// it can store) are checked against If-Match, If-Unmodified-Since,
// If-None-Match and If-Modified-Since in RFC 9110's order and answered with
// 412 or 304 as Django's ConditionalGetMiddleware answers them, using the
// page's ETag and Last-Modified (no ETag is made up: set one in the
// handler).
//
// # Sharing a cache with Django
//
// A Django application caches an HttpResponse object, pickled. djcache does
// not write Python objects, so a Go service cannot store a page Django could
// serve, and does not serve Django's pages: package pickle refuses to rebuild
// an HttpResponse (that would mean running its class's code). What a Go
// service can do with the pages of a Django application on the same cache:
//
//   - find them: GetCacheKey returns the key of the page Django cached for a
//     request (reading Django's header list), and Cache.Has tells whether it
//     is there;
//   - purge them: Purge removes the page for a request (GET and HEAD) and the
//     URL's header list, for example after the Go service changed the data
//     the page shows. Other variants of the page (other values of the headers
//     it varies on) cannot be listed, since their values are hashed into the
//     keys; they expire with their timeout;
//   - leave them alone: the middleware never serves nor overwrites a page it
//     cannot read (Stats.Unreadable counts them); the handler answers.
//
// What it must not do is store its own pages where Django looks for its
// own: Django would get bytes where it expects an HttpResponse and fail with
// a server error on that URL until the page expires. Keys include the host
// and path, so this happens only when both serve the same URLs from the same
// cache with the same key prefix (a migration, or a proxy in front of
// Django). Then give the Go middleware its own prefix (KeyPrefix, or
// CACHE_MIDDLEWARE_KEY_PREFIX in its pasted settings), and pass Django's
// prefix to GetCacheKey and Purge to reach Django's pages.
//
// A page stored by this package is a byte string (with the pickle
// serializer, a pickled bytes object): "djcache-page\x01", the status as a
// uvarint, the number of headers, each header's name and values as
// uvarint-length-prefixed strings, sorted by name, then the body. Headers
// about the connection (Connection, Transfer-Encoding, ...) are not stored.
//
// # Beyond Django
//
// Concurrent misses of one page in a process render it once: the others wait
// for the first render, then read the page it stored, or render themselves
// as soon as it turns out not to be storable (Stats.Waits counts them).
// Across processes each still renders its own (djcache's GetOrSet fill lock
// cannot serve here: the page's key depends on the response's Vary, known
// only once it is rendered). A cache failure never fails a request: the
// handler answers, the failure is logged (Logger) and counted
// (Stats.Errors). A panic in the handler stores nothing. The CacheStatus
// option adds RFC 9211's Cache-Status header.
//
// # Routers
//
// Middleware.Handler and the function CachePage returns have the type of
// net/http middleware, so routers built on net/http take them as they are;
// routers with their own handler types wrap them. No router is a dependency
// of this package; the adapters are a line or two:
//
//	// chi: the whole site, or one route.
//	r.Use(mw.Handler)
//	r.With(httpcache.CachePage(c, time.Minute)).Get("/prices", prices)
//
//	// gorilla/mux: mux.MiddlewareFunc is func(http.Handler) http.Handler.
//	r.Use(mw.Handler)
//	r.Handle("/prices", httpcache.CachePage(c, time.Minute)(prices))
//
//	// echo: WrapMiddleware turns net/http middleware into echo's.
//	e.Use(echo.WrapMiddleware(mw.Handler))
//	e.GET("/prices", echo.WrapHandler(httpcache.CachePage(c, time.Minute)(prices)))
//
//	// gin: an *gin.Engine is an http.Handler, so cache the whole site
//	// around it, or wrap a net/http handler for one route.
//	http.ListenAndServe(":8080", mw.Handler(engine))
//	engine.GET("/prices", gin.WrapH(httpcache.CachePage(c, time.Minute)(prices)))
//
// Put the site-wide middleware outside (before) middleware that changes the
// response, as Django puts UpdateCacheMiddleware first, and give it the
// request's language and time zone (Language, TimeZone) where Django's
// LocaleMiddleware or timezone.activate would set them.
package httpcache
