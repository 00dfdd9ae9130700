package httpcache

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/internal/testenv"
)

// TestRedis runs a page through the middleware on Redis with the pickle
// serializer, as a cache shared with Django is configured.
func TestRedis(t *testing.T) {
	const addr = "127.0.0.1:6379"
	testenv.NeedTCP(t, "Redis", addr, "run .ci/services as root to start Redis on 6379")
	prefix := fmt.Sprintf("httpcache-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c, err := djcache.Open("redis://" + addr + "/0?serializer=pickle&key_prefix=" + prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer func() {
		c.Clear(ctx)
		c.Close()
	}()
	h := &counting{fn: func(w http.ResponseWriter, r *http.Request, n int64) {
		w.Header().Set("Vary", "Accept-Encoding")
		fmt.Fprintf(w, "render %d for %q", n, r.Header.Get("Accept-Encoding"))
	}}
	m, err := New(c, WithSettings(plain()), CacheStatus("djcache"))
	if err != nil {
		t.Fatal(err)
	}
	handler := m.Handler(h)
	for range 2 {
		for _, enc := range []string{"gzip", "br"} {
			w := do(handler, "GET", "/r?x=1", "Accept-Encoding", enc)
			if w.Code != 200 {
				t.Fatalf("%d %q", w.Code, w.Body)
			}
		}
	}
	if n := h.calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2 (one page per encoding)", n)
	}
	if st := m.Stats(); st.Hits != 2 || st.Stores != 2 || st.Errors != 0 {
		t.Errorf("Stats %+v", st)
	}
	// The header list is a pickled list of str, as Django stores it.
	r := do(handler, "HEAD", "/r?x=1", "Accept-Encoding", "gzip")
	if r.Header().Get("Cache-Status") == "" || h.calls.Load() != 2 {
		t.Errorf("HEAD not served from the GET page: %v", r.Header())
	}
	var list []string
	uri := "http://example.com/r?x=1"
	if found, err := c.Get(ctx, headerKeyHead+"."+md5hex(uri), &list); !found || err != nil || len(list) != 1 || list[0] != "HTTP_ACCEPT_ENCODING" {
		t.Errorf("header list %q (%v, %v)", list, found, err)
	}
}
