package driver

import (
	"math"
	"math/big"
	"strconv"

	"github.com/djcache/djcache/pickle"
)

// Kind is the kind of an encoded value. Package djcache writes it into the
// value's first byte (or, for integers, makes the value plain decimal text),
// so a driver can store values as opaque bytes. A driver with native metadata
// (memcached flags) may keep the kind there instead: [SplitKind] takes it out
// and [JoinKind] puts it back.
type Kind uint8

// The kinds of encoded values.
const (
	// KindForeign is a value djcache did not write (for example a string set
	// by another program). djcache decodes it as raw bytes.
	KindForeign Kind = iota
	// KindInt is a decimal integer in ASCII, optionally negative, with no
	// tag byte, so that Redis INCRBY and memcached incr work on it natively
	// and other languages read it as a number.
	KindInt
	// KindBytes is raw bytes ([]byte). Tag byte 0x01.
	KindBytes
	// KindText is UTF-8 text (string). Tag byte 0x02.
	KindText
	// KindCodec is a value encoded by the cache's structured codec. Tag 0x03.
	KindCodec
	// KindFloat is a float64 in strconv 'g' text. Tag 0x04.
	KindFloat
	// KindBool is "1" or "0". Tag 0x05.
	KindBool
	// KindNil is Go's nil, Django's None. Tag 0x06, no payload.
	KindNil
	// KindPickle is a Python pickle (protocol 2 or later): it starts with
	// the pickle PROTO opcode 0x80 and has no tag of its own. Reserved for a
	// pickle codec.
	KindPickle
	// KindMeta is a value with GetOrSet's entry metadata, in djcache's own
	// encoding: tag 0x07, the metadata, then the value's own encoding
	// (package djcache, meta.go). A driver stores it as opaque bytes, tag
	// included. (With the pickle serializer the metadata follows the
	// pickle, and the value is KindPickle.)
	KindMeta
)

// Kinds is a set of kinds.
type Kinds uint32

// KindsOf returns the set of the given kinds.
func KindsOf(ks ...Kind) Kinds {
	var s Kinds
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s Kinds) Has(k Kind) bool { return k < 32 && s&(1<<k) != 0 }

// Tag bytes of the tagged kinds. None of them can start a decimal integer,
// UTF-8 text written by other programs rarely starts with them, and 0x80
// is left to pickle.
const (
	tagBytes = 0x01
	tagText  = 0x02
	tagCodec = 0x03
	tagFloat = 0x04
	tagBool  = 0x05
	tagNil   = 0x06
	tagMeta  = 0x07
	tagProto = 0x80
)

var kindTags = [...]byte{KindBytes: tagBytes, KindText: tagText, KindCodec: tagCodec, KindFloat: tagFloat, KindBool: tagBool, KindNil: tagNil}

// Tag returns the tag byte that starts a value of kind k, and false for the
// untagged kinds (KindInt, KindPickle, KindMeta, KindForeign): a KindMeta
// value's tag byte is part of its payload.
func (k Kind) Tag() (byte, bool) {
	if int(k) < len(kindTags) && kindTags[k] != 0 {
		return kindTags[k], true
	}
	return 0, false
}

// String returns the kind's name, such as "int" or "text".
func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindBytes:
		return "bytes"
	case KindText:
		return "text"
	case KindCodec:
		return "codec"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindNil:
		return "nil"
	case KindPickle:
		return "pickle"
	case KindMeta:
		return "meta"
	}
	return "foreign"
}

// KindOf returns the kind of an encoded value.
func KindOf(v []byte) Kind {
	if len(v) == 0 {
		return KindForeign
	}
	switch v[0] {
	case tagBytes:
		return KindBytes
	case tagText:
		return KindText
	case tagCodec:
		return KindCodec
	case tagFloat:
		return KindFloat
	case tagBool:
		return KindBool
	case tagNil:
		if len(v) == 1 {
			return KindNil
		}
		return KindForeign
	case tagProto:
		return KindPickle
	case tagMeta:
		return KindMeta
	}
	if isDecimal(v) {
		return KindInt
	}
	return KindForeign
}

// SplitKind returns the kind of an encoded value and its payload (the value
// without its tag byte). The payload shares v's memory.
func SplitKind(v []byte) (Kind, []byte) {
	k := KindOf(v)
	if _, tagged := k.Tag(); tagged {
		return k, v[1:]
	}
	return k, v
}

// JoinKind is the inverse of [SplitKind]: it returns the encoded value of a
// payload of kind k, in a new slice for the tagged kinds and payload itself
// for the others.
func JoinKind(k Kind, payload []byte) []byte {
	tag, tagged := k.Tag()
	if !tagged {
		return payload
	}
	v := make([]byte, 1+len(payload))
	v[0] = tag
	copy(v[1:], payload)
	return v
}

// isDecimal reports whether v is an optional '-' followed by ASCII digits.
func isDecimal(v []byte) bool {
	if len(v) > 0 && v[0] == '-' {
		v = v[1:]
	}
	if len(v) == 0 {
		return false
	}
	for _, b := range v {
		if b < '0' || b > '9' {
			return false
		}
	}
	return true
}

// ParseInt parses a value of [KindInt]. It returns [ErrNotInteger] for any
// other value and [ErrOverflow] for an integer outside the int64 range.
func ParseInt(v []byte) (int64, error) {
	if !isDecimal(v) {
		return 0, ErrNotInteger
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, ErrOverflow
	}
	return n, nil
}

// AddInt is the arithmetic of Incr, written once for every driver that
// implements Incr in Go: it parses the stored value v, adds delta and returns
// the new encoded value and the sum. The value is decimal text ([KindInt]),
// and the result too, or the pickle of a Python int ([KindPickle], as
// Django's filebased and database backends store integers), and the result
// is then the pickle of the sum, byte for byte what Python writes. Errors:
// [ErrNotInteger], [ErrOverflow].
func AddInt(v []byte, delta int64) (newValue []byte, sum int64, err error) {
	pickled := KindOf(v) == KindPickle
	var n int64
	if pickled {
		n, err = pickledInt(v)
	} else {
		n, err = ParseInt(v)
	}
	if err != nil {
		return nil, 0, err
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return nil, 0, ErrOverflow
	}
	sum = n + delta
	if pickled {
		nv, err := pickle.Marshal(sum)
		return nv, sum, err
	}
	return strconv.AppendInt(nil, sum, 10), sum, nil
}

// pickledInt decodes the pickle of a Python int. A bool is not an integer
// here (Django's incr would compute True + 1, but no counter is a bool), and
// an int beyond 64 bits is ErrOverflow.
func pickledInt(v []byte) (int64, error) {
	var x any
	if err := pickle.Unmarshal(v, &x); err != nil {
		return 0, ErrNotInteger
	}
	switch n := x.(type) {
	case int64:
		return n, nil
	case *big.Int:
		return 0, ErrOverflow
	}
	return 0, ErrNotInteger
}
