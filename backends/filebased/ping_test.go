package filebased_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
)

func pingCache(t *testing.T, dir string) *djcache.Cache {
	t.Helper()
	d, err := filebased.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPingDirectory: Ping checks that the directory can be written, as the
// first write needs, creating it if it is missing, and leaves no file
// behind; a path that is a file is an error naming it.
func TestPingDirectory(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "a", "cache")
	c := pingCache(t, dir)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping of a missing directory: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("after Ping, %s: %v, %v; want a directory with mode 0700", dir, fi, err)
	}
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || !strings.HasSuffix(names[0].Name(), ".djcache") {
		t.Errorf("after Ping the directory holds %v; want the one entry only", names)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err = pingCache(t, file).Ping(ctx)
	var oe *djcache.OpError
	if !errors.As(err, &oe) || oe.Op != "ping" || !strings.Contains(err.Error(), file+" is not a directory") {
		t.Errorf("Ping of a file: %v; want an *OpError ping saying it is not a directory", err)
	}
}

// TestPingReadOnly: a directory the process cannot write in fails Ping.
func TestPingReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes in any directory")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	err := pingCache(t, dir).Ping(t.Context())
	if !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Ping of a read-only directory: %v; want a permission error naming it", err)
	}
}
