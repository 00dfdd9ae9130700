// Command djcache is Django's low-level cache API on the command line: get,
// set, add, delete, has, touch, incr, decr, incr-version, decr-version,
// get-many, set-many, delete-many, clear, createcachetable, stats and bench,
// against any djcache URL or an alias of Django's CACHES settings.
//
// With no configuration it uses an embedded, persistent default: a file
// cache in the user's cache directory (see "djcache help"), so
//
//	djcache set greeting hello
//	djcache get greeting
//
// works on a fresh machine with no server.
//
// Exit codes: 0 success; 1 a miss or a key not found (get, has, add of a
// present key, delete, touch, incr of a missing key); 2 a usage error or a
// backend error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/settings"
)

// Exit codes.
const (
	exitOK    = 0
	exitMiss  = 1
	exitError = 2
)

// errMiss makes a command exit with exitMiss without a message.
var errMiss = errors.New("miss")

// usageError is a mistake in the command line; it exits with exitError
// after the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what a command runs with.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	global         *globalFlags
	caches         *djcache.Caches
}

type globalFlags struct {
	url, settingsFile, alias string
	timeout                  string
	version                  int
	json                     bool
	valueType                string
}

// register adds the flags every command takes to fs.
func (g *globalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "cache `URL`, such as redis://127.0.0.1:6379/0 (default $DJCACHE_URL)")
	fs.StringVar(&g.settingsFile, "settings", g.settingsFile, "Django CACHES settings `file` (.json, .toml, .yaml; default $DJCACHE_SETTINGS)")
	fs.StringVar(&g.alias, "alias", g.alias, "cache `alias` in the settings")
	fs.StringVar(&g.timeout, "timeout", g.timeout, "timeout in `seconds` for set, add, touch, set-many (fractions allowed; \"none\" = forever; \"0\" = don't cache)")
	fs.IntVar(&g.version, "version", g.version, "key `version` (default: the cache's)")
	fs.BoolVar(&g.json, "json", g.json, "JSON output")
	fs.StringVar(&g.valueType, "type", g.valueType, "how to store values: `auto` (integers as integers, the rest as text), string, int, float, bool, json, bytes")
}

// command is one subcommand.
type command struct {
	name, args, summary, help string
	flags                     func(fs *flag.FlagSet) // the command's own flags
	run                       func(ctx context.Context, e *env, fs *flag.FlagSet) error
	noCache                   bool // runs without opening a cache (help)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globalFlags{alias: djcache.DefaultAlias, valueType: "auto"}
	top := flag.NewFlagSet("djcache", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	g.register(top)
	if err := top.Parse(args); err != nil {
		fmt.Fprintf(stderr, "djcache: %v\n\n", err)
		printUsage(stderr)
		return exitError
	}
	if top.NArg() == 0 {
		printUsage(stderr)
		return exitError
	}
	name := top.Arg(0)
	if name == "-h" || name == "--help" {
		name = "help"
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "djcache: unknown command %q\n\n", name)
		printUsage(stderr)
		return exitError
	}
	fs := flag.NewFlagSet("djcache "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	if err := fs.Parse(top.Args()[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(stdout, cmd, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "djcache %s: %v\n\n", cmd.name, err)
		printCommandHelp(stderr, cmd, fs)
		return exitError
	}
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, global: g}
	if !cmd.noCache {
		cs, err := openCaches(g)
		if err != nil {
			fmt.Fprintf(stderr, "djcache: %v\n", err)
			return exitError
		}
		defer cs.Close()
		e.caches = cs
	}
	err := cmd.run(ctx, e, fs)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errMiss):
		return exitMiss
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "djcache %s: %v\n\n", cmd.name, err)
		printCommandHelp(stderr, cmd, fs)
		return exitError
	default:
		fmt.Fprintf(stderr, "djcache %s: %v\n", cmd.name, err)
		return exitError
	}
}

// defaultURL is the embedded default: a file cache in the user's cache
// directory, whose entries never expire unless a timeout is given.
func defaultURL() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no configuration (--url, --settings, $DJCACHE_URL, $DJCACHE_SETTINGS) and no user cache directory for the default: %v", err)
	}
	return "file://" + filepath.ToSlash(filepath.Join(dir, "djcache")) + "?timeout=none&max_entries=10000", nil
}

// openCaches resolves the configuration: --url, then --settings, then
// $DJCACHE_SETTINGS, then $DJCACHE_URL, then the embedded default.
func openCaches(g *globalFlags) (*djcache.Caches, error) {
	switch {
	case g.url != "":
		return djcache.CachesFromURL(g.url, nil)
	case g.settingsFile != "":
		s, err := settings.Load(g.settingsFile)
		if err != nil {
			return nil, err
		}
		return djcache.NewCaches(s, nil)
	}
	cs, err := settings.FromEnv(nil)
	if !errors.Is(err, settings.ErrNoConfig) {
		return cs, err
	}
	u, err := defaultURL()
	if err != nil {
		return nil, err
	}
	return djcache.CachesFromURL(u, nil)
}

// cache opens the selected alias.
func (e *env) cache() (*djcache.Cache, error) {
	return e.caches.Cache(e.global.alias)
}

// cacheOpts opens the selected alias and returns it with the per-call
// options the flags ask for.
func (e *env) cacheOpts(withTimeout bool) (*djcache.Cache, []djcache.Option, error) {
	c, err := e.cache()
	if err != nil {
		return nil, nil, err
	}
	o, err := e.opts(withTimeout)
	return c, o, err
}

// opts returns the per-call options the flags ask for.
func (e *env) opts(withTimeout bool) ([]djcache.Option, error) {
	var o []djcache.Option
	if e.global.version != 0 {
		o = append(o, djcache.Version(e.global.version))
	}
	if withTimeout && e.global.timeout != "" {
		t, err := parseTimeout(e.global.timeout)
		if err != nil {
			return nil, err
		}
		o = append(o, t)
	}
	return o, nil
}

func parseTimeout(s string) (djcache.Option, error) {
	if strings.EqualFold(s, "none") {
		return djcache.Forever, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		var f float64
		if _, serr := fmt.Sscanf(s, "%g", &f); serr != nil || fmt.Sprint(f) == "NaN" {
			return djcache.Option{}, usagef("--timeout %q: want seconds (such as 60 or 0.5), a duration (1h30m) or none", s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	return djcache.Timeout(d), nil
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `djcache: Django's cache API on the command line.

Usage:
  djcache [flags] <command> [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
The cache: --url URL, or --settings FILE with --alias NAME (Django's CACHES
as JSON, TOML or YAML), or $DJCACHE_URL / $DJCACHE_SETTINGS; with none of
them, a file cache in your user cache directory whose entries never expire.

Exit codes: 0 ok, 1 miss or not found, 2 usage or backend error.
Run "djcache help <command>" for a command's flags and examples.
`)
}

func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: djcache %s %s\n\n%s\n", c.name, c.args, strings.TrimSpace(c.help))
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
