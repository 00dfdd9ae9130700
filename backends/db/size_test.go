package db

import (
	"context"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

// TestSize counts the rows and adds up the stored values' lengths, and
// leaves a missing table missing.
func TestSize(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		p := newPlace(t, e)
		d := p.open(t, "")
		defer d.Close()
		got, err := d.Size(ctx, driver.Scope{})
		if err != nil || got != (driver.Size{}) {
			t.Errorf("Size of a missing table = %+v, %v; want zero", got, err)
		}
		if exists, err := d.TableExists(ctx); err != nil || exists {
			t.Errorf("after Size, TableExists = %v, %v; want false: Size must not create the table", exists, err)
		}
		want := driver.Size{Bytes: 0}
		for _, v := range []string{"a", "bb", "a longer value"} {
			if err := d.Set(ctx, ":1:"+v, []byte(v), time.Time{}); err != nil {
				t.Fatal(err)
			}
			want.Entries++
			want.Bytes += int64(len(encodeValue([]byte(v))))
		}
		if got, err := d.Size(ctx, driver.Scope{}); err != nil || got != want {
			t.Errorf("Size = %+v, %v; want %+v", got, err, want)
		}
	})
}
