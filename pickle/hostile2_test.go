package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Builders for hand-written pickles.

// cat concatenates strings, byte slices and bytes.
func cat(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			b = append(b, x...)
		case []byte:
			b = append(b, x...)
		case byte:
			b = append(b, x)
		default:
			panic(fmt.Sprintf("cat: %T", p))
		}
	}
	return b
}

func le32(n uint32) string { return string(binary.LittleEndian.AppendUint32(nil, n)) }
func le64(n uint64) string { return string(binary.LittleEndian.AppendUint64(nil, n)) }

// su is SHORT_BINUNICODE s.
func su(s string) string { return "\x8c" + string([]byte{byte(len(s))}) + s }

// sg is STACK_GLOBAL module.name.
func sg(module, name string) string { return su(module) + su(name) + "\x93" }

// framed is a protocol 4 or 5 pickle of body in one FRAME, as CPython
// writes it.
func framed(proto byte, body string) []byte {
	return cat("\x80", proto, "\x95", le64(uint64(len(body))), body)
}

// get is BINGET i.
func get(i int) string { return "h" + string([]byte{byte(i)}) }

// memoBomb is a list holding one object (the op and its argument) and k
// more references to it through the memo.
func memoBomb(obj string, k int) []byte {
	return cat("\x80\x05]\x94", obj, "\x94a(", strings.Repeat(get(1), k), "e.")
}

// callBomb memoizes arg (memo 1) and the allowed global cls (memo 2), then
// makes a list of k calls cls(arg, extra...).
func callBomb(arg, module, name string, extra []string, k int) []byte {
	call := get(2) + get(1)
	for i := range extra {
		call += get(3 + i)
	}
	call += string([]byte{byte(opTuple1 + len(extra))}) + "R"
	pre := ""
	for _, e := range extra {
		pre += e + "\x940"
	}
	return cat("\x80\x05]\x94", arg, "\x940", sg(module, name), "\x940", pre, "(", strings.Repeat(call, k), "e.")
}

// frozensetDAG: X0 = (), X[i] = (frozenset([X[i-1]]), frozenset([X[i-1]]))
// where both frozensets copy the items of the same memoized list: 2**levels
// paths to X0.
func frozensetDAG(levels int) []byte {
	var b strings.Builder
	b.WriteString("\x80\x04" + sg("builtins", "frozenset") + "\x940")
	b.WriteString(strings.Repeat("]", levels) + ")")
	for i := 1; i <= levels; i++ {
		b.WriteString("a\x940") // L[i] = [X[i-1]], memo i
		call := get(0) + get(i) + "\x85R"
		b.WriteString(call + call + "\x86")
	}
	b.WriteString(".")
	return []byte(b.String())
}

// tupleKeyBomb is a dict whose key is the same tuple DAG of the given
// levels (see tupleDAG) set k times.
func tupleKeyBomb(levels, k int) []byte {
	var b strings.Builder
	b.WriteString("\x80\x05}K\x01K\x01\x86\x94")
	for i := 1; i <= levels; i++ {
		b.WriteString(get(i-1) + get(i-1) + "\x86\x94")
	}
	b.WriteString(strings.Repeat("0", levels+1) + "(")
	b.WriteString(strings.Repeat(get(levels)+"N", k))
	b.WriteString("u.")
	return []byte(b.String())
}

const deep = 100000

// hostileR decodes any nesting of lists, tuples and sets, hostileM of
// dicts.
type (
	hostileR []hostileR
	hostileM map[string]hostileM
)

type hostileCase struct {
	name    string
	data    []byte
	into    func() any // the destination (nil: *any)
	class   string     // want a *ClassError for this module.name
	is      error      // want an error wrapping this
	typeErr bool       // want an *UnmarshalTypeError
	msg     string     // want an error containing this
	ok      bool       // want no error ...
	want    any        // ... and this value, unless it is unchecked
	longMsg bool       // the error message may be longer than 1000 bytes

	// The allocation bound is alloc*len(data) + 1 MiB (alloc 0: 64). A
	// one-byte opcode can cost about 80 bytes: a node of 48 bytes and a
	// stack slot of 16, which append's growth allocates 5 times over.
	alloc int
}

type uncheckedValue struct{}

var unchecked = uncheckedValue{}

func hostileCases() []hostileCase {
	echo := su("echo hi") + "\x94\x85\x94R\x94."
	huge := func(op byte, n uint64) []byte { return cat("\x80\x05", op, le64(n), "abc.") }
	hex1M := "0x" + strings.Repeat("f", 1_000_000)
	return []hostileCase{
		// Globals that are not allowed, named by GLOBAL, STACK_GLOBAL and
		// INST: the error comes before any call.
		{name: "os.system proto 0", data: cat("cos\nsystem\n(S'echo hi'\ntR."), class: "os.system"},
		{name: "os.system proto 1", data: cat("cos\nsystem\nq\x00(X\x07\x00\x00\x00echo hiq\x01tq\x02Rq\x03."), class: "os.system"},
		{name: "os.system proto 2", data: cat("\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03."), class: "os.system"},
		{name: "os.system proto 4", data: framed(4, sg("os", "system")+"\x94"+echo), class: "os.system"},
		{name: "os.system proto 5", data: framed(5, sg("os", "system")+"\x94"+echo), class: "os.system"},
		{name: "posix.system proto 5", data: framed(5, sg("posix", "system")+"\x94"+echo), class: "posix.system"},
		{name: "nt.system proto 3", data: cat("\x80\x03cnt\nsystem\nX\x02\x00\x00\x00lsq\x00\x85R."), class: "nt.system"},
		{name: "os.popen", data: cat("cos\npopen\n(Vls\ntR."), class: "os.popen"},
		{name: "subprocess.Popen proto 4", data: framed(4, sg("subprocess", "Popen")+"]("+su("ls")+su("/")+"e\x85R."), class: "subprocess.Popen"},
		{name: "subprocess.check_output", data: cat("csubprocess\ncheck_output\n((Vid\nltR."), class: "subprocess.check_output"},
		{name: "builtins.eval proto 0", data: cat("cbuiltins\neval\n(V__import__('os').system('id')\ntR."), class: "builtins.eval"},
		{name: "builtins.eval proto 5", data: framed(5, sg("builtins", "eval")+su("1+1")+"\x85R."), class: "builtins.eval"},
		{name: "builtins.exec", data: framed(4, sg("builtins", "exec")+su("import os")+"\x85R."), class: "builtins.exec"},
		{name: "builtins.__import__", data: cat("cbuiltins\n__import__\n(Vos\ntR."), class: "builtins.__import__"},
		{name: "builtins.open", data: cat("cbuiltins\nopen\n(V/etc/passwd\ntR."), class: "builtins.open"},
		{name: "builtins.globals", data: cat("cbuiltins\nglobals\n)R."), class: "builtins.globals"},
		{name: "__builtin__.eval", data: cat("c__builtin__\neval\n(S'1'\ntR."), class: "__builtin__.eval"},
		{name: "pickle.loads", data: cat("cpickle\nloads\n(C\x01.\x85R."), class: "pickle.loads"},
		{name: "_pickle.loads", data: framed(4, sg("_pickle", "loads")+"C\x01.\x85R."), class: "_pickle.loads"},
		{name: "codecs.decode", data: cat("ccodecs\ndecode\n(Vx\nVrot13\ntR."), class: "codecs.decode"},
		{name: "functools.partial", data: cat("cfunctools\npartial\n(cos\nsystem\ntR."), class: "functools.partial"},
		{name: "operator.attrgetter", data: cat("coperator\nattrgetter\n(Vsystem\ntR."), class: "operator.attrgetter"},
		{name: "dotted name", data: framed(4, sg("builtins", "getattr.__self__")), class: "builtins.getattr.__self__"},
		{name: "module attribute path", data: framed(4, sg("os.path", "os")), class: "os.path.os"},
		{name: "datetime method", data: cat("cdatetime\ndatetime.now\n)R."), class: "datetime.datetime.now"},
		{name: "empty names", data: cat("c\n\n."), class: "."},
		{name: "GLOBAL without newline", data: cat("cos\nsystem"), is: ErrTruncated},
		{name: "STACK_GLOBAL of ints", data: cat("\x80\x04K\x01K\x02\x93."), msg: "STACK_GLOBAL needs two str, not int and int"},
		{name: "STACK_GLOBAL underflow", data: cat("\x80\x04", su("os"), "\x93."), msg: "stack underflow in STACK_GLOBAL"},
		{name: "STACK_GLOBAL across MARK", data: cat("\x80\x04", su("os"), "(", su("system"), "\x93."), msg: "stack underflow in STACK_GLOBAL"},

		// INST and OBJ.
		{name: "INST subprocess.Popen", data: cat("(S'ls'\nisubprocess\nPopen\n."), class: "subprocess.Popen"},
		{name: "INST os.system", data: cat("(Vecho hi\nios\nsystem\n."), class: "os.system"},
		{name: "INST allowed, bad args", data: cat("(S'x'\nidatetime\ndate\n."), msg: "unsupported arguments for datetime.date: (str)"},
		{name: "INST without MARK", data: cat("idatetime\ndate\n."), msg: "INST without MARK"},
		{name: "INST allowed", data: cat("(I2024\nI3\nI4\nidatetime\ndate\n."), ok: true, want: Date{2024, 3, 4}},
		{name: "OBJ os.system", data: cat("(cos\nsystem\nS'ls'\no."), class: "os.system"},
		{name: "OBJ subprocess.Popen", data: framed(4, "("+sg("subprocess", "Popen")+su("ls")+"o."), class: "subprocess.Popen"},
		{name: "OBJ on an int", data: cat("(I1\nI2\no."), msg: "OBJ: cannot call a Python int"},
		{name: "OBJ empty", data: cat("(o."), msg: "stack underflow in OBJ"},
		{name: "OBJ without MARK", data: cat("cdatetime\ndate\no."), msg: "OBJ without MARK"},
		{name: "OBJ allowed, bad args", data: cat("(cdatetime\ndate\nVx\no."), msg: "unsupported arguments for datetime.date: (str)"},

		// NEWOBJ and NEWOBJ_EX.
		{name: "NEWOBJ os.system", data: cat("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85\x81."), class: "os.system"},
		{name: "NEWOBJ date", data: cat("\x80\x02cdatetime\ndate\nM\xe8\x07K\x01K\x02\x87\x81."), ok: true, want: Date{2024, 1, 2}},
		{name: "NEWOBJ set ignores args", data: cat("\x80\x02c__builtin__\nset\n]K\x01a\x85\x81."), ok: true, want: Set{}},
		{name: "NEWOBJ OrderedDict", data: cat("\x80\x02ccollections\nOrderedDict\n)\x81."), ok: true, want: map[string]any{}},
		{name: "NEWOBJ date bad args", data: cat("\x80\x02cdatetime\ndate\nX\x01\x00\x00\x00x\x85\x81."), msg: "unsupported arguments for datetime.date: (str)"},
		{name: "NEWOBJ args not a tuple", data: cat("\x80\x02cdatetime\ndate\nN\x81."), msg: "NEWOBJ arguments must be a tuple, not NoneType"},
		{name: "NEWOBJ on an int", data: cat("\x80\x02K\x01)\x81."), msg: "NEWOBJ: cannot call a Python int"},
		{name: "NEWOBJ on a str", data: cat("\x80\x02X\x02\x00\x00\x00os)\x81."), msg: "NEWOBJ: cannot call a Python str"},
		{name: "NEWOBJ empty stack", data: cat("\x80\x02\x81."), msg: "stack underflow in NEWOBJ"},
		{name: "NEWOBJ one item", data: cat("\x80\x02)\x81."), msg: "stack underflow in NEWOBJ"},
		{name: "NEWOBJ_EX date", data: framed(4, sg("datetime", "date")+"M\xe8\x07K\x01K\x02\x87}\x92."), ok: true, want: Date{2024, 1, 2}},
		{name: "NEWOBJ_EX subprocess.Popen", data: framed(4, sg("subprocess", "Popen")+su("ls")+"\x85}\x92."), class: "subprocess.Popen"},
		{name: "NEWOBJ_EX kwargs", data: framed(4, sg("datetime", "date")+")}"+su("year")+"M\xe8\x07s\x92."), msg: "NEWOBJ_EX with keyword arguments is not supported"},
		{name: "NEWOBJ_EX kwargs not a dict", data: framed(4, sg("datetime", "date")+")N\x92."), msg: "NEWOBJ_EX with keyword arguments is not supported"},
		{name: "NEWOBJ_EX args not a tuple", data: framed(4, sg("datetime", "date")+"]}\x92."), msg: "NEWOBJ_EX arguments must be a tuple, not list"},
		{name: "NEWOBJ_EX no args", data: framed(4, sg("datetime", "date")+")}\x92."), msg: "unsupported arguments for datetime.date: ()"},
		{name: "NEWOBJ_EX underflow", data: framed(4, ")}\x92."), msg: "stack underflow in NEWOBJ_EX"},

		// BUILD.
		{name: "BUILD on a date", data: cat("\x80\x02cdatetime\ndate\nM\xe8\x07K\x01K\x02\x87\x81}X\x01\x00\x00\x00xK\x01sb."), msg: "BUILD with state on a Python datetime.date is not supported"},
		{name: "BUILD on a datetime", data: cat("cdatetime\ndatetime\n(I2024\nI1\nI2\ntR(dV__class__\ncos\nsystem\nsb."), class: "os.system"},
		{name: "BUILD on a datetime, dict", data: cat("cdatetime\ndatetime\n(I2024\nI1\nI2\ntR(dV__dict__\nI1\nsb."), msg: "BUILD with state on a Python datetime.datetime is not supported"},
		{name: "BUILD slots state", data: cat("cdatetime\ndate\n(I2024\nI1\nI2\ntR(N(dVx\nI1\nstb."), msg: "BUILD with state on a Python datetime.date is not supported"},
		{name: "BUILD on a list", data: cat("\x80\x02]X\x06\x00\x00\x00appendb."), msg: "BUILD with state on a Python list is not supported"},
		{name: "BUILD with None", data: cat("cdatetime\ndate\n(I2024\nI1\nI2\ntRNb."), ok: true, want: Date{2024, 1, 2}},
		{name: "BUILD empty stack", data: cat("\x80\x02b."), msg: "stack underflow in BUILD"},
		{name: "BUILD without object", data: cat("\x80\x02Nb."), msg: "stack underflow in BUILD"},

		// REDUCE on allowed classes with the wrong arguments.
		{name: "datetime 3-byte state", data: cat("\x80\x03cdatetime\ndatetime\nC\x03\x07\xe8\x01\x85R."), msg: "unsupported arguments for datetime.datetime: (bytes)"},
		{name: "datetime 11-byte state", data: cat("\x80\x03cdatetime\ndatetime\nC\x0b\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x00\x00\x85R."), msg: "unsupported arguments for datetime.datetime: (bytes)"},
		{name: "datetime month 13 state", data: cat("\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x0d\x02\x03\x04\x05\x00\x00\x00\x85R."), msg: "unsupported arguments for datetime.datetime: (bytes)"},
		{name: "datetime day 0 state", data: cat("\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x01\x00\x03\x04\x05\x00\x00\x00\x85R."), msg: "invalid datetime.datetime(2024, 1, 0"},
		{name: "datetime bad tzinfo", data: cat("\x80\x03cdatetime\ndatetime\nC\x0a\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x00K\x05\x86R."), msg: "unsupported arguments for datetime.datetime: (bytes, int)"},
		{name: "datetime bytearray state", data: cat("\x80\x05cdatetime\ndatetime\n\x96\x0a\x00\x00\x00\x00\x00\x00\x00\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x00\x85R."), msg: "unsupported arguments for datetime.datetime: (bytearray)"},
		{name: "datetime huge year", data: cat("cdatetime\ndatetime\n(I99999999999\nI1\nI1\ntR."), msg: "unsupported arguments for datetime.datetime: (int, int, int)"},
		{name: "datetime 8 ints", data: cat("cdatetime\ndatetime\n(I1\nI1\nI1\nI1\nI1\nI1\nI1\nI1\ntR."), msg: "unsupported arguments for datetime.datetime"},
		{name: "datetime str args", data: cat("cdatetime\ndatetime\n(V2024-01-01\ntR."), msg: "unsupported arguments for datetime.datetime: (str)"},
		{name: "date 4-byte state day 32", data: cat("\x80\x03cdatetime\ndate\nC\x04\x07\xe8\x01\x20\x85R."), msg: "invalid datetime.date(2024, 1, 32)"},
		{name: "time 6-byte state hour 24", data: cat("\x80\x03cdatetime\ntime\nC\x06\x18\x00\x00\x00\x00\x00\x85R."), msg: "unsupported arguments for datetime.time: (bytes)"},
		{name: "time 1e6 microseconds", data: cat("\x80\x03cdatetime\ntime\nC\x06\x01\x00\x00\x0f\x42\x40\x85R."), msg: "invalid datetime.time(1, 0, 0, 1000000)"},
		{name: "timedelta str", data: cat("cdatetime\ntimedelta\n(V1\ntR."), msg: "unsupported arguments for datetime.timedelta: (str)"},
		{name: "timedelta 4 args", data: cat("cdatetime\ntimedelta\n(I1\nI1\nI1\nI1\ntR."), msg: "unsupported arguments for datetime.timedelta"},
		{name: "timedelta huge", data: cat("cdatetime\ntimedelta\n(L", strings.Repeat("9", 4000), "L\ntR."), msg: "out of range for a Go time.Duration"},
		{name: "timezone int offset", data: cat("cdatetime\ntimezone\n(I3600\ntR."), msg: "unsupported arguments for datetime.timezone: (int)"},
		{name: "timezone 24h", data: cat("cdatetime\ntimezone\n(cdatetime\ntimedelta\n(I1\nI0\nI0\ntRtR."), msg: "is not strictly between -24h and 24h"},
		{name: "timezone name not str", data: cat("cdatetime\ntimezone\n(cdatetime\ntimedelta\n(I0\nI60\nI0\ntRI5\ntR."), msg: "unsupported arguments for datetime.timezone: (datetime.timedelta, int)"},
		{name: "Decimal float", data: cat("cdecimal\nDecimal\n(F1.5\ntR."), msg: "unsupported arguments for decimal.Decimal: (float)"},
		{name: "Decimal list", data: cat("cdecimal\nDecimal\n((ltR."), msg: "unsupported arguments for decimal.Decimal: (list)"},
		{name: "Decimal bytes", data: cat("\x80\x03cdecimal\nDecimal\nC\x011\x85R."), msg: "unsupported arguments for decimal.Decimal: (bytes)"},
		{name: "Decimal two args", data: cat("cdecimal\nDecimal\n(V1\nV2\ntR."), msg: "unsupported arguments for decimal.Decimal: (str, str)"},
		{name: "Decimal not a number", data: cat("cdecimal\nDecimal\n(V1+1\ntR."), msg: `invalid decimal.Decimal "1+1"`},
		{name: "Decimal control chars", data: cat("cdecimal\nDecimal\n(V1\\u0000\ntR."), msg: "invalid decimal.Decimal"},
		{name: "Decimal huge int", data: cat("cdecimal\nDecimal\n(L", hex1M, "\ntR."), msg: "decimal.Decimal of an int with more than 4300 digits is not supported"},
		{name: "Decimal of a 4335-digit int", data: cat("\x80\x02cdecimal\nDecimal\n\x8b", le32(1800), strings.Repeat("\xff", 1799), "\x7f\x85R."), msg: "more than 4300 digits"},
		{name: "set of an int", data: cat("c__builtin__\nset\n(I1\ntR."), msg: "unsupported arguments for builtins.set: (int)"},
		{name: "set of None", data: cat("cbuiltins\nset\n(NtR."), msg: "unsupported arguments for builtins.set: (NoneType)"},
		{name: "set of a str", data: cat("cbuiltins\nset\n(Vabc\ntR."), msg: "unsupported arguments for builtins.set: (str)"},
		{name: "set two args", data: cat("cbuiltins\nset\n((l(ltR."), msg: "unsupported arguments for builtins.set: (list, list)"},
		{name: "set of lists", data: cat("cbuiltins\nset\n(((lltR."), msg: "unhashable Python list as a set element"},
		{name: "frozenset of dicts", data: cat("cbuiltins\nfrozenset\n(((dltR."), msg: "unhashable Python dict as a set element"},
		{name: "encode non-latin1 char", data: cat("c_codecs\nencode\n(V\\u0100\nVlatin1\ntR."), msg: "'latin-1' codec can't encode"},
		{name: "encode utf-16", data: cat("c_codecs\nencode\n(Vabc\nVutf-16\ntR."), msg: `unsupported encoding "utf-16"`},
		{name: "encode rot13", data: cat("c_codecs\nencode\n(Vabc\nVrot13\ntR."), msg: `unsupported encoding "rot13"`},
		{name: "encode int encoding", data: cat("c_codecs\nencode\n(Vabc\nI1\ntR."), msg: "unsupported arguments for _codecs.encode: (str, int)"},
		{name: "encode bytes", data: cat("\x80\x03c_codecs\nencode\nC\x01aX\x06\x00\x00\x00latin1\x86R."), msg: "unsupported arguments for _codecs.encode: (bytes, str)"},
		{name: "encode one arg", data: cat("c_codecs\nencode\n(Vabc\ntR."), msg: "unsupported arguments for _codecs.encode: (str)"},
		{name: "encode surrogate utf-8", data: cat("c_codecs\nencode\n(V\\ud800\nVutf-8\ntR."), msg: "'utf-8' codec can't encode surrogates"},
		{name: "bytes of a list", data: cat("cbuiltins\nbytes\n((I1\nltR."), msg: "unsupported arguments for builtins.bytes: (list)"},
		{name: "bytes of an int", data: cat("cbuiltins\nbytes\n(I1000000000\ntR."), msg: "unsupported arguments for builtins.bytes: (int)"},
		{name: "bytearray ascii", data: cat("cbuiltins\nbytearray\n(Vabc\nVascii\ntR."), msg: `unsupported encoding "ascii"`},
		{name: "str of an int", data: cat("cbuiltins\nstr\n(I1\ntR."), msg: "unsupported arguments for builtins.str: (int)"},
		{name: "SafeString of a list", data: cat("cdjango.utils.safestring\nSafeString\n((ltR."), msg: "unsupported arguments for django.utils.safestring.SafeString: (list)"},
		{name: "OrderedDict with items", data: cat("ccollections\nOrderedDict\n(((I1\nI2\ntltR."), msg: "unsupported arguments for collections.OrderedDict"},
		{name: "pytz._UTC with args", data: cat("cpytz\n_UTC\n(I1\ntR."), msg: "unsupported arguments for pytz._UTC: (int)"},
		{name: "pytz._p bad zone", data: cat("cpytz\n_p\n(V../../etc/passwd\ntR."), msg: "invalid time zone key"},
		{name: "pytz._p huge offset", data: cat("cpytz\n_p\n(VEurope/Paris\nI86400\nI0\nVCET\ntR."), msg: "unsupported arguments for pytz._p"},
		{name: "zoneinfo absolute path", data: cat("czoneinfo\nZoneInfo\n(V/etc/passwd\ntR."), msg: `zoneinfo.ZoneInfo("/etc/passwd"): time: invalid location name`},
		{name: "zoneinfo dot dot", data: cat("czoneinfo\nZoneInfo\n(VEurope/../../../etc/passwd\ntR."), msg: "invalid time zone key"},
		{name: "zoneinfo long key", data: cat("czoneinfo\nZoneInfo\n(V", strings.Repeat("A", 65), "\ntR."), msg: "invalid time zone key"},
		{name: "zoneinfo unknown", data: cat("czoneinfo\nZoneInfo\n(VNo/Such_Zone\ntR."), msg: `zoneinfo.ZoneInfo("No/Such_Zone")`},
		{name: "zoneinfo int", data: cat("czoneinfo\nZoneInfo\n(I1\ntR."), msg: "unsupported arguments for zoneinfo.ZoneInfo: (int)"},
		{name: "REDUCE empty stack", data: cat("\x80\x02R."), msg: "stack underflow in REDUCE"},
		{name: "REDUCE args only", data: cat("\x80\x02)R."), msg: "stack underflow in REDUCE"},
		{name: "REDUCE on None", data: cat("\x80\x02N)R."), msg: "REDUCE: cannot call a Python NoneType"},
		{name: "REDUCE on a date", data: cat("cdatetime\ndate\n(I2024\nI1\nI2\ntR)R."), msg: "REDUCE: cannot call a Python datetime.date"},
		{name: "REDUCE args dict", data: cat("cdatetime\ndate\n(dR."), msg: "REDUCE arguments must be a tuple, not dict"},

		// getattr and copyreg._reconstructor are allowed for one use each.
		{name: "getattr ZoneInfo.__init__", data: cat("cbuiltins\ngetattr\n(czoneinfo\nZoneInfo\nV__init__\ntR."), msg: "builtins.getattr is allowed only as getattr(zoneinfo.ZoneInfo, '_unpickle')"},
		{name: "getattr date.today", data: cat("cbuiltins\ngetattr\n(cdatetime\ndate\nVtoday\ntR)R."), msg: "builtins.getattr is allowed only"},
		{name: "getattr str._unpickle", data: cat("cbuiltins\ngetattr\n(cbuiltins\nstr\nV_unpickle\ntR."), msg: "builtins.getattr is allowed only"},
		{name: "getattr of getattr", data: cat("cbuiltins\ngetattr\n(cbuiltins\ngetattr\nV__self__\ntR."), msg: "builtins.getattr is allowed only"},
		{name: "getattr with default", data: cat("cbuiltins\ngetattr\n(czoneinfo\nZoneInfo\nV_unpickle\nNtR."), msg: "builtins.getattr is allowed only"},
		{name: "getattr os", data: cat("cbuiltins\ngetattr\n(cos\nsystem\nV__call__\ntR."), class: "os.system"},
		{name: "getattr ZoneInfo._unpickle", data: cat("cbuiltins\ngetattr\n(czoneinfo\nZoneInfo\nV_unpickle\ntR(VUTC\nI1\ntR."), ok: true, want: time.UTC},
		{name: "reconstructor date", data: cat("ccopyreg\n_reconstructor\n(cdatetime\ndate\ncbuiltins\nstr\nVx\ntR."), msg: "copyreg._reconstructor is allowed only for Django's SafeString"},
		{name: "reconstructor bytes base", data: cat("ccopy_reg\n_reconstructor\n(cdjango.utils.safestring\nSafeString\nc__builtin__\nbytes\nVx\ntR."), msg: "copyreg._reconstructor is allowed only"},
		{name: "reconstructor int state", data: cat("ccopyreg\n_reconstructor\n(cdjango.utils.safestring\nSafeString\ncbuiltins\nstr\nI1\ntR."), msg: "copyreg._reconstructor is allowed only"},
		{name: "reconstructor os", data: cat("ccopyreg\n_reconstructor\n(cos\nsystem\ncbuiltins\nstr\nVx\ntR."), class: "os.system"},
		{name: "reconstructor SafeString", data: cat("ccopy_reg\n_reconstructor\n(cdjango.utils.safestring\nSafeText\nc__builtin__\nunicode\nVx\ntR."), ok: true, want: "x"},

		// Persistent IDs, extensions and out-of-band buffers.
		{name: "PERSID", data: cat("Pfoo\n."), msg: "persistent IDs (PERSID) are not supported"},
		{name: "BINPERSID", data: cat("\x80\x02X\x03\x00\x00\x00fooQ."), msg: "persistent IDs (BINPERSID) are not supported"},
		{name: "BINPERSID empty", data: cat("\x80\x02Q."), msg: "persistent IDs (BINPERSID) are not supported"},
		{name: "EXT1", data: cat("\x80\x02\x82\x01."), msg: "extension code 1 (EXT1) is not allowed"},
		{name: "EXT2", data: cat("\x80\x02\x83\x01\x02."), msg: "extension code 513 (EXT2) is not allowed"},
		{name: "EXT4", data: cat("\x80\x02\x84\x01\x00\x00\x80."), msg: "extension code 2147483649 (EXT4) is not allowed"},
		{name: "EXT4 truncated", data: cat("\x80\x02\x84\x01"), is: ErrTruncated},
		{name: "NEXT_BUFFER", data: cat("\x80\x05\x97."), msg: "out-of-band buffers (NEXT_BUFFER) are not supported"},
		{name: "READONLY_BUFFER", data: cat("\x80\x05C\x01a\x98."), msg: "out-of-band buffers (READONLY_BUFFER) are not supported"},

		// The memo.
		{name: "BINGET empty memo", data: cat("\x80\x02h\x00."), msg: "memo key 0 not found"},
		{name: "LONG_BINGET max", data: cat("\x80\x02j\xff\xff\xff\xff."), msg: "memo key 4294967295 not found"},
		{name: "GET missing", data: cat("g99\n."), msg: "memo key 99 not found"},
		{name: "GET negative", data: cat("g-1\n."), msg: `GET: bad memo index "-1"`},
		{name: "GET empty", data: cat("g\n."), msg: "GET: bad memo index"},
		{name: "GET 2**64", data: cat("g18446744073709551616\n."), msg: "GET: bad memo index"},
		{name: "PUT negative", data: cat("Np-1\n."), msg: "PUT: bad memo index"},
		{name: "BINPUT empty stack", data: cat("\x80\x02q\x00."), msg: "stack underflow in BINPUT"},
		{name: "MEMOIZE empty stack", data: cat("\x80\x04\x94."), msg: "stack underflow in MEMOIZE"},
		{name: "MEMOIZE across MARK", data: cat("\x80\x04N(\x94."), msg: "stack underflow in MEMOIZE"},
		{name: "sparse memo", data: cat("\x80\x02Nr\xff\xff\xff\xff0Kbq\x05\x94j\xff\xff\xff\xff."), ok: true, want: nil},
		{name: "memo overwritten", data: cat("\x80\x02Nq\x000K\x01q\x000h\x00."), ok: true, want: int64(1)},

		// The stack and MARK.
		{name: "POP empty", data: cat("0."), msg: "stack underflow in POP"},
		{name: "POP_MARK empty", data: cat("1."), msg: "POP_MARK without MARK"},
		{name: "DUP empty", data: cat("2."), msg: "stack underflow in DUP"},
		{name: "DUP across MARK", data: cat("K\x01(2."), msg: "stack underflow in DUP"},
		{name: "POP pops a MARK", data: cat("(0K\x01."), ok: true, want: int64(1)},
		{name: "POP_MARK", data: cat("(1K\x01."), ok: true, want: int64(1)},
		{name: "MARK without TUPLE", data: cat("(K\x01."), ok: true, want: int64(1)},
		{name: "MARKs without TUPLE", data: cat("(((K\x01(."), msg: "STOP with an empty stack"},
		{name: "MARK on top", data: cat("K\x01(."), msg: "STOP with an empty stack"},
		{name: "STOP empty", data: cat("."), msg: "STOP with an empty stack"},
		{name: "STOP two items", data: cat("K\x01K\x02."), ok: true, want: int64(2)},
		{name: "TUPLE without MARK", data: cat("K\x01t."), msg: "TUPLE without MARK"},
		{name: "LIST without MARK", data: cat("K\x01l."), msg: "LIST without MARK"},
		{name: "DICT without MARK", data: cat("K\x01K\x02d."), msg: "DICT without MARK"},
		{name: "FROZENSET without MARK", data: cat("\x80\x04K\x01\x91."), msg: "FROZENSET without MARK"},
		{name: "SETITEMS without MARK", data: cat("}K\x01K\x02u."), msg: "SETITEMS without MARK"},
		{name: "ADDITEMS without MARK", data: cat("\x80\x04\x8fK\x01\x90."), msg: "ADDITEMS without MARK"},
		{name: "TUPLE3 underflow", data: cat("\x80\x02K\x01K\x02\x87."), msg: "stack underflow in TUPLE3"},
		{name: "TUPLE1 across MARK", data: cat("\x80\x02K\x01(\x85."), msg: "stack underflow in TUPLE1"},
		{name: "SETITEM underflow", data: cat("}K\x01s."), msg: "stack underflow in SETITEM"},
		{name: "APPEND empty", data: cat("a."), msg: "stack underflow in APPEND"},

		// FRAME and declared lengths past the end: ErrTruncated before
		// anything is allocated.
		{name: "FRAME 2**64-1", data: huge(opFrame, 1<<64-1), is: ErrTruncated},
		{name: "FRAME 2**63", data: huge(opFrame, 1<<63), is: ErrTruncated},
		{name: "FRAME 2**63-1", data: huge(opFrame, 1<<63-1), is: ErrTruncated},
		{name: "FRAME one past the end", data: cat("\x80\x05\x95\x03\x00\x00\x00\x00\x00\x00\x00N."), is: ErrTruncated},
		{name: "FRAME short length", data: cat("\x80\x05\x95\x01\x00"), is: ErrTruncated},
		{name: "BINUNICODE8 2**63", data: huge(opBinUnicode8, 1<<63), is: ErrTruncated},
		{name: "BINUNICODE8 2**63-1", data: huge(opBinUnicode8, 1<<63-1), is: ErrTruncated},
		{name: "BINUNICODE8 2**64-1", data: huge(opBinUnicode8, 1<<64-1), is: ErrTruncated},
		{name: "BINUNICODE8 one past the end", data: huge(opBinUnicode8, 5), is: ErrTruncated},
		{name: "BINBYTES8 2**63", data: huge(opBinBytes8, 1<<63), is: ErrTruncated},
		{name: "BINBYTES8 2**64-1", data: huge(opBinBytes8, 1<<64-1), is: ErrTruncated},
		{name: "BINBYTES8 2**64-4", data: huge(opBinBytes8, 1<<64-4), is: ErrTruncated},
		{name: "BYTEARRAY8 2**63", data: huge(opByteArray8, 1<<63), is: ErrTruncated},
		{name: "BYTEARRAY8 2**64-1", data: huge(opByteArray8, 1<<64-1), is: ErrTruncated},
		{name: "BINBYTES 2**32-1", data: cat("\x80\x03B\xff\xff\xff\xffabc."), is: ErrTruncated},
		{name: "BINUNICODE 2**31", data: cat("\x80\x03X\x00\x00\x00\x80abc."), is: ErrTruncated},
		{name: "BINSTRING 2**31-1", data: cat("\x80\x02T\xff\xff\xff\x7fabc."), is: ErrTruncated},
		{name: "BINSTRING 2**32-1", data: cat("\x80\x02T\xff\xff\xff\xffabc."), msg: "BINSTRING with a negative byte count"},
		{name: "SHORT_BINBYTES past the end", data: cat("\x80\x03C\xffabc."), is: ErrTruncated},
		{name: "SHORT_BINUNICODE past the end", data: cat("\x80\x04\x8c\x10ab"), is: ErrTruncated},
		{name: "LONG1 past the end", data: cat("\x80\x02\x8a\xff\x01."), is: ErrTruncated},
		{name: "LONG4 2**31-1", data: cat("\x80\x02\x8b\xff\xff\xff\x7f\x01."), is: ErrTruncated},
		{name: "LONG4 2**31", data: cat("\x80\x02\x8b\x00\x00\x00\x80\x01."), msg: "LONG4 with a negative byte count"},
		{name: "LONG4 2**32-1", data: cat("\x80\x02\x8b\xff\xff\xff\xff\x01."), msg: "LONG4 with a negative byte count"},
		{name: "BINFLOAT short", data: cat("\x80\x02G\x00\x00"), is: ErrTruncated},
		{name: "PROTO without version", data: cat("\x80"), is: ErrTruncated},
		{name: "PROTO 255", data: cat("\x80\xffN."), msg: "unsupported pickle protocol 255"},

		// Text opcodes of protocol 0 with malformed text.
		{name: "INT empty", data: cat("I\n."), msg: "INT: invalid literal for int()"},
		{name: "INT letters", data: cat("Iabc\n."), msg: "INT: invalid literal for int()"},
		{name: "INT float", data: cat("I1.5\n."), msg: "INT: invalid literal for int()"},
		{name: "INT two numbers", data: cat("I1 2\n."), msg: "INT: invalid literal for int()"},
		{name: "INT double sign", data: cat("I--1\n."), msg: "INT: invalid literal for int()"},
		{name: "INT bare 0x", data: cat("I0x\n."), msg: "INT: invalid literal for int()"},
		{name: "INT bad hex", data: cat("I0xg\n."), msg: "INT: invalid literal for int()"},
		{name: "INT double underscore", data: cat("I1__0\n."), msg: "INT: invalid literal for int()"},
		{name: "INT NUL", data: cat("I1\x00\n."), msg: "INT: invalid literal for int()"},
		{name: "INT no newline", data: cat("I12"), is: ErrTruncated},
		{name: "INT 10**6 digits", data: cat("I", strings.Repeat("9", 1_000_000), "\n."), msg: "INT: exceeds the limit (4300 digits)"},
		{name: "LONG empty", data: cat("L\n."), msg: "LONG: invalid literal for int()"},
		{name: "LONG only L", data: cat("LL\n."), msg: "LONG: invalid literal for int()"},
		{name: "LONG two Ls", data: cat("L1LL\n."), msg: "LONG: invalid literal for int()"},
		{name: "LONG bad binary", data: cat("L0b2\n."), msg: "LONG: invalid literal for int()"},
		{name: "LONG 10**6 digits", data: cat("L", strings.Repeat("9", 1_000_000), "L\n."), msg: "LONG: exceeds the limit (4300 digits)"},
		{name: "LONG 10**6 hex digits", data: cat("L", hex1M, "L\n."), ok: true, want: unchecked},
		{name: "LONG 10**6 hex digits into int", data: cat("L", hex1M, "L\n."), into: func() any { return new(int) }, typeErr: true, msg: "(an int of 4000000 bits overflows it)"},
		{name: "LONG 10**6 hex digits into uint8", data: cat("L-", hex1M, "L\n."), into: func() any { return new(uint8) }, typeErr: true, msg: "(a negative int of 4000000 bits overflows it)"},
		{name: "LONG 10**6 hex digits into float64", data: cat("L", hex1M, "L\n."), into: func() any { return new(float64) }, typeErr: true, msg: "overflows it"},
		{name: "LONG 2**1024 into float64", data: cat("L0x1", strings.Repeat("0", 256), "\n."), into: func() any { return new(float64) }, typeErr: true, msg: "overflows it"},
		{name: "LONG 2**200 into float32", data: cat("L0x1", strings.Repeat("0", 50), "\n."), into: func() any { return new(float32) }, typeErr: true, msg: "1606938044258990275541962092341162602522202993782792835301376 overflows it"},
		{name: "LONG 2**1000 into float64", data: cat("L0x1", strings.Repeat("0", 250), "\n."), into: func() any { return new(float64) }, ok: true, want: 0x1p1000},
		{name: "FLOAT empty", data: cat("F\n."), msg: "FLOAT: could not convert string to float"},
		{name: "FLOAT hex", data: cat("F0x1p3\n."), msg: "FLOAT: could not convert string to float"},
		{name: "FLOAT trailing e", data: cat("F1e\n."), msg: "FLOAT: could not convert string to float"},
		{name: "FLOAT nan(", data: cat("Fnan(\n."), msg: "FLOAT: could not convert string to float"},
		{name: "FLOAT underscore", data: cat("F1_\n."), msg: "FLOAT: could not convert string to float"},
		{name: "FLOAT 10**6 digits", data: cat("F", strings.Repeat("9", 1_000_000), "x\n."), msg: "FLOAT: could not convert string to float"},
		{name: "STRING unterminated", data: cat("S'abc\n."), msg: "the STRING argument must be quoted"},
		{name: "STRING mismatched quotes", data: cat("S'abc\"\n."), msg: "the STRING argument must be quoted"},
		{name: "STRING one quote", data: cat("S'\n."), msg: "the STRING argument must be quoted"},
		{name: "STRING empty", data: cat("S\n."), msg: "the STRING argument must be quoted"},
		{name: "STRING trailing backslash", data: cat("S'\\'\n."), msg: "STRING: trailing \\ in string"},
		{name: "STRING short \\x", data: cat("S'\\x'\n."), msg: "STRING: invalid \\x escape"},
		{name: "STRING non-ASCII", data: cat("S'\xe9'\n."), msg: "non-ASCII"},
		{name: "STRING non-ASCII escape", data: cat("S'\\xe9'\n."), msg: "non-ASCII"},
		{name: "UNICODE truncated escape", data: cat("V\\u12\n."), msg: "UNICODE: truncated \\uXXXX escape"},
		{name: "UNICODE bad escape", data: cat("V\\uZZZZ\n."), msg: "UNICODE: truncated \\uXXXX escape"},
		{name: "UNICODE beyond U+10FFFF", data: cat("V\\U00110000\n."), msg: "UNICODE: \\Uxxxxxxxx out of range"},
		{name: "UNICODE no newline", data: cat("Vabc"), is: ErrTruncated},

		// Invalid UTF-8.
		{name: "SHORT_BINUNICODE 0xff", data: cat("\x80\x04\x8c\x01\xff."), msg: "SHORT_BINUNICODE: invalid UTF-8"},
		{name: "SHORT_BINUNICODE overlong NUL", data: cat("\x80\x04\x8c\x02\xc0\x80."), msg: "SHORT_BINUNICODE: invalid UTF-8"},
		{name: "SHORT_BINUNICODE cut sequence", data: cat("\x80\x04\x8c\x02\xe2\x82."), msg: "SHORT_BINUNICODE: invalid UTF-8"},
		{name: "SHORT_BINUNICODE beyond U+10FFFF", data: cat("\x80\x04\x8c\x04\xf4\x90\x80\x80."), msg: "SHORT_BINUNICODE: invalid UTF-8"},
		{name: "BINUNICODE continuation byte", data: cat("\x80\x03X\x01\x00\x00\x00\x80."), msg: "BINUNICODE: invalid UTF-8"},
		{name: "BINUNICODE8 invalid", data: cat("\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00a\xfe."), msg: "BINUNICODE8: invalid UTF-8"},

		// Nesting 100000 deep.
		{name: "deep lists", data: cat("\x80\x05", strings.Repeat("]", deep), strings.Repeat("a", deep-1), "."), msg: "nested deeper than 1000 levels", alloc: 128},
		{name: "deep lists by MARK", data: cat(strings.Repeat("(", deep), strings.Repeat("l", deep), "."), msg: "nested deeper than 1000 levels"},
		{name: "deep tuples by MARK", data: cat(strings.Repeat("(", deep), "N", strings.Repeat("t", deep), "."), msg: "nested deeper than 1000 levels"},
		{name: "deep TUPLE1", data: cat("\x80\x02N", strings.Repeat("\x85", deep), "."), msg: "nested deeper than 1000 levels"},
		{name: "deep dicts", data: cat("\x80\x02", strings.Repeat("}K\x01", deep), "}", strings.Repeat("s", deep), "."), msg: "nested deeper than 1000 levels", alloc: 128},
		{name: "deep frozensets", data: cat("\x80\x04", strings.Repeat("(", deep), strings.Repeat("\x91", deep), "."), msg: "frozenset as a dict key or set element cannot be a key"},
		{name: "deep tuple keys", data: cat("\x80\x05}", "N", strings.Repeat("\x85", deep), "Ns."), msg: "unhashable Python tuple as a dict key"},
		{name: "deep set of tuples", data: cat("\x80\x05\x8f(N", strings.Repeat("\x85", deep), "\x90."), msg: "unhashable Python tuple as a set element"},
		{name: "100000 MARKs", data: cat(strings.Repeat("(", deep), "N."), ok: true, want: nil},
		{name: "1000 levels", data: cat("\x80\x05", strings.Repeat("]", 1000), strings.Repeat("a", 999), "."), ok: true, want: unchecked},

		// Memo expansion ("billion laughs"): references are shared, never
		// expanded, and copies are bounded.
		{name: "list appended to itself", data: cat("\x80\x05]\x94", strings.Repeat(get(0)+"a", 100000), "."), msg: "recursive data"},
		{name: "list in itself by APPENDS", data: cat("\x80\x05]\x94(", strings.Repeat(get(0), 100000), "e."), msg: "recursive data"},
		{name: "dict in itself", data: cat("\x80\x05}\x94K\x01", get(0), "s."), msg: "recursive data"},
		{name: "list DAG", data: listDAG(60), ok: true, want: unchecked},
		{name: "tuple DAG", data: tupleDAG(60, false), ok: true, want: unchecked},
		{name: "tuple DAG as a key", data: tupleDAG(60, true), msg: "more than 1024 values"},
		{name: "tuple DAG in a set", data: cat("\x80\x05\x8f(", tupleDAG(60, false)[2:len(tupleDAG(60, false))-1], "\x90."), msg: "more than 1024 values"},
		{name: "tuple DAG key set 5000 times", data: tupleKeyBomb(8, 5000), ok: true, want: unchecked, alloc: 128},
		{name: "tuple DAG key set 5000 times, typed", data: tupleKeyBomb(8, 5000), into: func() any { return new(map[[2][2][2][2][2][2][2][2][2]int]any) }, ok: true, want: unchecked, alloc: 128},
		{name: "frozenset DAG", data: frozensetDAG(200), into: func() any { return new(hostileR) }, ok: true, want: unchecked},
		{name: "bytes 100000 x 50000", data: memoBomb("B"+le32(100000)+strings.Repeat("a", 100000), 50000), ok: true, want: unchecked},
		{name: "bytes 100000 x 50000 into [][]byte", data: memoBomb("B"+le32(100000)+strings.Repeat("a", 100000), 50000), into: func() any { return new([][]byte) }, ok: true, want: unchecked},
		{name: "bytes 100000 x 50000 into []string", data: memoBomb("B"+le32(100000)+strings.Repeat("a", 100000), 50000), into: func() any { return new([]string) }, is: errCopyLimit},
		{name: "str 100000 x 50000", data: memoBomb("X"+le32(100000)+strings.Repeat("a", 100000), 50000), ok: true, want: unchecked},
		{name: "str 100000 x 50000 into [][]byte", data: memoBomb("X"+le32(100000)+strings.Repeat("a", 100000), 50000), into: func() any { return new([][]byte) }, is: errCopyLimit},
		{name: "int 100000 x 50000", data: memoBomb("\x8b"+le32(100000)+strings.Repeat("\x5a", 100000), 50000), ok: true, want: unchecked},
		{name: "int 100000 x 50000 into []big.Int", data: memoBomb("\x8b"+le32(100000)+strings.Repeat("\x5a", 100000), 50000), into: func() any { return new([]big.Int) }, is: errCopyLimit},
		{name: "int 100000 x 50000 into []*big.Int", data: memoBomb("\x8b"+le32(100000)+strings.Repeat("\x5a", 100000), 50000), into: func() any { return new([]*big.Int) }, is: errCopyLimit},
		{name: "set of a 10000-item list x 10000", data: callBomb("("+strings.Repeat("N", 10000)+"l", "builtins", "set", nil, 10000), is: errCopyLimit},
		{name: "frozenset of a 10000-key dict x 10000", data: callBomb("}("+strings.Repeat("J\x00\x00\x00\x00N", 10000)+"u", "builtins", "frozenset", nil, 10000), is: errCopyLimit},
		{name: "encode of 100000 chars x 50000", data: callBomb("X"+le32(100000)+strings.Repeat("a", 100000), "_codecs", "encode", []string{su("latin1")}, 50000), is: errCopyLimit},
		{name: "bytearray of 100000 bytes x 50000", data: callBomb("B"+le32(100000)+strings.Repeat("a", 100000), "builtins", "bytearray", nil, 50000), is: errCopyLimit},
		{name: "bytes of 100000 bytes x 50000", data: callBomb("B"+le32(100000)+strings.Repeat("a", 100000), "builtins", "bytes", nil, 50000), is: errCopyLimit},
		{name: "Decimal of a 4000-digit int x 50000", data: callBomb("\x8b"+le32(1600)+strings.Repeat("\x11", 1600), "decimal", "Decimal", nil, 50000), is: errCopyLimit},
		{name: "Decimal of a 100000-digit str x 50000", data: callBomb("X"+le32(99999)+strings.Repeat("1_0", 33333), "decimal", "Decimal", nil, 50000), is: errCopyLimit},
		{name: "timedelta of huge ints x 50000", data: callBomb("\x8b"+le32(100000)+strings.Repeat("\x5a", 100000), "datetime", "timedelta", []string{"\x8b" + le32(100000) + strings.Repeat("\xa6", 100000)}, 50000), msg: "datetime.timedelta out of range"},

		// Containers used the wrong way.
		{name: "list as a dict key", data: cat("\x80\x05}]K\x01s."), msg: "unhashable Python list as a dict key"},
		{name: "dict as a dict key", data: cat("\x80\x05}(}K\x01u."), msg: "unhashable Python dict as a dict key"},
		{name: "set as a dict key", data: cat("\x80\x05}\x8fK\x01s."), msg: "unhashable Python set as a dict key"},
		{name: "bytearray as a dict key", data: cat("\x80\x05}\x96\x00\x00\x00\x00\x00\x00\x00\x00K\x01s."), msg: "unhashable Python bytearray as a dict key"},
		{name: "tuple of a list as a key", data: cat("\x80\x05}(]\x85K\x01d."), msg: "unhashable Python tuple as a dict key"},
		{name: "list in a frozenset", data: cat("\x80\x05(]\x91."), msg: "unhashable Python list as a set element"},
		{name: "dict as a DICT key", data: cat("(}I1\nd."), msg: "unhashable Python dict as a dict key"},
		{name: "SETITEMS on a list", data: cat("\x80\x05](K\x01K\x02u."), msg: "SETITEMS on a Python list"},
		{name: "SETITEMS on a tuple", data: cat("\x80\x05)(K\x01K\x02u."), msg: "SETITEMS on a Python tuple"},
		{name: "SETITEM on a str", data: cat("\x80\x05\x8c\x01aK\x01K\x02s."), msg: "SETITEM on a Python str"},
		{name: "SETITEM on an OrderedDict class", data: cat("ccollections\nOrderedDict\nI1\nI2\ns."), msg: "SETITEM on a Python type (collections.OrderedDict)"},
		{name: "APPENDS on a dict", data: cat("\x80\x05}(K\x01e."), msg: "APPENDS on a Python dict"},
		{name: "APPENDS on a tuple", data: cat("\x80\x05)(K\x01e."), msg: "APPENDS on a Python tuple"},
		{name: "APPENDS on a set", data: cat("\x80\x05\x8f(K\x01e."), msg: "APPENDS on a Python set"},
		{name: "APPEND on bytes", data: cat("\x80\x05C\x01aK\x01a."), msg: "APPEND on a Python bytes"},
		{name: "APPENDS on nothing", data: cat("\x80\x05(K\x01e."), msg: "stack underflow in APPENDS"},
		{name: "ADDITEMS on a list", data: cat("\x80\x05](K\x01\x90."), msg: "ADDITEMS on a Python list"},
		{name: "ADDITEMS on a dict", data: cat("\x80\x05}(K\x01\x90."), msg: "ADDITEMS on a Python dict"},
		{name: "ADDITEMS on a frozenset", data: cat("\x80\x05(\x91(K\x01\x90."), msg: "ADDITEMS on a Python frozenset"},
		{name: "ADDITEMS of a list", data: cat("\x80\x05\x8f(]\x90."), msg: "unhashable Python list as a set element"},

		// Keys that Python can hash but a Go map cannot hold.
		{name: "frozenset in a tuple key into map[[1]any]int", data: cat("\x80\x05}(\x91\x85K\x01s."), into: func() any { return new(map[[1]any]int) }, typeErr: true, msg: "uncomparable"},
		{name: "tuple in a tuple key into map[[2]any]int", data: cat("\x80\x05}K\x01K\x02\x86K\x03\x85\x86K\x01s."), into: func() any { return new(map[[2]any]int) }, typeErr: true, msg: "uncomparable"},
		{name: "bytes in a tuple key into map[[1]any]int", data: cat("\x80\x05}C\x01a\x85K\x01s."), into: func() any { return new(map[[1]any]int) }, typeErr: true, msg: "uncomparable"},
		{name: "tuple set element into map[[1]any]bool", data: cat("\x80\x05\x8f(N\x85\x85\x90."), into: func() any { return new(map[[1]any]bool) }, typeErr: true, msg: "uncomparable"},
		{name: "frozenset key into map[any]int", data: cat("\x80\x05}(\x91K\x01s."), into: func() any { return new(map[any]int) }, msg: "frozenset as a dict key or set element cannot be a key"},
		// Long error messages.
		{name: "datetime of 100000 args", data: cat("cdatetime\ndatetime\n(", strings.Repeat("N", 100000), "tR."), msg: "unsupported arguments for datetime.datetime: (NoneType, NoneType, NoneType, NoneType, NoneType, NoneType, NoneType, NoneType, ... 100000 in all)", alloc: 128},
		{name: "type error 1000 dicts deep", data: cat("\x80\x05", strings.Repeat("}"+su(strings.Repeat("k", 40)), 1000), "K\x01", strings.Repeat("s", 1000), "."), into: func() any { return new(hostileM) }, typeErr: true, msg: `cannot decode Python int into Go pickle.hostileM at ["kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"]["kkkk`, longMsg: true},

		// Destinations of a named byte type.
		{name: "bytes into []namedByte", data: cat("\x80\x05C\x02ab."), into: func() any { return new([]namedByte) }, ok: true, want: []namedByte{'a', 'b'}},
		{name: "str into []namedByte", data: cat("\x80\x05\x8c\x02ab."), into: func() any { return new([]namedByte) }, ok: true, want: []namedByte{'a', 'b'}},
		{name: "bytes into [2]namedByte", data: cat("\x80\x05C\x02ab."), into: func() any { return new([2]namedByte) }, ok: true, want: [2]namedByte{'a', 'b'}},
		{name: "bytes into [3]namedByte", data: cat("\x80\x05C\x02ab."), into: func() any { return new([3]namedByte) }, typeErr: true, msg: "length 2"},
		{name: "scalar tuple key into map[[2]any]int", data: cat("\x80\x05}K\x01N\x86K\x01s."), into: func() any { return new(map[[2]any]int) }, ok: true, want: map[[2]any]int{{int64(1), nil}: 1}},

		// uuid.UUID: NEWOBJ with no arguments, then BUILD of {'int': n[, 'is_safe': v]}.
		{name: "UUID 2**128-1", data: cat("\x80\x05", newUUID, "}", su("int"), "\x8a\x11", strings.Repeat("\xff", 16), "\x00sb."), ok: true, want: UUID(bytes.Repeat([]byte{0xff}, 16))},
		{name: "UUID with a SafeUUID member", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("is_safe"), sg("uuid", "SafeUUID"), "J\xff\xff\xff\xff\x85Rub."), ok: true, want: uuidInt(5)},
		{name: "UUID state repeated key", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("int"), "K\x06ub."), ok: true, want: uuidInt(6)},
		{name: "UUID through the memo, then BUILD", data: cat("\x80\x05]\x94", newUUID, "\x94a", get(1), "}", su("int"), "K\x05sb0."), ok: true, want: []any{uuidInt(5)}},
		{name: "UUID state with an extra key", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("x"), "K\x01ub."), msg: `uuid.UUID state with key "x": only 'int' and 'is_safe' are allowed`},
		{name: "UUID state with an int key", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05K\x01K\x01ub."), msg: "uuid.UUID state with key 1"},
		{name: "UUID int 2**128", data: cat("\x80\x05", newUUID, "}", su("int"), "\x8a\x11", strings.Repeat("\x00", 16), "\x01sb."), msg: "uuid.UUID int 340282366920938463463374607431768211456 is out of range [0, 2**128)"},
		{name: "UUID int -1", data: cat("\x80\x05", newUUID, "}", su("int"), "J\xff\xff\xff\xffsb."), msg: "uuid.UUID int -1 is out of range"},
		{name: "UUID int -2**100", data: cat("\x80\x05", newUUID, "}", su("int"), "\x8a\x0d", strings.Repeat("\x00", 12), "\xf0sb."), msg: "uuid.UUID int -1267650600228229401496703205376 is out of range"},
		{name: "UUID int of 100000 bytes", data: cat("\x80\x05", newUUID, "}", su("int"), "\x8b", le32(100000), strings.Repeat("\x5a", 100000), "sb."), msg: "uuid.UUID int an int of 799999 bits is out of range"},
		{name: "UUID int a str", data: cat("\x80\x05", newUUID, "}", su("int"), su("5"), "sb."), msg: "uuid.UUID state: 'int' must be an int, not str"},
		{name: "UUID int a bool", data: cat("\x80\x05", newUUID, "}", su("int"), "\x88sb."), msg: "'int' must be an int, not bool"},
		{name: "UUID int a float", data: cat("\x80\x05", newUUID, "}", su("int"), "G\x40\x14\x00\x00\x00\x00\x00\x00sb."), msg: "'int' must be an int, not float"},
		{name: "UUID state without int", data: cat("\x80\x05", newUUID, "}", su("is_safe"), "K\x00sb."), msg: "uuid.UUID state without 'int'"},
		{name: "UUID empty state", data: cat("\x80\x05", newUUID, "}b."), msg: "uuid.UUID state without 'int'"},
		{name: "UUID None state", data: cat("\x80\x05", newUUID, "Nb."), msg: "uuid.UUID state must be a dict, not NoneType"},
		{name: "UUID (dict, slots) state", data: cat("\x80\x05", newUUID, "}", su("int"), "K\x05sN\x86b."), msg: "uuid.UUID state must be a dict, not tuple"},
		{name: "UUID BUILD twice", data: cat("\x80\x05", newUUID, "}", su("int"), "K\x05sb}", su("int"), "K\x06sb."), msg: "BUILD on a uuid.UUID whose state is already set"},
		{name: "UUID without BUILD", data: cat("\x80\x05", newUUID, "."), is: errUUIDNoState},
		{name: "UUID without BUILD into string", data: cat("\x80\x05", newUUID, "."), into: func() any { return new(string) }, is: errUUIDNoState},
		{name: "UUID without BUILD as a dict key", data: cat("\x80\x05}", newUUID, "K\x01s."), msg: "unhashable Python uuid.UUID as a dict key"},
		{name: "UUID by REDUCE", data: cat("\x80\x05", sg("uuid", "UUID"), su("12345678123456781234567812345678"), "\x85R."), msg: "uuid.UUID is allowed only as CPython pickles it"},
		{name: "UUID by NEWOBJ with arguments", data: cat("\x80\x05", sg("uuid", "UUID"), su("12345678123456781234567812345678"), "\x85\x81."), msg: "uuid.UUID is allowed only as CPython pickles it"},
		{name: "UUID by OBJ", data: cat("(cuuid\nUUID\no."), msg: "uuid.UUID is allowed only as CPython pickles it"},
		{name: "UUID by INST", data: cat("(iuuid\nUUID\n."), msg: "uuid.UUID is allowed only as CPython pickles it"},
		{name: "UUID state on a dict", data: cat("\x80\x05}}", su("int"), "K\x05sb."), msg: "BUILD with state on a Python dict is not supported"},
		{name: "UUID state on a list", data: cat("\x80\x05]}", su("int"), "K\x05sb."), msg: "BUILD with state on a Python list is not supported"},
		{name: "UUID state on a SafeUUID", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "K\x00\x85R}", su("int"), "K\x05sb."), msg: "BUILD with state on a Python uuid.SafeUUID is not supported"},
		{name: "UUID state on the UUID class", data: cat("\x80\x05", sg("uuid", "UUID"), "}", su("int"), "K\x05sb."), msg: "BUILD with state on a Python type (uuid.UUID) is not supported"},
		{name: "UUID class alone", data: cat("\x80\x05", sg("uuid", "UUID"), "."), msg: "a Python class (uuid.UUID) is not a value"},
		{name: "UUID is_safe 5", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("is_safe"), "K\x05ub."), msg: "is_safe must be a uuid.SafeUUID or 0, -1 or None, not int"},
		{name: "UUID is_safe a str", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("is_safe"), su("safe"), "ub."), msg: "is_safe must be a uuid.SafeUUID or 0, -1 or None, not str"},
		{name: "UUID is_safe False", data: cat("\x80\x05", newUUID, "}(", su("int"), "K\x05", su("is_safe"), "\x89ub."), msg: "not bool"},
		{name: "UUID is_safe a UUID", data: cat("\x80\x05", newUUID, "\x94}(", su("int"), "K\x05", su("is_safe"), get(0), "ub."), msg: "not uuid.UUID"},
		{name: "SafeUUID alone", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "K\x00\x85R."), is: errSafeUUID},
		{name: "SafeUUID in a list", data: cat("\x80\x05]", sg("uuid", "SafeUUID"), "N\x85Ra."), into: func() any { return new([]any) }, is: errSafeUUID},
		{name: "SafeUUID into an int", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "K\x00\x85R."), into: func() any { return new(int) }, is: errSafeUUID},
		{name: "SafeUUID(5)", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "K\x05\x85R."), msg: "uuid.SafeUUID is allowed only as REDUCE of uuid.SafeUUID with (0,), (-1,) or (None,)"},
		{name: "SafeUUID(True)", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "\x88\x85R."), msg: "uuid.SafeUUID is allowed only as REDUCE"},
		{name: "SafeUUID()", data: cat("\x80\x05", sg("uuid", "SafeUUID"), ")R."), msg: "uuid.SafeUUID is allowed only as REDUCE"},
		{name: "SafeUUID by NEWOBJ", data: cat("\x80\x05", sg("uuid", "SafeUUID"), "K\x00\x85\x81."), msg: "uuid.SafeUUID is allowed only as REDUCE"},
		{name: "SafeUUID by OBJ", data: cat("(cuuid\nSafeUUID\nI0\no."), msg: "uuid.SafeUUID is allowed only as REDUCE"},
		{name: "object()", data: cat("cbuiltins\nobject\n)R."), msg: "builtins.object is allowed only as the base class argument of copyreg._reconstructor"},
		{name: "object by NEWOBJ", data: cat("\x80\x05", sg("builtins", "object"), ")\x81."), msg: "builtins.object is allowed only"},
		{name: "reconstructor UUID with a state", data: cat("ccopy_reg\n_reconstructor\n(cuuid\nUUID\nc__builtin__\nobject\nVx\ntR."), msg: "copyreg._reconstructor is allowed only for Django's SafeString and uuid.UUID"},
		{name: "reconstructor UUID on str", data: cat("ccopy_reg\n_reconstructor\n(cuuid\nUUID\nc__builtin__\nstr\nNtR."), msg: "copyreg._reconstructor is allowed only"},
		{name: "reconstructor SafeUUID", data: cat("ccopy_reg\n_reconstructor\n(cuuid\nSafeUUID\nc__builtin__\nobject\nNtR."), msg: "copyreg._reconstructor is allowed only"},
		{name: "reconstructor dict on object", data: cat("ccopy_reg\n_reconstructor\n(c__builtin__\ndict\nc__builtin__\nobject\nNtR."), class: "__builtin__.dict"},
		{name: "UUID x 100000", data: memoBomb(uuid5, 100000), ok: true, want: unchecked, alloc: 128},
		{name: "UUID x 100000 into []UUID", data: memoBomb(uuid5, 100000), into: func() any { return new([]UUID) }, ok: true, want: unchecked, alloc: 128},
		{name: "UUID x 100000 into [][]byte", data: memoBomb(uuid5, 100000), into: func() any { return new([][]byte) }, ok: true, want: unchecked, alloc: 128},
		{name: "UUID x 100000 into []string", data: memoBomb(uuid5, 100000), into: func() any { return new([]string) }, is: errCopyLimit, alloc: 128},
	}
}

// newUUID is uuid.UUID.__new__(uuid.UUID), as CPython pickles it (the
// state and BUILD follow); uuid5 is UUID(int=5), unmemoized.
var (
	newUUID = sg("uuid", "UUID") + ")\x81"
	uuid5   = newUUID + "}" + su("int") + "K\x05sb"
)

// listDAG: each list holds two references to the previous one (2**levels
// leaves if expanded).
func listDAG(levels int) []byte {
	var b strings.Builder
	b.WriteString("\x80\x05]\x94K\x01a")
	for i := 1; i <= levels; i++ {
		b.WriteString("]\x94(" + get(i-1) + get(i-1) + "e")
	}
	b.WriteString(".")
	return []byte(b.String())
}

func (c *hostileCase) check(err error, got any) error {
	if c.ok {
		if err != nil {
			return fmt.Errorf("error %v, want none", err)
		}
		if c.want != unchecked && !equalValues(got, c.want) {
			return fmt.Errorf("decoded %#v, want %#v", got, c.want)
		}
		return nil
	}
	if err == nil {
		return fmt.Errorf("no error")
	}
	if c.class != "" {
		var ce *ClassError
		if !errors.As(err, &ce) || ce.Module+"."+ce.Name != c.class {
			return fmt.Errorf("error %v, want a *ClassError for %s", err, c.class)
		}
	}
	if c.is != nil && !errors.Is(err, c.is) {
		return fmt.Errorf("error %v, want one wrapping %v", err, c.is)
	}
	if c.typeErr {
		var te *UnmarshalTypeError
		if !errors.As(err, &te) {
			return fmt.Errorf("error %v (%T), want an *UnmarshalTypeError", err, err)
		}
	}
	if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
		return fmt.Errorf("error %v, want one containing %q", err, c.msg)
	}
	if len(err.Error()) > 1000 && !c.longMsg {
		return fmt.Errorf("error message of %d bytes", len(err.Error()))
	}
	return nil
}

var errPanicked = errors.New("Unmarshal panicked")

// unmarshalChecked runs Unmarshal, turning a panic into an error wrapping
// errPanicked, and returns the bytes allocated meanwhile.
func unmarshalChecked(data []byte, v any) (allocated uint64, work int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanicked, r)
		}
	}()
	before := heapAllocs()
	_, work, err = unmarshal(data, v)
	return heapAllocs() - before, work, err
}

// TestHostilePickles decodes hostile and malformed pickles: each must give
// the expected error (or the value Python loads), never panic, and
// allocate in proportion to its size, also into other destination types.
func TestHostilePickles(t *testing.T) {
	others := []func() any{
		func() any { return new(hostileR) },
		func() any { return new(fuzzTarget) },
		func() any { return new(map[[2]any][]byte) },
		func() any { return new([]string) },
	}
	seen := map[string]bool{}
	for _, c := range hostileCases() {
		if seen[c.name] {
			t.Errorf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		factor := c.alloc
		if factor == 0 {
			factor = 64
		}
		limit := uint64(factor*len(c.data) + 1<<20)
		newDst := c.into
		if newDst == nil {
			newDst = func() any { return new(any) }
		}
		dst := newDst()
		allocated, work, err := unmarshalChecked(c.data, dst)
		if e := c.check(err, reflect.ValueOf(dst).Elem().Interface()); e != nil {
			t.Errorf("%s: %v", c.name, e)
		}
		if allocated > limit {
			t.Errorf("%s: decoding %d bytes allocated %d bytes (limit %d)", c.name, len(c.data), allocated, limit)
		}
		checkWork(t, c.name, work, len(c.data))
		for _, other := range others {
			dst := other()
			allocated, work, err := unmarshalChecked(c.data, dst)
			if errors.Is(err, errPanicked) {
				t.Errorf("%s into %T: %v", c.name, dst, err)
			}
			if allocated > limit {
				t.Errorf("%s into %T: decoding %d bytes allocated %d bytes (limit %d)", c.name, dst, len(c.data), allocated, limit)
			}
			checkWork(t, fmt.Sprintf("%s into %T", c.name, dst), work, len(c.data))
		}
	}
}

// TestHostilePrefix: UnmarshalPrefix fails the same way and returns no rest.
func TestHostilePrefix(t *testing.T) {
	for _, c := range hostileCases() {
		if c.ok || c.into != nil || c.is == ErrTruncated || len(c.data) > 1000 {
			continue
		}
		var v any
		rest, err := UnmarshalPrefix(cat(c.data, "trailing"), &v)
		if err == nil || rest != nil {
			t.Errorf("%s: UnmarshalPrefix = %q, %v", c.name, rest, err)
		}
	}
}

// TestNaNKeys: a dict with NaN keys (found by FuzzUnmarshal) decodes, and
// marshals again deterministically, though MapIndex cannot find a NaN.
func TestNaNKeys(t *testing.T) {
	var v any
	if err := Unmarshal([]byte("}(G\x7f\xff0000002u."), &v); err != nil {
		t.Fatal(err)
	}
	if _, err := Marshal(v); err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	first, err := Marshal(map[any]any{nan: 1, nan: "x", nan: nil, 2.5: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b, err := Marshal(map[any]any{nan: 1, nan: "x", nan: nil, 2.5: 3})
		if err != nil || !bytes.Equal(b, first) {
			t.Fatalf("Marshal = %x, %v; earlier %x", b, err, first)
		}
	}
	var m map[any]any
	if err := Unmarshal(first, &m); err != nil || len(m) != 4 {
		t.Errorf("Unmarshal = %v, %v", m, err)
	}
	// A set of NaNs with different bits.
	nan2 := math.Float64frombits(math.Float64bits(nan) + 1)
	first, err = Marshal(NewSet(nan, nan2, nan, 1.5))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b, err := Marshal(NewSet(nan, nan2, nan, 1.5))
		if err != nil || !bytes.Equal(b, first) {
			t.Fatalf("Marshal = %x, %v; earlier %x", b, err, first)
		}
	}
}
