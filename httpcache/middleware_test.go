package httpcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

// counting is a handler that counts its calls and lets a test shape the
// response.
type counting struct {
	calls atomic.Int64
	fn    func(w http.ResponseWriter, r *http.Request, n int64)
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.calls.Add(1)
	if c.fn != nil {
		c.fn(w, r, n)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "render %d of %s", n, r.URL.RequestURI())
}

// do sends one request to h; headers come in name, value pairs.
func do(h http.Handler, method, target string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// plain are settings without the language and time-zone suffixes.
func plain() *Settings {
	f := false
	return &Settings{UseI18N: &f, UseTZ: &f}
}

func TestCachePageStoresAndServes(t *testing.T) {
	ctx := context.Background()
	c := newLocmem(t)
	h := &counting{}
	handler := CachePage(c, 90*time.Second, WithSettings(plain()))(h)

	before := time.Now().Unix()
	first := do(handler, "GET", "/page?a=1")
	after := time.Now().Unix()
	second := do(handler, "GET", "/page?a=1")
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times for two GETs of one URL, want 1", n)
	}
	if first.Code != 200 || second.Code != 200 || first.Body.String() != second.Body.String() {
		t.Fatalf("responses %d %q and %d %q, want the same page twice", first.Code, first.Body, second.Code, second.Body)
	}
	if cc := first.Header().Get("Cache-Control"); cc != "max-age=90" {
		t.Errorf("Cache-Control %q, want max-age=90", cc)
	}
	exp, err := http.ParseTime(first.Header().Get("Expires"))
	if err != nil {
		t.Fatalf("Expires %q: %v", first.Header().Get("Expires"), err)
	}
	if e := exp.Unix(); e < before+90 || e > after+90 {
		t.Errorf("Expires %v, want between %d and %d (now + 90 s)", exp, before+90, after+90)
	}
	if second.Header().Get("Expires") != first.Header().Get("Expires") {
		t.Errorf("a hit's Expires %q differs from the stored page's %q", second.Header().Get("Expires"), first.Header().Get("Expires"))
	}
	age, err := strconv.Atoi(second.Header().Get("Age"))
	if err != nil || age < 0 || int64(age) > time.Now().Unix()-before+1 {
		t.Errorf("a hit's Age %q, want the seconds since it was stored", second.Header().Get("Age"))
	}
	if first.Header().Get("Age") != "" {
		t.Errorf("a miss has Age %q", first.Header().Get("Age"))
	}
	if second.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("a hit's Content-Type %q", second.Header().Get("Content-Type"))
	}

	// The page is stored under Django's keys.
	r := httptest.NewRequest("GET", "/page?a=1", nil)
	key, err := GetCacheKey(ctx, c, r, "GET", WithSettings(plain()), KeyPrefix(""))
	if err != nil {
		t.Fatal(err)
	}
	want := "views.decorators.cache.cache_page..GET." + md5hex("http://example.com/page?a=1") + "." + emptyMD5
	if key != want {
		t.Errorf("page key %q, want %q", key, want)
	}
	if ok, err := c.Has(ctx, key); !ok || err != nil {
		t.Errorf("Has(%q) = %v, %v; want the stored page", key, ok, err)
	}

	// Another query string is another page.
	do(handler, "GET", "/page?a=2")
	if n := h.calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2 after a new query string", n)
	}

	// Purge drops it.
	if ok, err := Purge(ctx, c, r, WithSettings(plain())); !ok || err != nil {
		t.Errorf("Purge = %v, %v; want true", ok, err)
	}
	do(handler, "GET", "/page?a=1")
	if n := h.calls.Load(); n != 3 {
		t.Errorf("handler ran %d times, want 3 after Purge", n)
	}
}

// TestNotStored checks Django's rules for what UpdateCacheMiddleware does
// not store: each handler is requested twice and must run twice.
func TestNotStored(t *testing.T) {
	big := strings.Repeat("x", 2048)
	cases := []struct {
		name    string
		method  string
		headers []string
		fn      func(w http.ResponseWriter, r *http.Request)
		// untouched: Django leaves the headers alone (no Expires added).
		untouched bool
	}{
		{name: "POST", method: "POST", untouched: true},
		{name: "PUT", method: "PUT", untouched: true},
		{name: "404", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
		{name: "500", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{name: "301", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/x", 301) }},
		{name: "304", untouched: false, fn: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(304) }},
		{name: "private", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "Private, max-age=60")
			io.WriteString(w, "mine")
		}},
		{name: "no-store", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "secret")
		}},
		{name: "no-cache", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			io.WriteString(w, "x")
		}},
		{name: "max-age=0", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=0")
			io.WriteString(w, "x")
		}},
		{name: "cookie set, varies on Cookie, cookieless request", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t"})
			w.Header().Set("Vary", "Cookie")
			io.WriteString(w, "x")
		}},
		{name: "cookie set, varies on Cookie, request with cookies", headers: []string{"Cookie", "a=1"}, untouched: true,
			fn: func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t"})
				w.Header().Set("Vary", "Accept-Encoding, cookie")
				io.WriteString(w, "x")
			}},
		{name: "Vary *", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Vary", "*")
			io.WriteString(w, "x")
		}},
		{name: "streaming (Flush)", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part 1")
			w.(http.Flusher).Flush()
			io.WriteString(w, "part 2")
		}},
		{name: "streaming (ResponseController)", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part 1")
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}},
		{name: "body over the cap", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, big[:1000])
			io.WriteString(w, big[1000:])
		}},
		{name: "Content-Length over the cap", untouched: true, fn: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			io.WriteString(w, big)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newLocmem(t)
			h := &counting{}
			if tc.fn != nil {
				h.fn = func(w http.ResponseWriter, r *http.Request, _ int64) { tc.fn(w, r) }
			}
			m, err := New(c, WithSettings(plain()), MaxBodySize(1024))
			if err != nil {
				t.Fatal(err)
			}
			handler := m.Handler(h)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			var w *httptest.ResponseRecorder
			for range 2 {
				w = do(handler, method, "/p", tc.headers...)
			}
			if n := h.calls.Load(); n != 2 {
				t.Errorf("handler ran %d times for two requests, want 2 (nothing stored)", n)
			}
			if got := w.Header().Get("Expires") == ""; got != tc.untouched {
				t.Errorf("Expires %q; want it set: %v", w.Header().Get("Expires"), !tc.untouched)
			}
			if st := m.Stats(); st.Stores != 0 {
				t.Errorf("Stats().Stores = %d, want 0", st.Stores)
			}
			if strings.HasPrefix(tc.name, "body over") || strings.HasPrefix(tc.name, "Content-Length") {
				if w.Body.String() != big {
					t.Errorf("a large body came out as %d bytes, want %d untouched", w.Body.Len(), len(big))
				}
			}
		})
	}
}

// TestPageTimeoutWinsOverMaxAge: cache_page's timeout takes precedence
// over the response's max-age, even max-age=0, as in Django.
func TestPageTimeoutWinsOverMaxAge(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "max-age=0")
		fmt.Fprint(w, n)
	}}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	first := do(handler, "GET", "/")
	do(handler, "GET", "/")
	if n := h.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	// patch_cache_control keeps the smaller max-age.
	if cc := first.Header().Get("Cache-Control"); cc != "max-age=0" {
		t.Errorf("Cache-Control %q, want max-age=0", cc)
	}
}

// TestMiddlewareTimeout: without a page timeout, max-age decides, else
// CACHE_MIDDLEWARE_SECONDS.
func TestMiddlewareTimeout(t *testing.T) {
	c := newLocmem(t)
	secs := 42
	s := plain()
	s.CacheMiddlewareSeconds = &secs
	m, err := New(c, WithSettings(s))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(&counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		if r.URL.Path == "/maxage" {
			w.Header().Set("Cache-Control", "public, max-age=7")
		}
		io.WriteString(w, "x")
	}})
	ctx := context.Background()
	for _, tc := range []struct{ path, cc string }{{"/default", "max-age=42"}, {"/maxage", "public, max-age=7"}} {
		w := do(h, "GET", tc.path)
		if got := w.Header().Get("Cache-Control"); got != tc.cc {
			t.Errorf("%s: Cache-Control %q, want %q", tc.path, got, tc.cc)
		}
		r := httptest.NewRequest("GET", tc.path, nil)
		key, err := m.GetCacheKey(ctx, r, "GET")
		if err != nil || key == "" {
			t.Fatalf("%s: GetCacheKey = %q, %v", tc.path, key, err)
		}
		ttl, err := c.TTL(ctx, key)
		want, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(tc.cc, "public, "), "max-age="))
		if err != nil || ttl <= 0 || ttl > time.Duration(want)*time.Second {
			t.Errorf("%s: stored for %v (%v), want at most %ds", tc.path, ttl, err, want)
		}
	}
}

func TestHeadServedFromGet(t *testing.T) {
	c := newLocmem(t)
	h := &counting{}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	get := do(handler, "GET", "/h")
	head := do(handler, "HEAD", "/h")
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1: HEAD is served from the GET's page", n)
	}
	if head.Body.Len() != 0 {
		t.Errorf("HEAD has a body: %q", head.Body)
	}
	if cl := head.Header().Get("Content-Length"); cl != strconv.Itoa(get.Body.Len()) {
		t.Errorf("HEAD Content-Length %q, want %d", cl, get.Body.Len())
	}

	// A HEAD that misses is stored under the HEAD key; a GET does not use it.
	do(handler, "HEAD", "/only-head")
	do(handler, "HEAD", "/only-head")
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2", n)
	}
	do(handler, "GET", "/only-head")
	if n := h.calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3: a GET never uses a HEAD page", n)
	}
}

// TestVary: two values of a header the page varies on are two pages.
func TestVary(t *testing.T) {
	t.Run("no i18n", func(t *testing.T) {
		c := newLocmem(t)
		h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Vary", "Accept-Language")
			io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
		}}
		handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
		for range 2 {
			for _, lang := range []string{"de", "fr"} {
				if got := do(handler, "GET", "/v", "Accept-Language", lang).Body.String(); got != "lang="+lang {
					t.Errorf("Accept-Language %s got %q", lang, got)
				}
			}
		}
		if n := h.calls.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2 (one page per language)", n)
		}
	})
	t.Run("i18n with LocaleMiddleware's language", func(t *testing.T) {
		// With USE_I18N, Django drops Accept-Language from the learned
		// headers and puts request.LANGUAGE_CODE in the key instead.
		c := newLocmem(t)
		tr := true
		s := &Settings{UseI18N: &tr, LanguageCode: "en"}
		lang := Language(func(r *http.Request) string {
			l, _, _ := strings.Cut(r.Header.Get("Accept-Language"), ",")
			return l
		})
		h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
			w.Header().Set("Vary", "Accept-Language")
			io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
		}}
		handler := CachePage(c, time.Minute, WithSettings(s), lang)(h)
		for range 2 {
			for _, l := range []string{"de", "fr"} {
				if got := do(handler, "GET", "/v", "Accept-Language", l).Body.String(); got != "lang="+l {
					t.Errorf("Accept-Language %s got %q", l, got)
				}
			}
		}
		if n := h.calls.Load(); n != 2 {
			t.Errorf("handler ran %d times, want 2", n)
		}
		r := httptest.NewRequest("GET", "/v", nil)
		r.Header.Set("Accept-Language", "fr")
		key, err := GetCacheKey(context.Background(), c, r, "GET", WithSettings(s), lang)
		if err != nil || !strings.HasSuffix(key, "."+emptyMD5+".fr.America/Chicago") {
			t.Errorf("key %q, %v: want the language and Django's default zone at the end", key, err)
		}
	})
}

// TestConcurrentVary: 100 goroutines request one URL with random values of
// the header it varies on; none may see another value's page.
func TestConcurrentVary(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Vary", "X-Variant, Accept-Encoding")
		io.WriteString(w, "variant="+r.Header.Get("X-Variant")+";enc="+r.Header.Get("Accept-Encoding"))
	}}
	m, err := New(c, WithSettings(plain()))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Handler(h)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 20 {
				v := strconv.Itoa(rng.IntN(10))
				enc := []string{"gzip", "br", ""}[rng.IntN(3)]
				hs := []string{"X-Variant", v}
				if enc != "" {
					hs = append(hs, "Accept-Encoding", enc)
				}
				w := do(handler, "GET", "/shared?x=1", hs...)
				if want := "variant=" + v + ";enc=" + enc; w.Body.String() != want {
					errs <- fmt.Sprintf("X-Variant %s, Accept-Encoding %q: got %q", v, enc, w.Body.String())
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := m.Stats()
	t.Logf("handler calls %d, %+v", h.calls.Load(), st)
	if st.Hits == 0 {
		t.Errorf("no hits in 2000 requests over 30 variants")
	}
}

// TestSingleFlight: concurrent misses of one page render it once.
func TestSingleFlight(t *testing.T) {
	c := newLocmem(t)
	gate := make(chan struct{})
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		<-gate
		fmt.Fprint(w, "rendered ", n)
	}}
	m, err := New(c, WithSettings(plain()))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Handler(h)
	const n = 8
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = do(handler, "GET", "/slow").Body.String()
		}()
	}
	// Wait until one renders and the others wait for it.
	for m.Stats().Waits < n-1 || h.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if calls := h.calls.Load(); calls != 1 {
		t.Errorf("handler ran %d times for %d concurrent misses, want 1", calls, n)
	}
	for i, b := range bodies {
		if b != "rendered 1" {
			t.Errorf("request %d got %q", i, b)
		}
	}
}

// TestSingleFlightUncacheable: the waiters of an uncacheable render are
// released as soon as it shows it cannot be stored, and render themselves.
func TestSingleFlightUncacheable(t *testing.T) {
	c := newLocmem(t)
	gate := make(chan struct{})
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Cache-Control", "private")
		w.WriteHeader(200)
		if n == 1 {
			<-gate // the leader is still running when the others render
		}
		fmt.Fprint(w, "private ", n)
	}}
	m, err := New(c, WithSettings(plain()))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Handler(h)
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(handler, "GET", "/private")
	}()
	for h.calls.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	if got := do(handler, "GET", "/private").Body.String(); got != "private 2" {
		t.Errorf("second request got %q, want its own render", got)
	}
	close(gate)
	<-done
}

func TestPanicStoresNothing(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		io.WriteString(w, "half a page")
		if n == 1 {
			panic("boom")
		}
	}}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the handler's panic did not propagate")
			}
		}()
		do(handler, "GET", "/boom")
	}()
	w := do(handler, "GET", "/boom")
	if n := h.calls.Load(); n != 2 || w.Body.String() != "half a page" {
		t.Errorf("after a panic: %d calls, body %q; want the handler to run again", n, w.Body)
	}
}

// TestCacheFailure: a failing cache never fails the request.
func TestCacheFailure(t *testing.T) {
	c := newLocmem(t)
	m, err := New(c, WithSettings(plain()), CacheStatus("djcache"), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h := &counting{}
	handler := m.Handler(h)
	c.Close() // every call now fails with ErrClosed
	for range 2 {
		w := do(handler, "GET", "/down")
		if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "render") {
			t.Fatalf("with the cache down: %d %q", w.Code, w.Body)
		}
		if cs := w.Header().Get("Cache-Status"); cs != "djcache; fwd=miss; detail=error" {
			t.Errorf("Cache-Status %q", cs)
		}
	}
	if st := m.Stats(); st.Errors != 2 || h.calls.Load() != 2 {
		t.Errorf("Stats %+v, calls %d; want 2 errors and 2 renders", st, h.calls.Load())
	}
}

func TestConditional(t *testing.T) {
	c := newLocmem(t)
	lm := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		w.Header().Set("X-Other", "dropped from a 304")
		io.WriteString(w, "body")
	}}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	do(handler, "GET", "/c") // store
	cases := []struct {
		name    string
		headers []string
		want    int
	}{
		{"If-None-Match matches", []string{"If-None-Match", `"v0", W/"v1"`}, 304},
		{"If-None-Match differs", []string{"If-None-Match", `"v0"`}, 200},
		{"If-None-Match *", []string{"If-None-Match", `*`}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", lm.Add(time.Hour).Format(http.TimeFormat)}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", lm.Add(-time.Hour).Format(http.TimeFormat)}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"v0"`, "If-Modified-Since", lm.Add(time.Hour).Format(http.TimeFormat)}, 200},
		{"If-Match differs", []string{"If-Match", `"v0"`}, 412},
		{"If-Match weak never matches", []string{"If-Match", `W/"v1"`}, 412},
		{"If-Match matches", []string{"If-Match", `"v1"`}, 200},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", lm.Add(-time.Hour).Format(http.TimeFormat)}, 412},
		{"If-Match before If-None-Match", []string{"If-Match", `"v0"`, "If-None-Match", `"v1"`}, 412},
	}
	for _, tc := range cases {
		w := do(handler, "GET", "/c", tc.headers...)
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, w.Code, tc.want)
		}
		if w.Code == 304 {
			if w.Body.Len() != 0 || w.Header().Get("ETag") != `"v1"` || w.Header().Get("Expires") == "" || w.Header().Get("X-Other") != "" {
				t.Errorf("%s: 304 with body %q and headers %v", tc.name, w.Body, w.Header())
			}
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	// A HEAD is never answered with 304 (Django's ConditionalGetMiddleware
	// handles GET only).
	if w := do(handler, "HEAD", "/c", "If-None-Match", `"v1"`); w.Code != 200 {
		t.Errorf("HEAD with a matching If-None-Match: %d, want 200", w.Code)
	}
}

func TestCacheStatus(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Vary", "Cookie")
		io.WriteString(w, "x")
	}}
	handler := CachePage(c, time.Minute, WithSettings(plain()), CacheStatus("djcache"))(h)
	steps := []struct {
		method, cookie, want string
	}{
		{"GET", "a", "djcache; fwd=uri-miss; stored"},
		{"GET", "a", "djcache; hit; ttl="},
		{"GET", "b", "djcache; fwd=vary-miss; stored"},
		{"POST", "b", "djcache; fwd=method"},
	}
	for _, s := range steps {
		w := do(handler, s.method, "/s", "Cookie", s.cookie)
		if got := w.Header().Get("Cache-Status"); !strings.HasPrefix(got, s.want) {
			t.Errorf("%s with cookie %s: Cache-Status %q, want %q", s.method, s.cookie, got, s.want)
		}
	}
}

// TestAuthorization: a response to a request with credentials varies on
// Authorization unless it is public (Django 5.2).
func TestAuthorization(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		if r.URL.Path == "/public" {
			w.Header().Set("Cache-Control", "public")
		}
		io.WriteString(w, "for "+r.Header.Get("Authorization"))
	}}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	alice := do(handler, "GET", "/me", "Authorization", "Bearer alice")
	bob := do(handler, "GET", "/me", "Authorization", "Bearer bob")
	if alice.Body.String() != "for Bearer alice" || bob.Body.String() != "for Bearer bob" {
		t.Errorf("alice got %q, bob got %q", alice.Body, bob.Body)
	}
	if v := alice.Header().Get("Vary"); v != "Authorization" {
		t.Errorf("Vary %q, want Authorization", v)
	}
	do(handler, "GET", "/public", "Authorization", "Bearer alice")
	if w := do(handler, "GET", "/public", "Authorization", "Bearer bob"); w.Body.String() != "for Bearer alice" || w.Header().Get("Vary") != "" {
		t.Errorf("a public page: %q with Vary %q; want the shared page", w.Body, w.Header().Get("Vary"))
	}
}

// TestUnreadableEntryLeftAlone: a value under the page key that is not a
// page of this package (such as Django's pickled HttpResponse) is neither
// served nor overwritten.
func TestUnreadableEntryLeftAlone(t *testing.T) {
	ctx := context.Background()
	c := newLocmem(t)
	h := &counting{}
	m, err := New(c, WithSettings(plain()))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Handler(h)
	do(handler, "GET", "/u") // learn the header list and store a page
	r := httptest.NewRequest("GET", "/u", nil)
	key, err := m.GetCacheKey(ctx, r, "GET")
	if err != nil || key == "" {
		t.Fatal(key, err)
	}
	for _, foreign := range []any{map[string]any{"class": "HttpResponse"}, []byte("not a page")} {
		if err := c.Set(ctx, key, foreign); err != nil {
			t.Fatal(err)
		}
		before := h.calls.Load()
		w := do(handler, "GET", "/u")
		if h.calls.Load() != before+1 || !strings.HasPrefix(w.Body.String(), "render") {
			t.Errorf("%T: served %q from an entry that is not a page", foreign, w.Body)
		}
		var still any
		if found, err := c.Get(ctx, key, &still); !found || err != nil {
			t.Errorf("%T: the foreign entry was replaced or removed (%v, %v)", foreign, found, err)
		}
	}
	if st := m.Stats(); st.Unreadable != 2 {
		t.Errorf("Stats().Unreadable = %d, want 2", st.Unreadable)
	}
}

func TestHandlerWithoutWrite(t *testing.T) {
	c := newLocmem(t)
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {}}
	handler := CachePage(c, time.Minute, WithSettings(plain()))(h)
	for range 2 {
		if w := do(handler, "GET", "/empty"); w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("an empty 200 is a page too: handler ran %d times", n)
	}
}

func TestFromCaches(t *testing.T) {
	s, err := djcache.ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "httpcache-fromcaches-default"},
		"pages": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "httpcache-fromcaches-pages"}}`))
	if err != nil {
		t.Fatal(err)
	}
	caches, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer caches.Close()
	h := &counting{}
	handler := CachePage(nil, time.Minute, FromCaches(caches, "pages"), WithSettings(plain()))(h)
	do(handler, "GET", "/a")
	do(handler, "GET", "/a")
	if n := h.calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	pages, _ := caches.Cache("pages")
	r := httptest.NewRequest("GET", "/a", nil)
	if key, err := GetCacheKey(context.Background(), pages, r, "GET", WithSettings(plain())); key == "" || err != nil {
		t.Errorf("no page in the alias's cache: %q, %v", key, err)
	}
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nope") {
				t.Errorf("CachePage with an unknown alias: recovered %v", r)
			}
		}()
		CachePage(nil, time.Minute, FromCaches(caches, "nope"))
	}()
}

func TestNewFromSettings(t *testing.T) {
	s, err := ParseSettings([]byte(`{
		"CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "httpcache-settings-default"},
		           "site": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "httpcache-settings-site"}},
		"CACHE_MIDDLEWARE_SECONDS": 30, "CACHE_MIDDLEWARE_KEY_PREFIX": "shop", "CACHE_MIDDLEWARE_ALIAS": "site",
		"USE_I18N": true, "LANGUAGE_CODE": "de", "USE_TZ": true, "TIME_ZONE": "Europe/Berlin"}`))
	if err != nil {
		t.Fatal(err)
	}
	caches, err := djcache.NewCaches(s.Caches, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer caches.Close()
	m, err := NewFromSettings(caches, s)
	if err != nil {
		t.Fatal(err)
	}
	w := do(m.Handler(&counting{}), "GET", "/x")
	if cc := w.Header().Get("Cache-Control"); cc != "max-age=30" {
		t.Errorf("Cache-Control %q, want max-age=30", cc)
	}
	key, err := m.GetCacheKey(context.Background(), httptest.NewRequest("GET", "/x", nil), "GET")
	want := "views.decorators.cache.cache_page.shop.GET." + md5hex("http://example.com/x") + "." + emptyMD5 + ".de.Europe/Berlin"
	if key != want || err != nil {
		t.Errorf("key %q, %v; want %q", key, err, want)
	}
	if _, err := ParseSettings([]byte(`{"CACHE_MIDDLEWARE_SECOND": 5}`)); err == nil || !strings.Contains(err.Error(), "CACHE_MIDDLEWARE_SECOND") {
		t.Errorf("a misspelt setting: %v", err)
	}
	if _, err := ParseSettings([]byte(`{"DJANGO_VERSION": "1.11"}`)); err == nil {
		t.Error("DJANGO_VERSION 1.11 accepted")
	}
	if _, err := NewFromSettings(caches, &Settings{CacheMiddlewareAlias: "missing"}); err == nil {
		t.Error("an unknown CACHE_MIDDLEWARE_ALIAS accepted")
	}
}

func TestPageRoundTrip(t *testing.T) {
	p := &page{status: 200, header: http.Header{"Content-Type": {"text/html"}, "Set-Cookie": {"a=1", "b=2"}, "Connection": {"close"}}, body: []byte("<p>hi</p>")}
	q, err := unmarshalPage(p.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if q.status != 200 || string(q.body) != "<p>hi</p>" || len(q.header) != 2 || len(q.header["Set-Cookie"]) != 2 || q.header.Get("Connection") != "" {
		t.Errorf("round trip gave %+v", q)
	}
	for _, bad := range []string{"", "djcache-page\x01", "djcache-page\x01\xc8\x01\x05", "djcache-page\x01\xc8\x01\xff\xff\xff\xff\x0f"} {
		if _, err := unmarshalPage([]byte(bad)); !errors.Is(err, errNotPage) {
			t.Errorf("unmarshalPage(%q) = %v, want errNotPage", bad, err)
		}
	}
}
