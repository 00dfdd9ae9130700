package filebased_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
)

// TestRefuseRootAndHome: the root directory is refused always, and the
// home directory unless foreign files are allowed, by New and by Open,
// however the path is spelt, before any I/O.
func TestRefuseRootAndHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home) // os.UserHomeDir on Unix
	if h, err := os.UserHomeDir(); err != nil || h != home {
		t.Skipf("os.UserHomeDir = %q, %v: does not follow $HOME here", h, err)
	}
	for _, tc := range []struct{ url, want string }{
		{"file:///", `directory "/" is the root of the file system`},
		{"file:///tmp/..", `directory "/" is the root`},
		{"file:///tmp/../?allow_foreign_files=true", `directory "/" is the root`},
		{"file://" + home, "is the home directory"},
		{"file://" + home + "/", "is the home directory"},
		{"file://" + home + "/x/..", "is the home directory"},
	} {
		c, err := djcache.Open(tc.url)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded, want an error with %q", tc.url, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error with %q", tc.url, err, tc.want)
		}
		if strings.Contains(tc.want, "home") && !strings.Contains(err.Error(), "allow_foreign_files=true") {
			t.Errorf("Open(%q) = %v, want the parameter to set", tc.url, err)
		}
	}
	if _, err := filebased.New("/", nil); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf(`New("/") = %v, want an error`, err)
	}
	if _, err := filebased.New(home, nil); err == nil || !strings.Contains(err.Error(), "home") {
		t.Errorf("New(home) = %v, want an error", err)
	}
	if _, err := filebased.New(home, &filebased.Options{AllowForeignFiles: true}); err != nil {
		t.Errorf("New(home) with AllowForeignFiles: %v", err)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("the checks wrote in the home directory: %v", entries)
	}
	// A directory inside home is fine.
	c, err := djcache.Open("file://" + filepath.Join(home, ".cache", "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(t.Context(), "k", 1); err != nil {
		t.Error(err)
	}
}

// TestForeignFiles: the first call on a directory that holds files other
// than Django's and djcache's fails, naming the directory, the first
// foreign file and the parameter, and so does every later call, without
// writing anything; allow_foreign_files=true (also as Django OPTIONS)
// accepts it.
func TestForeignFiles(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("mine"))
	writeFile(t, filepath.Join(dir, "b.go"), []byte("package b"))
	writeFile(t, filepath.Join(dir, fooFile), unhex(t, djangoNone+djangoBarBlob))

	c, err := djcache.Open("file://" + dir)
	if err != nil {
		t.Fatalf("Open: %v (the check belongs to the first call: Open does no I/O)", err)
	}
	defer c.Close()
	for range 2 {
		err = c.Set(ctx, "k", "v")
		var fe *filebased.ForeignFilesError
		if !errors.As(err, &fe) || fe.Dir != dir || fe.File != "b.go" || fe.Others != 1 {
			t.Fatalf("Set in a directory with foreign files = %v (%+v), want a *ForeignFilesError naming b.go and 1 other", err, fe)
		}
		for _, want := range []string{dir, `"b.go"`, "allow_foreign_files=true"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	}
	var v string
	if _, err := c.Get(ctx, "foo", &v); err == nil {
		t.Error("Get in a directory with foreign files succeeded")
	}
	if err := c.Clear(ctx); err == nil {
		t.Error("Clear in a directory with foreign files succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("the directory holds %d names after the refused calls, want the 3 it had", len(entries))
	}

	// One foreign file, named alone.
	one := t.TempDir()
	writeFile(t, filepath.Join(one, "x.djcache"), nil)
	d, err := filebased.New(one, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Delete(ctx, ":1:k"); err == nil || !strings.Contains(err.Error(), `holds "x.djcache", which is not a cache entry`) {
		t.Errorf("Delete = %v, want an error naming x.djcache", err)
	}

	// allow_foreign_files=true: the URL parameter, and Django's OPTIONS.
	c2, err := djcache.Open("file://" + dir + "?allow_foreign_files=true")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Set(ctx, "k", "v"); err != nil {
		t.Errorf("Set with allow_foreign_files=true: %v", err)
	}
	if v, found, err := djcache.Get[string](ctx, c2, "foo"); err != nil || !found || v != "bar" {
		t.Errorf("Get(foo) with allow_foreign_files=true = %q, %v, %v; want Django's bar", v, found, err)
	}
	loc, _ := json.Marshal(dir)
	s, err := djcache.ParseSettings([]byte(`{"CACHES": {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
		"LOCATION": ` + string(loc) + `, "OPTIONS": {"ALLOW_FOREIGN_FILES": true}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if u, err := cs.URL("default"); err != nil || !strings.Contains(u, "allow_foreign_files=true") {
		t.Errorf("URL of an alias with OPTIONS ALLOW_FOREIGN_FILES = %q, %v", u, err)
	}
	dc, err := cs.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.Set(ctx, "k", "v"); err != nil {
		t.Errorf("Set through Django settings with OPTIONS ALLOW_FOREIGN_FILES: %v", err)
	}
	if _, err := djcache.Open("file://" + dir + "?allow_foreign_files=maybe"); err == nil {
		t.Error("allow_foreign_files=maybe accepted")
	}
}

// TestSharedWithDjango: a directory that holds what Django and djcache
// write (entries, their temporary files) passes the check, as do
// lost+found and a directory that does not exist yet; files added after
// the first call are not looked for again.
func TestSharedWithDjango(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, name := range []string{fooFile, nonASCIIFile, "tmpk2_x9a0q", "tmp-djcache-123456", "0123456789abcdef0123456789abcdef.djcache"} {
		writeFile(t, filepath.Join(dir, name), unhex(t, djangoNone+djangoBarBlob))
	}
	if err := os.Mkdir(filepath.Join(dir, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := djcache.Open("file://" + dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, found, err := djcache.Get[string](ctx, c, "foo"); err != nil || !found || v != "bar" {
		t.Errorf("Get(foo) in a directory shared with Django = %q, %v, %v", v, found, err)
	}

	missing := filepath.Join(t.TempDir(), "new")
	d, err := filebased.New(missing, nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Has(ctx, "k"); err != nil {
		t.Errorf("Has on a directory not yet made: %v", err)
	}
	writeFile(t, filepath.Join(missing, "later.txt"), nil)
	if err := c2.Set(ctx, "k", 1); err != nil {
		t.Errorf("Set after a foreign file appeared: %v (the directory is checked once)", err)
	}
}
