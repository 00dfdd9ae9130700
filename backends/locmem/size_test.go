package locmem_test

import (
	"context"
	"testing"
	"time"

	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

func TestSize(t *testing.T) {
	ctx := context.Background()
	d, err := locmem.New(t.Name(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if err := d.Set(ctx, k, []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.Size(ctx, driver.Scope{})
	if want := (driver.Size{Entries: 2, Bytes: -1}); err != nil || got != want {
		t.Errorf("Size = %+v, %v; want %+v", got, err, want)
	}
}
