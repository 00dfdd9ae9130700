package djcache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/filebased"
)

// A Go service sharing a cache directory with a Django project: djcache
// reads the project's CACHES setting as it is, and then stores values
// exactly as Django does, so that each side reads the other's entries.
func ExampleParseSettings_sharingWithDjango() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "django-cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// The Django project's settings.py says:
	//
	//	CACHES = {"default": {
	//	    "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
	//	    "LOCATION": "/var/tmp/django_cache",
	//	}}
	settings, _ := json.Marshal(map[string]any{"default": map[string]any{
		"BACKEND":  "django.core.cache.backends.filebased.FileBasedCache",
		"LOCATION": dir,
	}})
	s, err := djcache.ParseSettings(settings)
	if err != nil {
		log.Fatal(err)
	}
	caches, err := djcache.NewCaches(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer caches.Close()
	c, err := caches.Default()
	if err != nil {
		log.Fatal(err)
	}

	// Django's cache.get("report") returns {'rows': 3, 'title': 'Sales'}.
	if err := c.Set(ctx, "report", map[string]any{"rows": 3, "title": "Sales"}); err != nil {
		log.Fatal(err)
	}
	// And a dict Django stored decodes into a struct.
	var report struct {
		Rows  int    `pickle:"rows"`
		Title string `pickle:"title"`
	}
	if _, err := c.Get(ctx, "report", &report); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", report)

	// The stored value is Python's pickle.dumps(value, 5), byte for byte.
	raw, _, _ := c.Driver().Get(ctx, ":1:report")
	fmt.Printf("%x\n", raw)
	// Output:
	// {Rows:3 Title:Sales}
	// 8005951e000000000000007d94288c04726f7773944b038c057469746c65948c0553616c657394752e
}
