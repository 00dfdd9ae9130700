package djcache

import (
	"bytes"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/pickle"
)

// pickleCache is a Cache with the pickle serializer over a driver that
// keeps natives outside pickle (Redis: KindInt; memcached: KindInt,
// KindText, KindBytes; file and db: none).
func pickleCache(natives ...driver.Kind) *Cache {
	return &Cache{set: settings{pickle: true, natives: driver.KindsOf(natives...)}}
}

// TestPickleEncoding pins the bytes the pickle serializer hands each kind
// of driver: what the matching Django backend stores.
func TestPickleEncoding(t *testing.T) {
	mustPickle := func(v any) string {
		b, err := pickle.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type celsius float64
	type name string
	for _, tc := range []struct {
		value   any
		natives []driver.Kind
		want    string
	}{
		// Django's file and database backends pickle everything.
		{42, nil, mustPickle(42)},
		{"bar", nil, "\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03bar\x94."},
		{[]byte("raw"), nil, mustPickle([]byte("raw"))},
		{nil, nil, "\x80\x05N."},
		{true, nil, "\x80\x05\x88."},
		// Redis keeps exact integers as decimal text, bool pickled.
		{42, []driver.Kind{driver.KindInt}, "42"},
		{int8(-7), []driver.Kind{driver.KindInt}, "-7"},
		{uint64(1 << 63), []driver.Kind{driver.KindInt}, "9223372036854775808"},
		{new(big.Int).Lsh(big.NewInt(1), 70), []driver.Kind{driver.KindInt}, "1180591620717411303424"},
		{true, []driver.Kind{driver.KindInt}, "\x80\x05\x88."},
		{"12", []driver.Kind{driver.KindInt}, mustPickle("12")},
		// Types whose Go kind is int64 or string but that Python pickles
		// as objects stay pickles: timedelta, Decimal.
		{90 * time.Second, []driver.Kind{driver.KindInt}, mustPickle(90 * time.Second)},
		{pickle.Decimal("3.14"), []driver.Kind{driver.KindInt, driver.KindText}, mustPickle(pickle.Decimal("3.14"))},
		{celsius(1.5), []driver.Kind{driver.KindInt}, mustPickle(1.5)},
		// Memcached keeps text and bytes under pymemcache's flags.
		{"bar", []driver.Kind{driver.KindInt, driver.KindText, driver.KindBytes}, "\x02bar"},
		{name("n"), []driver.Kind{driver.KindInt, driver.KindText, driver.KindBytes}, "\x02n"},
		{[]byte("raw"), []driver.Kind{driver.KindInt, driver.KindText, driver.KindBytes}, "\x01raw"},
		// A string that is not UTF-8 cannot be a Python str: it is bytes.
		{"\xff\xfe", nil, mustPickle([]byte("\xff\xfe"))},
		{"\xff\xfe", []driver.Kind{driver.KindInt, driver.KindText, driver.KindBytes}, "\x01\xff\xfe"},
	} {
		got, err := pickleCache(tc.natives...).encode(nil, tc.value)
		if err != nil || string(got) != tc.want {
			t.Errorf("encode(%T %v) with natives %v = %q, %v; want %q", tc.value, tc.value, tc.natives, got, err, tc.want)
		}
	}
}

// TestPickleDecoding checks the decoding side: a stored None zeroes any
// destination, and decimal text beyond int64 reads as Python's int does
// (*big.Int), as a pickled one would.
func TestPickleDecoding(t *testing.T) {
	c := pickleCache(driver.KindInt)
	for _, none := range []string{"\x80\x05N.", "\x80\x04N.", "\x80\x02N.", "\x80\x05\x95\x02\x00\x00\x00\x00\x00\x00\x00N."} {
		s, r := "pre-filled", record{Name: "pre-filled"}
		if err := c.decode([]byte(none), &s); err != nil || s != "" {
			t.Errorf("decode(%q) into *string = %q, %v; want the zero value", none, s, err)
		}
		if err := c.decode([]byte(none), &r); err != nil || r.Name != "" {
			t.Errorf("decode(%q) into *record = %+v, %v; want the zero value", none, r, err)
		}
	}
	for _, text := range []string{"18446744073709551615", "1180591620717411303424", "-9223372036854775809"} {
		var v any
		if err := c.decode([]byte(text), &v); err != nil || fmt.Sprint(v) != text {
			t.Errorf("decode(%s) into *any = %T %v, %v", text, v, v, err)
		} else if _, ok := v.(*big.Int); !ok {
			t.Errorf("decode(%s) into *any = %T; want *big.Int, as a pickled int beyond int64", text, v)
		}
	}
	var n any
	if err := (&Cache{}).decode([]byte("18446744073709551615"), &n); err != nil || n != uint64(18446744073709551615) {
		t.Errorf("native serializer: decode of MaxUint64 into *any = %T %v, %v; want uint64", n, n, err)
	}
	var b []byte
	if err := c.decode([]byte(pickleBytes(t, []byte("\xff\xfe"))), &b); err != nil || !bytes.Equal(b, []byte("\xff\xfe")) {
		t.Errorf("decode of pickled bytes = %q, %v", b, err)
	}
}

func pickleBytes(t *testing.T, v any) []byte {
	b, err := pickle.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
