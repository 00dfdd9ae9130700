package pickle

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Tuple is a Python tuple. Marshal writes it as a tuple (a plain slice or
// array becomes a list) and Unmarshal into an *any returns tuples as Tuple.
type Tuple []any

// Set is a Python set: its keys are the elements. Elements must be
// hashable in Python and comparable in Go (see the package documentation
// for tuples as elements). Marshal writes the elements in a deterministic
// order (sorted, as for map keys).
type Set map[any]struct{}

// FrozenSet is a Python frozenset; see Set.
type FrozenSet map[any]struct{}

// NewSet returns a Set holding items.
func NewSet(items ...any) Set {
	s := make(Set, len(items))
	for _, it := range items {
		s[it] = struct{}{}
	}
	return s
}

// NewFrozenSet returns a FrozenSet holding items.
func NewFrozenSet(items ...any) FrozenSet {
	s := make(FrozenSet, len(items))
	for _, it := range items {
		s[it] = struct{}{}
	}
	return s
}

// Date is a Python datetime.date: a calendar day without a time zone.
type Date struct {
	Year  int // 1 to 9999
	Month time.Month
	Day   int
}

// DateOf returns the date (in t's location) of t.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String returns the date in ISO 8601 form, as Python's str(date): 2024-01-02.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// In returns midnight of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d Date) valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 {
		return false
	}
	return d.Day <= daysIn(d.Year, d.Month)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Time is a Python datetime.time: a time of day. A nil Location is a naive
// time (no tzinfo). A non-nil Location is written as a fixed-offset
// datetime.timezone (datetime.timezone.utc for UTC) with the location's
// offset on 1 January 2000, since a time of day has no date to pick a
// daylight-saving offset from.
type Time struct {
	Hour        int // 0 to 23
	Minute      int // 0 to 59
	Second      int // 0 to 59
	Microsecond int // 0 to 999999
	Location    *time.Location
}

// TimeOf returns the time of day of t, naive (Location nil), truncated to
// the microsecond.
func TimeOf(t time.Time) Time {
	return Time{t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1000, nil}
}

// String returns the time as Python's str(time) does for naive times:
// 03:04:05 or 03:04:05.000006.
func (t Time) String() string {
	if t.Microsecond != 0 {
		return fmt.Sprintf("%02d:%02d:%02d.%06d", t.Hour, t.Minute, t.Second, t.Microsecond)
	}
	return fmt.Sprintf("%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
}

func (t Time) valid() bool {
	return t.Hour >= 0 && t.Hour < 24 && t.Minute >= 0 && t.Minute < 60 &&
		t.Second >= 0 && t.Second < 60 && t.Microsecond >= 0 && t.Microsecond < 1000000
}

// Decimal is a Python decimal.Decimal, as the string Python's str() gives
// for it: "3.14", "-0.5", "1E+3", "NaN", "Infinity", "sNaN".
// Marshal rejects strings that are not decimal numbers in the syntax of
// Python's Decimal constructor (without surrounding spaces or underscores).
// Use math/big (big.Rat.SetString, big.Float.SetString) for arithmetic.
type Decimal string

// String returns d as a string.
func (d Decimal) String() string { return string(d) }

// validDecimal reports whether s is a numeric string in the syntax of the
// General Decimal Arithmetic specification that Python's decimal module
// implements (case-insensitive infinity and NaN names).
func validDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	rest := s[i:]
	switch {
	case equalFold(rest, "inf"), equalFold(rest, "infinity"):
		return true
	case len(rest) >= 3 && equalFold(rest[:3], "nan"):
		return allDigits(rest[3:], true)
	case len(rest) >= 4 && equalFold(rest[:4], "snan"):
		return allDigits(rest[4:], true)
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !allDigits(s[i:], false) {
			return false
		}
		i = len(s)
	}
	return i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string, emptyOK bool) bool {
	if s == "" {
		return emptyOK
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// UUID is a Python uuid.UUID: its 16 bytes in big-endian (RFC 4122) order,
// so that UUID(b) is Python's uuid.UUID(bytes=b) and the int Python stores
// is the bytes read as a big-endian number. Marshal writes it as CPython
// pickles a UUID; the is_safe attribute of a decoded UUID is dropped, and
// Marshal writes none (SafeUUID.unknown, as for UUIDs read from a
// database).
type UUID [16]byte

// String returns the canonical form, as Python's str(uuid):
// 12345678-1234-5678-1234-567812345678.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ParseUUID parses a UUID as Python's uuid.UUID(s) does: 32 hex digits in
// either case, with or without the hyphens of the canonical form, and
// optionally in braces or after "urn:uuid:".
func ParseUUID(s string) (UUID, error) {
	var u UUID
	t := strings.TrimPrefix(s, "urn:uuid:")
	if len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}' {
		t = t[1 : len(t)-1]
	}
	if len(t) == 36 && t[8] == '-' && t[13] == '-' && t[18] == '-' && t[23] == '-' {
		t = t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	}
	if len(t) != 32 {
		return u, fmt.Errorf("pickle: invalid UUID %q", truncate(s))
	}
	if _, err := hex.Decode(u[:], []byte(t)); err != nil {
		return UUID{}, fmt.Errorf("pickle: invalid UUID %q", truncate(s))
	}
	return u, nil
}

// MarshalText implements encoding.TextMarshaler with the canonical form,
// so that encoding/json (djcache's JSON codec, the command-line tool)
// writes a UUID as its string.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseUUID.
func (u *UUID) UnmarshalText(text []byte) error {
	v, err := ParseUUID(string(text))
	if err != nil {
		return err
	}
	*u = v
	return nil
}
