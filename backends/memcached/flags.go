package memcached

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/djcache/djcache/driver"
)

// The item flags this backend writes and reads. The first six are
// pymemcache's (pymemcache.serde, which Django's PyMemcacheCache uses), so
// that Django reads what djcache writes and the other way round; the last
// two are djcache's own, chosen with pymemcache's bits 0-4 clear so that
// pymemcache returns their values as raw bytes instead of misreading them.
const (
	// FlagBytes marks raw bytes: a Go []byte, a Python bytes.
	FlagBytes = 0
	// FlagPickle marks a Python pickle. djcache writes bool, nil and float
	// values as the pickles CPython writes for True, False, None and a float
	// (protocol 5), so Django reads them as Python values; other pickles
	// are passed to djcache as driver.KindPickle bytes.
	FlagPickle = 1 << 0
	// FlagInteger marks a decimal integer in ASCII.
	FlagInteger = 1 << 1
	// FlagLong marks a decimal integer written by Python 2's pymemcache;
	// read as FlagInteger.
	FlagLong = 1 << 2
	// FlagCompressed marks a value pymemcache compressed; djcache does not
	// decompress it and reads it as raw bytes.
	FlagCompressed = 1 << 3
	// FlagText marks UTF-8 text: a Go string, a Python str.
	FlagText = 1 << 4
	// FlagCodec marks a value encoded by the Cache's structured codec
	// (driver.KindCodec), without djcache's kind byte. Django reads it as
	// raw bytes.
	FlagCodec = 1 << 8
	// FlagEncoded marks djcache's encoded bytes stored as they are, kind
	// byte included: the fallback for values no other flag describes.
	FlagEncoded = 1 << 9
)

// The pickles CPython writes with protocol 5 for None, True and False, and
// the head of a float's (FRAME of 10 bytes, BINFLOAT, then 8 bytes
// big-endian and STOP).
var (
	pickleNone  = []byte{0x80, 5, 'N', '.'}
	pickleTrue  = []byte{0x80, 5, 0x88, '.'}
	pickleFalse = []byte{0x80, 5, 0x89, '.'}
	pickleFloat = []byte{0x80, 5, 0x95, 10, 0, 0, 0, 0, 0, 0, 0, 'G'}
)

// toItem returns the flags and the bytes to store for an encoded value v.
// The bytes share v's memory for bytes, text, integers, codec values and
// pickles.
//
// Bytes, text and codec values that memcached's incr would take for a
// number (digits, with optional blanks around and a sign before, such as
// "12" or "12 apples") are stored with FlagEncoded, their kind byte first,
// so that Incr on them fails with ErrNotInteger instead of rewriting them;
// with pickle (the pickle serializer, which must read as Django does) they
// keep their Django flags.
func toItem(v []byte, pickle bool) (flags uint32, payload []byte) {
	k, p := driver.SplitKind(v)
	switch k {
	case driver.KindBytes, driver.KindText, driver.KindCodec:
		if !pickle && numeric(p) {
			return FlagEncoded, v
		}
		switch k {
		case driver.KindBytes:
			return FlagBytes, p
		case driver.KindText:
			return FlagText, p
		}
		return FlagCodec, p
	case driver.KindInt:
		return FlagInteger, p
	case driver.KindPickle:
		return FlagPickle, p
	case driver.KindNil:
		return FlagPickle, pickleNone
	case driver.KindBool:
		switch string(p) {
		case "1":
			return FlagPickle, pickleTrue
		case "0":
			return FlagPickle, pickleFalse
		}
	case driver.KindFloat:
		if f, err := strconv.ParseFloat(string(p), 64); err == nil {
			b := make([]byte, len(pickleFloat)+9)
			copy(b, pickleFloat)
			binary.BigEndian.PutUint64(b[len(pickleFloat):], math.Float64bits(f))
			b[len(b)-1] = '.'
			return FlagPickle, b
		}
	case driver.KindForeign:
		// No kind byte to keep it from looking numeric: store it as bytes,
		// which djcache decodes the same way.
		return FlagEncoded, driver.JoinKind(driver.KindBytes, v)
	}
	return FlagEncoded, v
}

// numeric reports whether memcached's incr and decr would take p for a
// number: its safe_strtoull accepts C blanks, an optional sign, digits, and
// then a blank or the end of the value.
func numeric(p []byte) bool {
	i := 0
	for i < len(p) && isBlank(p[i]) {
		i++
	}
	if i < len(p) && (p[i] == '+' || p[i] == '-') {
		i++
	}
	j := i
	for j < len(p) && p[j] >= '0' && p[j] <= '9' {
		j++
	}
	return j > i && (j == len(p) || isBlank(p[j]))
}

// isBlank is C's isspace in the C locale.
func isBlank(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r'
}

// fromItem returns the encoded value of a stored item, reusing value's
// memory when it has room for the kind byte. Values written by other
// programs keep their meaning: flag 0 is bytes, 16 text, 2 and 4 integers,
// 1 a pickle; unknown flags are raw bytes, as pymemcache reads them.
func fromItem(flags uint32, value []byte) []byte {
	switch flags {
	case FlagInteger, FlagLong:
		// memcached's decr pads a shorter result with spaces ("10" - 1 is
		// "9 "), which Python's int() ignores.
		if n := trimBlanks(value); driver.KindOf(n) == driver.KindInt {
			return n
		}
		return join(driver.KindBytes, value)
	case FlagText:
		return join(driver.KindText, value)
	case FlagCodec:
		return join(driver.KindCodec, value)
	case FlagEncoded:
		return value
	case FlagPickle:
		if k, p, ok := fromPickle(value); ok {
			return join(k, p)
		}
		if driver.KindOf(value) == driver.KindPickle {
			return value
		}
	}
	return join(driver.KindBytes, value)
}

// trimBlanks returns v without its trailing C blanks.
func trimBlanks(v []byte) []byte {
	for len(v) > 0 && isBlank(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// join is driver.JoinKind, in value's own memory when its capacity allows
// (gomemcache reads each value into a slice two bytes longer, for the
// "\r\n" it strips).
func join(k driver.Kind, value []byte) []byte {
	tag, ok := k.Tag()
	if !ok {
		return value
	}
	if cap(value) > len(value) {
		v := value[:len(value)+1]
		copy(v[1:], value)
		v[0] = tag
		return v
	}
	return driver.JoinKind(k, value)
}

// fromPickle recognizes the pickles of None, True, False and a float, of
// any protocol from 2 (with or without a FRAME), and returns the kind and
// payload djcache encodes them with.
func fromPickle(v []byte) (driver.Kind, []byte, bool) {
	if len(v) < 4 || v[0] != 0x80 || v[1] < 2 || v[1] > 5 {
		return 0, nil, false
	}
	body := v[2:]
	if body[0] == 0x95 { // FRAME: an 8-byte little-endian length of the rest
		if len(body) < 9 || binary.LittleEndian.Uint64(body[1:9]) != uint64(len(body)-9) {
			return 0, nil, false
		}
		body = body[9:]
	}
	switch {
	case len(body) == 2 && body[1] == '.':
		switch body[0] {
		case 'N':
			return driver.KindNil, nil, true
		case 0x88:
			return driver.KindBool, []byte{'1'}, true
		case 0x89:
			return driver.KindBool, []byte{'0'}, true
		}
	case len(body) == 10 && body[0] == 'G' && body[9] == '.':
		f := math.Float64frombits(binary.BigEndian.Uint64(body[1:9]))
		return driver.KindFloat, strconv.AppendFloat(nil, f, 'g', -1, 64), true
	}
	return 0, nil, false
}
