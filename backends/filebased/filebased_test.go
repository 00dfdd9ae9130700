package filebased_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
)

// harness gives every Driver of one subtest the same new directory.
type harness struct{ dir string }

func (h *harness) MakeDriver(context.Context) (driver.Driver, error) {
	return filebased.New(h.dir, nil)
}

func (h *harness) Close() {}

func newHarness(_ context.Context, t *testing.T) (djcachetest.Harness, error) {
	return &harness{dir: filepath.Join(t.TempDir(), "cache")}, nil
}

func TestConformance(t *testing.T) {
	djcachetest.RunConformanceTests(t, newHarness, nil)
}

func TestDriver(t *testing.T) {
	d := newDriver(t, nil)
	if err := djcachetest.TestDriver(t.Context(), d, nil); err != nil {
		t.Fatal(err)
	}
}

// newDriver returns a Driver on a new directory (not yet created).
func newDriver(t *testing.T, o *filebased.Options) *filebased.Driver {
	t.Helper()
	d, err := filebased.New(filepath.Join(t.TempDir(), "cache"), o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newCache(t *testing.T, d driver.Driver) *djcache.Cache {
	t.Helper()
	c, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// Observed Django 3.2 bytes (DJANGO.md §3.4).
const (
	djangoNone      = "80054e2e"                                   // pickle.dumps(None, 5)
	django1700      = "8005950a000000000000004741d954fc400000002e" // pickle.dumps(1700000000.0, 5)
	djangoBarBlob   = "789c6b609dcace00013dcc49894553f4001d2003a8" // zlib.compress(pickle.dumps("bar", 5))
	djangoBarPickle = "80059507000000000000008c03626172942e"       // pickle.dumps("bar", 5)
	django2100Half  = "8005950a000000000000004741ee90cae01000002e" // pickle.dumps(4102444800.5, 5)
	fooFile         = "9fe685f2d059d8a11303e9e64be4cc7b.djcache"   // md5(":1:foo")
	nonASCIIFile    = "cc02f67fe9fed1b603c20ea8b658c201.djcache"   // md5("清:1:é")
	textBar         = "\x02bar"                                    // djcache's encoding of "bar"
	zlibTail        = "0123456789abcdef0123456789abcdef01"         // 17 stale bytes
)

// inflate decompresses the zlib stream at the start of b, as Python's
// zlib.decompressobj().decompress would.
func inflate(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("zlib header: %v", err)
	}
	v, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("zlib stream: %v", err)
	}
	return v
}

// TestDjangoContainer compares the files djcache writes with Django's.
func TestDjangoContainer(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	c := newCache(t, d)

	// set("foo", "bar", None): Django's name, its None header, then zlib
	// of the value bytes.
	if err := c.Set(ctx, "foo", "bar", djcache.Forever); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d.Dir(), fooFile)
	if got := d.Path(":1:foo"); got != path {
		t.Fatalf("Path(%q) = %q, want %q", ":1:foo", got, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the file Django reads for :1:foo: %v", err)
	}
	if got, want := hex.EncodeToString(b[:4]), djangoNone; got != want {
		t.Errorf("header of set(foo, bar, None) = %s, want Django's %s", got, want)
	}
	if got := inflate(t, b[4:]); string(got) != textBar {
		t.Errorf("zlib body = %q, want %q", got, textBar)
	}
	if got := hex.EncodeToString(b[4:6]); got != djangoBarBlob[:4] {
		t.Errorf("zlib header %s, want Django's %s (default level 6)", got, djangoBarBlob[:4])
	}

	// A float expiry: Django's 21-byte form, float seconds big-endian.
	exp := time.Unix(4102444800, 5e8)
	if err := d.Set(ctx, ":1:foo", []byte(textBar), exp); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(b[:21]), django2100Half; got != want {
		t.Errorf("header for expiry 4102444800.5 = %s, want Django's %s", got, want)
	}
	if got := inflate(t, b[21:]); string(got) != textBar {
		t.Errorf("zlib body = %q, want %q", got, textBar)
	}
	_, gotExp, found, err := d.GetWithExpiry(ctx, ":1:foo")
	if err != nil || !found || !gotExp.Equal(exp) {
		t.Errorf("GetWithExpiry = %v, %v, %v; want %v", gotExp, found, err, exp)
	}

	// Non-ASCII keys are hashed as UTF-8, as Django does.
	if got, want := d.Path("清:1:é"), filepath.Join(d.Dir(), nonASCIIFile); got != want {
		t.Errorf("Path(清:1:é) = %q, want %q", got, want)
	}

	// Modes: every file 0600, no temporary file left, no other file.
	entries, err := os.ReadDir(d.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() != fooFile {
			t.Errorf("unexpected file %q in the cache directory", e.Name())
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 0600", e.Name(), m)
		}
	}
}

// TestReadDjangoFiles reads files as Django 3.2 writes them.
func TestReadDjangoFiles(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	path := d.Path(":1:foo")
	want := unhex(t, djangoBarPickle)

	// Django's set("foo", "bar", None).
	writeFile(t, path, unhex(t, djangoNone+djangoBarBlob))
	v, found, err := d.Get(ctx, ":1:foo")
	if err != nil || !found || !bytes.Equal(v, want) {
		t.Fatalf("Get of Django's file = %x, %v, %v; want %x", v, found, err, want)
	}
	if k := driver.KindOf(v); k != driver.KindPickle {
		t.Errorf("KindOf(Django's value) = %v, want pickle", k)
	}

	// After Django's touch from a float expiry to None, 17 stale bytes
	// follow the zlib stream: they are ignored.
	writeFile(t, path, unhex(t, djangoNone+djangoBarBlob+zlibTail))
	v, found, err = d.Get(ctx, ":1:foo")
	if err != nil || !found || !bytes.Equal(v, want) {
		t.Fatalf("Get with trailing bytes = %x, %v, %v; want %x", v, found, err, want)
	}
	// Touch rewrites the file whole, without the tail.
	if ok, err := d.Touch(ctx, ":1:foo", time.Time{}); err != nil || !ok {
		t.Fatalf("Touch = %v, %v; want true", ok, err)
	}
	b, _ := os.ReadFile(path)
	if got, want := hex.EncodeToString(b), djangoNone+djangoBarBlob; got != want {
		t.Errorf("after Touch the file is %s, want %s", got, want)
	}

	// Other expiry pickles Python would load: protocol 2 int and float,
	// protocol 4 small int (long past: expired), and a far future float.
	for _, h := range []struct {
		header string
		live   bool
	}{
		{"80024a00f153652e", false},         // 1700000000, protocol 2
		{"80024741d954fc401000002e", false}, // 1700000000.25, protocol 2
		{"80044b112e", false},               // 17, protocol 4
		{django2100Half, true},
		{"80024e2e", true}, // None, protocol 2
	} {
		writeFile(t, path, unhex(t, h.header+djangoBarBlob))
		_, found, err := d.Get(ctx, ":1:foo")
		if err != nil || found != h.live {
			t.Errorf("Get with header %s = found %v, %v; want found %v", h.header, found, err, h.live)
		}
		if h.live != exists(t, path) {
			t.Errorf("header %s: file exists = %v, want %v (expired files are removed)", h.header, !h.live, h.live)
		}
	}

	// Django's file for an expiry of 1700000000.0 (in the past): a miss,
	// and the file is removed, as Django does.
	writeFile(t, path, unhex(t, django1700+djangoBarBlob))
	if _, found, err := d.Get(ctx, ":1:foo"); err != nil || found {
		t.Errorf("Get of an expired Django file = found %v, %v; want a miss", found, err)
	}
	if exists(t, path) {
		t.Error("the expired file was not removed")
	}
}

// TestReadFloatExpiry: GetWithExpiry reads a Django float expiry back
// exactly (the 21-byte form for 1700000000.0 is checked in
// container_internal_test.go, since that time is past and Set would
// delete).
func TestReadFloatExpiry(t *testing.T) {
	d := newDriver(t, nil)
	writeFile(t, d.Path(":1:k"), unhex(t, django2100Half+djangoBarBlob))
	_, exp, found, err := d.GetWithExpiry(t.Context(), ":1:k")
	if err != nil || !found || !exp.Equal(time.Unix(4102444800, 5e8)) {
		t.Errorf("GetWithExpiry = %v, %v, %v; want 4102444800.5", exp, found, err)
	}
}

// TestDamagedFiles: empty, corrupt and truncated files are misses (never
// errors) and are removed; Add, Touch, Incr and Delete treat them as absent.
func TestDamagedFiles(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	c := newCache(t, d)
	valid := unhex(t, djangoNone+djangoBarBlob)
	damaged := map[string][]byte{
		"empty":          {},
		"garbage":        []byte("this is not a cache file"),
		"header only":    unhex(t, djangoNone),
		"truncated zlib": valid[:len(valid)-3],
		"bad checksum":   append(valid[:len(valid)-1:len(valid)-1], valid[len(valid)-1]^0xff),
		"bad header":     append([]byte{0x80, 0x05, 0x8c}, valid[4:]...),
		"short float":    unhex(t, "8005950a000000000000004741d9"),
	}
	for name, content := range damaged {
		t.Run(name, func(t *testing.T) {
			key := "damaged-" + strings.ReplaceAll(name, " ", "-")
			path := d.Path(":1:" + key)
			ops := map[string]func() (bool, error){
				"get": func() (bool, error) {
					var v any
					return c.Get(ctx, key, &v)
				},
				"has": func() (bool, error) { return c.Has(ctx, key) },
				"touch": func() (bool, error) {
					return c.Touch(ctx, key)
				},
				"delete": func() (bool, error) { return c.Delete(ctx, key) },
				"incr": func() (bool, error) {
					_, err := c.Incr(ctx, key, 1)
					if errors.Is(err, djcache.ErrNotFound) {
						return false, nil
					}
					return true, err
				},
			}
			for op, f := range ops {
				writeFile(t, path, content)
				got, err := f()
				if err != nil || got {
					t.Errorf("%s over a %s file = %v, %v; want false, nil", op, name, got, err)
				}
				if exists(t, path) {
					t.Errorf("%s left the %s file in place", op, name)
				}
			}
			writeFile(t, path, content)
			if added, err := c.Add(ctx, key, "fresh"); err != nil || !added {
				t.Errorf("Add over a %s file = %v, %v; want true", name, added, err)
			}
			if v, found, err := djcache.Get[string](ctx, c, key); err != nil || !found || v != "fresh" {
				t.Errorf("Get after Add = %q, %v, %v", v, found, err)
			}
		})
	}
}

// TestDirectory: the directory is created 0700 with every missing level,
// recreated after deletion, and kept by Clear along with non-cache files.
func TestDirectory(t *testing.T) {
	ctx := t.Context()
	base := t.TempDir()
	dir := filepath.Join(base, "nested", "filebasedcache")
	d, err := filebased.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(base, "nested")) {
		t.Fatal("New created the directory; it must do no I/O")
	}
	c := newCache(t, d)
	if err := c.Set(ctx, "foo", "bar"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s has mode %o, want 0700", p, m)
		}
	}
	fi, err := os.Stat(d.Path(":1:foo"))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("cache file has mode %o, want 0600", m)
	}

	// Clear keeps the directory and files that are not the cache's.
	others := []string{"not-a-cache-file", ".hidden.djcache", "tmpabc", "x.djcache.bak"}
	for _, name := range others {
		writeFile(t, filepath.Join(dir, name), []byte("keep me"))
	}
	if err := c.Set(ctx, "other", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("Clear removed the directory: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	slices.Sort(others)
	if !slices.Equal(names, others) {
		t.Errorf("after Clear the directory holds %q, want %q", names, others)
	}

	// A deleted file is a miss; a deleted directory is recreated.
	if err := c.Set(ctx, "foo", "bar"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.Path(":1:foo")); err != nil {
		t.Fatal(err)
	}
	if _, found, err := djcache.Get[string](ctx, c, "foo"); err != nil || found {
		t.Errorf("Get of a deleted file = found %v, %v; want a miss", found, err)
	}
	if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
		t.Fatal(err)
	}
	if _, found, err := djcache.Get[string](ctx, c, "foo"); err != nil || found {
		t.Errorf("Get with the directory gone = found %v, %v; want a miss", found, err)
	}
	if err := c.Clear(ctx); err != nil {
		t.Errorf("Clear with the directory gone: %v", err)
	}
	if err := c.Set(ctx, "foo", "again"); err != nil {
		t.Fatalf("Set after the directory was deleted: %v", err)
	}
	if v, found, err := djcache.Get[string](ctx, c, "foo"); err != nil || !found || v != "again" {
		t.Errorf("Get = %q, %v, %v; want again", v, found, err)
	}
	if fi, err := os.Stat(filepath.Dir(dir)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("recreated parent: %v, %v; want mode 0700", fi, err)
	}
}

// TestIOErrors: errors other than "no such file" are returned, not misses.
func TestIOErrors(t *testing.T) {
	ctx := t.Context()
	// The cache directory is a regular file.
	f := filepath.Join(t.TempDir(), "file")
	writeFile(t, f, []byte("x"))
	d, err := filebased.New(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, d)
	if err := c.Set(ctx, "k", "v"); err == nil {
		t.Error("Set with a file for directory: no error")
	}
	if _, err := c.Get(ctx, "k", new(string)); err == nil || !strings.Contains(err.Error(), "filebased") {
		t.Errorf("Get with a file for directory = %v; want a filebased error", err)
	}

	// A directory where the key's file should be: reading it fails with
	// "is a directory", which is an error, not a miss (and not removed).
	d = newDriver(t, nil)
	c = newCache(t, d)
	if err := os.MkdirAll(d.Path(":1:k"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "k", new(string)); err == nil {
		t.Error("Get of a directory: no error")
	}
	if !exists(t, d.Path(":1:k")) {
		t.Error("Get removed what it could not read")
	}

}

// TestPermissionErrors: permission denied is an error, and the file stays.
func TestPermissionErrors(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions are not enforced")
	}
	ctx := t.Context()
	d := newDriver(t, nil)
	c := newCache(t, d)
	if err := c.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.Path(":1:k"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := c.Get(ctx, "k", new(string))
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Get of an unreadable file = %v; want permission denied", err)
	}
	if !exists(t, d.Path(":1:k")) {
		t.Error("Get removed an unreadable file")
	}
	if err := os.Chmod(d.Dir(), 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(d.Dir(), 0o700)
	if err := c.Set(ctx, "k2", "v"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Set in a read-only directory = %v; want permission denied", err)
	}
}

// TestCull checks Django's counts (test_cull and test_zero_cull: 49 sets
// into max_entries=30 leave 29, or 19 with cull_frequency=0) and that the
// directory is not listed on every write.
func TestCull(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"?max_entries=30", 29},
		{"?max_entries=30&cull_frequency=0", 19},
		{"?max_entries=30&cull_frequency=2", 19},
	} {
		t.Run(tc.url, func(t *testing.T) {
			dir := t.TempDir()
			// A file that is not the cache's, which the cull must keep.
			c, err := djcache.Open("file://" + dir + tc.url + "&allow_foreign_files=true")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			writeFile(t, filepath.Join(dir, "not-a-cache-file"), nil)
			for i := 1; i < 50; i++ {
				if err := c.Set(ctx, "cull"+strconv.Itoa(i), "value", djcache.Timeout(1000*time.Second)); err != nil {
					t.Fatal(err)
				}
				if n := countCacheFiles(t, dir); n > 30 {
					t.Fatalf("after %d sets the directory holds %d cache files, more than max_entries=30", i, n)
				}
			}
			n := 0
			for i := 1; i < 50; i++ {
				if ok, err := c.Has(ctx, "cull"+strconv.Itoa(i)); err != nil {
					t.Fatal(err)
				} else if ok {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("%d keys left, want %d (Django's count)", n, tc.want)
			}
			if !exists(t, filepath.Join(dir, "not-a-cache-file")) {
				t.Error("the cull removed a file that is not the cache's")
			}
		})
	}
}

func countCacheFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+filebased.Suffix))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// TestNoTornReads: readers in many goroutines never see a half-written
// value while writers replace it with values of other sizes.
func TestNoTornReads(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	c := newCache(t, d)
	const key = "torn"
	values := make([][]byte, 8)
	for i := range values {
		values[i] = pattern(byte(i), 1<<(8+i)) // 256 B .. 32 KB
	}
	if err := c.Set(ctx, key, values[0]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var torn, errs atomicCount
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.Set(ctx, key, values[(i+w)%len(values)]); err != nil {
					errs.add()
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, found, err := djcache.Get[[]byte](ctx, c, key)
				if err != nil {
					errs.add()
				} else if !found || !checkPattern(v) {
					torn.add()
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if torn.n > 0 || errs.n > 0 {
		t.Errorf("%d torn or missing reads, %d errors; want none", torn.n, errs.n)
	}
}

type atomicCount struct {
	mu sync.Mutex
	n  int
}

func (a *atomicCount) add() { a.mu.Lock(); a.n++; a.mu.Unlock() }

// pattern returns n bytes that checkPattern can verify whole: a seed byte,
// then bytes derived from it and their position.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	b[0] = seed
	for i := 1; i < n; i++ {
		b[i] = seed*31 + byte(i*7) + byte(i>>8)
	}
	return b
}

func checkPattern(b []byte) bool {
	if len(b) < 2 || len(b)&(len(b)-1) != 0 {
		return false
	}
	return bytes.Equal(b, pattern(b[0], len(b)))
}

// TestNew: relative and empty directories and bad options are errors.
func TestNew(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		o    *filebased.Options
		want string
	}{
		{"", nil, "no directory"},
		{"cache", nil, "relative path; use an absolute one"},
		{"./cache", nil, "relative"},
		{"/tmp/x", &filebased.Options{MaxEntries: -1}, "MaxEntries -1"},
		{"/tmp/x", &filebased.Options{CullFrequency: -2}, "CullFrequency -2"},
		{"/tmp/x", &filebased.Options{CompressionLevel: 10}, "CompressionLevel 10"},
		{"/tmp/x", &filebased.Options{CompressionLevel: -2}, "CompressionLevel -2"},
	} {
		_, err := filebased.New(tc.dir, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %+v) = %v; want an error containing %q", tc.dir, tc.o, err, tc.want)
		}
	}
	o := &filebased.Options{}
	if _, err := filebased.New("/tmp/x/../y/", o); err != nil {
		t.Fatal(err)
	}
	if *o != (filebased.Options{}) {
		t.Errorf("New modified its Options: %+v", *o)
	}
}

// TestURL: the file scheme's grammar and parameters.
func TestURL(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		url  string
		want string // "" for success
	}{
		{"file://" + dir, ""},
		{"file://localhost" + dir, ""},
		{"file://" + dir + "?max_entries=10&cull_frequency=0&fsync=true&compress_level=9", ""},
		{"file://" + dir + "?compress_level=0&timeout=60&key_prefix=p&version=2", ""},
		{"file://relative/dir", `has the host "relative"`},
		{"file:relative/dir", `relative path "relative/dir"`},
		{"file://", "names no directory"},
		{"file://" + dir + "?max_entires=10", `unknown URL parameter "max_entires"`},
		{"file://" + dir + "?max_entries=0", "max_entries"},
		{"file://" + dir + "?cull_frequency=-1", "cull_frequency"},
		{"file://" + dir + "?compress_level=10", "compress_level"},
		{"file://" + dir + "?fsync=maybe", "fsync"},
	} {
		c, err := djcache.Open(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Open(%q): %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Open(%q) = %v; want an error containing %q", tc.url, err, tc.want)
		}
		if err == nil {
			if d, ok := c.Driver().(*filebased.Driver); !ok || d.Dir() != dir {
				t.Errorf("Open(%q): driver %T on %q, want %q", tc.url, c.Driver(), d.Dir(), dir)
			}
			c.Close()
		}
	}
	// Spaces and other characters are percent-encoded.
	spaced := filepath.Join(dir, "with space")
	c, err := djcache.Open("file://" + strings.ReplaceAll(spaced, " ", "%20"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Driver().(*filebased.Driver).Dir(); got != spaced {
		t.Errorf("Dir = %q, want %q", got, spaced)
	}
}

// TestCompressionLevels: every level writes a container both sides read.
func TestCompressionLevels(t *testing.T) {
	ctx := t.Context()
	value := bytes.Repeat([]byte("compressible "), 1000)
	sizes := map[int]int{}
	for _, level := range []int{filebased.NoCompression, 1, 6, 9} {
		d := newDriver(t, &filebased.Options{CompressionLevel: level})
		if err := d.Set(ctx, "k", value, time.Time{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(d.Path("k"))
		if err != nil {
			t.Fatal(err)
		}
		if got := inflate(t, b[4:]); !bytes.Equal(got, value) {
			t.Errorf("level %d: the zlib stream holds %d bytes, want the value", level, len(got))
		}
		sizes[level] = len(b)
	}
	if sizes[filebased.NoCompression] <= len(value) || sizes[1] >= len(value)/10 || sizes[9] > sizes[1] {
		t.Errorf("file sizes by level %v for a %d-byte value: not what the levels promise", sizes, len(value))
	}
}

// TestGetMany: many keys at once (read by several goroutines), with
// expired, damaged and missing keys among live ones.
func TestGetMany(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, nil)
	var keys []string
	want := map[string][]byte{}
	for i := range 40 {
		key := ":1:k" + strconv.Itoa(i)
		keys = append(keys, key)
		switch i % 4 {
		case 0, 1:
			v := []byte("\x02value " + strconv.Itoa(i))
			if err := d.Set(ctx, key, v, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			want[key] = v
		case 2:
			writeFile(t, d.Path(key), unhex(t, django1700+djangoBarBlob)) // expired
		case 3:
			if i%8 == 3 {
				writeFile(t, d.Path(key), []byte("damaged"))
			}
		}
	}
	got, err := d.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("GetMany found %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Errorf("GetMany[%q] = %q, want %q", k, got[k], v)
		}
	}
	if n := countCacheFiles(t, d.Dir()); n != len(want) {
		t.Errorf("%d files left, want %d: expired and damaged files are removed", n, len(want))
	}
}

// TestSync: with Sync (fsync=true) every write still works.
func TestSync(t *testing.T) {
	ctx := t.Context()
	d := newDriver(t, &filebased.Options{Sync: true})
	c := newCache(t, d)
	if err := c.Set(ctx, "n", 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "n", 2); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Incr(ctx, "n", 3); err != nil || n != 5 {
		t.Errorf("Incr = %d, %v; want 5", n, err)
	}
	if ok, err := c.Touch(ctx, "n", djcache.Forever); err != nil || !ok {
		t.Errorf("Touch = %v, %v", ok, err)
	}
	if ok, err := c.Add(ctx, "a", "x"); err != nil || !ok {
		t.Errorf("Add = %v, %v", ok, err)
	}
	if v, found, err := djcache.Get[int](ctx, c, "n"); err != nil || !found || v != 5 {
		t.Errorf("Get = %d, %v, %v; want 5", v, found, err)
	}
}
