package pickle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/big"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

type fuzzTarget struct {
	A int
	B []string
	C map[string]float64
	D *inner
	E time.Time
	F Tuple
	G [2]int8
	H map[[2]int]Set
	I map[[2]any][]byte // keys holding interfaces; str and bytes into []byte
	J []big.Int
	K []namedByte
	L [3]namedByte
	M UUID
}

type namedByte uint8

// FuzzUnmarshal feeds arbitrary bytes to Unmarshal: it must never panic,
// must allocate in proportion to the input, and what it decodes must
// encode again to a fixed point (Marshal(Unmarshal(Marshal(v))) ==
// Marshal(v)).
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range djangoVectors {
		f.Add(unhex(tc.hex))
	}
	for _, vec := range cpythonVectors {
		for _, h := range vec {
			f.Add(unhex(h))
		}
	}
	for _, s := range []string{
		"cposix\nsystem\np0\n(Vecho hi\np1\ntp2\nRp3\n.",
		"(lp0\nI1\naF1.5\naS'a\\x41'\nag0\n2t.",
		"8005 5d 94 68 00 61 2e",
		"cdatetime\ndatetime\n(I2024\nI2\nI28\nI1\nI2\nI3\nI4\ncpytz\n_UTC\n)RtR.",
		"czoneinfo\nZoneInfo\n(VEurope/Paris\ntR.",
		"\x80\x05}\x8c\x01I}(\x91N\x86C\x01ass.", // {'I': {(frozenset(), None): b'a'}}: I's key cannot hold it
	} {
		if strings.Contains(s, "\n") || strings.Contains(s, "(") {
			f.Add([]byte(s))
		} else {
			f.Add(unhex(s))
		}
	}
	if b, err := Marshal(sampleAllKinds()); err == nil {
		f.Add(b)
	}
	// Memo references that would multiply the output if expanded.
	f.Add(frozensetDAG(8))
	f.Add(tupleKeyBomb(8, 50))
	f.Add(memoBomb("C\x08abcdefgh", 100))
	f.Add(callBomb("(K\x01K\x02l", "builtins", "frozenset", nil, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		before := heapAllocs()
		var v any
		err := Unmarshal(data, &v)
		var typed fuzzTarget
		_ = Unmarshal(data, &typed)
		var anyMap map[any]any
		_ = Unmarshal(data, &anyMap)
		if used, limit := heapAllocs()-before, uint64(1<<20+1024*len(data)); used > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(data), used, limit)
		}
		if err != nil {
			return
		}
		b1, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of a decoded %T: %v", v, err)
		}
		var v2 any
		if err := Unmarshal(b1, &v2); err != nil {
			t.Fatalf("Unmarshal(Marshal(decoded)): %v\n%x", err, b1)
		}
		b2, err := Marshal(v2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("no fixed point:\n%x\n%x", b1, b2)
		}
	})
}

// gen builds a Go value and its expected natural decoding from fuzz input.
type gen struct {
	b []byte
}

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) u64() uint64 {
	var buf [8]byte
	n := copy(buf[:], g.b)
	g.b = g.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (g *gen) str() string {
	n := int(g.byte()) % 40
	if n > len(g.b) {
		n = len(g.b)
	}
	s := strings.ToValidUTF8(string(g.b[:n]), "\uFFFD")
	g.b = g.b[n:]
	return s
}

// scalar returns a hashable value (Go value, natural value).
func (g *gen) scalar() (any, any) {
	c := g.byte()
	if c >= 250 {
		// A UUID (apart from c % 10, so that the corpus keeps its
		// meaning): an int of up to 64 bits, or of up to 128.
		var u UUID
		binary.BigEndian.PutUint64(u[8:], g.u64())
		if c > 250 {
			binary.BigEndian.PutUint64(u[:8], g.u64())
		}
		return u, u
	}
	switch c % 10 {
	case 0:
		return nil, nil
	case 1:
		b := g.byte()%2 == 1
		return b, b
	case 2:
		n := int64(g.u64())
		return int(n), n
	case 3:
		n := int64(int16(g.u64()))
		return n, n
	case 4:
		u := g.u64()
		if u > math.MaxInt64 {
			return u, new(big.Int).SetUint64(u)
		}
		return u, int64(u)
	case 5:
		f := math.Float64frombits(g.u64())
		if math.IsNaN(f) {
			f = 0.25
		}
		return f, f
	case 6:
		s := g.str()
		return s, s
	case 7:
		x := new(big.Int).SetUint64(g.u64())
		x.Lsh(x, uint(g.byte()))
		if g.byte()%2 == 1 {
			x.Neg(x)
		}
		if x.IsInt64() {
			return x, x.Int64()
		}
		return x, x
	case 8:
		d := Decimal(strconv.FormatInt(int64(g.u64()), 10) + "." + strconv.Itoa(int(g.byte())))
		return d, d
	default:
		d := Date{1 + int(g.u64()%9999), time.Month(1 + g.byte()%12), 1 + int(g.byte()%28)}
		return d, d
	}
}

func (g *gen) value(depth int) (any, any) {
	if depth > 6 {
		return g.scalar()
	}
	switch k := g.byte() % 16; k {
	case 10:
		b := []byte(g.str())
		return b, append([]byte{}, b...)
	case 11, 12:
		n := int(g.byte()) % 6
		v, w := make([]any, n), make([]any, n)
		for i := range v {
			v[i], w[i] = g.value(depth + 1)
		}
		if k == 12 {
			return Tuple(v), Tuple(w)
		}
		return v, w
	case 13:
		n := int(g.byte()) % 6
		v, w := map[string]any{}, map[string]any{}
		for i := 0; i < n; i++ {
			key := g.str()
			v[key], w[key] = g.value(depth + 1)
		}
		return v, w
	case 14:
		n := int(g.byte()) % 6
		v, w := map[any]any{}, map[any]any{}
		for i := 0; i < n; i++ {
			kv, kw := g.scalar()
			if _, isBig := kw.(*big.Int); isBig {
				continue // compared by pointer: skip
			}
			if s, ok := kw.(string); ok {
				// Mix key types: a map[any]any with only str keys decodes
				// as a map[string]any.
				kv, kw = int64(len(s)), int64(len(s))
			}
			// Go keys that are equal in Python (int 1 and uint 1) would
			// become one dict entry: use the natural key on both sides.
			_ = kv
			v[kw], w[kw] = g.value(depth + 1)
		}
		if len(w) == 0 {
			return v, map[string]any{}
		}
		return v, w
	case 15:
		switch g.byte() % 5 {
		case 0:
			t := time.Date(1+int(g.u64()%9999), time.Month(1+g.byte()%12), 1+int(g.byte()%28), int(g.byte()%24), int(g.byte()%60), int(g.byte()%60), int(g.u64()%1e9), time.UTC)
			return t, t.Truncate(time.Microsecond)
		case 1:
			d := time.Duration(g.u64())
			return d, d / time.Microsecond * time.Microsecond
		case 2:
			tm := Time{int(g.byte() % 24), int(g.byte() % 60), int(g.byte() % 60), int(g.u64() % 1e6), nil}
			return tm, tm
		case 3:
			n := int(g.byte()) % 6
			v := Set{}
			for i := 0; i < n; i++ {
				_, kw := g.scalar()
				if _, isBig := kw.(*big.Int); !isBig {
					v[kw] = struct{}{}
				}
			}
			return v, v
		default:
			n := int(g.byte()) % 6
			v := FrozenSet{}
			for i := 0; i < n; i++ {
				s := g.str()
				v[s] = struct{}{}
			}
			return v, v
		}
	}
	return g.scalar()
}

// FuzzRoundTrip builds Go values from the fuzz input and checks that
// Unmarshal(Marshal(v)) gives v's natural value, and that the natural value
// marshals to the same bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x0b\x05\x02\x01\x02\x03\x04\x05\x06\x07\x08\x06\x03abc\x0d\x02\x01k\x0f\x00"))
	f.Add(bytes.Repeat([]byte{0x0b, 0x05}, 20))
	f.Add(bytes.Repeat([]byte{0x0e, 0x05, 0x03, 0x02}, 30))
	f.Add(bytes.Repeat([]byte{0x0f, 0x03, 0x05, 0x09}, 30))
	// UUIDs: in a list, in a set and as dict keys.
	f.Add([]byte("\x0b\x04\x00\xfb\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x00\xfa\xff\x00\x00\x00\x00\x00\x00\x00" +
		"\x0f\x03\x02\xfb\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfa\x05\x00\x00\x00\x00\x00\x00\x00" +
		"\x0e\x02\xfa\x01\x00\x00\x00\x00\x00\x00\x00\x06\x01x\xfa\x02\x00\x00\x00\x00\x00\x00\x00\x02\x07"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := gen{data}
		v, want := g.value(0)
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", v, err)
		}
		var got any
		if err := Unmarshal(b, &got); err != nil {
			t.Fatalf("Unmarshal(Marshal(%#v)): %v\n%s", v, err, hex.EncodeToString(b))
		}
		if !equalValues(got, want) {
			t.Fatalf("round trip of %#v\n got %#v\nwant %#v", v, got, want)
		}
		b2, err := Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("Marshal(%#v) != Marshal(%#v)\n%x\n%x", v, got, b, b2)
		}
	})
}
