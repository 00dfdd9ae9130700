package redis

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache/driver"
)

// TestSize counts the keys Clear would delete, and adds up their lengths;
// a cache whose keys cannot be told from others' gets the whole database's
// DBSIZE, marked as such.
func TestSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		client func(testing.TB) goredis.UniversalClient
	}{
		{"single", func(t testing.TB) goredis.UniversalClient { return singleClient(t) }},
		{"cluster", func(t testing.TB) goredis.UniversalClient { return clusterClient(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c := tc.client(t)
			ns := uniqueName("size")
			d := New(c, &Options{Namespace: ns})
			defer d.Clear(ctx, driver.Scope{})
			if n, err := d.dbSize(ctx); err != nil || n > sizeScanLimit-10 {
				t.Skipf("DBSIZE = %d, %v: too many keys of other tests for a count", n, err)
			}
			scope := driver.Scope{Prefix: "p", DefaultKeyFunc: true}
			for k, v := range map[string]string{"p:1:a": "12345", "p:2:b": "123", "p:-1:c": "1", "p:x": "not a made key", "q:1:a": "other prefix"} {
				if err := d.Set(ctx, k, []byte(v), time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := d.Size(ctx, scope)
			if want := (driver.Size{Entries: 3, Bytes: 9}); err != nil || got != want {
				t.Errorf("Size(%+v) = %+v, %v; want %+v", scope, got, err, want)
			}
			// A custom key function and a prefix: the keys "p:*".
			got, err = d.Size(ctx, driver.Scope{Prefix: "p"})
			if want := (driver.Size{Entries: 4, Bytes: 23}); err != nil || got != want {
				t.Errorf("Size with a custom key function = %+v, %v; want %+v", got, err, want)
			}
			// Neither prefix nor namespace nor default key function: the
			// whole database.
			whole := New(c, nil)
			got, err = whole.Size(ctx, driver.Scope{})
			if err != nil || got.Entries < 5 || got.Bytes != -1 || got.Covers != "the whole database" {
				t.Errorf("Size with no scope = %+v, %v; want the whole database's DBSIZE (at least 5), bytes -1", got, err)
			}
		})
	}
}
