package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// Django's CacheKeyWarning messages (django.core.cache.backends.base,
// memcache_key_warnings), with the made key in Python's repr.
const (
	keyTooLongMsg = "Cache key will cause errors if used with memcached: %s (longer than 250)"
	keyBadCharMsg = "Cache key contains characters that will cause errors if used with memcached: %s"
)

// keyOp is one operation that validates its key.
type keyOp struct {
	name string
	call func(ctx context.Context, c *djcache.Cache, key string) error
}

// ignoreNotFound drops ErrNotFound: the key-warning cases call Incr and
// IncrVersion on keys that do not exist.
func ignoreNotFound(err error) error {
	if errors.Is(err, djcache.ErrNotFound) {
		return nil
	}
	return err
}

var keyOps = []keyOp{
	{"get", func(ctx context.Context, c *djcache.Cache, k string) error {
		var s string
		_, err := c.Get(ctx, k, &s)
		return err
	}},
	{"set", func(ctx context.Context, c *djcache.Cache, k string) error { return c.Set(ctx, k, "v") }},
	{"add", func(ctx context.Context, c *djcache.Cache, k string) error { _, err := c.Add(ctx, k, "v"); return err }},
	{"incr", func(ctx context.Context, c *djcache.Cache, k string) error {
		_, err := c.Incr(ctx, k, 1)
		return ignoreNotFound(err)
	}},
	{"decr", func(ctx context.Context, c *djcache.Cache, k string) error {
		_, err := c.Decr(ctx, k, 1)
		return ignoreNotFound(err)
	}},
	{"touch", func(ctx context.Context, c *djcache.Cache, k string) error { _, err := c.Touch(ctx, k); return err }},
	{"delete", func(ctx context.Context, c *djcache.Cache, k string) error { _, err := c.Delete(ctx, k); return err }},
	{"has_key", func(ctx context.Context, c *djcache.Cache, k string) error { _, err := c.Has(ctx, k); return err }},
	{"get_many", func(ctx context.Context, c *djcache.Cache, k string) error {
		var m map[string]string
		return c.GetMany(ctx, []string{k}, &m)
	}},
	{"set_many", func(ctx context.Context, c *djcache.Cache, k string) error {
		_, err := c.SetMany(ctx, map[string]any{k: "v"})
		return err
	}},
	{"delete_many", func(ctx context.Context, c *djcache.Cache, k string) error { return c.DeleteMany(ctx, []string{k}) }},
	{"get_or_set", func(ctx context.Context, c *djcache.Cache, k string) error {
		var s string
		return c.GetOrSet(ctx, k, &s, func(context.Context) (any, error) { return "v", nil })
	}},
	{"incr_version", func(ctx context.Context, c *djcache.Cache, k string) error {
		_, err := c.IncrVersion(ctx, k, 1)
		return ignoreNotFound(err)
	}},
}

// simpleRepr is Python's repr of a string with no quote, backslash or
// non-printable character other than those escaped by the caller.
func simpleRepr(s string) string { return "'" + s + "'" }

func keyCases() []testCase {
	return []testCase{
		{
			name:        "key-warnings",
			explanation: "Every operation validates its made key as Django's validate_key does: a key longer than 250 bytes, or holding a space or a control character, is logged as a warning (slog, Warn level) with Django's exact CacheKeyWarning text, one warning per broken rule per call, and the operation still proceeds. These keys break memcached, so the warning tells users before they switch backends. A driver that implements driver.KeyChecker refuses such keys with ErrInvalidKey instead.",
			run: func(t *testing.T, e *env) {
				rec := &logRecorder{}
				c := e.cache(t, &djcache.Options{Logger: rec.logger()})
				kc, checks := c.Driver().(driver.KeyChecker)
				for _, op := range keyOps {
					head := ":1:"
					pad := func(sep string, n int) string { // a key whose made key is n bytes
						return op.name + sep + strings.Repeat("x", n-len(head)-len(op.name)-len(sep))
					}
					tests := []struct {
						key  string
						want []string
					}{
						{op.name + " key", []string{fmt.Sprintf(keyBadCharMsg, simpleRepr(head+op.name+" key"))}},
						{op.name + "\ttab", []string{fmt.Sprintf(keyBadCharMsg, simpleRepr(head+op.name+`\ttab`))}},
						{op.name + "\x7fdel", []string{fmt.Sprintf(keyBadCharMsg, simpleRepr(head+op.name+`\x7fdel`))}},
						{op.name + "\x00nul", []string{fmt.Sprintf(keyBadCharMsg, simpleRepr(head+op.name+`\x00nul`))}},
						{pad("-", 251), []string{fmt.Sprintf(keyTooLongMsg, simpleRepr(head+pad("-", 251)))}},
						{pad(" ", 251), []string{
							fmt.Sprintf(keyTooLongMsg, simpleRepr(head+pad(" ", 251))),
							fmt.Sprintf(keyBadCharMsg, simpleRepr(head+pad(" ", 251))),
						}},
						{pad("-", 250), nil},
						{op.name + "-清-ключ", nil},
					}
					for _, tc := range tests {
						rec.take()
						err := op.call(e.ctx, c, tc.key)
						recs := rec.take()
						if checks {
							if len(recs) > 0 {
								t.Errorf("%s(%q) on a driver.KeyChecker logged %q, want no warnings", op.name, tc.key, messages(recs))
							}
							if kerr := kc.CheckKey(head + tc.key); kerr != nil {
								wantErr(t, fmt.Sprintf("%s(%q) refused by CheckKey", op.name, tc.key), err, djcache.ErrInvalidKey)
							} else if err != nil {
								t.Errorf("%s(%q) of a key CheckKey accepts: %v", op.name, tc.key, err)
							}
							continue
						}
						if err != nil {
							t.Errorf("%s(%q): %v, want the operation to proceed", op.name, tc.key, err)
						}
						if got := messages(recs); !slices.Equal(got, tc.want) {
							t.Errorf("%s(%q) logged %q, want %q", op.name, tc.key, got, tc.want)
						}
						for _, r := range recs {
							if r.Level != slog.LevelWarn {
								t.Errorf("%s(%q) logged at level %v, want %v", op.name, tc.key, r.Level, slog.LevelWarn)
							}
						}
					}
				}
				if !checks && e.o.supports(Storage) {
					set(t, e.ctx, c, "bad key", "stored anyway")
					wantValue(t, e.ctx, c, "bad key", "stored anyway")
				}
			},
		},
		{
			name:        "key-warning-repr",
			explanation: "The key in a warning is shown as Python's repr shows it (single quotes unless the key holds a single quote and no double quote; \\t, \\n, \\x00, \\xa0, \\u2028 escaped; printable non-ASCII as it is), so that djcache's warnings read exactly like Django's.",
			run: func(t *testing.T, e *env) {
				rec := &logRecorder{}
				c := e.cache(t, &djcache.Options{Logger: rec.logger()})
				if _, ok := c.Driver().(driver.KeyChecker); ok {
					t.Skip("the driver implements driver.KeyChecker: djcache asks it about keys instead of warning")
				}
				tests := []struct{ key, repr string }{
					{"it's bad", `":1:it's bad"`},
					{`say "hi" now`, `':1:say "hi" now'`},
					{`both'" q`, `':1:both\'" q'`},
					{"清 key", `':1:清 key'`},
					{"a\x00b\x7f", `':1:a\x00b\x7f'`},
					{"tab\there\n", `':1:tab\there\n'`},
					{`back\slash x`, `':1:back\\slash x'`},
					{"nb\u00a0sp x", `':1:nb\xa0sp x'`},
					{"line\u2028sep x", `':1:line\u2028sep x'`},
				}
				for _, tc := range tests {
					rec.take()
					if err := c.Set(e.ctx, tc.key, "v"); err != nil {
						t.Errorf("Set(%q): %v", tc.key, err)
					}
					want := []string{fmt.Sprintf(keyBadCharMsg, tc.repr)}
					if got := messages(rec.take()); !slices.Equal(got, want) {
						t.Errorf("Set(%q) logged %q, want %q", tc.key, got, want)
					}
				}
			},
		},
	}
}
