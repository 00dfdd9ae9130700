package pickle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func mustUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

// uuidInt is Python's UUID(int=n).
func uuidInt(n uint64) UUID {
	var u UUID
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

// uuidBig is Python's UUID(int=x), 0 <= x < 2**128.
func uuidBig(x *big.Int) UUID {
	var u UUID
	x.FillBytes(u[:])
	return u
}

type uuidRow struct {
	ID     UUID  `pickle:"id"`
	Parent *UUID `pickle:"parent"`
}

func TestUUIDString(t *testing.T) {
	const canon = "12345678-1234-5678-9abc-def012345678"
	want := UUID{0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78}
	if s := want.String(); s != canon {
		t.Errorf("String() = %q, want %q", s, canon)
	}
	if s := fmt.Sprint(UUID{}); s != "00000000-0000-0000-0000-000000000000" {
		t.Errorf("fmt.Sprint(UUID{}) = %q", s)
	}
	for _, s := range []string{
		canon,
		strings.ToUpper(canon),
		"12345678123456789abcdef012345678",
		"{" + canon + "}",
		"urn:uuid:" + canon,
	} {
		u, err := ParseUUID(s)
		if err != nil || u != want {
			t.Errorf("ParseUUID(%q) = %v, %v", s, u, err)
		}
	}
	for _, s := range []string{
		"",
		canon[:35],
		canon + "0",
		"12345678-1234-5678-9abc-def01234567g",
		"123456781-234-5678-9abc-def012345678",
		"+12345678-1234-5678-9abc-def01234567",
		"{" + canon,
		"12345678123456789abcdef01234567",
	} {
		if u, err := ParseUUID(s); err == nil {
			t.Errorf("ParseUUID(%q) = %v, want an error", s, u)
		}
	}
}

// TestUUIDGolden checks Marshal against the bytes of CPython 3.11's
// pickle.dumps(uuid.UUID('12345678-1234-5678-1234-567812345678'), 5).
func TestUUIDGolden(t *testing.T) {
	const want = "80059530000000000000008c0475756964948c04555549449493942981947d948c03696e74948a107856341278563412785634127856341273622e"
	u := mustUUID("12345678-1234-5678-1234-567812345678")
	for _, v := range []any{u, &u, any(u)} {
		got, err := Marshal(v)
		if err != nil || hexOf(got) != want {
			t.Errorf("Marshal(%T) = %x, %v\nwant %s", v, got, err, want)
		}
	}
}

// TestUUIDOtherPythons decodes what other Python versions write for
// uuid.UUID(int=5) (pyenv's 2.7.18 and 3.6.15): Python 2 str keys, and
// protocol 0 ints as LONG.
func TestUUIDOtherPythons(t *testing.T) {
	vectors := map[string]string{
		"2.7 protocol 0": "63636f70795f7265670a5f7265636f6e7374727563746f720a70300a2863757569640a555549440a70310a635f5f6275696c74696e5f5f0a6f626a6563740a70320a4e7470330a5270340a286470350a5327696e74270a70360a49350a73622e",
		"2.7 protocol 1": "63636f70795f7265670a5f7265636f6e7374727563746f720a71002863757569640a555549440a7101635f5f6275696c74696e5f5f0a6f626a6563740a71024e7471035271047d71055503696e7471064b0573622e",
		"2.7 protocol 2": "800263757569640a555549440a7100298171017d71025503696e7471034b0573622e",
		"3.6 protocol 0": "63636f70795f7265670a5f7265636f6e7374727563746f720a70300a2863757569640a555549440a70310a635f5f6275696c74696e5f5f0a6f626a6563740a70320a4e7470330a5270340a286470350a56696e740a70360a4c354c0a73622e",
	}
	for name, h := range vectors {
		var got any
		if err := Unmarshal(unhex(h), &got); err != nil || got != uuidInt(5) {
			t.Errorf("%s: Unmarshal = %#v, %v", name, got, err)
		}
	}
}

// TestUUIDConversions decodes a uuid.UUID into the Go types it converts to.
func TestUUIDConversions(t *testing.T) {
	u := mustUUID("12345678-1234-5678-1234-567812345678")
	data, err := Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	check := func(dst, want any) {
		t.Helper()
		if err := Unmarshal(data, dst); err != nil {
			t.Errorf("Unmarshal into %T: %v", dst, err)
			return
		}
		if got := reflect.ValueOf(dst).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("Unmarshal into %T = %#v, want %#v", dst, got, want)
		}
	}
	check(new(any), u)
	check(new(UUID), u)
	check(new([16]byte), [16]byte(u))
	check(new([16]namedByte), func() (a [16]namedByte) {
		for i, b := range u {
			a[i] = namedByte(b)
		}
		return a
	}())
	check(new(string), "12345678-1234-5678-1234-567812345678")
	check(new([]byte), u[:])
	check(new(*UUID), &u)
	check(new(fmt.Stringer), fmt.Stringer(u))

	// Inside structs and slices, and as keys.
	row := uuidRow{ID: u, Parent: &u}
	var rows []uuidRow
	if err := Unmarshal(mustMarshal(t, []uuidRow{row, {ID: u}}), &rows); err != nil || len(rows) != 2 ||
		rows[0].ID != u || rows[0].Parent == nil || *rows[0].Parent != u || rows[1].Parent != nil {
		t.Errorf("[]uuidRow: %+v, %v", rows, err)
	}
	var keys map[UUID]int
	if err := Unmarshal(mustMarshal(t, map[UUID]int{u: 1, {}: 2}), &keys); err != nil || keys[u] != 1 || keys[UUID{}] != 2 {
		t.Errorf("map[UUID]int: %v, %v", keys, err)
	}
	var strKeys map[string]int
	if err := Unmarshal(mustMarshal(t, map[UUID]int{u: 1}), &strKeys); err != nil || strKeys[u.String()] != 1 {
		t.Errorf("map[string]int: %v, %v", strKeys, err)
	}
	var set map[UUID]bool
	if err := Unmarshal(mustMarshal(t, NewSet(u, UUID{})), &set); err != nil || !set[u] || !set[UUID{}] || len(set) != 2 {
		t.Errorf("map[UUID]bool: %v, %v", set, err)
	}
	var natural any
	if err := Unmarshal(mustMarshal(t, NewFrozenSet(u)), &natural); err != nil || !reflect.DeepEqual(natural, NewFrozenSet(u)) {
		t.Errorf("frozenset: %#v, %v", natural, err)
	}

	// 16 bytes into a UUID, as into any [16]byte.
	var fromBytes UUID
	if err := Unmarshal(mustMarshal(t, u[:]), &fromBytes); err != nil || fromBytes != u {
		t.Errorf("bytes into UUID: %v, %v", fromBytes, err)
	}

	// Destinations a UUID does not fit.
	for _, c := range []struct {
		dst  any
		want string
	}{
		{new(int), "pickle: cannot decode Python uuid.UUID into Go int"},
		{new([8]byte), "pickle: cannot decode Python uuid.UUID into Go [8]uint8 (length 16)"},
		{new([]int), "pickle: cannot decode Python uuid.UUID into Go []int"},
		{new(map[string]any), "pickle: cannot decode Python uuid.UUID into Go map[string]interface {}"},
		{new(uuidRow), "pickle: cannot decode Python uuid.UUID into Go pickle.uuidRow"},
		{new(error), "pickle: cannot decode Python uuid.UUID into Go error"},
		{new(Decimal), "pickle: cannot decode Python uuid.UUID into Go pickle.Decimal"},
	} {
		err := Unmarshal(mustMarshal(t, u), c.dst)
		var te *UnmarshalTypeError
		if err == nil || !errors.As(err, &te) || err.Error() != c.want {
			t.Errorf("Unmarshal into %T: %v\nwant %s", c.dst, err, c.want)
		}
	}
	// A str is not parsed into a UUID (use ParseUUID).
	var fromStr UUID
	if err := Unmarshal(mustMarshal(t, u.String()), &fromStr); err == nil {
		t.Errorf("str into UUID: no error")
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%#v): %v", v, err)
	}
	return b
}

// TestUUIDSafeUUIDMember decodes a state whose is_safe is a uuid.SafeUUID
// member (REDUCE(uuid.SafeUUID, (value,))) rather than its value, which
// UUID.__setstate__ accepts too; Python loads it to the same UUID.
func TestUUIDSafeUUIDMember(t *testing.T) {
	var pickles [][]byte
	for _, isSafe := range []string{"K\x00", "J\xff\xff\xff\xff", "N"} {
		data := cat("\x80\x02cuuid\nUUID\n)\x81}(X\x03\x00\x00\x00intK\x05X\x07\x00\x00\x00is_safecuuid\nSafeUUID\n", isSafe, "\x85Rub.")
		pickles = append(pickles, data)
		var got any
		if err := Unmarshal(data, &got); err != nil || got != uuidInt(5) {
			t.Errorf("is_safe SafeUUID(%q): Unmarshal = %#v, %v", isSafe, got, err)
		}
	}
	t.Run("python", func(t *testing.T) {
		py := python(t)
		for _, data := range pickles {
			if ok, repr := py.loadsEqual(t, data, "UUID(int=5)"); !ok {
				t.Errorf("Python loaded %x as %s", data, repr)
			}
		}
	})
}

// TestUUIDMarshalShapes: a UUID is written afresh each time (Python
// objects read from a database are distinct), the class and the 'int' key
// once; a tuple holding one is not a shared constant.
func TestUUIDMarshalShapes(t *testing.T) {
	u := uuidInt(9)
	one := mustMarshal(t, []any{u})
	two := mustMarshal(t, []any{u, u})
	if n := bytes.Count(two, []byte("\x81")); n != 2 {
		t.Errorf("two UUIDs: %d NEWOBJ, want 2\n%x", n, two)
	}
	if n := bytes.Count(two, []byte("UUID")); n != 1 {
		t.Errorf("two UUIDs: class name written %d times\n%x", n, two)
	}
	if n := bytes.Count(two, []byte("\x8c\x03int")); n != 1 {
		t.Errorf("two UUIDs: 'int' written %d times\n%x", n, two)
	}
	if len(two) <= len(one) {
		t.Errorf("two UUIDs shorter than one")
	}
	// Tuple{u} and Tuple{bytes of u} are different values.
	mixed := mustMarshal(t, []any{Tuple{u[:]}, Tuple{u}})
	var got []any
	if err := Unmarshal(mixed, &got); err != nil || !reflect.DeepEqual(got, []any{Tuple{u[:]}, Tuple{u}}) {
		t.Errorf("tuples of bytes and of a UUID: %#v, %v", got, err)
	}
	// Map keys: UUIDs order after the other types and by value.
	m := map[any]int{uuidInt(2): 2, uuidInt(1): 1, "s": 0, []byte{1}[0]: 3}
	first := mustMarshal(t, m)
	for range 10 {
		if b := mustMarshal(t, m); !bytes.Equal(b, first) {
			t.Fatalf("map with UUID keys: output varies")
		}
	}
}

// TestUUIDText: a UUID is its canonical string in JSON, both ways.
func TestUUIDText(t *testing.T) {
	u, _ := ParseUUID("12345678-1234-5678-1234-567812345678")
	b, err := json.Marshal(map[string]UUID{"id": u})
	if err != nil || string(b) != `{"id":"12345678-1234-5678-1234-567812345678"}` {
		t.Errorf("json.Marshal = %s, %v", b, err)
	}
	var back map[string]UUID
	if err := json.Unmarshal(b, &back); err != nil || back["id"] != u {
		t.Errorf("json.Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"not-a-uuid"`), &u); err == nil {
		t.Error("json.Unmarshal of a bad UUID: no error")
	}
}
