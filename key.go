package djcache

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KeyFunc makes the stored key from the caller's key, the cache's key prefix
// and the version, as Django's KEY_FUNCTION does. It must be deterministic
// and safe for concurrent use.
type KeyFunc func(key, keyPrefix string, version int) string

// DefaultKeyFunc is Django's default key function: keyPrefix + ":" + version
// + ":" + key, byte for byte, so that djcache and Django address the same
// entries. With no prefix, key "foo" at version 1 becomes ":1:foo".
func DefaultKeyFunc(key, keyPrefix string, version int) string {
	return string(appendDefaultKey(nil, key, keyPrefix, version))
}

func appendDefaultKey(b []byte, key, keyPrefix string, version int) []byte {
	b = append(b, keyPrefix...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, ':')
	return append(b, key...)
}

// MaxKeyLength is the longest made key, in bytes, that memcached accepts.
// Longer keys get Django's warning (or ErrInvalidKey on memcached).
const MaxKeyLength = 250

// makeKey returns the made key of key at version.
func (c *Cache) makeKey(key string, version int) string {
	if c.set.keyFunc != nil {
		return c.set.keyFunc(key, c.set.prefix, version)
	}
	if version == c.set.version {
		return c.head + key
	}
	return DefaultKeyFunc(key, c.set.prefix, version)
}

// appendKey appends the made key to b; with the default key function it
// does not allocate when b has room.
func (c *Cache) appendKey(b []byte, key string, version int) []byte {
	if c.set.keyFunc != nil {
		return append(b, c.set.keyFunc(key, c.set.prefix, version)...)
	}
	if version == c.set.version {
		return append(append(b, c.head...), key...)
	}
	return appendDefaultKey(b, key, c.set.prefix, version)
}

// checkKey applies Django's validate_key to a made key: a driver that
// implements driver.KeyChecker decides (memcached refuses bad keys); other
// backends store any key and djcache logs Django's CacheKeyWarning, one
// warning per broken rule, on every call, as Django does.
func (c *Cache) checkKey(ctx context.Context, op, made string) error {
	if c.keyChecker != nil {
		if err := c.keyChecker.CheckKey(made); err != nil {
			return c.opError(op, made, err)
		}
		return nil
	}
	tooLong, badChar := keyProblems(made)
	if tooLong || badChar {
		c.warnKey(ctx, made, tooLong, badChar)
	}
	return nil
}

// keyProblems reports the two conditions of Django's memcache_key_warnings:
// a key longer than MaxKeyLength bytes, and a byte in [\x00-\x20\x7f].
// (Bytes of multi-byte UTF-8 sequences are never in that set, so checking
// bytes is checking characters.)
func keyProblems(made string) (tooLong, badChar bool) {
	tooLong = len(made) > MaxKeyLength
	for i := 0; i < len(made); i++ {
		if b := made[i]; b <= ' ' || b == 0x7f {
			return tooLong, true
		}
	}
	return tooLong, false
}

// Django's messages (django.core.cache.backends.base.memcache_key_warnings).
const (
	keyTooLongMsg = "Cache key will cause errors if used with memcached: %s (longer than %d)"
	keyBadCharMsg = "Cache key contains characters that will cause errors if used with memcached: %s"
)

// KeyWarnings returns Django's CacheKeyWarning messages for a made key, in
// Django's order: none for a good key, up to two for a bad one. The key is
// shown as Python's repr would show it, as in Django.
func KeyWarnings(made string) []string {
	tooLong, badChar := keyProblems(made)
	var w []string
	if tooLong {
		w = append(w, fmt.Sprintf(keyTooLongMsg, pyRepr(made), MaxKeyLength))
	}
	if badChar {
		w = append(w, fmt.Sprintf(keyBadCharMsg, pyRepr(made)))
	}
	return w
}

func (c *Cache) warnKey(ctx context.Context, made string, tooLong, badChar bool) {
	logger := c.set.logger
	if logger == nil {
		logger = slog.Default()
	}
	if !logger.Enabled(ctx, slog.LevelWarn) {
		return
	}
	repr := pyRepr(made)
	key := slog.String("key", strings.Clone(made)) // made may be borrowed memory
	if tooLong {
		logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf(keyTooLongMsg, repr, MaxKeyLength), key, slog.String("category", "CacheKeyWarning"))
	}
	if badChar {
		logger.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf(keyBadCharMsg, repr), key, slog.String("category", "CacheKeyWarning"))
	}
}

// pyRepr returns s as Python's repr(str) shows it: single quotes unless s
// holds a single quote and no double quote; backslash, the quote, \t, \n and
// \r escaped; other non-printable characters as \xhh, \uhhhh or \Uhhhhhhhh;
// printable non-ASCII left as it is. Bytes that are not UTF-8 show as \xhh.
func pyRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(quote)
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		case r == '\\' || r == rune(quote):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			b.WriteString(`\x`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&15])
		case r < 0x10000:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	b.WriteByte(quote)
	return b.String()
}
