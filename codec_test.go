package djcache

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

func codecCache(codec Codec) *Cache { return &Cache{set: settings{codec: codec}} }

type score int
type color string
type blob []byte

type record struct {
	ID    int64
	Name  string
	Score float64
	Tags  []string
}

// TestEncodedBytes pins the stored bytes of the fast paths: integers are
// plain decimal text (so Redis INCRBY and memcached incr work on them),
// everything else starts with its kind's tag byte.
func TestEncodedBytes(t *testing.T) {
	c := codecCache(JSON)
	for _, tc := range []struct {
		v    any
		want string
		kind driver.Kind
	}{
		{42, "42", driver.KindInt},
		{int8(-7), "-7", driver.KindInt},
		{uint64(math.MaxUint64), "18446744073709551615", driver.KindInt},
		{score(5), "5", driver.KindInt},
		{time.Second, "1000000000", driver.KindInt},
		{"bar", "\x02bar", driver.KindText},
		{color("red"), "\x02red", driver.KindText},
		{"", "\x02", driver.KindText},
		{[]byte("raw"), "\x01raw", driver.KindBytes},
		{blob("b"), "\x01b", driver.KindBytes},
		{1.5, "\x041.5", driver.KindFloat},
		{float32(0.1), "\x040.1", driver.KindFloat},
		{true, "\x051", driver.KindBool},
		{false, "\x050", driver.KindBool},
		{nil, "\x06", driver.KindNil},
		{map[string]int{"a": 1}, "\x03{\"a\":1}", driver.KindCodec},
		{[]int{1, 2}, "\x03[1,2]", driver.KindCodec},
	} {
		b, err := c.encode(nil, tc.v)
		if err != nil {
			t.Errorf("encode(%#v): %v", tc.v, err)
			continue
		}
		if string(b) != tc.want {
			t.Errorf("encode(%#v) = %q, want %q", tc.v, b, tc.want)
		}
		if k := driver.KindOf(b); k != tc.kind {
			t.Errorf("KindOf(encode(%#v)) = %v, want %v", tc.v, k, tc.kind)
		}
	}
}

func TestEncodeUnencodable(t *testing.T) {
	c := codecCache(JSON)
	for _, v := range []any{make(chan int), func() {}, complex(1, 2), map[string]any{"f": func() {}}} {
		b, err := c.encode([]byte("keep"), v)
		var ee *EncodeError
		if !errors.As(err, &ee) {
			t.Errorf("encode(%T): err = %v, want *EncodeError", v, err)
			continue
		}
		if string(b) != "keep" {
			t.Errorf("encode(%T) changed the buffer to %q", v, b)
		}
	}
}

// roundTrip encodes v and decodes it into a new value of dst's type.
func roundTrip(t *testing.T, c *Cache, v any, dst any) {
	t.Helper()
	b, err := c.encode(nil, v)
	if err != nil {
		t.Fatalf("encode(%#v): %v", v, err)
	}
	if err := c.decode(b, dst); err != nil {
		t.Fatalf("decode(%q) into %T: %v", b, dst, err)
	}
}

func TestDecodeFastAndReflectPaths(t *testing.T) {
	c := codecCache(JSON)
	check := func(v, dst, want any) {
		t.Helper()
		roundTrip(t, c, v, dst)
		if got := reflect.ValueOf(dst).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%#v into %T = %#v, want %#v", v, dst, got, want)
		}
	}
	check("hé", new(string), "hé")
	check([]byte{0, 255}, new([]byte), []byte{0, 255})
	check("text", new([]byte), []byte("text"))
	check([]byte("bytes"), new(string), "bytes")
	check(42, new(int), 42)
	check(-42, new(int64), int64(-42))
	check(42, new(int8), int8(42))
	check(42, new(uint16), uint16(42))
	check(uint64(math.MaxUint64), new(uint64), uint64(math.MaxUint64))
	check(42, new(float64), 42.0)
	check(2.5, new(float64), 2.5)
	check(float32(0.1), new(float32), float32(0.1))
	check(true, new(bool), true)
	check(score(3), new(score), score(3))
	check(color("red"), new(color), color("red"))
	check(7, new(string), "7") // an integer reads as its decimal text
	check(nil, new(int), 0)    // a stored nil is the zero value
	check(nil, new(string), "")
	check(nil, new([]byte), []byte(nil))
	check(nil, new(record), record{})
	check(record{1, "a", 2.5, []string{"x"}}, new(record), record{1, "a", 2.5, []string{"x"}})
	check(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), new(time.Time), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	// *any gets the natural Go type of each kind.
	check(42, new(any), int64(42))
	check(uint64(math.MaxUint64), new(any), uint64(math.MaxUint64))
	check("s", new(any), "s")
	check([]byte("b"), new(any), []byte("b"))
	check(1.5, new(any), 1.5)
	check(true, new(any), true)
	check(nil, new(any), nil)
	check(map[string]any{"int": 42, "float": 2.5, "list": []any{1, "x", true, nil}, "big": 1e300},
		new(any), map[string]any{"int": int64(42), "float": 2.5, "list": []any{int64(1), "x", true, nil}, "big": 1e300})
	check(map[string]any{"a": 1}, new(map[string]any), map[string]any{"a": int64(1)})
	check([]any{1, 2.5}, new([]any), []any{int64(1), 2.5})
	check(struct{ N any }{7}, new(struct{ N any }), struct{ N any }{7.0}) // encoding/json's rule inside structs
}

// TestDecodeReplaces checks Django's semantics for dst: a decoded value
// replaces what dst held; nothing is merged.
func TestDecodeReplaces(t *testing.T) {
	c := codecCache(JSON)
	m := map[string]int{"old": 1}
	roundTrip(t, c, map[string]int{"new": 2}, &m)
	if !reflect.DeepEqual(m, map[string]int{"new": 2}) {
		t.Errorf("map after decode = %v, want only the stored entry", m)
	}
	r := record{ID: 9, Name: "old", Tags: []string{"old"}}
	roundTrip(t, c, struct{ Name string }{"new"}, &r)
	if !reflect.DeepEqual(r, record{Name: "new"}) {
		t.Errorf("struct after decode = %+v, want only the stored field", r)
	}
}

// TestDecodeCopies checks that a decoded value never shares memory with the
// stored bytes.
func TestDecodeCopies(t *testing.T) {
	c := codecCache(JSON)
	stored := []byte("\x01abc")
	var b []byte
	if err := c.decode(stored, &b); err != nil {
		t.Fatal(err)
	}
	b[0] = 'X'
	if string(stored) != "\x01abc" {
		t.Errorf("changing the decoded slice changed the stored bytes to %q", stored)
	}
}

func TestDecodeMismatch(t *testing.T) {
	c := codecCache(JSON)
	for _, tc := range []struct {
		v      any
		dst    any
		stored string
	}{
		{"text", new(int), "text"},
		{1.5, new(int), "float"},
		{true, new(string), "bool"},
		{int64(300), new(int8), "int"}, // does not fit
		{-1, new(uint), "int"},
		{"x", new(record), "text"},
		{record{}, new(int), "codec"},
		{1e300, new(float32), "float"},
	} {
		b, err := c.encode(nil, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		err = c.decode(b, tc.dst)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%#v into %T: err = %v, want *DecodeError", tc.v, tc.dst, err)
			continue
		}
		if de.Stored != tc.stored || de.Type != reflect.TypeOf(tc.dst) {
			t.Errorf("%#v into %T: DecodeError{Stored: %q, Type: %v}, want %q and %T", tc.v, tc.dst, de.Stored, de.Type, tc.stored, tc.dst)
		}
	}
}

func TestDecodeForeignAndPickle(t *testing.T) {
	c := codecCache(JSON)
	var s string
	if err := c.decode([]byte("written by another program"), &s); err != nil || s != "written by another program" {
		t.Errorf("foreign value into *string = %q, %v", s, err)
	}
	// A pickle (Django's value) is read whatever the serializer.
	if err := c.decode([]byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94."), &s); err != nil || s != "bar" {
		t.Errorf("pickled 'bar' with the native serializer = %q, %v", s, err)
	}
	// A pickle that names a class outside package pickle's allow-list is
	// a DecodeError, and nothing runs: pickle.dumps(os.system) + REDUCE.
	var de *DecodeError
	evil := []byte("\x80\x05\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.")
	if err := c.decode(evil, &s); !errors.As(err, &de) || de.Stored != "pickle" || !strings.Contains(err.Error(), "os.system") {
		t.Errorf("pickle of os.system: err = %v, want a DecodeError naming pickle and os.system", err)
	}
}

func TestGobCodec(t *testing.T) {
	c := codecCache(Gob)
	var r record
	roundTrip(t, c, record{1, "a", 2.5, []string{"x"}}, &r)
	if !reflect.DeepEqual(r, record{1, "a", 2.5, []string{"x"}}) {
		t.Errorf("gob round trip = %+v", r)
	}
}

// BenchmarkCodec is the benchmark that chose the default Codec: encode and
// decode of a small struct, with the encoded size as a metric.
//
//	go test -run '^$' -bench Codec -benchmem -count 6 .
func BenchmarkCodec(b *testing.B) {
	v := record{ID: 12345, Name: "djcache", Score: 98.5, Tags: []string{"go", "django", "cache"}}
	for _, codec := range []struct {
		name  string
		codec Codec
	}{{"json", JSON}, {"gob", Gob}} {
		c := codecCache(codec.codec)
		enc, _ := c.encode(nil, v)
		b.Run("encode/"+codec.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf, _ = c.encode(buf[:0], v)
			}
			b.ReportMetric(float64(len(enc)), "bytes")
		})
		b.Run("decode/"+codec.name, func(b *testing.B) {
			b.ReportAllocs()
			var r record
			for b.Loop() {
				if err := c.decode(enc, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
