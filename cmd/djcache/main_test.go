package main

import (
	"bytes"
	"context"
	"github.com/djcache/djcache"
	"github.com/djcache/djcache/pickle"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bin is the djcache binary built once for the end-to-end tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "djcache-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "djcache")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// djcache runs the binary with a fresh user cache directory (so the
// embedded default is empty) and no DJCACHE_* configuration.
type runner struct {
	t    *testing.T
	home string
}

func newRunner(t *testing.T) *runner {
	return &runner{t: t, home: t.TempDir()}
}

func (r *runner) run(stdin string, args ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + r.home, "XDG_CACHE_HOME=" + filepath.Join(r.home, "cache"), "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// expect runs a command and checks its exit code and stdout.
func (r *runner) expect(wantCode int, wantOut string, stdin string, args ...string) string {
	r.t.Helper()
	out, errOut, code := r.run(stdin, args...)
	if code != wantCode || (wantOut != "*" && out != wantOut) {
		r.t.Errorf("djcache %s: exit %d, stdout %q (stderr %q); want exit %d, stdout %q", strings.Join(args, " "), code, out, errOut, wantCode, wantOut)
	}
	return errOut
}

// TestEmbeddedDefault is the README's promise: on a fresh machine with no
// configuration, set then get works, and the entries persist on disk.
func TestEmbeddedDefault(t *testing.T) {
	r := newRunner(t)
	r.expect(0, "", "", "set", "greeting", "hello")
	r.expect(0, "hello\n", "", "get", "greeting")
	if m, _ := filepath.Glob(filepath.Join(r.home, "cache", "djcache", "*.djcache")); len(m) != 1 {
		t.Errorf("files in the default cache directory: %v, want one", m)
	}
	r.expect(1, "", "", "get", "missing")
	r.expect(1, "null\n", "", "--json", "get", "missing")
}

func TestCommandsAndExitCodes(t *testing.T) {
	r := newRunner(t)
	// Values from stdin (one trailing newline dropped) and JSON output.
	r.expect(0, "", "line one\n", "set", "s")
	r.expect(0, "\"line one\"\n", "", "--json", "get", "s")
	r.expect(0, "", `{"name": "Ada", "n": 3}`, "--type", "json", "set", "profile")
	r.expect(0, "{\"n\":3,\"name\":\"Ada\"}\n", "", "get", "profile")

	// Integers are stored as integers, so incr works.
	r.expect(0, "", "", "set", "hits", "41")
	r.expect(0, "42\n", "", "incr", "hits")
	r.expect(0, "32\n", "", "decr", "hits", "10")
	r.expect(0, "{\"value\":33}\n", "", "--json", "incr", "hits")
	r.expect(1, "", "", "incr", "nope")
	if e := r.expect(2, "", "", "incr", "s"); !strings.Contains(e, "not an integer") {
		t.Errorf("incr of text: stderr %q", e)
	}

	r.expect(0, "true\n", "", "has", "s")
	r.expect(1, "false\n", "", "has", "nope")
	r.expect(1, "", "", "add", "s", "other")
	r.expect(0, "", "", "add", "fresh", "v")
	r.expect(0, "", "", "--timeout", "60", "touch", "fresh")
	r.expect(1, "", "", "touch", "nope")
	r.expect(0, "", "", "delete", "fresh")
	r.expect(1, "", "", "delete", "fresh")

	r.expect(0, "2\n", "", "incr-version", "s")
	r.expect(1, "", "", "get", "s")
	r.expect(0, "line one\n", "", "--version", "2", "get", "s")
	r.expect(0, "1\n", "", "--version", "2", "decr-version", "s")

	r.expect(0, "", "", "set-many", "a=1", "b=two")
	r.expect(0, "a\t1\nb\ttwo\n", "", "get-many", "a", "b")
	r.expect(1, "{\"a\":1}\n", "", "--json", "get-many", "a", "zz")
	r.expect(0, "", "", "delete-many", "a", "b")
	r.expect(1, "", "", "get-many", "a")
	r.expect(0, "", "", "clear")
	r.expect(1, "", "", "get", "hits")

	// Timeout 0 is Django's "don't cache".
	r.expect(0, "", "", "--timeout", "0", "set", "gone", "x")
	r.expect(1, "", "", "get", "gone")
}

func TestUsageErrors(t *testing.T) {
	r := newRunner(t)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"get"},
		{"get", "a", "b"},
		{"incr", "k", "x"},
		{"--timeout", "soon", "set", "k", "v"},
		{"--type", "int", "set", "k", "x"},
		{"set-many", "novalue"},
		{"--url", "redis://127.0.0.1:6379/0?bogus=1", "get", "k"},
		{"--url", "nope://x", "get", "k"},
	} {
		if _, _, code := r.run("", args...); code != 2 {
			t.Errorf("djcache %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	out, _, code := r.run("", "help", "set")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "-timeout") {
		t.Errorf("help set: exit %d, %q", code, out)
	}
	for _, c := range commands() {
		if !strings.Contains(c.help, "Examples:") {
			t.Errorf("command %s has no examples in its help", c.name)
		}
	}
}

// TestCreateCacheTable compares the dry run with Django's output for
// SQLite, then creates the table and runs it again.
func TestCreateCacheTable(t *testing.T) {
	r := newRunner(t)
	url := "sqlite://" + filepath.Join(t.TempDir(), "cache.db") + "?table=my_cache_table"
	want := `CREATE TABLE "my_cache_table" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" datetime NOT NULL
);
CREATE INDEX "my_cache_table_expires" ON "my_cache_table" ("expires");
`
	r.expect(0, want, "", "--url", url, "createcachetable", "--dry-run")
	r.expect(0, "Cache table 'my_cache_table' created.\n", "", "--url", url, "createcachetable")
	r.expect(0, "Cache table 'my_cache_table' already exists.\n", "", "--url", url, "createcachetable")
	r.expect(0, "", "", "--url", url, "set", "k", "v")
	r.expect(0, "v\n", "", "--url", url, "get", "k")
	// Not a database cache.
	r.expect(2, "", "", "--url", "locmem://x", "createcachetable")
}

// TestSettingsFile selects an alias of a Django CACHES file.
func TestSettingsFile(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	settings := filepath.Join(dir, "caches.yaml")
	os.WriteFile(settings, []byte(`
CACHES:
  default:
    BACKEND: django.core.cache.backends.dummy.DummyCache
  files:
    BACKEND: django.core.cache.backends.filebased.FileBasedCache
    LOCATION: `+filepath.Join(dir, "files")+`
    TIMEOUT: null
`), 0o600)
	r.expect(0, "", "", "--settings", settings, "set", "k", "v")
	r.expect(1, "", "", "--settings", settings, "get", "k") // dummy
	r.expect(0, "", "", "--settings", settings, "--alias", "files", "set", "k", "v")
	r.expect(0, "v\n", "", "--settings", settings, "--alias", "files", "get", "k")
	if e := r.expect(2, "", "", "--settings", settings, "--alias", "nope", "get", "k"); !strings.Contains(e, `"nope" doesn't exist`) {
		t.Errorf("unknown alias: stderr %q", e)
	}
}

func TestBenchAndStats(t *testing.T) {
	r := newRunner(t)
	out, errOut, code := r.run("", "bench", "-duration", "300ms", "-keys", "50")
	if code != 0 || !strings.Contains(out, "throughput:") || !strings.Contains(out, "p99") {
		t.Errorf("bench: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "ops") {
		t.Errorf("bench showed no progress on stderr: %q", errOut)
	}
	out, _, code = r.run("", "--json", "stats")
	if code != 0 || !strings.Contains(out, `"backend":"filebased.Driver"`) {
		t.Errorf("stats: exit %d, %q", code, out)
	}
}

// TestPythonValues: the values a Django app stores (sets, dicts with other
// keys than str, dates, timedeltas, decimals, ints beyond 64 bits), read
// through the pickle serializer, print as text and as JSON.
func TestPythonValues(t *testing.T) {
	r := newRunner(t)
	url := "file://" + filepath.ToSlash(t.TempDir()) + "?serializer=pickle"
	c, err := djcache.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	big70, _ := new(big.Int).SetString("1180591620717411303424", 10)
	for k, v := range map[string]any{
		"set":   pickle.NewSet(int64(2), int64(1)),
		"dict":  map[any]any{int64(1): "a", [2]any{int64(1), "b"}: nil},
		"date":  pickle.Date{Year: 2024, Month: 2, Day: 29},
		"td":    90*time.Second + time.Millisecond,
		"dec":   pickle.Decimal("3.14"),
		"nan":   pickle.Decimal("NaN"),
		"big":   big70,
		"tuple": pickle.Tuple{int64(1), "x"},
		"uuid":  pickle.UUID{0x12, 0x34, 0x56, 0x78, 15: 0xff},
	} {
		if err := c.Set(ctx, k, v); err != nil {
			t.Fatalf("Set(%s): %v", k, err)
		}
	}
	for k, want := range map[string]string{
		"set": "[1,2]\n", "date": "2024-02-29\n", "td": "90.001\n", "dec": "3.14\n", "nan": "NaN\n",
		"big": "1180591620717411303424\n", "tuple": "[1,\"x\"]\n", "uuid": "12345678-0000-0000-0000-0000000000ff\n",
	} {
		r.expect(0, want, "", "--url", url, "get", k)
	}
	r.expect(0, `{"1":"a","[1,\"b\"]":null}`+"\n", "", "--url", url, "get", "dict")
	r.expect(0, `{"date":"2024-02-29","dec":3.14,"set":[1,2],"td":90.001}`+"\n", "", "--url", url, "--json", "get-many", "set", "date", "td", "dec")
}
