package httpcache

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/internal/testenv"
)

// benchPage is a 10 KB page that takes no time to render: the benchmark
// measures the middleware's own cost.
var benchPage = strings.Repeat("<p>cached page</p>\n", 512)

func benchHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Vary", "Accept-Encoding")
		io.WriteString(w, benchPage)
	})
}

func benchServe(b *testing.B, h http.Handler) {
	r := httptest.NewRequest("GET", "/bench?page=1", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(httptest.NewRecorder(), r) // store the page
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatal(w.Code)
			}
		}
	})
}

// BenchmarkHandlerAlone is the handler without the cache, for comparison.
func BenchmarkHandlerAlone(b *testing.B) { benchServe(b, benchHandler()) }

// BenchmarkHitLocmem is a cached page served through the middleware from
// locmem.
func BenchmarkHitLocmem(b *testing.B) {
	c := newLocmem(b)
	benchServe(b, CachePage(c, time.Hour, WithSettings(plain()))(benchHandler()))
}

// BenchmarkHitRedis is a cached page served through the middleware from
// Redis with the pickle serializer.
func BenchmarkHitRedis(b *testing.B) {
	const addr = "127.0.0.1:6379"
	testenv.NeedTCP(b, "Redis", addr, "run .ci/services as root to start Redis on 6379")
	c, err := djcache.Open(fmt.Sprintf("redis://%s/0?serializer=pickle&key_prefix=httpcache-bench-%d", addr, os.Getpid()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	defer c.Clear(b.Context())
	benchServe(b, CachePage(c, time.Hour, WithSettings(plain()))(benchHandler()))
}
