package djcache

import (
	"strings"
	"testing"
)

func TestDefaultKeyFunc(t *testing.T) {
	for _, tc := range []struct {
		key, prefix string
		version     int
		want        string
	}{
		{"foo", "", 1, ":1:foo"}, // Django's default: no prefix, version 1
		{"foo", "p", 2, "p:2:foo"},
		{"", "", 1, ":1:"}, // empty keys are allowed, as in Django
		{"清", "cacheprefix", 1, "cacheprefix:1:清"},
		{"k", "", -3, ":-3:k"},
	} {
		if got := DefaultKeyFunc(tc.key, tc.prefix, tc.version); got != tc.want {
			t.Errorf("DefaultKeyFunc(%q, %q, %d) = %q, want %q", tc.key, tc.prefix, tc.version, got, tc.want)
		}
	}
}

// TestPyRepr checks the key shown in warnings against Python's repr(str),
// with the examples observed in DJANGO.md §4.
func TestPyRepr(t *testing.T) {
	for in, want := range map[string]string{
		"key with spaces and 清":  `'key with spaces and 清'`,
		"it's":                   `"it's"`,
		"a\x00b\x7f\u00a0\u2028": `'a\x00b\x7f\xa0\u2028'`,
		"tab\there\n":            `'tab\there\n'`,
		`back\slash`:             `'back\\slash'`,
		`both ' and "`:           `'both \' and "'`,
		"\r":                     `'\r'`,
		"\U0001F600":             "'\U0001F600'", // printable emoji stays literal
		"\U000E0001":             `'\U000e0001'`, // a Cf character outside the BMP
		"\xff":                   `'\xff'`,       // not UTF-8
	} {
		if got := pyRepr(in); got != want {
			t.Errorf("pyRepr(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestKeyWarnings(t *testing.T) {
	long := ":1:" + strings.Repeat("a", 250)
	for _, tc := range []struct {
		key  string
		want []string
	}{
		{":1:ok", nil},
		{":1:清", nil}, // non-ASCII is fine
		{":1:key with spaces", []string{"Cache key contains characters that will cause errors if used with memcached: ':1:key with spaces'"}},
		{":1:del\x7f", []string{`Cache key contains characters that will cause errors if used with memcached: ':1:del\x7f'`}},
		{long, []string{"Cache key will cause errors if used with memcached: '" + long + "' (longer than 250)"}},
		{long + " ", []string{ // both rules broken: two warnings, length first
			"Cache key will cause errors if used with memcached: '" + long + " ' (longer than 250)",
			"Cache key contains characters that will cause errors if used with memcached: '" + long + " '",
		}},
		{":1:" + strings.Repeat("a", 247), nil}, // exactly 250 bytes
	} {
		got := KeyWarnings(tc.key)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("KeyWarnings(%q) =\n%q\nwant\n%q", tc.key, got, tc.want)
		}
	}
}
