package djcacheprom_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/djcacheotel/djcacheprom"
)

// A service that instruments every cache of its CACHES setting and
// exposes the metrics on /metrics for Prometheus to scrape.
func Example() {
	settings, err := djcache.ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "example-metrics"}}`))
	if err != nil {
		panic(err)
	}
	caches, err := djcache.NewCaches(settings, nil)
	if err != nil {
		panic(err)
	}
	defer caches.Close()

	col := djcacheprom.NewCollector(nil)
	caches.Observe(col) // every alias, opened now or later
	reg := prometheus.NewRegistry()
	reg.MustRegister(col)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/greeting", func(w http.ResponseWriter, r *http.Request) {
		c, _ := caches.Default()
		var s string
		err := c.GetOrSet(r.Context(), "greeting", &s, func(context.Context) (any, error) {
			return "hello", nil // an expensive query, in real life
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, s)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 3 {
		resp, err := http.Get(srv.URL + "/greeting")
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "djcache_hits_total") || strings.HasPrefix(line, "djcache_misses_total") || strings.HasPrefix(line, "djcache_fills_total") {
			fmt.Print(line)
		}
	}
	// Output:
	// djcache_fills_total{alias="default",backend="locmem",op="get_or_set"} 1
	// djcache_hits_total{alias="default",backend="locmem",op="get_or_set"} 2
	// djcache_misses_total{alias="default",backend="locmem",op="get_or_set"} 1
}
