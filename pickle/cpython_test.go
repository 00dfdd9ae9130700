package pickle

import (
	"encoding/hex"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// Match levels of a pyCase.
const (
	exact      = iota // Marshal(v) == pickle.dumps(eval(expr), 5), byte for byte
	sameValue         // Python loads Marshal(v) to a value equal to eval(expr)
	decodeOnly        // only Python -> Go
)

type pyCase struct {
	name  string
	expr  string // the Python value
	v     any    // the Go value Marshal gets
	want  any    // the natural Go value Unmarshal returns (nil: same as v, unless wantNil)
	level int
	// wantNil says want is really nil (None).
	wantNil bool
	// minProto is the lowest protocol that keeps the value (fold needs 4).
	minProto int
}

func (c pyCase) wanted() any {
	if c.want == nil && !c.wantNil {
		return c.v
	}
	return c.want
}

type testStruct struct {
	Name    string
	Tags    []string `pickle:"tags"`
	Skip    int      `pickle:"-"`
	N       int      `json:"n,omitempty"`
	private int
}

// paris returns Europe/Paris, or nil when the system has no time zone
// database (the cases that need it are then left out).
func paris() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return nil
	}
	return loc
}

func ints(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func anyInts(n int) []any {
	s := make([]any, n)
	for i := range s {
		s[i] = int64(i)
	}
	return s
}

func pyCases(t *testing.T) []pyCase {
	shared := []any{1}
	bigDict := map[int]int{}
	bigDictWant := map[any]any{}
	bigSet := Set{}
	for i := 0; i < 1000; i++ {
		bigDict[i] = i
		bigDictWant[int64(i)] = int64(i)
		bigSet[int64(i)] = struct{}{}
	}
	paris := paris()
	if paris == nil {
		t.Log("no time zone database: leaving out the Europe/Paris cases")
		paris = time.FixedZone("CET", 3600)
	}
	utc2 := time.FixedZone("", 2*3600)
	est := time.FixedZone("EST", -5*3600)
	cases := []pyCase{
		{name: "2**64", expr: "2**64", v: big2(64), level: exact},
		{name: "2**64-1", expr: "2**64-1", v: uint64(math.MaxUint64), want: new(big.Int).SetUint64(math.MaxUint64), level: exact},
		{name: "-2**63", expr: "-2**63", v: int64(math.MinInt64), level: exact},
		{name: "-2**63-1", expr: "-2**63-1", v: new(big.Int).Sub(big.NewInt(math.MinInt64), big.NewInt(1)), level: exact},
		{name: "2**2100", expr: "2**2100", v: big2(2100), level: exact},
		{name: "-2**2100", expr: "-(2**2100)", v: new(big.Int).Neg(big2(2100)), level: exact},
		{name: "-2**31-1", expr: "-2**31-1", v: int64(-1<<31 - 1), level: exact},
		{name: "int8", expr: "-5", v: int8(-5), want: int64(-5), level: exact},
		{name: "uint16", expr: "65535", v: uint16(65535), want: int64(65535), level: exact},
		{name: "float32", expr: "0.5", v: float32(0.5), want: 0.5, level: exact},
		{name: "inf", expr: "[float('inf'), float('-inf'), -0.0]", v: []any{math.Inf(1), math.Inf(-1), math.Copysign(0, -1)}, level: exact},
		{name: "empties", expr: "['', b'', {}, [], (), set(), frozenset()]",
			v:     []any{"", []byte{}, map[string]any{}, []any{}, Tuple{}, Set{}, FrozenSet{}},
			level: exact},
		{name: "long str", expr: "'a'*300", v: strings.Repeat("a", 300), level: exact},
		{name: "long bytes", expr: "b'a'*300", v: []byte(strings.Repeat("a", 300)), level: exact},
		{name: "non-BMP", expr: "'I\\u00f1t\\U0001F600'", v: "Iñt😀", level: exact},
		{name: "lone surrogate", expr: "'\\udc80'", v: "\xed\xb2\x80", level: exact},
		{name: "4-tuple", expr: "(1, 'a', b'b', None)", v: Tuple{1, "a", []byte("b"), nil}, want: Tuple{int64(1), "a", []byte("b"), nil}, level: exact},
		{name: "nested tuples", expr: "((1, 2), (1, 2))", v: Tuple{Tuple{1, 2}, Tuple{1, 2}},
			want: Tuple{Tuple{int64(1), int64(2)}, Tuple{int64(1), int64(2)}}, level: exact},
		{name: "shared strings", expr: "['x', 'x', 'hello world', 'hello world', b'a', b'a', '', '']",
			v: []any{"x", "x", "hello world", "hello world", []byte("a"), []byte("a"), "", ""}, level: exact},
		{name: "shared list", expr: "[(x := [1]), x]", v: []any{shared, shared},
			want: []any{[]any{int64(1)}, []any{int64(1)}}, level: exact},
		{name: "frozenset", expr: "frozenset([1, 2, 3])", v: NewFrozenSet(1, 2, 3), want: NewFrozenSet(int64(1), int64(2), int64(3)), level: exact},
		{name: "set of 1000", expr: "set(range(1000))", v: bigSet, level: exact},
		{name: "dict of 1000", expr: "{i: i for i in range(1000)}", v: bigDict, want: bigDictWant, level: exact},
		{name: "list of 1001", expr: "list(range(1001))", v: ints(1001), want: anyInts(1001), level: exact},
		{name: "frames 40000", expr: "list(range(40000))", v: ints(40000), want: anyInts(40000), level: exact},
		{name: "two big lists", expr: "[list(range(30000)), list(range(30000))]", v: [][]int{ints(30000), ints(30000)},
			want: []any{anyInts(30000), anyInts(30000)}, level: exact},
		{name: "large data outside frames", expr: "['x'*70000, 1, 'y'*100, b'z'*65536]",
			v:     []any{strings.Repeat("x", 70000), 1, strings.Repeat("y", 100), []byte(strings.Repeat("z", 65536))},
			want:  []any{strings.Repeat("x", 70000), int64(1), strings.Repeat("y", 100), []byte(strings.Repeat("z", 65536))},
			level: exact},
		{name: "int keys", expr: "{1: 'a', 2: 'b'}", v: map[int]string{2: "b", 1: "a"}, want: map[any]any{int64(1): "a", int64(2): "b"}, level: exact},
		{name: "tuple keys", expr: "{(1, 2): 'a', (1, 3): 'b'}", v: map[[2]int]string{{1, 3}: "b", {1, 2}: "a"},
			want: map[any]any{[2]any{int64(1), int64(2)}: "a", [2]any{int64(1), int64(3)}: "b"}, level: exact},
		{name: "None value", expr: "{'a': None}", v: map[string]any{"a": nil}, level: exact},
		{name: "struct", expr: "{'Name': 'n', 'tags': ['t', 'u']}", v: testStruct{Name: "n", Tags: []string{"t", "u"}, Skip: 3},
			want: map[string]any{"Name": "n", "tags": []any{"t", "u"}}, level: exact},
		{name: "struct pointer list", expr: "[{'Name': 'a', 'tags': [], 'n': 1}, {'Name': 'b', 'tags': []}]",
			v:     []*testStruct{{Name: "a", N: 1}, {Name: "b"}},
			want:  []any{map[string]any{"Name": "a", "tags": []any{}, "n": int64(1)}, map[string]any{"Name": "b", "tags": []any{}}},
			level: sameValue},
		{name: "dict order", expr: "{'b': 1, 'a': 2}", v: map[string]int{"b": 1, "a": 2}, want: map[string]any{"a": int64(2), "b": int64(1)}, level: sameValue},
		{name: "string set", expr: "{'x', 'y', 'z'}", v: NewSet("x", "y", "z"), level: sameValue},

		// Dates, times, Decimal.
		{name: "date", expr: "date(2024, 1, 2)", v: Date{2024, 1, 2}, level: exact},
		{name: "time", expr: "time(3, 4, 5, 6)", v: Time{3, 4, 5, 6, nil}, level: exact},
		{name: "time utc", expr: "time(3, 4, 5, tzinfo=timezone.utc)", v: Time{3, 4, 5, 0, time.UTC}, level: exact},
		{name: "timedelta", expr: "timedelta(days=-1, seconds=5, microseconds=7)", v: -24*time.Hour + 5*time.Second + 7*time.Microsecond, level: exact},
		{name: "timedelta big", expr: "timedelta(days=100000, microseconds=1)", v: 100000*24*time.Hour + time.Microsecond, level: exact},
		{name: "decimal", expr: "Decimal('3.14')", v: Decimal("3.14"), level: exact},
		{name: "decimals", expr: "[Decimal('-1E+3'), Decimal('NaN'), Decimal('-Infinity'), Decimal('0.000')]",
			v: []any{Decimal("-1E+3"), Decimal("NaN"), Decimal("-Infinity"), Decimal("0.000")}, level: exact},
		{name: "datetime utc", expr: "datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)", v: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), level: exact},
		{name: "datetime +2", expr: "datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))", v: time.Date(2024, 1, 2, 3, 4, 5, 6000, utc2), level: exact},
		{name: "datetime EST", expr: "datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5), 'EST'))", v: time.Date(2024, 1, 2, 3, 4, 5, 0, est), level: exact},
		{name: "datetimes", expr: "[datetime(2024, 1, 2, 3, 4, 5), datetime(2024, 1, 2, 3, 4, 6)]",
			v: []any{time.Date(2024, 1, 2, 3, 4, 5, 0, time.Local), time.Date(2024, 1, 2, 3, 4, 6, 0, time.Local)}, level: exact},
		{name: "date and datetimes", expr: "[date(2024, 1, 2), datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc), datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)]",
			v: []any{Date{2024, 1, 2}, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}, level: exact},
		{name: "all kinds", expr: "{'d': date(2024, 1, 2), 'dec': Decimal('1.5'), 't': time(1, 2), 'td': timedelta(seconds=1), 'u': datetime(2000, 1, 1, tzinfo=timezone.utc)}",
			v: map[string]any{"d": Date{2024, 1, 2}, "dec": Decimal("1.5"), "td": time.Second, "t": Time{Hour: 1, Minute: 2}, "u": time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, level: exact},
		{name: "zoneinfo fold 0", expr: "datetime(2024, 10, 27, 2, 30, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
			v: time.Date(2024, 10, 27, 0, 30, 0, 0, time.UTC).In(paris), level: sameValue},
		{name: "zoneinfo fold 1", expr: "datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
			v: time.Date(2024, 10, 27, 1, 30, 0, 0, time.UTC).In(paris), level: sameValue, minProto: 4},
		{name: "zoneinfo summer", expr: "datetime(2024, 7, 1, 12, 0, tzinfo=zoneinfo.ZoneInfo('Europe/Paris'))",
			v: time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC).In(paris), level: sameValue},

		// UUIDs, and the names CPython interns ('int', module names, the
		// name of a class defined in Python) shared with equal strings.
		{name: "uuid", expr: "UUID('12345678-1234-5678-1234-567812345678')", v: mustUUID("12345678-1234-5678-1234-567812345678"), level: exact},
		{name: "uuids", expr: "[UUID(int=0), UUID(int=5), UUID(int=2**63), UUID(int=2**64-1), UUID(int=2**64), UUID(int=2**127), UUID(int=2**128-1)]",
			v: []any{UUID{}, uuidInt(5), uuidInt(1 << 63), uuidInt(math.MaxUint64), uuidBig(big2(64)), uuidBig(big2(127)), uuidBig(new(big.Int).Sub(big2(128), big.NewInt(1)))}, level: exact},
		{name: "uuid names shared", expr: "{'int': 1, 'uuid': UUID(int=7), 'x': [UUID(int=8), 'UUID', 'int']}",
			v:    map[string]any{"int": 1, "uuid": uuidInt(7), "x": []any{uuidInt(8), "UUID", "int"}},
			want: map[string]any{"int": int64(1), "uuid": uuidInt(7), "x": []any{uuidInt(8), "UUID", "int"}}, level: exact},
		{name: "uuid keys", expr: "{UUID(int=1): 'a', UUID(int=2**100): 'b'}", v: map[UUID]string{uuidInt(1): "a", uuidBig(big2(100)): "b"},
			want: map[any]any{uuidInt(1): "a", uuidBig(big2(100)): "b"}, level: exact},
		{name: "uuid tuple", expr: "(UUID(int=1), UUID(int=1), date(2024, 1, 2))", v: Tuple{uuidInt(1), uuidInt(1), Date{2024, 1, 2}}, level: exact},
		{name: "uuid struct", expr: "{'id': UUID(int=3), 'parent': None}", v: uuidRow{ID: uuidInt(3)},
			want: map[string]any{"id": uuidInt(3), "parent": nil}, level: exact},
		{name: "module names shared", expr: "{'d': date(2020, 1, 1), 'datetime': 1, 'decimal': Decimal('1'), 'x': 'decimal'}",
			v:    map[string]any{"d": Date{2020, 1, 1}, "datetime": 1, "decimal": Decimal("1"), "x": "decimal"},
			want: map[string]any{"d": Date{2020, 1, 1}, "datetime": int64(1), "decimal": Decimal("1"), "x": "decimal"}, level: exact},
		{name: "uuid safe", expr: "UUID(int=5, is_safe=SafeUUID.safe)", want: uuidInt(5), level: decodeOnly},
		{name: "uuid unsafe", expr: "[UUID(int=2**128-1, is_safe=SafeUUID.unsafe), UUID(int=6, is_safe=SafeUUID.unknown)]",
			want: []any{uuidBig(new(big.Int).Sub(big2(128), big.NewInt(1))), uuidInt(6)}, level: decodeOnly},

		// Python-only shapes.
		{name: "bytearray", expr: "bytearray(b'ab')", want: []byte("ab"), level: decodeOnly},
		{name: "OrderedDict", expr: "OrderedDict([('a', 1), ('b', [2])])", want: map[string]any{"a": int64(1), "b": []any{int64(2)}}, level: decodeOnly},
		{name: "SafeString", expr: "SafeString('<b>x</b>')", want: "<b>x</b>", level: decodeOnly},
		{name: "pytz utc", expr: "datetime(2024, 1, 2, 3, 4, 5, tzinfo=pytz_utc)", want: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), level: decodeOnly},
		{name: "pytz paris", expr: "datetime(2024, 7, 1, 12, 0, tzinfo=_p('Europe/Paris', 7200, 3600, 'CEST'))",
			want: time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC).In(paris), level: decodeOnly},
		{name: "mixed keys", expr: "{1: 'a', 'b': 2, None: 3, (1, 'x'): 4}",
			want: map[any]any{int64(1): "a", "b": int64(2), nil: int64(3), [2]any{int64(1), "x"}: int64(4)}, level: decodeOnly},
	}
	if paris.String() != "Europe/Paris" {
		kept := cases[:0]
		for _, c := range cases {
			if !strings.Contains(c.expr, "Europe/Paris") {
				kept = append(kept, c)
			}
		}
		cases = kept
	}
	return cases
}

// TestMarshalMatchesCPython compares Marshal with CPython's pickle.dumps(v,
// 5), and checks that Python loads every Marshal output to the intended
// value.
func TestMarshalMatchesCPython(t *testing.T) {
	py := python(t)
	for _, c := range pyCases(t) {
		if c.level == decodeOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got, err := Marshal(c.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if c.level == exact {
				want := py.dumps(t, c.expr)[5]
				if h := hexOf(got); h != want {
					t.Errorf("Marshal differs from pickle.dumps(%s, 5)\n got %s\nwant %s", c.expr, short(h), short(want))
				}
			}
			if ok, repr := py.loadsEqual(t, got, c.expr); !ok {
				t.Errorf("Python loaded %s, want %s", repr, c.expr)
			}
		})
	}
}

// TestUnmarshalCPythonProtocols decodes what CPython writes for every case
// with every protocol, 0 to 5.
func TestUnmarshalCPythonProtocols(t *testing.T) {
	py := python(t)
	for _, c := range pyCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for p, h := range py.dumps(t, c.expr) {
				if p < c.minProto {
					continue
				}
				data, _ := hex.DecodeString(h)
				var got any
				if err := Unmarshal(data, &got); err != nil {
					t.Errorf("protocol %d: Unmarshal(%s): %v", p, short(h), err)
					continue
				}
				if !equalValues(got, c.wanted()) {
					t.Errorf("protocol %d: Unmarshal(%s) = %#v, want %#v", p, c.expr, got, c.wanted())
				}
			}
		})
	}
}

func short(h string) string {
	if len(h) > 400 {
		return h[:200] + "..." + h[len(h)-200:]
	}
	return h
}
