package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/db"
	"github.com/djcache/djcache/internal/testenv"
	"github.com/djcache/djcache/pickle"
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
// SQLite, then creates the table and runs it again. A dry run and a get
// create nothing, not even the SQLite file, and a dry run shows the SQL
// even when the table exists (issue 19, item 13).
func TestCreateCacheTable(t *testing.T) {
	r := newRunner(t)
	file := filepath.Join(t.TempDir(), "cache.db")
	url := "sqlite://" + file + "?table=my_cache_table"
	want := `CREATE TABLE "my_cache_table" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" datetime NOT NULL
);
CREATE INDEX "my_cache_table_expires" ON "my_cache_table" ("expires");
`
	r.expect(0, want, "", "--url", url, "createcachetable", "--dry-run")
	if errOut := r.expect(2, "", "", "--url", url, "get", "k"); !strings.Contains(errOut, "djcache createcachetable") {
		t.Errorf("get on a missing table: stderr %q, want the remedy", errOut)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("after a dry run and a get, the SQLite file: %v; want none", err)
	}
	r.expect(0, "Cache table 'my_cache_table' created.\n", "", "--url", url, "createcachetable")
	r.expect(0, "Cache table 'my_cache_table' already exists.\n", "", "--url", url, "createcachetable")
	r.expect(0, want, "", "--url", url, "createcachetable", "--dry-run")
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

// TestHelpExitsZero: asking for help is a success, on stdout, with no
// error line (issue 19, item 7: --help and -h exited 2 with "flag: help
// requested").
func TestHelpExitsZero(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage:\n  djcache [flags] COMMAND"},
		{[]string{"-h"}, "Usage:\n  djcache [flags] COMMAND"},
		{[]string{"-help"}, "Usage:\n  djcache [flags] COMMAND"},
		{[]string{"help"}, "Usage:\n  djcache [flags] COMMAND"},
		{[]string{"help", "get"}, "Usage: djcache get KEY"},
		{[]string{"get", "-h"}, "Usage: djcache get KEY"},
		{[]string{"get", "--help"}, "Usage: djcache get KEY"},
		{[]string{"-h", "get"}, "Usage: djcache get KEY"},
		{[]string{"--url", "locmem://x", "set", "k", "--help"}, "Usage: djcache set KEY [VALUE]"},
		{[]string{"bench", "-h"}, "--duration DURATION"},
	} {
		out, errOut, code := r.run("", tc.args...)
		if code != 0 || errOut != "" || !strings.Contains(out, tc.want) {
			t.Errorf("djcache %s: exit %d, stderr %q, stdout %.80q…; want exit 0, no stderr, stdout with %q", strings.Join(tc.args, " "), code, errOut, out, tc.want)
		}
	}
	if _, errOut, code := r.run("", "help", "frobnicate"); code != 2 || !strings.HasPrefix(errOut, `djcache help: unknown command "frobnicate"`) {
		t.Errorf("help of an unknown command: exit %d, stderr %q", code, errOut)
	}
}

// TestVersion: "djcache version" prints the tool's version from the build
// information, and --version N stays the key version (issue 19, item 8).
func TestVersion(t *testing.T) {
	r := newRunner(t)
	want := regexp.MustCompile(`^djcache version (\(devel\)|v\S+) ` + regexp.QuoteMeta(runtime.Version()) + ` [a-z0-9]+/[a-z0-9]+( \(commit [0-9a-f]+(, modified)?\))?\n$`)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		out, errOut, code := r.run("", args...)
		if code != 0 || errOut != "" || !want.MatchString(out) {
			t.Errorf("djcache %s: exit %d, stdout %q, stderr %q; want %v", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	for _, args := range [][]string{{"version", "--json"}, {"--json", "version"}} {
		stdout, _, code := r.run("", args...)
		var v map[string]any
		if err := json.Unmarshal([]byte(stdout), &v); code != 0 || err != nil || v["go"] != runtime.Version() || v["version"] == "" || v["os"] != runtime.GOOS {
			t.Errorf("djcache %s: %q (%v)", strings.Join(args, " "), stdout, err)
		}
	}

	// The key version: --version N as before, and --key-version N.
	r.expect(0, "", "", "set", "report", "v1")
	r.expect(0, "2\n", "", "incr-version", "report")
	r.expect(0, "v1\n", "", "--version", "2", "get", "report")
	r.expect(0, "v1\n", "", "--key-version", "2", "get", "report")
	r.expect(0, "v1\n", "", "get", "report", "--key-version=2")
	r.expect(1, "", "", "get", "report")
	help, _, _ := r.run("", "help")
	if !strings.Contains(help, "--key-version N") || !strings.Contains(help, `"djcache version"`) {
		t.Errorf("the help does not say how to pass a key version or print the tool's version:\n%s", help)
	}
}

// TestFlagsAnywhere: flags after the command and its arguments work like
// flags before it, and "--" ends them (issue 19, item 9: "djcache get hits
// --json" failed with "want at most 1 argument(s), got 2").
func TestFlagsAnywhere(t *testing.T) {
	r := newRunner(t)
	dir := "file://" + filepath.ToSlash(t.TempDir())
	r.expect(0, "", "", "set", "hits", "41", "--timeout", "60")
	r.expect(0, "41\n", "", "get", "hits", "--json")
	r.expect(0, "{\"value\":42}\n", "", "incr", "--json", "hits")
	r.expect(0, "37\n", "", "incr", "hits", "-5") // a negative DELTA is no flag
	r.expect(0, "", `{"a": [1]}`, "set", "doc", "--type", "json")
	r.expect(0, "{\"a\":[1]}\n", "", "get", "doc")
	r.expect(0, "{\"doc\":{\"a\":[1]},\"hits\":37}\n", "", "get-many", "doc", "hits", "-json")
	r.expect(0, "", "", "set", "k", "in-dir", "--url", dir)
	r.expect(0, "in-dir\n", "", "--url", dir, "get", "k")
	r.expect(1, "", "", "get", "k") // the default cache
	// "--" ends the flags, so that a key may start with a dash.
	r.expect(0, "", "", "set", "--", "-x", "dash")
	r.expect(0, "dash\n", "", "get", "--", "-x")
	r.expect(0, "\"dash\"\n", "", "get", "--json", "--", "-x")
	r.expect(0, "\"dash\"\n", "", "--json", "get", "--", "-x")
	r.expect(1, "", "", "get", "--", "--json")
	r.expect(0, "", "", "set", "opt", "--", "-v")
	r.expect(0, "-v\n", "", "get", "opt")
	r.expect(0, "", "", "set", "temp", "-3.5") // a negative number is no flag
	r.expect(0, "-3.5\n", "", "get", "temp")
	// The command's own flags too, before or after it.
	r.expect(0, "*", "", "bench", "--keys", "5", "--duration", "100ms", "--json")
	r.expect(0, "*", "", "--duration", "100ms", "-keys=5", "bench")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "k", "--timeout"}, "djcache get: flag needs an argument: -timeout\n"},
		{[]string{"get", "k", "--bogus"}, "djcache get: flag provided but not defined: -bogus (for a key or value that starts with \"-\", put -- before it)\n"},
		{[]string{"get", "k", "--duration", "1s"}, "djcache get: flag provided but not defined: -duration (for a key or value that starts with \"-\", put -- before it)\n"},
		{[]string{"get", "a", "b", "--json"}, "djcache get: want at most 1 argument(s), got 2\n"},
	} {
		_, errOut, code := r.run("", tc.args...)
		if code != 2 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("djcache %s: exit %d, stderr %.100q; want exit 2, stderr starting %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestHelpListsCommandFlags: the top-level help lists the per-command flags
// (issue 19, item 10).
func TestHelpListsCommandFlags(t *testing.T) {
	r := newRunner(t)
	out, _, _ := r.run("", "help")
	for _, want := range []string{
		"--json ", "--timeout SECONDS", "--type TYPE", "--key-version N", "--version N",
		"--dry-run", "--duration DURATION", "--url URL", "--settings FILE", "--alias NAME", "-v, --verbose",
		"Commands: set, add, touch, set-many.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

// TestErrorMessages: one prefix per layer, and "djcache" once (issue 19,
// item 11: `djcache get: djcache: cache "default" (sqlite://x.db): djcache:
// db: …`).
func TestErrorMessages(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	settings := filepath.Join(dir, "caches.json")
	os.WriteFile(settings, []byte(`{"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}}`), 0o600)
	missing := filepath.Join(dir, "missing.json")
	for _, tc := range []struct {
		args []string
		want string // the whole of stderr, or its start if it ends with "…"
	}{
		{[]string{"--url", "file:///tmp/x?max_entires=3", "get", "k"},
			`djcache get: cache "default" (file:///tmp/x?max_entires=3): filebased: unknown URL parameter "max_entires"` + "\n"},
		{[]string{"--url", "locmem://x?max_entries=-1", "set", "k", "v"},
			`djcache set: cache "default" (locmem://x?max_entries=-1): locmem: URL parameter max_entries="-1": …`},
		{[]string{"--url", "nope://x", "get", "k"},
			`djcache get: cache "default" (nope://x): no backend for scheme "nope"; registered: …`},
		{[]string{"--url", "locmem://x", "--alias", "foo", "get", "k"},
			`djcache get: the cache alias "foo" doesn't exist (aliases: default)` + "\n"},
		{[]string{"--settings", missing, "get", "k"},
			"djcache get: settings: open " + missing + ": no such file or directory\n"},
		{[]string{"--settings", settings, "has", "k"},
			`djcache has: CACHES["default"] (django.core.cache.backends.filebased.FileBasedCache): LOCATION: FileBasedCache needs a directory` + "\n"},
		{[]string{"--url", "memcached://127.0.0.1:1", "get", "k"},
			`djcache get: memcached: get ":1:k": dial tcp 127.0.0.1:1: …`},
		{[]string{"--url", "%zz", "get", "k"},
			`djcache get: invalid cache URL: invalid URL escape "%zz"` + "\n"},
	} {
		_, errOut, code := r.run("", tc.args...)
		ok := errOut == tc.want
		if start, cut := strings.CutSuffix(tc.want, "…"); cut {
			ok = strings.HasPrefix(errOut, start)
		}
		if code != 2 || !ok || strings.Count(errOut, "djcache") != 1 {
			t.Errorf("djcache %s: exit %d, stderr\n\t%q\nwant exit 2, stderr\n\t%q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestLocmemWarning: a write to a locmem cache, which dies with the
// process, warns (issue 19, item 12); a read does not.
func TestLocmemWarning(t *testing.T) {
	r := newRunner(t)
	const warning = "djcache set: warning: a locmem cache lives only inside one process"
	if e := r.expect(0, "", "", "--url", "locmem://x", "set", "a", "1"); !strings.HasPrefix(e, warning) {
		t.Errorf("set on locmem: stderr %q, want a warning %q…", e, warning)
	}
	if e := r.expect(1, "", "", "--url", "locmem://x", "get", "a"); e != "" {
		t.Errorf("get on locmem: stderr %q, want none", e)
	}
	if e := r.expect(0, "", "", "--url", "file://"+filepath.ToSlash(t.TempDir()), "set", "a", "1"); e != "" {
		t.Errorf("set on a file cache: stderr %q, want none", e)
	}
	if help, _, _ := r.run("", "help"); !strings.Contains(help, "A locmem:// cache lives only inside one process") {
		t.Errorf("the help does not say that a locmem cache lives in one process")
	}
}

// stats runs "djcache stats --json" and decodes its output.
func (r *runner) stats(args ...string) map[string]any {
	r.t.Helper()
	out, errOut, code := r.run("", append(args, "stats", "--json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil {
		r.t.Fatalf("djcache %s stats --json: exit %d, stdout %q, stderr %q (%v)", strings.Join(args, " "), code, out, errOut, err)
	}
	return m
}

// TestStatsSizes: stats shows the entries and their size where the backend
// can tell, and the session's counters (issue 19, item 14).
func TestStatsSizes(t *testing.T) {
	type want struct {
		entries    float64 // exact, or at least with atLeast
		atLeast    bool
		bytes      bool // known and > 0
		covers     string
		needTCP    string
		serverName string
	}
	u := fmt.Sprintf("cli%d", time.Now().UnixNano()%1e9)
	sqlite := "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "c.db"))
	settings := filepath.Join(t.TempDir(), "caches.json")
	os.WriteFile(settings, []byte(`{"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/14", "KEY_PREFIX": "`+u+`s"}}`), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want want
	}{
		{"file", []string{"--url", "file://" + filepath.ToSlash(t.TempDir())}, want{entries: 3, bytes: true}},
		{"sqlite", []string{"--url", sqlite}, want{entries: 3, bytes: true}},
		{"postgres", []string{"--url", "postgres://postgres@127.0.0.1:5432/test?table=" + u}, want{entries: 3, bytes: true, needTCP: "127.0.0.1:5432", serverName: "PostgreSQL"}},
		{"mysql", []string{"--url", "mysql://root@127.0.0.1:3306/test?table=" + u}, want{entries: 3, bytes: true, needTCP: "127.0.0.1:3306", serverName: "MariaDB"}},
		{"redis", []string{"--url", "redis://127.0.0.1:6379/14?key_prefix=" + u}, want{entries: 3, bytes: true, needTCP: "127.0.0.1:6379", serverName: "Redis"}},
		{"redis-settings", []string{"--settings", settings}, want{entries: 3, bytes: true, needTCP: "127.0.0.1:6379", serverName: "Redis"}},
		{"memcached", []string{"--url", "memcached://127.0.0.1:11211"}, want{entries: 3, atLeast: true, bytes: true, covers: "the whole server", needTCP: "127.0.0.1:11211", serverName: "memcached"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want.needTCP != "" {
				testenv.NeedTCP(t, tc.want.serverName, tc.want.needTCP, "run .ci/services")
			}
			r := newRunner(t)
			if tc.name == "postgres" || tc.name == "mysql" {
				t.Cleanup(func() { dropTable(t, tc.args[1], u) })
			}
			t.Cleanup(func() { r.run("", append(tc.args, "delete-many", "a", "b", "c")...) })
			r.expect(0, "", "", append(tc.args, "set-many", "a=1", "b=two", "c=three")...)
			m := r.stats(tc.args...)
			entries, _ := m["entries"].(float64)
			bytes, _ := m["bytes"].(float64)
			covers, _ := m["covers"].(string)
			if (tc.want.atLeast && entries < tc.want.entries) || (!tc.want.atLeast && entries != tc.want.entries) ||
				(tc.want.bytes && !(bytes > 0)) || covers != tc.want.covers {
				t.Errorf("stats: %v; want entries %v (at least: %v), bytes > 0: %v, covers %q", m, tc.want.entries, tc.want.atLeast, tc.want.bytes, tc.want.covers)
			}
			if s, ok := m["session"].(map[string]any); !ok || s["hits"] != 0.0 || s["misses"] != 0.0 || s["errors"] != 0.0 {
				t.Errorf("stats: session %v, want this process's counters, all 0", m["session"])
			}
		})
	}

	// locmem: this process's store, empty; the text form.
	r := newRunner(t)
	out, _, _ := r.run("", "--url", "locmem://x", "stats")
	for _, want := range []string{"entries:    0\n", "size:       unknown\n", "session:    0 hits, 0 misses, 0 sets, 0 deletes, 0 errors (this process)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats on locmem: %q lacks %q", out, want)
		}
	}
	// dummy: no Sizer.
	m := r.stats("--url", "dummy://")
	if m["entries"] != nil || m["bytes"] != nil {
		t.Errorf("stats on dummy: %v, want entries and bytes null", m)
	}
}

// dropTable drops a test's cache table.
func dropTable(t *testing.T, rawURL, table string) {
	c, err := djcache.Open(rawURL)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	d := c.Driver().(*db.Driver)
	if _, err := d.DB().Exec("DROP TABLE IF EXISTS " + table); err != nil {
		t.Errorf("dropping %s: %v", table, err)
	}
}

// TestClientLogs: go-redis's log lines go through slog, hidden unless -v
// (issue 19, item 15: "pool.go:770: redis: connection pool: failed to dial
// after 5 attempts" lines on stderr).
func TestClientLogs(t *testing.T) {
	r := newRunner(t)
	const url = "redis://127.0.0.1:1/0" // nothing listens on port 1
	_, errOut, code := r.run("", "--url", url, "get", "k")
	if code != 2 || errOut != `djcache get: redis: get ":1:k": dial tcp 127.0.0.1:1: connect: connection refused`+"\n" {
		t.Errorf("get from a Redis that is down: exit %d, stderr %q; want the error line alone", code, errOut)
	}
	_, errOut, code = r.run("", "--url", url, "get", "k", "-v")
	if code != 2 || !strings.Contains(errOut, "level=DEBUG") || !strings.Contains(errOut, "failed to dial") || !strings.Contains(errOut, "logger=go-redis") || strings.Contains(errOut, "pool.go") {
		t.Errorf("get -v from a Redis that is down: exit %d, stderr %q; want go-redis's lines through slog", code, errOut)
	}
}
