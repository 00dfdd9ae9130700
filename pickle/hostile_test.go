package pickle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestDisallowedClasses(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		// pickle.dumps of a class whose __reduce__ returns (os.system, ('echo hi',)), protocols 0 and 5.
		{"GLOBAL os.system", []byte("cposix\nsystem\np0\n(Vecho hi\np1\ntp2\nRp3\n."), "pickle: class posix.system is not allowed"},
		{"STACK_GLOBAL os.system", unhex("80 05 95 1f000000 00000000 8c 02 6f73 94 8c 06 73797374656d 94 93 94 8c 07 6563686f206869 94 85 94 52 94 2e"), "pickle: class os.system is not allowed"},
		{"builtins.eval", []byte("cbuiltins\neval\n(V1+1\ntR."), "pickle: class builtins.eval is not allowed"},
		{"__builtin__.eval", []byte("c__builtin__\neval\n(S'1'\ntR."), "pickle: class __builtin__.eval is not allowed"},
		{"INST", []byte("(S'ls'\nios\nsystem\n."), "pickle: class os.system is not allowed"},
		{"complex", unhex("8005952a000000000000008c086275696c74696e73948c07636f6d706c65789493944700000000000000004700000000000000018694529494 2e"), "pickle: class builtins.complex is not allowed"},
		{"getattr other", []byte("cbuiltins\ngetattr\n(cdatetime\ndatetime\nVnow\ntR."), "builtins.getattr is allowed only as getattr(zoneinfo.ZoneInfo, '_unpickle')"},
		{"reconstructor other", []byte("ccopyreg\n_reconstructor\n(cbuiltins\nstr\ncbuiltins\nstr\nVx\ntR."), "copyreg._reconstructor is allowed only for Django's SafeString"},
		{"REDUCE on an int", []byte("I1\n)R."), "REDUCE: cannot call a Python int"},
		{"REDUCE list args", []byte("cdatetime\ndate\n(lR."), "REDUCE arguments must be a tuple"},
		{"BUILD with state", []byte("cdatetime\ndate\n(I2024\nI1\nI1\ntR(dVx\nI1\nsb."), "BUILD with state on a Python datetime.date is not supported"},
		{"EXT1", unhex("8002 82 07 2e"), "extension code 7 (EXT1) is not allowed"},
		{"PERSID", []byte("P1\n."), "persistent IDs (PERSID) are not supported"},
		{"BINPERSID", []byte("I1\nQ."), "persistent IDs (BINPERSID) are not supported"},
		{"NEXT_BUFFER", unhex("8005 97 2e"), "out-of-band buffers (NEXT_BUFFER) are not supported"},
		{"READONLY_BUFFER", unhex("8005 98 2e"), "out-of-band buffers (READONLY_BUFFER) are not supported"},
		{"protocol 6", unhex("8006 4e 2e"), "unsupported pickle protocol 6"},
		{"bad opcode", unhex("8005 ff 2e"), "invalid opcode 0xff"},
		{"NEWOBJ_EX kwargs", []byte("cdatetime\ndate\n)}Vx\nNs\x92."), "NEWOBJ_EX with keyword arguments is not supported"},
		{"zoneinfo bad key", []byte("czoneinfo\nZoneInfo\n(V../../etc/passwd\ntR."), "invalid time zone key"},
		{"hostile class name", []byte("cos\nsys\x00tem\n."), `pickle: class os."sys\x00tem" is not allowed`},
	}
	for _, c := range cases {
		var v any
		err := Unmarshal(c.data, &v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Unmarshal error %v, want %q", c.name, err, c.want)
		}
		if strings.HasPrefix(c.name, "GLOBAL") || strings.HasPrefix(c.name, "STACK") {
			var ce *ClassError
			if !errors.As(err, &ce) {
				t.Errorf("%s: error %T is not a *ClassError", c.name, err)
			}
		}
	}
}

func TestMalformed(t *testing.T) {
	huge := func(op byte, size int) []byte {
		b := []byte{0x80, 5, op}
		b = binary.LittleEndian.AppendUint64(b, 1<<62)
		return b[:3+size]
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "no STOP opcode"},
		{"no STOP", unhex("80054e"), "no STOP opcode"},
		{"STOP on empty stack", unhex("80052e"), "STOP with an empty stack"},
		{"BINUNICODE8 2**62", huge(opBinUnicode8, 8), "truncated data in BINUNICODE8"},
		{"BINBYTES8 2**62", huge(opBinBytes8, 8), "truncated data in BINBYTES8"},
		{"BYTEARRAY8 2**62", huge(opByteArray8, 8), "truncated data in BYTEARRAY8"},
		{"FRAME 2**62", huge(opFrame, 8), "truncated data in FRAME"},
		{"BINUNICODE 4G", unhex("8005 58 ffffffff 2e"), "truncated data in BINUNICODE"},
		{"LONG4 negative", unhex("8005 8b ffffffff 2e"), "LONG4 with a negative byte count"},
		{"LONG4 2G", unhex("8005 8b ffffff7f 2e"), "truncated data in LONG4"},
		{"BINSTRING negative", unhex("8002 54 ffffffff 2e"), "BINSTRING with a negative byte count"},
		{"bad UTF-8", unhex("8005 8c 01 ff 2e"), "invalid UTF-8"},
		{"non-ASCII py2 str", unhex("8002 55 01 e9 2e"), "non-ASCII"},
		{"APPEND to dict", unhex("8005 7d 4b01 61 2e"), "APPEND on a Python dict"},
		{"SETITEM on list", unhex("8005 5d 4b01 4b02 73 2e"), "SETITEM on a Python list"},
		{"ADDITEMS on frozenset", unhex("8005 28 91 28 4b01 90 2e"), "ADDITEMS on a Python frozenset"},
		{"odd SETITEMS", unhex("8005 7d 28 4b01 75 2e"), "odd number of items"},
		{"unhashable key", unhex("8005 7d 5d 4b01 73 2e"), "unhashable Python list as a dict key"},
		{"unhashable tuple key", unhex("8005 7d 5d 85 4b01 73 2e"), "unhashable Python tuple as a dict key"},
		{"unhashable set elem", unhex("8005 8f 28 7d 90 2e"), "unhashable Python dict as a set element"},
		{"APPENDS without MARK", unhex("8005 5d 65 2e"), "APPENDS without MARK"},
		{"underflow across MARK", unhex("8005 5d 28 4b01 61 2e"), "stack underflow in APPEND"},
		{"TUPLE2 underflow", unhex("8005 4b01 86 2e"), "stack underflow in TUPLE2"},
		{"memo miss", unhex("8005 68 05 2e"), "memo key 5 not found"},
		{"memo miss long", unhex("8005 4e 72 ffffffff 6a feffffff 2e"), "memo key 4294967294 not found"},
		{"PUT empty", []byte("p0\n."), "stack underflow in PUT"},
		{"GET text bad", []byte("NgX\n."), "bad memo index"},
		{"INT bad", []byte("I12x\n."), "invalid literal for int()"},
		{"INT leading zero", []byte("I010\n."), "invalid literal for int()"},
		{"INT huge", []byte("I" + strings.Repeat("9", 5000) + "\n."), "exceeds the limit (4300 digits)"},
		{"FLOAT bad", []byte("F1.5x\n."), "could not convert string to float"},
		{"STRING unquoted", []byte("Sabc\n."), "must be quoted"},
		{"STRING bad escape", []byte("S'\\x4'\n."), "invalid \\x escape"},
		{"UNICODE bad escape", []byte("V\\u12\n."), "truncated \\uXXXX escape"},
		{"bad datetime state", unhex("8005 8c08 6461746574696d65 8c08 6461746574696d65 93 43 0a 07e80d0203040500000085 52 2e"), "unsupported arguments for datetime.datetime"},
		{"datetime day 31 Feb", []byte("cdatetime\ndatetime\n(I2024\nI2\nI31\ntR."), "invalid datetime.datetime(2024, 2, 31"},
		{"timedelta overflow", []byte("cdatetime\ntimedelta\n(I999999999\nI0\nI0\ntR."), "out of range for a Go time.Duration"},
		{"class as value", []byte("cdatetime\ndate\n."), "a Python class (datetime.date) is not a value"},
	}
	for _, c := range cases {
		var v any
		err := Unmarshal(c.data, &v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Unmarshal error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestTruncatedEverywhere cuts valid pickles at every offset: each prefix
// must fail cleanly.
func TestTruncatedEverywhere(t *testing.T) {
	vals := []any{sampleAllKinds(), []any{"x", 1.5, big2(100), NewSet(int64(1)), time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}}
	for _, v := range vals {
		data, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(data); i++ {
			var got any
			err := Unmarshal(data[:i], &got)
			if err == nil {
				t.Fatalf("prefix of %d bytes decoded without error", i)
			}
			if !errors.Is(err, ErrTruncated) && !strings.Contains(err.Error(), "pickle:") {
				t.Fatalf("prefix of %d bytes: %v", i, err)
			}
		}
	}
}

func TestDeepNesting(t *testing.T) {
	// 100000 nested lists: EMPTY_LIST ... then APPEND 100000 times.
	var b bytes.Buffer
	b.WriteString("\x80\x05")
	n := 100000
	b.Write(bytes.Repeat([]byte{opEmptyList}, n))
	b.Write(bytes.Repeat([]byte{opAppend}, n-1))
	b.WriteByte(opStop)
	var v any
	if err := Unmarshal(b.Bytes(), &v); err == nil || !strings.Contains(err.Error(), "nested deeper than 1000") {
		t.Errorf("deep lists: %v", err)
	}
	var typed []any
	if err := Unmarshal(b.Bytes(), &typed); err == nil || !strings.Contains(err.Error(), "nested deeper than 1000") {
		t.Errorf("deep lists into []any: %v", err)
	}
	// Deep tuples used as dict keys: the hashability check must not explode.
	b.Reset()
	b.WriteString("\x80\x05}")
	b.WriteByte(opEmptyTuple)
	b.Write(bytes.Repeat([]byte{opTuple1}, n))
	b.WriteString("\x94N")
	for i := 0; i < 1000; i++ {
		b.WriteString("s\x68\x00N") // SETITEM, then the same key again
	}
	b.WriteString("s.")
	_, work, err := unmarshal(b.Bytes(), &v)
	if err == nil {
		t.Error("deep tuple keys: no error")
	}
	checkWork(t, "deep tuple keys", work, b.Len())
}

// checkWork fails the test if decoding n bytes did more than workPerByte
// units of work per input byte (see unmarshal): the bound that keeps a
// hostile pickle from taking time out of proportion to its size, counted
// rather than timed so that a busy machine cannot fail it.
func checkWork(t *testing.T, what string, work, n int) {
	t.Helper()
	if limit := workPerByte*n + 1<<10; work > limit {
		t.Errorf("%s: decoding %d bytes did %d units of work, limit %d", what, n, work, limit)
	}
}

// workPerByte bounds the work of a decode: each input byte is at most one
// opcode, and each opcode makes at most a few values to check and convert.
const workPerByte = 8

// TestMemoBomb: each list holds two references to the previous one, 60
// levels deep (2**60 leaves if expanded). Decoding shares the lists.
func TestMemoBomb(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("\x80\x05]\x94K\x01a") // l0 = [1], memo 0
	for i := 1; i <= 60; i++ {
		b.WriteString("]\x94(")                   // new list, memo i
		b.Write([]byte{opLongBinGet, 0, 0, 0, 0}) // placeholder
		binary.LittleEndian.PutUint32(b.Bytes()[b.Len()-4:], uint32(i-1))
		b.Write([]byte{opLongBinGet, byte(i - 1), 0, 0, 0})
		b.WriteByte(opAppends)
	}
	b.WriteByte(opStop)
	var v any
	_, work, err := unmarshal(b.Bytes(), &v)
	if err != nil {
		t.Fatal(err)
	}
	checkWork(t, "memo bomb into *any", work, b.Len())
	var typed [][]any
	_, work, err = unmarshal(b.Bytes(), &typed)
	if err != nil {
		t.Fatal(err)
	}
	checkWork(t, "memo bomb into *[][]any", work, b.Len())
}

func TestCycles(t *testing.T) {
	for name, data := range map[string][]byte{
		"list in itself": unhex("8005 5d 94 68 00 61 2e"),
		"dict in itself": unhex("8005 7d 94 4e 68 00 73 2e"),
		"via tuple":      unhex("8005 5d 94 68 00 85 61 2e"),
	} {
		var v any
		if err := Unmarshal(data, &v); err == nil || !strings.Contains(err.Error(), "recursive data") {
			t.Errorf("%s: %v", name, err)
		}
		var typed []any
		if err := Unmarshal(data, &typed); err == nil {
			t.Errorf("%s into []any: no error", name)
		}
	}
}

func TestTrailingData(t *testing.T) {
	data := append(unhex("80054b2a2e"), "rest"...)
	var n int
	rest, err := UnmarshalPrefix(data, &n)
	if err != nil || n != 42 || string(rest) != "rest" {
		t.Errorf("UnmarshalPrefix = %d, %q, %v", n, rest, err)
	}
	if err := Unmarshal(data, &n); err != nil {
		t.Errorf("Unmarshal with trailing data: %v (pickle.loads accepts it)", err)
	}
}

// TestProtocol0Opcodes decodes protocol 0/1 text opcodes written by hand
// the way Python 2 and Python 3 write them.
func TestProtocol0Opcodes(t *testing.T) {
	cases := []struct {
		data string
		want any
	}{
		{"I01\n.", true},
		{"I00\n.", false},
		{"I-0x1F\n.", int64(-31)},
		{"I1_000\n.", int64(1000)},
		{"L123456789012345678901234567890L\n.", mustBig("123456789012345678901234567890")},
		{"F-1.5e3\n.", -1500.0},
		{"Finf\n.", posInf},
		{"S'a\\'b\\n\\x41\\101'\n.", "a'b\nAA"},
		{"S\"q\"\n.", "q"},
		{"V\\u00e9\\\\u0041\\U0001F600\n.", "é\\\\u0041😀"},
		{"(lp0\nI1\naI2\na.", []any{int64(1), int64(2)}},
		{"(I1\nI2\nt.", Tuple{int64(1), int64(2)}},
		{"(dp0\nVa\np1\nI1\ns.", map[string]any{"a": int64(1)}},
		{"(Va\nI1\nd.", map[string]any{"a": int64(1)}},
		{"(I1\n(I2\n1I3\nt.", Tuple{int64(1), int64(3)}},
		{"I1\nI2\n0.", int64(1)},
		{"(lp0\ng0\n2.", []any{}},
		{"]q\x00(K\x01K\x02e.", []any{int64(1), int64(2)}},
		{"(I5\nI6\ncdatetime\ntimedelta\n(I1\nI2\nI3\ntR2t.", nil},
		{"c__builtin__\nset\n((lp0\nI1\natR.", NewSet(int64(1))},
		{"c__builtin__\nbytes\n)R.", []byte{}},
		{"c_codecs\nencode\n(V\xff\nVlatin1\ntR.", []byte{0xff}},
		{"cdecimal\nDecimal\n(I12\ntR.", Decimal("12")},
		{"(cdatetime\ndate\nI2024\nI3\nI4\no.", Date{2024, 3, 4}},
		{"(I2024\nI3\nI4\nidatetime\ndate\n.", Date{2024, 3, 4}},
		{"cpytz\n_UTC\n)R.", time.UTC},
	}
	for _, c := range cases {
		var v any
		if err := Unmarshal([]byte(c.data), &v); err != nil {
			t.Errorf("Unmarshal(%q): %v", c.data, err)
			continue
		}
		if c.want == nil {
			continue
		}
		if !equalValues(v, c.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", c.data, v, c.want)
		}
	}
}

// tupleDAG builds t0 = (1, 1), t[i] = (t[i-1], t[i-1]) through the memo:
// 2**levels leaves if expanded. asKey uses the top tuple as a dict key.
func tupleDAG(levels int, asKey bool) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x05")
	if asKey {
		b.WriteString("}(")
	}
	b.WriteString("K\x01K\x01\x86\x94")
	for i := 1; i <= levels; i++ {
		b.Write([]byte{opBinGet, byte(i - 1), opBinGet, byte(i - 1), opTuple2, opMemoize})
	}
	if asKey {
		b.Write([]byte{opPopMark, opBinGet, byte(levels), opNone, opSetItem})
	}
	b.WriteByte(opStop)
	return b.Bytes()
}

// TestSharedTupleDAG: tuples sharing sub-tuples must decode and encode
// again in time proportional to the pickle, not to the expanded tree.
func TestSharedTupleDAG(t *testing.T) {
	var v any
	dag := tupleDAG(60, false)
	_, work, err := unmarshal(dag, &v)
	if err != nil {
		t.Fatal(err)
	}
	checkWork(t, "shared tuple DAG", work, len(dag))
	data, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 2000 {
		t.Errorf("re-encoded DAG is %d bytes: sharing lost", len(data))
	}
	keyDAG := tupleDAG(60, true)
	_, work, err = unmarshal(keyDAG, &v)
	if err == nil || !strings.Contains(err.Error(), "more than 1024 values") {
		t.Errorf("DAG as a map[any]any key: %v", err)
	}
	checkWork(t, "shared tuple DAG as a key", work, len(keyDAG))
	if err := Unmarshal(tupleDAG(3, true), &v); err != nil {
		t.Errorf("small nested tuple key: %v", err)
	}
}

func TestParseInt(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{"42", int64(42)}, {" -7\n", int64(-7)}, {"+1_000", int64(1000)}, {"007", int64(7)},
		{"123456789012345678901234567890", mustBig("123456789012345678901234567890")},
		{"0x10", nil}, {"1__0", nil}, {"_1", nil}, {"", nil}, {"1.0", nil}, {"\x80\x05K*.", nil},
		{strings.Repeat("1", 4301), nil},
	} {
		v, ok := ParseInt([]byte(c.in))
		if c.want == nil {
			if ok {
				t.Errorf("ParseInt(%q) = %v, want failure", c.in, v)
			}
		} else if !ok || !equalValues(v, c.want) {
			t.Errorf("ParseInt(%q) = %v, %v; want %v", c.in, v, ok, c.want)
		}
	}
}
