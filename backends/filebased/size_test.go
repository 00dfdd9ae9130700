package filebased_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/djcache/djcache/backends/filebased"
	"github.com/djcache/djcache/driver"
)

// TestSize counts the cache files and adds up their sizes, and leaves a
// missing directory missing.
func TestSize(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	d, err := filebased.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Size(ctx, driver.Scope{})
	if err != nil || got != (driver.Size{}) {
		t.Errorf("Size of a missing directory = %+v, %v; want zero", got, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Size created the directory (%v)", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		if err := d.Set(ctx, k, []byte("value of "+k), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a cache file"), 0o600)
	var want driver.Size
	files, _ := filepath.Glob(filepath.Join(dir, "*"+filebased.Suffix))
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		want.Entries++
		want.Bytes += fi.Size()
	}
	if got, err := d.Size(ctx, driver.Scope{}); err != nil || got != want || want.Entries != 3 {
		t.Errorf("Size = %+v, %v; want %+v (3 entries)", got, err, want)
	}
}
