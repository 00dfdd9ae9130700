// Command djcache is Django's low-level cache API on the command line: get,
// set, add, delete, has, touch, incr, decr, incr-version, decr-version,
// get-many, set-many, delete-many, clear, createcachetable, stats and bench,
// against any djcache URL or an alias of Django's CACHES settings; version
// prints its own version.
//
// With no configuration it uses an embedded, persistent default: a file
// cache in the user's cache directory (see "djcache help"), so
//
//	djcache set greeting hello
//	djcache get greeting
//
// works on a fresh machine with no server.
//
// Flags may come before or after the command and its arguments, with one
// dash or two; "--" ends them. The key version is --key-version N (or its
// older name, --version N); "djcache version" prints the tool's version.
//
// Exit codes: 0 success (help included); 1 a miss or a key not found (get,
// has, add of a present key, delete, touch, incr of a missing key); 2 a
// usage error or a backend error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
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
	settings       *djcache.Settings // the settings the caches come from; nil for a URL
}

// globalFlags are the flags every command accepts.
type globalFlags struct {
	// Choosing the cache.
	url, settingsFile, alias string
	verbose                  bool
	// Per-call flags; a command reads those its uses field names.
	timeout   string
	version   int
	json      bool
	valueType string
}

// register adds the flags every command takes to fs. The help texts do not
// come from these usage strings but from cacheFlagDocs and callFlagDocs.
func (g *globalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "cache `URL`")
	fs.StringVar(&g.settingsFile, "settings", g.settingsFile, "Django CACHES settings `FILE`")
	fs.StringVar(&g.alias, "alias", g.alias, "cache `NAME` in the settings")
	fs.BoolVar(&g.verbose, "v", g.verbose, "log the backends' details")
	fs.BoolVar(&g.verbose, "verbose", g.verbose, "log the backends' details")
	fs.StringVar(&g.timeout, "timeout", g.timeout, "entry timeout in `SECONDS`")
	fs.IntVar(&g.version, "key-version", g.version, "key `version`")
	fs.IntVar(&g.version, "version", g.version, "key `version` (the older name of --key-version)")
	fs.BoolVar(&g.json, "json", g.json, "JSON output")
	fs.StringVar(&g.valueType, "type", g.valueType, "how to store values")
}

// The per-call flags a command reads (command.uses).
const (
	useJSON = 1 << iota
	useTimeout
	useType
	useVersion
)

// flagDoc is a flag as the help texts show it.
type flagDoc struct {
	use   int    // for a per-call flag, its use bit
	names string // such as "--url URL" or "-v, --verbose"
	usage string
}

var cacheFlagDocs = []flagDoc{
	{names: "--url URL", usage: "the cache's URL, such as redis://127.0.0.1:6379/0 or file:///var/tmp/cache (default $DJCACHE_URL)"},
	{names: "--settings FILE", usage: "Django's CACHES settings as JSON, TOML or YAML (default $DJCACHE_SETTINGS)"},
	{names: "--alias NAME", usage: `the cache alias in the settings (default "default")`},
	{names: "-v, --verbose", usage: "log the backends' details on stderr, such as go-redis's connection failures (by default only warnings)"},
}

var callFlagDocs = []flagDoc{
	{useJSON, "--json", "JSON output"},
	{useTimeout, "--timeout SECONDS", `the timeout of the entries written: seconds (fractions allowed) or a duration such as 1h30m; "none" never expires, "0" does not cache (default: the cache's)`},
	{useType, "--type TYPE", "how to store values: auto (integers as integers, the rest as text; the default), string, int, float, bool, json, bytes"},
	{useVersion, "--key-version N", "the key version, Django's version argument (default: the cache's); --version N is an older name for it"},
}

// command is one subcommand.
type command struct {
	name, args, summary, help string
	flags                     func(fs *flag.FlagSet) // the command's own flags
	run                       func(ctx context.Context, e *env, fs *flag.FlagSet) error
	uses                      int  // the per-call flags it reads (useJSON, ...)
	writes                    bool // it writes to the cache (see warnLocmem)
	noCache                   bool // it runs without opening a cache (help, version)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, for tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		// --version alone has no key version to take: the user asks for
		// the tool's version, as with most tools.
		args = []string{"version"}
	}
	g := &globalFlags{alias: djcache.DefaultAlias, valueType: "auto"}

	// Flags may come anywhere, so the command is the first argument that
	// is not a flag or a flag's value. Which flags take a value is known
	// from every command's flags together; the command's own flag set then
	// parses them.
	all := flag.NewFlagSet("djcache", flag.ContinueOnError)
	g.register(all)
	for _, c := range commands() {
		if c.flags != nil {
			c.flags(all)
		}
	}
	flagArgs, positional := splitArgs(all, args)

	var cmd *command
	prefix := "djcache"
	if len(positional) > 0 {
		if cmd = findCommand(positional[0]); cmd == nil {
			fmt.Fprintf(stderr, "djcache: unknown command %q\n", positional[0])
			printHint(stderr, nil)
			return exitError
		}
		prefix = "djcache " + cmd.name
	}
	fs := newFlagSet(cmd, g)
	if err := fs.Parse(flagArgs); err != nil {
		if strings.HasPrefix(err.Error(), "flag provided but not defined") {
			err = fmt.Errorf(`%w (for a key or value that starts with "-", put -- before it)`, err)
		}
		switch {
		case errors.Is(err, flag.ErrHelp) && cmd == nil:
			printUsage(stdout)
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			printCommandHelp(stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		printHint(stderr, cmd)
		return exitError
	}
	if cmd == nil {
		printUsage(stderr)
		return exitError
	}
	fs.Parse(append([]string{"--"}, positional[1:]...)) // cannot fail: no flags

	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: dropTime})))

	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, global: g}
	if !cmd.noCache {
		cs, s, err := openCaches(g)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", prefix, message(err))
			return exitError
		}
		defer cs.Close()
		e.caches, e.settings = cs, s
		if cmd.writes {
			e.warnLocmem(prefix)
		}
	}
	err := cmd.run(ctx, e, fs)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errMiss):
		return exitMiss
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		printHint(stderr, cmd)
		return exitError
	default:
		fmt.Fprintf(stderr, "%s: %s\n", prefix, message(err))
		return exitError
	}
}

// message is err's text for the line "djcache COMMAND: …", which already
// says djcache: the "djcache: " that djcache's errors start with goes.
func message(err error) string {
	return strings.TrimPrefix(err.Error(), "djcache: ")
}

// dropTime leaves the time out of log lines: a command's lines are read as
// it runs.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// newFlagSet returns the flag set of cmd (nil: the flags every command
// takes).
func newFlagSet(cmd *command, g *globalFlags) *flag.FlagSet {
	name := "djcache"
	if cmd != nil {
		name += " " + cmd.name
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if cmd != nil && cmd.flags != nil {
		cmd.flags(fs)
	}
	return fs
}

// negativeNumber matches arguments that are numbers, not flags, such as
// the DELTA of "incr hits -5": no flag name starts with a digit.
var negativeNumber = regexp.MustCompile(`^-[0-9.]`)

// splitArgs separates args into flags (each with its value, if it takes
// one and is not written --name=value) and positional arguments, in order,
// as users expect of flags anywhere: "djcache get hits --json". A flag
// takes a value unless fs defines it as a boolean; an undefined flag is
// kept for fs.Parse to report. "--" ends the flags, "-" and negative
// numbers are arguments.
func splitArgs(fs *flag.FlagSet, args []string) (flags, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(positional, args[i+1:]...)
		case len(a) < 2 || a[0] != '-' || negativeNumber.MatchString(a):
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if hasValue {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, positional
}

// warnLocmem warns that what a command writes to a locmem cache is lost:
// the store lives in this process, which ends with the command.
func (e *env) warnLocmem(prefix string) {
	c, err := e.cache()
	if err != nil {
		return // the command reports it
	}
	if _, ok := c.Driver().(*locmem.Driver); ok {
		fmt.Fprintf(e.stderr, "%s: warning: a locmem cache lives only inside one process: what this command writes is gone when djcache exits (use a file, database, Redis or memcached URL to keep entries between runs)\n", prefix)
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
// $DJCACHE_SETTINGS, then $DJCACHE_URL, then the embedded default. It
// returns the settings too when the caches come from a settings file.
func openCaches(g *globalFlags) (*djcache.Caches, *djcache.Settings, error) {
	path, rawURL := g.settingsFile, g.url
	if path == "" && rawURL == "" {
		path, rawURL = os.Getenv(settings.EnvSettings), os.Getenv(settings.EnvURL)
	}
	switch {
	case g.url != "":
	case path != "":
		s, err := settings.Load(path)
		if err != nil {
			return nil, nil, err
		}
		cs, err := djcache.NewCaches(s, nil)
		return cs, s, err
	case rawURL == "":
		u, err := defaultURL()
		if err != nil {
			return nil, nil, err
		}
		rawURL = u
	}
	cs, err := djcache.CachesFromURL(rawURL, nil)
	return cs, nil, err
}

// cache opens the selected alias.
func (e *env) cache() (*djcache.Cache, error) {
	return e.caches.Cache(e.global.alias)
}

// keyPrefix returns the key prefix of the selected alias: the settings'
// KEY_PREFIX, or the key_prefix parameter of its URL, which overrides it.
func (e *env) keyPrefix() string {
	var prefix string
	if e.settings != nil {
		prefix = e.settings.Caches[e.global.alias].KeyPrefix
	}
	if raw, err := e.caches.URL(e.global.alias); err == nil {
		if u, err := url.Parse(raw); err == nil && u.Query().Has("key_prefix") {
			prefix = u.Query().Get("key_prefix")
		}
	}
	return prefix
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

// helpWidth is the width the help texts wrap at.
const helpWidth = 80

// printRows prints two columns, the second wrapped at helpWidth.
func printRows(w io.Writer, rows [][2]string) {
	left := 0
	for _, r := range rows {
		left = max(left, len(r[0]))
	}
	left = min(left, 20)
	for _, r := range rows {
		lines := wrap(r[1], helpWidth-left-4)
		if len(r[0]) > left {
			fmt.Fprintf(w, "  %s\n", r[0])
			fmt.Fprintf(w, "  %-*s  %s\n", left, "", lines[0])
		} else {
			fmt.Fprintf(w, "  %-*s  %s\n", left, r[0], lines[0])
		}
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "  %-*s  %s\n", left, "", l)
		}
	}
}

// wrap splits s into lines of at most width bytes, at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	return append(lines, line)
}

// commandsUsing lists the commands that read a per-call flag.
func commandsUsing(use int) string {
	var names []string
	for _, c := range commands() {
		if c.uses&use != 0 {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ", ")
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `djcache: Django's cache API on the command line.

Usage:
  djcache [flags] COMMAND [arguments] [flags]

Commands:
`)
	var rows [][2]string
	for _, c := range commands() {
		rows = append(rows, [2]string{c.name, c.summary})
	}
	printRows(w, rows)

	fmt.Fprint(w, "\nChoosing the cache (any command):\n")
	rows = rows[:0]
	for _, f := range cacheFlagDocs {
		rows = append(rows, [2]string{f.names, f.usage})
	}
	printRows(w, rows)

	fmt.Fprint(w, "\nCommand flags:\n")
	rows = rows[:0]
	for _, f := range callFlagDocs {
		rows = append(rows, [2]string{f.names, f.usage + ". Commands: " + commandsUsing(f.use) + "."})
	}
	for _, c := range commands() {
		if c.flags == nil {
			continue
		}
		own := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(own)
		own.VisitAll(func(f *flag.Flag) {
			names, usage := flagRow(f)
			rows = append(rows, [2]string{names, usage + ". Command: " + c.name + "."})
		})
	}
	printRows(w, rows)

	fmt.Fprint(w, `
Flags may come before or after the command and its arguments, with one dash
or two (-json, --json); "--" ends them: "djcache get -- -x" reads the key
"-x". The key version is --key-version N (--version N, its older name, still
works); "djcache version" prints djcache's own version.

The cache: --url URL, or --settings FILE with --alias NAME (Django's CACHES
as JSON, TOML or YAML), or $DJCACHE_URL / $DJCACHE_SETTINGS; with none of
them, a file cache in your user cache directory whose entries never expire.
A locmem:// cache lives only inside one process: what a command writes there
is gone when djcache exits, and djcache warns so.

Exit codes: 0 ok, 1 miss or not found, 2 usage or backend error.
Run "djcache help COMMAND" for a command's flags and examples.
`)
}

// flagRow returns a command's own flag as the help shows it.
func flagRow(f *flag.Flag) (names, usage string) {
	arg, usage := flag.UnquoteUsage(f)
	names = "--" + f.Name
	if arg != "" {
		names += " " + strings.ToUpper(arg)
	}
	if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
		usage += " (default " + f.DefValue + ")"
	}
	return names, usage
}

// printHint follows a usage error: the command's usage line and where its
// help is (cmd nil: where the list of commands is).
func printHint(w io.Writer, c *command) {
	if c == nil {
		fmt.Fprintln(w, `Run "djcache help" for the commands and flags.`)
		return
	}
	fmt.Fprintf(w, "Usage: %s [flags]\nRun \"djcache help %s\" for its flags and examples.\n", usageLine(c), c.name)
}

// usageLine is "djcache NAME ARGS".
func usageLine(c *command) string {
	if c.args == "" {
		return "djcache " + c.name
	}
	return "djcache " + c.name + " " + c.args
}

func printCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n%s\n", usageLine(c), strings.TrimSpace(c.help))
	var rows [][2]string
	for _, f := range callFlagDocs {
		if c.uses&f.use != 0 {
			rows = append(rows, [2]string{f.names, f.usage})
		}
	}
	if c.flags != nil {
		own := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(own)
		own.VisitAll(func(f *flag.Flag) {
			names, usage := flagRow(f)
			rows = append(rows, [2]string{names, usage})
		})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "\nFlags (before or after the arguments):")
		printRows(w, rows)
	}
	if !c.noCache {
		fmt.Fprintln(w, "\nChoosing the cache:")
		rows = rows[:0]
		for _, f := range cacheFlagDocs {
			rows = append(rows, [2]string{f.names, f.usage})
		}
		printRows(w, rows)
	}
}
