package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/httpcache"
)

// Django's @cache_page(60 * 15) on a net/http handler: the second request
// is answered from the cache, with the headers Django adds.
func ExampleCachePage() {
	c, err := djcache.Open("locmem://example-cache-page")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	renders := 0
	prices := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		renders++
		fmt.Fprintf(w, "prices, render %d", renders)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /prices", httpcache.CachePage(c, 15*time.Minute)(prices))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 2 {
		resp, err := http.Get(srv.URL + "/prices")
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s (Cache-Control: %s)\n", body, resp.Header.Get("Cache-Control"))
	}
	// Output:
	// prices, render 1 (Cache-Control: max-age=900)
	// prices, render 1 (Cache-Control: max-age=900)
}

// The per-site middleware from settings pasted from Django, CACHES
// included.
func ExampleNewFromSettings() {
	s, err := httpcache.ParseSettings([]byte(`{
	  "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
	                         "LOCATION": "example-site"}},
	  "CACHE_MIDDLEWARE_SECONDS": 300,
	  "CACHE_MIDDLEWARE_KEY_PREFIX": "shop",
	  "LANGUAGE_CODE": "en-us",
	  "TIME_ZONE": "UTC"
	}`))
	if err != nil {
		log.Fatal(err)
	}
	caches, err := djcache.NewCaches(s.Caches, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer caches.Close()
	mw, err := httpcache.NewFromSettings(caches, s)
	if err != nil {
		log.Fatal(err)
	}
	site := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "home")
	}))

	w := httptest.NewRecorder()
	site.ServeHTTP(w, httptest.NewRequest("GET", "http://shop.example/", nil))
	fmt.Println(w.Header().Get("Cache-Control"))

	// Django's key for the page (before the cache's KEY_PREFIX and version).
	key, err := mw.GetCacheKey(context.Background(), httptest.NewRequest("GET", "http://shop.example/", nil), "GET")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(key)
	// Output:
	// max-age=300
	// views.decorators.cache.cache_page.shop.GET.0521421cd293d3dce388a03a37b71df1.d41d8cd98f00b204e9800998ecf8427e.en-us.UTC
}

// Purging the page a Django application (or this package) cached for a
// URL, after the data it shows changed.
func ExamplePurge() {
	ctx := context.Background()
	c, err := djcache.Open("locmem://example-purge")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	page := httpcache.CachePage(c, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "product 42")
	}))
	page.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/products/42", nil))

	// cache_page's key prefix is "" unless given: pass the same to Purge.
	purged, err := httpcache.Purge(ctx, c, httptest.NewRequest("GET", "/products/42", nil), httpcache.KeyPrefix(""))
	fmt.Println(purged, err)
	// Output:
	// true <nil>
}

func ExampleMakeTemplateFragmentKey() {
	// {% cache 500 sidebar request.user.username %} for user "alice":
	fmt.Println(httpcache.MakeTemplateFragmentKey("sidebar", "alice"))
	fmt.Println(httpcache.MakeTemplateFragmentKey("a.fragment"))
	// Output:
	// template.cache.sidebar.770553c33dfa3a641da8312d60b3b9ef
	// template.cache.a.fragment.d41d8cd98f00b204e9800998ecf8427e
}

func ExamplePatchCacheControl() {
	h := http.Header{}
	h.Set("Cache-Control", "private, max-age=3600")
	httpcache.PatchCacheControl(h, "public", "max-age=600", "no-cache=Set-Cookie")
	fmt.Println(h.Get("Cache-Control"))

	httpcache.PatchVaryHeaders(h, "Accept-Encoding", "Cookie")
	httpcache.PatchVaryHeaders(h, "cookie", "Accept-Language")
	fmt.Println(h.Get("Vary"))
	// Output:
	// max-age=600, public, no-cache=Set-Cookie
	// Accept-Encoding, Cookie, Accept-Language
}
