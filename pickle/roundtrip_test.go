package pickle

import (
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	X int `pickle:"x"`
}

type Embedded struct {
	E1 string
	E2 int `json:"e2"`
}

type allKinds struct {
	Embedded
	B     bool
	I     int
	I8    int8
	U16   uint16
	U64   uint64
	F32   float32
	F64   float64
	S     string
	Bytes []byte
	Arr   [2]int
	BArr  [4]byte
	Ints  []int
	Strs  map[string]int
	IntK  map[int64]string
	Ptr   *inner
	NilP  *inner
	Any   any
	When  time.Time
	Day   Date
	At    Time
	Dur   time.Duration
	Dec   Decimal
	Big   *big.Int
	BigV  big.Int
	Tup   Tuple
	Set   Set
	FSet  FrozenSet
	SetM  map[string]struct{}
	Inner inner
	Slice []inner
	Omit  string `pickle:"omit,omitempty"`
	Loc   *time.Location
}

func sampleAllKinds() allKinds {
	return allKinds{
		Embedded: Embedded{"e", 2},
		B:        true, I: -7, I8: -128, U16: 65535, U64: math.MaxUint64,
		F32: 1.25, F64: math.Pi, S: "Iñt", Bytes: []byte{0, 1, 255}, Arr: [2]int{3, 4}, BArr: [4]byte{1, 2, 3, 4},
		Ints: []int{1, 2, 3}, Strs: map[string]int{"a": 1, "b": 2}, IntK: map[int64]string{5: "five", -1: "m"},
		Ptr: &inner{9}, Any: []any{"x", int64(1)},
		When: time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC),
		Day:  Date{1, 1, 1}, At: Time{23, 59, 59, 999999, nil}, Dur: -90 * time.Minute,
		Dec: "-12.50", Big: new(big.Int).Lsh(big.NewInt(3), 100), BigV: *big.NewInt(42),
		Tup: Tuple{int64(1), "two"}, Set: NewSet("a", int64(1)), FSet: NewFrozenSet(int64(2)),
		SetM: map[string]struct{}{"k": {}}, Inner: inner{1}, Slice: []inner{{2}, {3}},
		Loc: time.FixedZone("X", 3600),
	}
}

func TestRoundTripTyped(t *testing.T) {
	in := sampleAllKinds()
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out allKinds
	if err := Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if !out.When.Equal(in.When) || out.When.Location() != time.UTC {
		t.Errorf("When = %v, want %v", out.When, in.When)
	}
	if out.Big.Cmp(in.Big) != 0 || out.BigV.Cmp(&in.BigV) != 0 {
		t.Errorf("Big = %v %v", out.Big, &out.BigV)
	}
	if _, off := time.Date(2000, 1, 1, 0, 0, 0, 0, out.Loc).Zone(); off != 3600 {
		t.Errorf("Loc offset = %d", off)
	}
	out.When, in.When = time.Time{}, time.Time{}
	out.Big, in.Big = nil, nil
	out.BigV, in.BigV = big.Int{}, big.Int{}
	out.Loc, in.Loc = nil, nil
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestRoundTripNatural(t *testing.T) {
	fixed := time.FixedZone("CET", 3600)
	cases := []struct {
		v, want any
	}{
		{nil, nil},
		{true, true},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{int64(math.MinInt64), int64(math.MinInt64)},
		{uint(7), int64(7)},
		{math.Inf(-1), math.Inf(-1)},
		{"", ""},
		{[]byte{}, []byte{}},
		{[]byte(nil), []byte{}},
		{[]string(nil), []any{}},
		{map[string]int(nil), map[string]any{}},
		{[3]string{"a", "b", "c"}, []any{"a", "b", "c"}},
		{Tuple{Tuple{}, Tuple{nil}}, Tuple{Tuple{}, Tuple{nil}}},
		{map[any]any{int64(1): "a", "b": nil, 2.5: true, nil: Tuple{}}, map[any]any{int64(1): "a", "b": nil, 2.5: true, nil: Tuple{}}},
		{map[[2]string]int{{"a", "b"}: 1}, map[any]any{[2]any{"a", "b"}: int64(1)}},
		{NewSet([2]any{int64(1), "x"}), NewSet([2]any{int64(1), "x"})},
		{map[bool]int{true: 1, false: 0}, map[any]any{true: int64(1), false: int64(0)}},
		{time.Date(9999, 12, 31, 23, 59, 59, 999999999, fixed), time.Date(9999, 12, 31, 23, 59, 59, 999999000, fixed)},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.Local), time.Date(1, 1, 1, 0, 0, 0, 0, time.Local)},
		{time.Duration(math.MaxInt64), time.Duration(math.MaxInt64) / 1000 * 1000},
		{time.Duration(math.MinInt64), time.Duration(math.MinInt64) / 1000 * 1000},
		{Time{Hour: 12, Location: fixed}, Time{Hour: 12, Location: fixed}},
		{Decimal("sNaN123"), Decimal("sNaN123")},
		{&inner{5}, map[string]any{"x": int64(5)}},
		{(*inner)(nil), nil},
	}
	for _, c := range cases {
		data, err := Marshal(c.v)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", c.v, err)
			continue
		}
		var got any
		if err := Unmarshal(data, &got); err != nil {
			t.Errorf("Unmarshal(Marshal(%#v)): %v", c.v, err)
			continue
		}
		if tm, ok := c.want.(Time); ok && tm.Location != nil {
			g, ok := got.(Time)
			if !ok || g.Location == nil || g.Location.String() != tm.Location.String() {
				t.Errorf("round trip of %#v = %#v", c.v, got)
			}
			continue
		}
		if !equalValues(got, c.want) {
			t.Errorf("round trip of %#v = %#v, want %#v", c.v, got, c.want)
		}
	}
}

// TestSharedReferences checks that Go values reached twice (the same map,
// slice or struct pointer) are written once and decoded as one value.
func TestSharedReferences(t *testing.T) {
	m := map[string]any{"k": "v"}
	p := &inner{1}
	data, err := Marshal([]any{m, m, p, p})
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(got[0]).Pointer() != reflect.ValueOf(got[1]).Pointer() {
		t.Error("the shared map decoded as two maps")
	}
	var typed struct{}
	_ = typed
	var ptrs []*inner
	data, _ = Marshal([]*inner{p, p})
	if err := Unmarshal(data, &ptrs); err != nil {
		t.Fatal(err)
	}
	if len(ptrs) != 2 || ptrs[0].X != 1 || ptrs[1].X != 1 {
		t.Errorf("got %+v", ptrs)
	}
}

func TestUnmarshalTypedErrors(t *testing.T) {
	enc := func(v any) []byte {
		b, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		data []byte
		dst  any
		want string
	}{
		{enc("x"), new(int), "pickle: cannot decode Python str into Go int"},
		{enc(300), new(int8), "pickle: cannot decode Python int into Go int8 (300 overflows it)"},
		{enc(-1), new(uint), "pickle: cannot decode Python int into Go uint (-1 overflows it)"},
		{enc(big2(70)), new(int64), "pickle: cannot decode Python int into Go int64 (1180591620717411303424 overflows it)"},
		{enc(1e300), new(float32), "pickle: cannot decode Python float into Go float32 (1e+300 overflows it)"},
		{enc(nil), new(int), "pickle: cannot decode Python NoneType into Go int"},
		{enc(true), new(int), "pickle: cannot decode Python bool into Go int"},
		{enc(map[string]any{"x": "s"}), new(inner), `pickle: cannot decode Python str into Go int at .x`},
		{enc([]any{1, "a"}), new([]int), "pickle: cannot decode Python str into Go int at [1]"},
		{enc(map[string]any{"a": []any{1, Tuple{2}}}), new(map[string][]int), `pickle: cannot decode Python tuple into Go int at ["a"][1]`},
		{enc([]int{1, 2, 3}), new([2]int), "pickle: cannot decode Python list into Go [2]int (length 3)"},
		{enc(Date{2024, 1, 2}), new(time.Time), "pickle: cannot decode Python datetime.date into Go time.Time"},
		{enc(time.Now()), new(Date), "pickle: cannot decode Python datetime.datetime into Go pickle.Date"},
		{enc(Decimal("1")), new(float64), "pickle: cannot decode Python decimal.Decimal into Go float64"},
		{enc(NewSet(1)), new(map[int]int), "pickle: cannot decode Python set into Go map[int]int (a set decodes into map[K]struct{} or map[K]bool)"},
		{enc("x"), new(error), "pickle: cannot decode Python str into Go error"},
	}
	for _, c := range cases {
		err := Unmarshal(c.data, c.dst)
		var te *UnmarshalTypeError
		if err == nil || !errors.As(err, &te) || err.Error() != c.want {
			t.Errorf("Unmarshal into %T: %v\nwant %s", c.dst, err, c.want)
		}
	}
	if err := Unmarshal(enc(1), 5); err == nil || err.Error() != "pickle: Unmarshal(non-pointer int)" {
		t.Errorf("non-pointer: %v", err)
	}
	if err := Unmarshal(enc(1), (*int)(nil)); err == nil {
		t.Error("nil pointer: no error")
	}
}

func TestUnmarshalTypedConversions(t *testing.T) {
	data, _ := Marshal(map[string]any{
		"name": []byte("bytes into string"), "NUM": 3, "F": 2, "list": Tuple{int64(1), int64(2)},
		"set": NewSet("a"), "nested": map[string]any{"x": 4}, "unknown": "ignored", "P": nil,
	})
	var dst struct {
		Name   string `pickle:"name"`
		Num    int    // matched case-insensitively
		F      float64
		List   []int8          `pickle:"list"`
		Set    map[string]bool `pickle:"set"`
		Nested *inner          `pickle:"nested"`
		P      *int
	}
	if err := Unmarshal(data, &dst); err != nil {
		t.Fatal(err)
	}
	if dst.Name != "bytes into string" || dst.Num != 3 || dst.F != 2 || !reflect.DeepEqual(dst.List, []int8{1, 2}) ||
		!dst.Set["a"] || dst.Nested == nil || dst.Nested.X != 4 || dst.P != nil {
		t.Errorf("got %+v", dst)
	}
	var strMap map[string]any
	if err := Unmarshal(data, &strMap); err != nil || strMap["NUM"] != int64(3) {
		t.Errorf("map[string]any: %v %v", strMap, err)
	}
	var iface any = 5
	if err := Unmarshal(data, &iface); err != nil {
		t.Fatal(err)
	}
	if _, ok := iface.(map[string]any); !ok {
		t.Errorf("Unmarshal into *any holding 5 gave %T", iface)
	}
}

func TestMarshalErrors(t *testing.T) {
	cyc := map[string]any{}
	cyc["self"] = cyc
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	deep := any(nil)
	for i := 0; i < 1100; i++ {
		deep = []any{deep}
	}
	cases := []struct {
		v    any
		want string
	}{
		{"\xff", "not valid UTF-8"},
		{make(chan int), "cannot encode Go chan int"},
		{func() {}, "cannot encode Go func()"},
		{complex(1, 2), "cannot encode Go complex128"},
		{cyc, "cyclic value"},
		{n, "cyclic value"},
		{deep, "nested deeper than 1000"},
		{Date{2023, 2, 29}, "invalid date 2023-02-29"},
		{Time{Hour: 24}, "invalid time of day"},
		{Decimal("1.2.3"), `"1.2.3" is not a decimal number`},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), "year 0 is outside"},
		{map[inner]int{{1}: 1}, "unhashable"},
		{NewSet(Date{2024, 1, 1}, &inner{}), "unhashable"},
	}
	for _, c := range cases {
		_, err := Marshal(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Marshal(%T): %v, want an error containing %q", c.v, err, c.want)
		}
	}
}

func TestStructFieldRules(t *testing.T) {
	type Base struct {
		ID   int
		Name string `pickle:"name"`
	}
	type withEmbed struct {
		Base
		*inner
		Name  string // shallower: wins over Base.name? no: tagged "name" differs from "Name"
		Empty []int  `json:"empty,omitempty"`
		Zero  Date   `pickle:",omitzero"`
		Dash  int    `pickle:"-,"`
	}
	data, err := Marshal(withEmbed{Base: Base{1, "base"}, Name: "top", Dash: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"ID": int64(1), "name": "base", "Name": "top", "-": int64(7)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	var back withEmbed
	if err := Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.ID != 1 || back.Base.Name != "base" || back.Name != "top" || back.Dash != 7 {
		t.Errorf("back = %+v", back)
	}
}

func TestFold(t *testing.T) {
	p := paris()
	if p == nil {
		t.Skip("no time zone database")
	}
	first := time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC).In(p)  // 02:30 CEST
	second := time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(p) // 02:30 CET
	if foldOf(first) != 0 || foldOf(second) != 1 {
		t.Errorf("foldOf = %d, %d; want 0, 1", foldOf(first), foldOf(second))
	}
	for fold, want := range []time.Time{first, second} {
		if got := resolveWall(2024, 10, 27, 2, 30, 0, 0, p, fold); !got.Equal(want) {
			t.Errorf("resolveWall(fold=%d) = %v, want %v", fold, got, want)
		}
	}
	// A wall time in the spring gap resolves as time.Date does.
	if got := resolveWall(2024, 3, 31, 2, 30, 0, 0, p, 0); !got.Equal(time.Date(2024, 3, 31, 2, 30, 0, 0, p)) {
		t.Errorf("gap: %v", got)
	}
}

func TestAppend(t *testing.T) {
	prefix := []byte("prefix")
	for _, v := range []any{nil, "bar", []any{strings.Repeat("x", 70000), 1}} {
		want, _ := Marshal(v)
		got, err := Append(append([]byte(nil), prefix...), v)
		if err != nil || string(got[:len(prefix)]) != "prefix" || string(got[len(prefix):]) != string(want) {
			t.Errorf("Append(%.20v) = %.40q, %v", v, got, err)
		}
	}
	got, err := Append(prefix, make(chan int))
	if err == nil || string(got) != "prefix" {
		t.Errorf("Append error: %q, %v", got, err)
	}
}

// A Django-like cached value: a list of rows as dicts.
func benchValue() []map[string]any {
	rows := make([]map[string]any, 100)
	for i := range rows {
		rows[i] = map[string]any{
			"id": i, "name": "user name", "email": "user@example.com", "active": true,
			"score": 12.5, "joined": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "tags": []any{"a", "b"},
		}
	}
	return rows
}

func BenchmarkMarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    any
	}{{"str", "hello world"}, {"dict", map[string]any{"a": 1, "b": "x", "c": []any{1, 2}}}, {"rows100", benchValue()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Marshal(bc.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    any
	}{{"str", "hello world"}, {"dict", map[string]any{"a": 1, "b": "x", "c": []any{1, 2}}}, {"rows100", benchValue()}} {
		data, _ := Marshal(bc.v)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var v any
				if err := Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
