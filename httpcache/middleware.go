package httpcache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/djcache/djcache"
)

// Middleware is Django's CacheMiddleware (UpdateCacheMiddleware and
// FetchFromCacheMiddleware in one): it serves GET and HEAD requests from
// the cache, and stores the responses that Django would store, under
// Django's keys. Build it with New, NewFromSettings or CachePage. A
// Middleware is safe for concurrent use.
type Middleware struct {
	cfg  *config
	keys *keys

	cache *djcache.Cache

	// pageTimeout is cache_page's timeout (hasPage); else the response's
	// max-age, else defaultTimeout (CACHE_MIDDLEWARE_SECONDS).
	pageTimeout    time.Duration
	hasPage        bool
	defaultTimeout time.Duration

	flights flightGroup
	stats   [numStats]atomic.Uint64
}

// Stats are a Middleware's counters since it was built.
type Stats struct {
	// Hits counts requests answered from the cache.
	Hits uint64
	// Misses counts GET and HEAD requests that found no page.
	Misses uint64
	// Stores counts pages stored.
	Stores uint64
	// Errors counts cache failures (each also logged at Warn); the request
	// was served by the handler all the same.
	Errors uint64
	// Unreadable counts pages found under a key that this package cannot
	// read, such as the pickled HttpResponse of a Django application
	// sharing the cache; such a page is neither served nor overwritten.
	Unreadable uint64
	// Waits counts requests that waited for another request's render of
	// the same page (the single flight) instead of rendering it.
	Waits uint64
}

const (
	statHits = iota
	statMisses
	statStores
	statErrors
	statUnreadable
	statWaits
	numStats
)

// New returns Django's per-site CacheMiddleware over c (or, with c nil,
// over the cache of FromCaches's alias or of the settings'
// CACHE_MIDDLEWARE_ALIAS). Pages are stored for the response's max-age,
// else for CACHE_MIDDLEWARE_SECONDS (600 seconds unless WithSettings says
// otherwise), under the KeyPrefix option's key prefix, else
// CACHE_MIDDLEWARE_KEY_PREFIX.
func New(c *djcache.Cache, opts ...Option) (*Middleware, error) {
	cfg := newConfig(opts)
	if err := cfg.set.validate(); err != nil {
		return nil, err
	}
	m := &Middleware{cfg: cfg, keys: cfg.keys(), cache: c, defaultTimeout: cfg.set.seconds()}
	if c == nil {
		if cfg.caches == nil {
			return nil, errors.New("httpcache: New: no cache: pass a *djcache.Cache or the FromCaches option")
		}
		alias := cfg.alias
		if alias == "" {
			alias = cfg.set.alias()
		}
		if err := cfg.checkAlias(alias); err != nil {
			return nil, err
		}
		// Opening does no I/O; it finds a missing backend import now.
		var err error
		if m.cache, err = cfg.caches.Cache(alias); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NewFromSettings returns the per-site middleware that Django builds from
// settings s (see ParseSettings): the cache of CACHE_MIDDLEWARE_ALIAS in
// caches, CACHE_MIDDLEWARE_SECONDS, CACHE_MIDDLEWARE_KEY_PREFIX, and the
// settings that keys depend on. opts may add to them (CacheStatus,
// MaxBodySize, Language, ...).
func NewFromSettings(caches *djcache.Caches, s *Settings, opts ...Option) (*Middleware, error) {
	if caches == nil {
		return nil, errors.New("httpcache: NewFromSettings: caches is nil")
	}
	all := append([]Option{WithSettings(s), FromCaches(caches, s.alias())}, opts...)
	return New(nil, all...)
}

// CachePage is Django's cache_page decorator: it returns a middleware that
// caches the pages of the handler it wraps for timeout, whatever their
// max-age (Django's page timeout), under the KeyPrefix option's key prefix
// ("" without it, as in Django, whatever CACHE_MIDDLEWARE_KEY_PREFIX says),
// in c or in the cache of FromCaches's alias. A timeout of 0 caches
// nothing but still sets Expires and max-age=0, as Django does.
//
// CachePage panics if c is nil and no FromCaches option names an alias of
// its caches, as Django's cache_page fails when the module that uses it
// is loaded.
func CachePage(c *djcache.Cache, timeout time.Duration, opts ...Option) func(http.Handler) http.Handler {
	cfg := newConfig(opts)
	if !cfg.prefixSet {
		opts = append([]Option{KeyPrefix("")}, opts...)
	}
	if c == nil && cfg.caches != nil && cfg.alias == "" {
		opts = append(opts, FromCaches(cfg.caches, djcache.DefaultAlias))
	}
	m, err := New(c, opts...)
	if err != nil {
		panic(strings.Replace(err.Error(), "New", "CachePage", 1))
	}
	m.pageTimeout, m.hasPage = timeout, true
	return m.Handler
}

// Handler returns next wrapped in the page cache: GET and HEAD requests
// are answered from the cache when it holds the page, and otherwise by
// next, whose response is stored when Django would store it. Other methods
// go to next untouched.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next)
	})
}

// Stats returns the middleware's counters.
func (m *Middleware) Stats() Stats {
	return Stats{
		Hits:       m.stats[statHits].Load(),
		Misses:     m.stats[statMisses].Load(),
		Stores:     m.stats[statStores].Load(),
		Errors:     m.stats[statErrors].Load(),
		Unreadable: m.stats[statUnreadable].Load(),
		Waits:      m.stats[statWaits].Load(),
	}
}

// Cache returns the cache the middleware uses.
func (m *Middleware) Cache() *djcache.Cache { return m.cache }

// GetCacheKey is the package's GetCacheKey with the middleware's cache,
// key prefix and settings.
func (m *Middleware) GetCacheKey(ctx context.Context, r *http.Request, method string) (string, error) {
	return GetCacheKey(ctx, m.cache, r, method, m.options()...)
}

// Purge is the package's Purge with the middleware's cache, key prefix
// and settings.
func (m *Middleware) Purge(ctx context.Context, r *http.Request) (bool, error) {
	return Purge(ctx, m.cache, r, m.options()...)
}

// options are the options that rebuild m's key maker.
func (m *Middleware) options() []Option {
	return []Option{WithSettings(m.cfg.set), KeyPrefix(m.keys.prefix), Language(m.cfg.language), TimeZone(m.cfg.timeZone)}
}

func (m *Middleware) count(i int) { m.stats[i].Add(1) }

// fail logs and counts a cache failure.
func (m *Middleware) fail(r *http.Request, op string, err error) {
	m.count(statErrors)
	m.cfg.log().LogAttrs(r.Context(), slogWarn, "httpcache: cache failure; the request is served by the handler",
		attr("op", op), attr("url", r.URL.String()), errAttr(err))
}

// status sets the Cache-Status header, if enabled.
func (m *Middleware) status(h http.Header, v string) {
	if m.cfg.cacheStatus != "" {
		h.Set("Cache-Status", m.cfg.cacheStatus+"; "+v)
	}
}

// lookup is FetchFromCacheMiddleware.process_request: the page cached for
// r, or nil with the Cache-Status forward reason.
type lookup struct {
	page       *page
	fwd        string // "uri-miss" or "vary-miss" on a miss
	unreadable bool   // a page is stored that this package cannot read
	err        error
	flightKey  string
}

func (m *Middleware) lookup(ctx context.Context, c *djcache.Cache, r *http.Request) lookup {
	uri := m.keys.absoluteURI(r)
	suffix := m.keys.suffix(r)
	list, found, err := m.keys.headerList(ctx, c, uri, suffix)
	if err != nil {
		return lookup{err: err}
	}
	if !found {
		return lookup{fwd: "uri-miss", flightKey: m.keys.headerKey(uri, suffix)}
	}
	key := m.keys.pageKey(r, http.MethodGet, uri, list, suffix)
	l := lookup{fwd: "vary-miss", flightKey: key}
	l.page, l.unreadable, l.err = m.getPage(ctx, c, key)
	if l.page == nil && l.err == nil && r.Method == http.MethodHead {
		var unreadable bool
		l.page, unreadable, l.err = m.getPage(ctx, c, m.keys.pageKey(r, http.MethodHead, uri, list, suffix))
		l.unreadable = l.unreadable || unreadable
	}
	return l
}

// getPage reads the page under key: nil if there is none; unreadable if
// what is stored there is not a page of this package.
func (m *Middleware) getPage(ctx context.Context, c *djcache.Cache, key string) (*page, bool, error) {
	var b []byte
	found, err := c.Get(ctx, key, &b)
	var de *djcache.DecodeError
	switch {
	case errors.As(err, &de):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case !found:
		return nil, false, nil
	}
	p, err := unmarshalPage(b)
	if err != nil {
		return nil, true, nil
	}
	return p, false, nil
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		m.status(w.Header(), "fwd=method")
		next.ServeHTTP(w, r)
		return
	}
	c := m.cache
	ctx := r.Context()
	l := m.lookup(ctx, c, r)
	if l.flightKey != "" && l.page == nil && l.err == nil && !l.unreadable {
		// A miss: render once per process. The others wait for the
		// leader, then look again.
		f, leader := m.flights.join(l.flightKey)
		if !leader {
			m.count(statWaits)
			select {
			case <-f.done:
			case <-ctx.Done():
				return
			}
			l = m.lookup(ctx, c, r)
		} else {
			defer m.flights.release(f)
			m.miss(w, r, next, c, l, f)
			return
		}
	}
	switch {
	case l.err != nil:
		m.fail(r, "get", l.err)
		m.status(w.Header(), "fwd=miss; detail=error")
		next.ServeHTTP(w, r)
	case l.page != nil:
		m.count(statHits)
		m.serveHit(w, r, l.page)
	case l.unreadable:
		// Probably Django's pickled HttpResponse: leave it alone.
		m.count(statUnreadable)
		m.cfg.log().LogAttrs(ctx, slogDebug, "httpcache: a page is cached that djcache cannot read (a Django HttpResponse?); serving the handler's response without storing it",
			attr("url", r.URL.String()))
		m.status(w.Header(), "fwd=miss; detail=unreadable")
		next.ServeHTTP(w, r)
	default:
		m.miss(w, r, next, c, l, nil)
	}
}

// serveHit writes a cached page, with Django 5.2's Age, and answers a
// conditional GET as Django's ConditionalGetMiddleware does.
func (m *Middleware) serveHit(w http.ResponseWriter, r *http.Request, p *page) {
	h := w.Header()
	for k, v := range p.header {
		h[k] = v
	}
	now := time.Now().Unix()
	exp, hasExp := int64(0), false
	if e := h.Get("Expires"); e != "" {
		exp, hasExp = parseHTTPDate(e)
	}
	if maxAge, ok := getMaxAge(h); ok && hasExp {
		h.Set("Age", strconv.FormatInt(max(0, maxAge-(exp-now)), 10))
	}
	if hasExp {
		m.status(h, "hit; ttl="+strconv.FormatInt(exp-now, 10))
	} else {
		m.status(h, "hit")
	}
	if r.Method == http.MethodGet && writeConditional(w, r, p.status) {
		return
	}
	if _, ok := h["Content-Length"]; !ok {
		h.Set("Content-Length", strconv.Itoa(len(p.body)))
	}
	w.WriteHeader(p.status)
	if r.Method != http.MethodHead {
		w.Write(p.body)
	}
}

// writeConditional answers r with 304 or 412 if its preconditions call for
// it, and reports whether it did.
func writeConditional(w http.ResponseWriter, r *http.Request, status int) bool {
	if status < 200 || status > 299 {
		return false
	}
	h := w.Header()
	switch conditionalStatus(r, h) {
	case condNotModified:
		keep := map[string]bool{}
		for _, k := range notModifiedHeaders {
			keep[http.CanonicalHeaderKey(k)] = true
		}
		for k := range h {
			if !keep[k] && k != "Cache-Status" {
				delete(h, k)
			}
		}
		w.WriteHeader(http.StatusNotModified)
		return true
	case condFailed:
		for k := range h {
			if k != "Cache-Status" {
				delete(h, k)
			}
		}
		w.WriteHeader(http.StatusPreconditionFailed)
		return true
	}
	return false
}

// miss renders the page with next and stores it when Django would
// (UpdateCacheMiddleware.process_response). f, if not nil, is released as
// soon as the outcome is known.
func (m *Middleware) miss(w http.ResponseWriter, r *http.Request, next http.Handler, c *djcache.Cache, l lookup, f *flight) {
	m.count(statMisses)
	rec := &recorder{w: w, r: r, m: m, c: c, fwd: l.fwd, flight: f}
	completed := false
	defer func() {
		if !completed {
			// A panic (or runtime.Goexit) in next: nothing is stored,
			// and nothing buffered is sent.
			rec.abort()
		}
	}()
	next.ServeHTTP(rec, r)
	completed = true
	rec.finish()
}

// Recorder modes.
const (
	modeBuffer = iota // the response is held until the handler returns
	modePass          // the response goes to the client as written
)

// recorder is the ResponseWriter of a miss: it holds a response that may
// be stored until the handler returns, and passes the others through.
type recorder struct {
	w      http.ResponseWriter
	r      *http.Request
	m      *Middleware
	c      *djcache.Cache
	fwd    string
	flight *flight

	wroteHeader bool
	status      int
	mode        int
	timeout     time.Duration
	cc          string // the response's Cache-Control, lower case, before patching
	buf         bytes.Buffer
	aborted     bool
}

// Header is the underlying writer's header map: the handler's headers go
// there directly. While the response is held, headers changed after
// WriteHeader still count (net/http would ignore them).
func (rec *recorder) Header() http.Header { return rec.w.Header() }

// Unwrap gives http.ResponseController the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

func (rec *recorder) release() {
	if rec.flight != nil {
		rec.m.flights.release(rec.flight)
	}
}

// WriteHeader decides, from the status and the headers, whether the
// response may be stored: if so it is held, else it is sent at once.
func (rec *recorder) WriteHeader(code int) {
	if rec.wroteHeader {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		rec.w.WriteHeader(code) // informational: 103 Early Hints
		return
	}
	rec.wroteHeader, rec.status = true, code
	h := rec.w.Header()
	rec.cc = strings.ToLower(headerJoin(h, "Cache-Control"))
	timeout, ok := rec.m.cacheTimeout(rec.r, h, code, rec.cc)
	if !ok {
		rec.pass()
		return
	}
	rec.timeout = timeout
	if code != http.StatusOK || timeout == 0 {
		// Headers as Django patches them, nothing stored.
		rec.patch()
		rec.pass()
		return
	}
	if cl, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && rec.m.cfg.maxBody > 0 && cl > rec.m.cfg.maxBody {
		rec.pass()
		return
	}
	if _, ok := h["Trailer"]; ok {
		rec.pass()
		return
	}
	rec.mode = modeBuffer
}

// pass sends the response as it stands and lets the rest through.
func (rec *recorder) pass() {
	rec.mode = modePass
	rec.m.status(rec.w.Header(), "fwd="+rec.fwd)
	rec.release()
	rec.w.WriteHeader(rec.status)
	if rec.buf.Len() > 0 {
		rec.w.Write(rec.buf.Bytes())
		rec.buf = bytes.Buffer{}
	}
}

// patch is patch_response_headers plus Django 5.2's Vary on
// Authorization.
func (rec *recorder) patch() {
	h := rec.w.Header()
	patchResponseHeaders(h, rec.timeout, time.Now())
	if rec.r.Header.Get("Authorization") != "" && !strings.Contains(rec.cc, "public") {
		PatchVaryHeaders(h, "Authorization")
	}
}

// Write holds p with a response that may be stored, until the body passes
// MaxBodySize, and sends it otherwise.
func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.mode == modePass {
		return rec.w.Write(p)
	}
	if max := rec.m.cfg.maxBody; max > 0 && int64(rec.buf.Len()+len(p)) > max {
		rec.pass() // too large to cache: sent untouched
		return rec.w.Write(p)
	}
	return rec.buf.Write(p)
}

// Flush marks the response as streaming: it is sent untouched and not
// stored, as Django passes streaming responses through.
func (rec *recorder) Flush() { rec.FlushError() }

// FlushError is Flush for http.ResponseController.
func (rec *recorder) FlushError() error {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.mode == modeBuffer {
		rec.pass()
	}
	return http.NewResponseController(rec.w).Flush()
}

// Hijack hands the connection to the handler; nothing is stored.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rec.wroteHeader, rec.mode = true, modePass
	rec.release()
	return http.NewResponseController(rec.w).Hijack()
}

func (rec *recorder) abort() {
	rec.aborted = true
	rec.release()
}

// finish ends a response whose handler returned: a buffered one is
// patched, stored and sent.
func (rec *recorder) finish() {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.mode == modePass {
		return
	}
	h := rec.w.Header()
	if _, ok := h["Content-Type"]; !ok && rec.buf.Len() > 0 && h.Get("Content-Encoding") == "" {
		h.Set("Content-Type", http.DetectContentType(rec.buf.Bytes()))
	}
	rec.patch()
	stored := false
	if !hasTrailerKeys(h) {
		stored = rec.store()
	}
	rec.release()
	if stored {
		rec.m.status(h, "fwd="+rec.fwd+"; stored")
	} else {
		rec.m.status(h, "fwd="+rec.fwd)
	}
	if rec.r.Method == http.MethodGet && writeConditional(rec.w, rec.r, rec.status) {
		return
	}
	if _, ok := h["Content-Length"]; !ok {
		h.Set("Content-Length", strconv.Itoa(rec.buf.Len()))
	}
	rec.w.WriteHeader(rec.status)
	if rec.r.Method != http.MethodHead {
		rec.w.Write(rec.buf.Bytes())
	}
}

// store is learn_cache_key and cache.set of the page.
func (rec *recorder) store() bool {
	ctx := context.WithoutCancel(rec.r.Context())
	h := rec.w.Header()
	p := &page{status: rec.status, header: h.Clone(), body: rec.buf.Bytes()}
	delete(p.header, "Cache-Status")
	key, err := rec.m.keys.learn(ctx, rec.c, rec.r, h, rec.timeout)
	if err == nil {
		err = rec.c.Set(ctx, key, p.marshal(), djcache.Timeout(rec.timeout))
	}
	if err != nil {
		rec.m.fail(rec.r, "set", err)
		return false
	}
	if rec.timeout <= 0 {
		return false // a negative timeout removed the page, as in Django
	}
	rec.m.count(statStores)
	return true
}

func hasTrailerKeys(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// headerJoin is the header's field lines joined by ", ".
func headerJoin(h http.Header, name string) string {
	v, _ := headerValue(h, name)
	return v
}

// cacheTimeout is the first half of UpdateCacheMiddleware.process_response:
// whether a response with status code and header h may be cached (or, for
// a 304 or a zero timeout, at least have its headers patched), and for how
// long. The rules are the strictest of Django 3.2, 4.2 and 5.2 (see the
// package documentation).
func (m *Middleware) cacheTimeout(r *http.Request, h http.Header, code int, cc string) (time.Duration, bool) {
	if code != http.StatusOK && code != http.StatusNotModified {
		return 0, false
	}
	strip := m.cfg.set.version() == v32
	if _, ok := h["Set-Cookie"]; ok && hasVaryHeader(h, "Cookie", strip) {
		return 0, false
	}
	if cc != "" && (strings.Contains(cc, "private") || strings.Contains(cc, "no-cache") || strings.Contains(cc, "no-store")) {
		return 0, false
	}
	if hasVaryHeader(h, "*", strip) {
		return 0, false
	}
	if m.hasPage {
		return m.pageTimeout, true
	}
	maxAge, ok := getMaxAge(h)
	if !ok {
		return m.defaultTimeout, true
	}
	if maxAge == 0 {
		return 0, false
	}
	// Beyond 100 years djcache stores forever anyway; this keeps the
	// Duration from overflowing.
	maxAge = min(max(maxAge, -maxSeconds), maxSeconds)
	return time.Duration(maxAge) * time.Second, true
}
