package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

func commands() []*command {
	return []*command{
		{name: "get", args: "KEY", summary: "print the value of a key (exit 1 on a miss)", run: cmdGet, uses: useJSON | useVersion, help: `
Prints the value stored under KEY: text as it is, bytes raw, numbers and
booleans plainly, structures as JSON. A miss prints nothing (null with
--json) and exits 1.

Examples:
  djcache get greeting
  djcache get profile:42 --json
  djcache --url redis://127.0.0.1:6379/0 get report --key-version 2`},
		{name: "set", args: "KEY [VALUE]", summary: "store a value (from the argument or stdin)", run: cmdSet, uses: useTimeout | useType | useVersion, writes: true, help: `
Stores VALUE under KEY, replacing any entry. Without VALUE, the value is read
from stdin (one trailing newline dropped, except with --type bytes). By
default (--type auto) an integer such as 42 is stored as an integer, so that
incr works on it, and anything else as text.

Examples:
  djcache set greeting hello
  djcache set banner "Sale today" --timeout 60
  djcache set -- -x "a key that starts with a dash"
  djcache --type json set profile:42 '{"name": "Ada", "langs": ["go"]}'
  cat logo.png | djcache --type bytes set logo`},
		{name: "add", args: "KEY [VALUE]", summary: "store a value only if the key is absent (exit 1 if present)", run: cmdAdd, uses: useJSON | useTimeout | useType | useVersion, writes: true, help: `
Stores VALUE under KEY only if KEY holds no live entry, atomically; exits 1
when the key was already there. A simple lock:

Examples:
  djcache --timeout 30 add lock:nightly-report "$(hostname)" && run-report`},
		{name: "delete", args: "KEY", summary: "remove a key (exit 1 if it was not there)", run: cmdDelete, uses: useJSON | useVersion, writes: true, help: `
Removes KEY; exits 1 when no live entry was there.

Examples:
  djcache delete greeting`},
		{name: "has", args: "KEY", summary: "tell whether a key is present (prints true/false, exit 1 if not)", run: cmdHas, uses: useJSON | useVersion, help: `
Prints true and exits 0 when KEY holds a live entry; prints false and exits 1
otherwise.

Examples:
  djcache has greeting && echo cached`},
		{name: "touch", args: "KEY", summary: "give a key a new expiry (exit 1 if it is not there)", run: cmdTouch, uses: useJSON | useTimeout | useVersion, writes: true, help: `
Sets a new expiry on KEY: the cache's default timeout, or --timeout. Exits 1
when KEY holds no live entry (touch never revives an expired one).

Examples:
  djcache --timeout 3600 touch session:ab12`},
		{name: "incr", args: "KEY [DELTA]", summary: "add DELTA (default 1) to an integer and print it", run: cmdIncr, uses: useJSON | useVersion, writes: true, help: `
Atomically adds DELTA (default 1) to the integer under KEY, keeps the entry's
expiry, and prints the new value. Exits 1 if KEY is missing, 2 if its value is
not an integer.

Examples:
  djcache set hits 0 && djcache incr hits
  djcache incr hits 10
  djcache incr hits -3`},
		{name: "decr", args: "KEY [DELTA]", summary: "subtract DELTA (default 1) from an integer and print it", run: cmdDecr, uses: useJSON | useVersion, writes: true, help: `
Atomically subtracts DELTA (default 1) from the integer under KEY and prints
the new value (memcached stops at 0). Exits 1 if KEY is missing.

Examples:
  djcache decr stock:tea 2`},
		{name: "incr-version", args: "KEY [DELTA]", summary: "move a key to its version + DELTA and print the new version", run: cmdIncrVersion, uses: useJSON | useVersion, writes: true, help: `
Moves the value of KEY from its version (the cache's default, or --key-version)
to that version plus DELTA (default 1), deletes the old entry, and prints the
new version. Exits 1 if KEY is missing.

Examples:
  djcache incr-version report
  djcache incr-version report 3 --key-version 2`},
		{name: "decr-version", args: "KEY [DELTA]", summary: "move a key to its version - DELTA and print the new version", run: cmdDecrVersion, uses: useJSON | useVersion, writes: true, help: `
As incr-version, downwards.

Examples:
  djcache decr-version report --key-version 2`},
		{name: "get-many", args: "KEY...", summary: "print the values of several keys (exit 1 if any is missing)", run: cmdGetMany, uses: useJSON | useVersion, help: `
Fetches several keys in one round trip where the backend allows and prints
"KEY<TAB>VALUE" for each key found, in the order given (a JSON object with
--json). Exits 1 if any key is missing.

Examples:
  djcache get-many a b c
  djcache --json get-many a b c`},
		{name: "set-many", args: "[KEY=VALUE...]", summary: "store several values (args, or a JSON object on stdin)", run: cmdSetMany, uses: useJSON | useTimeout | useType | useVersion, writes: true, help: `
Stores several values in one round trip or transaction where the backend
allows. Each argument is KEY=VALUE (values as --type says); with no
arguments, a JSON object is read from stdin. Prints the keys that could not
be stored, and exits 2 if there were any.

Examples:
  djcache set-many a=1 b=2 greeting=hello
  echo '{"a": 1, "b": [1, 2]}' | djcache set-many --timeout 60`},
		{name: "delete-many", args: "KEY...", summary: "remove several keys", run: cmdDeleteMany, uses: useVersion, writes: true, help: `
Removes several keys in one round trip where the backend allows.

Examples:
  djcache delete-many a b c`},
		{name: "clear", args: "", summary: "remove every entry of the cache", run: cmdClear, writes: true, help: `
Removes every entry of this cache (and, on shared servers, nothing else:
see the backend's documentation).

Examples:
  djcache --settings caches.json --alias sessions clear`},
		{name: "createcachetable", args: "", summary: "create the table of database caches (Django's command)",
			flags: func(fs *flag.FlagSet) { fs.Bool("dry-run", false, "print the SQL instead of running it") },
			run:   cmdCreateCacheTable, help: `
Creates the table of each database cache (every DatabaseCache alias of the
settings, or the --url), as Django's createcachetable does, with Django's
schema. A table that exists is left alone ("Cache table '…' already
exists."). With --dry-run, prints the SQL instead, whether or not the
table exists, and touches nothing (no SQLite file is created; MySQL is
only asked for its collation).

Examples:
  djcache --url 'sqlite:///srv/app/cache.db?table=my_cache_table' createcachetable
  djcache --settings settings.json createcachetable --dry-run`},
		{name: "stats", args: "", summary: "show the cache's backend, round-trip time, entries and size", run: cmdStats, uses: useJSON, help: `
Prints the alias, the URL (password hidden), the backend, the time of one
round trip to it (a Ping: a round trip to every server, storing nothing),
the number of entries and their size where the backend can tell cheaply,
and this process's counters of hits, misses, sets, deletes and errors.

Entries and size: locmem counts its entries (in this process only); file
counts the cache files and adds up their sizes; a database counts the rows
(and adds up the stored values' lengths up to 100,000 rows); Redis counts
the cache's keys and adds up their lengths with SCAN when the database
holds at most 10,000 keys, and otherwise shows the whole database's DBSIZE
if the cache has no key prefix; memcached shows its servers' curr_items and
bytes, which cover every application's items ("the whole server").
Expired entries not yet removed are counted. "unknown" (null with --json)
means the backend cannot tell cheaply.

Examples:
  djcache stats
  djcache --url redis://127.0.0.1:6379 stats --json`},
		{name: "bench", args: "", summary: "a short throughput run: ops/s and latency percentiles", flags: benchFlags, run: cmdBench, uses: useJSON, help: `
Runs gets and sets against the cache for a while from several goroutines and
prints the throughput and the latency percentiles of each operation. Keys are
written under the prefix "djcache-bench:" and deleted afterwards.

Examples:
  djcache bench
  djcache --url memcached://127.0.0.1:11211 bench -duration 10s -concurrency 16 -reads 0.95`},
		{name: "version", args: "", summary: "print djcache's version and the Go version it was built with", run: cmdVersion, uses: useJSON, noCache: true, help: `
Prints djcache's module version (the one "go install …@VERSION"
records; "(devel)" or a pseudo-version for a build from a clone), the Go
version, and the system it runs on, from the binary's build information,
with the commit for a "(devel)" build that recorded one. --key-version N (or --version
N) is the key version of the other commands; "djcache --version" alone
is the same as "djcache version".

Examples:
  djcache version
  djcache version --json`},
		{name: "help", args: "[COMMAND]", summary: "show help for djcache or a command", run: cmdHelp, noCache: true, help: `
Prints the help of djcache, or of COMMAND; so do "djcache --help" (-h) and
"djcache COMMAND --help" (-h).

Examples:
  djcache help
  djcache help set`},
	}
}

func nargs(fs *flag.FlagSet, min, max int) error {
	n := fs.NArg()
	switch {
	case n < min && min == max:
		return usagef("want %d argument(s), got %d", min, n)
	case n < min:
		return usagef("want at least %d argument(s), got %d", min, n)
	case max >= 0 && n > max:
		return usagef("want at most %d argument(s), got %d", max, n)
	}
	return nil
}

func cmdGet(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 1, 1); err != nil {
		return err
	}
	c, o, err := e.cacheOpts(false)
	if err != nil {
		return err
	}
	var v any
	found, err := c.Get(ctx, fs.Arg(0), &v, o...)
	if err != nil {
		return err
	}
	if !found {
		if e.global.json {
			fmt.Fprintln(e.stdout, "null")
		}
		return errMiss
	}
	return printValue(e.stdout, v, e.global.json)
}

// value reads a command's value (argument or stdin) as --type says.
func (e *env) value(args []string) (any, error) {
	s, err := readValue(args, e.stdin, e.global.valueType)
	if err != nil {
		return nil, err
	}
	return parseValue(s, e.global.valueType)
}

func cmdSet(ctx context.Context, e *env, fs *flag.FlagSet) error {
	c, o, v, err := e.keyValue(fs)
	if err != nil {
		return err
	}
	return c.Set(ctx, fs.Arg(0), v, o...)
}

// keyValue prepares the commands of KEY [VALUE] (set, add): the cache, the
// options with the timeout, and the value.
func (e *env) keyValue(fs *flag.FlagSet) (*djcache.Cache, []djcache.Option, any, error) {
	if err := nargs(fs, 1, 2); err != nil {
		return nil, nil, nil, err
	}
	v, err := e.value(fs.Args()[1:])
	if err != nil {
		return nil, nil, nil, err
	}
	c, o, err := e.cacheOpts(true)
	return c, o, v, err
}

// boolResult prints a boolean outcome with --json, and turns false into a
// miss.
func (e *env) boolResult(field string, ok bool, printPlain bool) error {
	if e.global.json {
		writeJSON(e.stdout, map[string]bool{field: ok})
	} else if printPlain {
		fmt.Fprintln(e.stdout, ok)
	}
	if !ok {
		return errMiss
	}
	return nil
}

func cmdAdd(ctx context.Context, e *env, fs *flag.FlagSet) error {
	c, o, v, err := e.keyValue(fs)
	if err != nil {
		return err
	}
	added, err := c.Add(ctx, fs.Arg(0), v, o...)
	if err != nil {
		return err
	}
	return e.boolResult("added", added, false)
}

// keyOp runs a one-key operation that reports a boolean.
func keyOp(field string, printPlain, withTimeout bool, op func(ctx context.Context, c *djcache.Cache, key string, o []djcache.Option) (bool, error)) func(context.Context, *env, *flag.FlagSet) error {
	return func(ctx context.Context, e *env, fs *flag.FlagSet) error {
		if err := nargs(fs, 1, 1); err != nil {
			return err
		}
		c, err := e.cache()
		if err != nil {
			return err
		}
		o, err := e.opts(withTimeout)
		if err != nil {
			return err
		}
		ok, err := op(ctx, c, fs.Arg(0), o)
		if err != nil {
			return err
		}
		return e.boolResult(field, ok, printPlain)
	}
}

var (
	cmdDelete = keyOp("deleted", false, false, func(ctx context.Context, c *djcache.Cache, k string, o []djcache.Option) (bool, error) {
		return c.Delete(ctx, k, o...)
	})
	cmdHas = keyOp("found", true, false, func(ctx context.Context, c *djcache.Cache, k string, o []djcache.Option) (bool, error) {
		return c.Has(ctx, k, o...)
	})
	cmdTouch = keyOp("touched", false, true, func(ctx context.Context, c *djcache.Cache, k string, o []djcache.Option) (bool, error) {
		return c.Touch(ctx, k, o...)
	})
)

// delta reads the optional DELTA argument.
func delta(fs *flag.FlagSet) (int64, error) {
	if fs.NArg() < 2 {
		return 1, nil
	}
	d, err := strconv.ParseInt(fs.Arg(1), 10, 64)
	if err != nil {
		return 0, usagef("DELTA %q is not an integer", fs.Arg(1))
	}
	return d, nil
}

// numberOp runs a command of KEY [DELTA] that prints a number: incr, decr,
// incr-version, decr-version. A missing key exits 1.
func numberOp(field string, op func(ctx context.Context, c *djcache.Cache, key string, delta int64, o []djcache.Option) (int64, error)) func(context.Context, *env, *flag.FlagSet) error {
	return func(ctx context.Context, e *env, fs *flag.FlagSet) error {
		if err := nargs(fs, 1, 2); err != nil {
			return err
		}
		d, err := delta(fs)
		if err != nil {
			return err
		}
		c, o, err := e.cacheOpts(false)
		if err != nil {
			return err
		}
		n, err := op(ctx, c, fs.Arg(0), d, o)
		if errors.Is(err, djcache.ErrNotFound) {
			fmt.Fprintf(e.stderr, "djcache: key %q not found\n", fs.Arg(0))
			return errMiss
		}
		if err != nil {
			return err
		}
		if e.global.json {
			return writeJSON(e.stdout, map[string]int64{field: n})
		}
		_, err = fmt.Fprintln(e.stdout, n)
		return err
	}
}

var (
	cmdIncr = numberOp("value", func(ctx context.Context, c *djcache.Cache, k string, d int64, o []djcache.Option) (int64, error) {
		return c.Incr(ctx, k, d, o...)
	})
	cmdDecr = numberOp("value", func(ctx context.Context, c *djcache.Cache, k string, d int64, o []djcache.Option) (int64, error) {
		return c.Decr(ctx, k, d, o...)
	})
	cmdIncrVersion = numberOp("version", func(ctx context.Context, c *djcache.Cache, k string, d int64, o []djcache.Option) (int64, error) {
		v, err := c.IncrVersion(ctx, k, int(d), o...)
		return int64(v), err
	})
	cmdDecrVersion = numberOp("version", func(ctx context.Context, c *djcache.Cache, k string, d int64, o []djcache.Option) (int64, error) {
		v, err := c.DecrVersion(ctx, k, int(d), o...)
		return int64(v), err
	})
)

func cmdGetMany(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 1, -1); err != nil {
		return err
	}
	c, o, err := e.cacheOpts(false)
	if err != nil {
		return err
	}
	got, err := djcache.GetMany[any](ctx, c, fs.Args(), o...)
	if err != nil {
		return err
	}
	if e.global.json {
		if err := writeJSON(e.stdout, jsonable(map[string]any(got))); err != nil {
			return err
		}
	} else {
		for _, k := range fs.Args() {
			v, ok := got[k]
			if !ok {
				continue
			}
			fmt.Fprintf(e.stdout, "%s\t", k)
			if b, isBytes := v.([]byte); isBytes {
				fmt.Fprintf(e.stdout, "%q\n", b)
				continue
			}
			printValue(e.stdout, v, false)
		}
	}
	for _, k := range fs.Args() {
		if _, ok := got[k]; !ok {
			return errMiss
		}
	}
	return nil
}

func cmdSetMany(ctx context.Context, e *env, fs *flag.FlagSet) error {
	items := map[string]any{}
	if fs.NArg() == 0 {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return err
		}
		v, err := parseValue(string(b), "json")
		if err != nil {
			return err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return usagef("stdin must hold a JSON object of keys and values")
		}
		items = m
	}
	for _, a := range fs.Args() {
		k, s, ok := strings.Cut(a, "=")
		if !ok {
			return usagef("argument %q is not KEY=VALUE", a)
		}
		v, err := parseValue(s, e.global.valueType)
		if err != nil {
			return err
		}
		items[k] = v
	}
	c, o, err := e.cacheOpts(true)
	if err != nil {
		return err
	}
	failed, err := c.SetMany(ctx, items, o...)
	if e.global.json {
		if failed == nil {
			failed = []string{}
		}
		writeJSON(e.stdout, map[string][]string{"failed": failed})
	} else if len(failed) > 0 {
		fmt.Fprintln(e.stdout, strings.Join(failed, "\n"))
	}
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("%d key(s) not stored", len(failed))
	}
	return err
}

func cmdDeleteMany(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 1, -1); err != nil {
		return err
	}
	c, o, err := e.cacheOpts(false)
	if err != nil {
		return err
	}
	return c.DeleteMany(ctx, fs.Args(), o...)
}

func cmdClear(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 0); err != nil {
		return err
	}
	c, err := e.cache()
	if err != nil {
		return err
	}
	return c.Clear(ctx)
}

func cmdStats(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 0); err != nil {
		return err
	}
	c, err := e.cache()
	if err != nil {
		return err
	}
	u, _ := e.caches.URL(e.global.alias)
	start := time.Now()
	err = c.Ping(ctx)
	rtt := time.Since(start)
	if err != nil {
		return err
	}
	size := driver.UnknownSize
	if sz, ok := c.Driver().(driver.Sizer); ok {
		// The command-line tool has no custom key functions.
		size, err = sz.Size(ctx, driver.Scope{Prefix: e.keyPrefix(), DefaultKeyFunc: true})
		if err != nil {
			return fmt.Errorf("size: %w", err)
		}
	}
	st := c.Stats()
	backend := strings.TrimPrefix(fmt.Sprintf("%T", c.Driver()), "*")
	if e.global.json {
		out := map[string]any{
			"alias": e.global.alias, "url": u, "backend": backend, "round_trip_us": rtt.Microseconds(),
			"entries": count(size.Entries), "bytes": count(size.Bytes),
			"session": map[string]uint64{"hits": st.Hits, "misses": st.Misses, "sets": st.Sets, "deletes": st.Deletes, "errors": st.Errors},
		}
		if size.Covers != "" {
			out["covers"] = size.Covers
		}
		return writeJSON(e.stdout, out)
	}
	covers := ""
	if size.Covers != "" {
		covers = " (" + size.Covers + ")"
	}
	fmt.Fprintf(e.stdout, "alias:      %s\nurl:        %s\nbackend:    %s\nround trip: %v\n", e.global.alias, u, backend, rtt.Round(time.Microsecond))
	fmt.Fprintf(e.stdout, "entries:    %s%s\n", countText(size.Entries, ""), covers)
	fmt.Fprintf(e.stdout, "size:       %s%s\n", countText(size.Bytes, " bytes"), covers)
	fmt.Fprintf(e.stdout, "session:    %d hits, %d misses, %d sets, %d deletes, %d errors (this process)\n", st.Hits, st.Misses, st.Sets, st.Deletes, st.Errors)
	return nil
}

// count is a Size count for JSON: null when unknown (-1).
func count(n int64) any {
	if n < 0 {
		return nil
	}
	return n
}

// countText is a Size count for people: "unknown" when unknown (-1).
func countText(n int64, unit string) string {
	if n < 0 {
		return "unknown"
	}
	return strconv.FormatInt(n, 10) + unit
}

func cmdVersion(_ context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 0); err != nil {
		return err
	}
	v := buildVersion()
	if e.global.json {
		return writeJSON(e.stdout, v)
	}
	line := fmt.Sprintf("djcache version %s %s %s/%s", v.Version, v.Go, v.OS, v.Arch)
	if v.Version == "(devel)" && v.Revision != "" {
		line += " (commit " + v.Revision
		if v.Modified {
			line += ", modified"
		}
		line += ")"
	}
	_, err := fmt.Fprintln(e.stdout, line)
	return err
}

// versionInfo is what "djcache version" prints.
type versionInfo struct {
	Version  string `json:"version"` // the module version, or "(devel)"
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Revision string `json:"revision,omitempty"` // the VCS commit, if the build recorded it
	Modified bool   `json:"modified,omitempty"` // the work tree had changes
}

// buildVersion reads the binary's build information.
func buildVersion() versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func cmdHelp(_ context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 1); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		printUsage(e.stdout)
		return nil
	}
	c := findCommand(fs.Arg(0))
	if c == nil {
		return usagef("unknown command %q", fs.Arg(0))
	}
	printCommandHelp(e.stdout, c)
	return nil
}

// tableCreator is implemented by the database backend's driver
// (backends/db).
type tableCreator interface {
	Table() string
	TableExists(ctx context.Context) (bool, error)
	CreateTableSQL(ctx context.Context) ([]string, error)
	CreateTable(ctx context.Context) (created bool, err error)
}

func cmdCreateCacheTable(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 0); err != nil {
		return err
	}
	dryRun := flagValue[bool](fs, "dry-run")
	// Django goes through every DatabaseCache of the settings; an explicit
	// --alias picks one.
	aliases := e.caches.Aliases()
	if e.global.alias != "default" {
		aliases = []string{e.global.alias}
	}
	found := false
	for _, alias := range aliases {
		c, err := e.caches.Cache(alias)
		if err != nil {
			return err
		}
		tc, ok := c.Driver().(tableCreator)
		if !ok {
			continue
		}
		found = true
		if dryRun {
			// A dry run touches nothing and always shows the SQL: it does
			// not look for the table (which would create a SQLite file),
			// and CreateTableSQL connects only to ask MySQL for a
			// collation. (Django's dry run says "already exists" instead
			// when the table is there.)
			stmts, err := tc.CreateTableSQL(ctx)
			if err != nil {
				return err
			}
			for _, s := range stmts {
				fmt.Fprintln(e.stdout, s)
			}
			continue
		}
		exists, err := tc.TableExists(ctx)
		if err != nil {
			return err
		}
		if exists {
			fmt.Fprintf(e.stdout, "Cache table '%s' already exists.\n", tc.Table())
			continue
		}
		if _, err := tc.CreateTable(ctx); err != nil {
			return fmt.Errorf("Cache table '%s' could not be created.\nThe error was: %v.", tc.Table(), err)
		}
		fmt.Fprintf(e.stdout, "Cache table '%s' created.\n", tc.Table())
	}
	if !found {
		return fmt.Errorf("no database cache among the aliases (%s): createcachetable needs a sqlite://, postgres:// or mysql:// URL or a DatabaseCache in the settings", strings.Join(aliases, ", "))
	}
	return nil
}
