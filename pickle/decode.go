package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Unmarshal decodes the pickle in data (protocol 0 to 5) into the value v
// points to. It reads one pickle and, like Python's pickle.loads, ignores
// any bytes after its STOP opcode.
//
// Into an *any it stores the natural Go values of the package
// documentation's table; into other types it converts as that table says,
// and reports an *UnmarshalTypeError when a value does not fit. Unmarshal
// replaces the target (it does not merge into existing maps or structs)
// and does not keep data.
//
// Unmarshal never runs code: classes are resolved from a fixed allow-list
// (see the package documentation) and any other global gives a
// *ClassError. Malformed or hostile input gives an error, never a panic,
// and memory use stays proportional to len(data).
func Unmarshal(data []byte, v any) error {
	_, err := UnmarshalPrefix(data, v)
	return err
}

// UnmarshalPrefix is Unmarshal that also returns the bytes after the
// pickle's STOP opcode. Django's file-based cache, for example, stores the
// pickle of the expiry time followed by the compressed pickle of the value.
func UnmarshalPrefix(data []byte, v any) (rest []byte, err error) {
	rest, _, err = unmarshal(data, v)
	return rest, err
}

// unmarshal is UnmarshalPrefix that also returns the work it did: the
// opcodes run, the tuples checked for hashability and the values
// converted. The hostile-input tests bound it by the input's size, which
// a busy machine cannot change, as it can a time limit.
func unmarshal(data []byte, v any) (rest []byte, work int, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, 0, &InvalidUnmarshalError{reflect.TypeOf(v)}
	}
	d := decoder{data: data, copies: newCopyBudget(len(data))}
	val, err := d.run()
	if err != nil {
		return nil, d.work, err
	}
	c := converter{copies: d.copies}
	if p, ok := v.(*any); ok {
		nat, err := c.natural(val, 0)
		if err != nil {
			return nil, d.work + c.work, err
		}
		*p = nat
	} else if err := c.into(val, rv.Elem(), 0); err != nil {
		return nil, d.work + c.work, c.finishPath(err)
	}
	return data[d.pos:], d.work + c.work, nil
}

// --- intermediate values --------------------------------------------------------
//
// The decoder builds a graph of these (Python objects are mutable and may
// be shared through the memo: a list is memoized before its items are
// appended), then the converter turns it into Go values.

type convCache struct {
	shared bool      // reached more than once (memo get or DUP)
	busy   bool      // being converted: a second visit is a cycle
	done   *convDone // conversions kept for reuse (shared nodes only)
}

// convDone holds the conversions of a shared node, apart from the node so
// that the many nodes reached once stay small.
type convDone struct {
	natDone bool
	nat     any
	typed   []typedConv

	// Tuples: the array naturalKey made, the values it holds (nested
	// tuples included) and its nesting height.
	key                 any
	keyNodes, keyHeight int
}

type typedConv struct {
	t reflect.Type
	v reflect.Value
}

func (c *convCache) cache() *convCache { return c }

// kept returns the conversions kept for the node, allocating them.
func (c *convCache) kept() *convDone {
	if c.done == nil {
		c.done = new(convDone)
	}
	return c.done
}

type node interface{ cache() *convCache }

type listNode struct {
	convCache
	items []any
}

type tupleNode struct {
	convCache
	items []any
	hash  int8 // 0 unknown, 1 hashable, -1 not
}

type dictNode struct {
	convCache
	keys, vals []any
}

type setNode struct {
	convCache
	items  []any
	frozen bool
}

// bytesVal is a bytes or bytearray object. b aliases the input; the
// converter copies it once, into out.
type bytesVal struct {
	b     []byte
	array bool
	out   []byte
}

// zoneVal is a tzinfo object.
type zoneVal struct {
	loc    *time.Location // wall clock zone of datetimes using it
	target *time.Location // if set, convert to this location afterwards (pytz)
	fixed  bool           // loc has one fixed offset
}

// uuidVal is a uuid.UUID object: made empty by NEWOBJ (or by
// copyreg._reconstructor in protocols 0 and 1), then given its value by
// BUILD. It is a pointer because the pickle memoizes the object before
// BUILD sets its state.
type uuidVal struct {
	v     UUID
	set   bool // BUILD has set the state
	boxed any  // v as an interface, made once for all references
}

// safeUUIDVal is a uuid.SafeUUID enum member, allowed only as the is_safe
// of a uuid.UUID's state (Unmarshal drops it).
type safeUUIDVal struct{}

func (z *zoneVal) location() *time.Location {
	if z.target != nil {
		return z.target
	}
	return z.loc
}

type classKind int

const (
	clsDatetime classKind = iota + 1
	clsDate
	clsTime
	clsTimedelta
	clsTimezone
	clsDecimal
	clsSet
	clsFrozenSet
	clsBytes
	clsByteArray
	clsCodecsEncode
	clsGetattr
	clsZoneInfo
	clsZoneInfoUnpickle
	clsPytzUTC
	clsPytzP
	clsOrderedDict
	clsSafeString
	clsStr
	clsReconstructor
	clsObject
	clsUUID
	clsSafeUUID
)

// classVal is an allowed global (a class or function) named by the pickle.
type classVal struct {
	module, name string
	kind         classKind
}

// allowed maps "module.name" to the globals Unmarshal resolves. Nothing
// else is: a pickle naming any other global fails with a *ClassError.
var allowed = map[string]classKind{
	"datetime.datetime":                   clsDatetime,
	"datetime.date":                       clsDate,
	"datetime.time":                       clsTime,
	"datetime.timedelta":                  clsTimedelta,
	"datetime.timezone":                   clsTimezone,
	"decimal.Decimal":                     clsDecimal,
	"builtins.set":                        clsSet,
	"builtins.frozenset":                  clsFrozenSet,
	"builtins.bytes":                      clsBytes,
	"builtins.bytearray":                  clsByteArray,
	"builtins.getattr":                    clsGetattr,
	"_codecs.encode":                      clsCodecsEncode,
	"zoneinfo.ZoneInfo":                   clsZoneInfo,
	"zoneinfo.ZoneInfo._unpickle":         clsZoneInfoUnpickle,
	"pytz._UTC":                           clsPytzUTC,
	"pytz._p":                             clsPytzP,
	"collections.OrderedDict":             clsOrderedDict,
	"django.utils.safestring.SafeString":  clsSafeString,
	"django.utils.safestring.SafeText":    clsSafeString,
	"django.utils.safestring.SafeUnicode": clsSafeString,
	"builtins.str":                        clsStr,
	"builtins.unicode":                    clsStr, // Python 2's name
	"copyreg._reconstructor":              clsReconstructor,
	"builtins.object":                     clsObject, // only as the base of copyreg._reconstructor
	"uuid.UUID":                           clsUUID,
	"uuid.SafeUUID":                       clsSafeUUID,
}

func resolveClass(module, name string) (any, error) {
	m := module
	switch m {
	case "__builtin__": // Python 2 names, as Python 3's fix_imports maps them
		m = "builtins"
	case "copy_reg":
		m = "copyreg"
	}
	if k, ok := allowed[m+"."+name]; ok {
		return &classVal{module: m, name: name, kind: k}, nil
	}
	return nil, &ClassError{Module: printable(module), Name: printable(name)}
}

// printable returns s for error messages: quoted if it is not plain
// printable text, and cut if long.
func printable(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || r == ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// pyType names the Python type of an intermediate value, for errors.
func pyType(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case *bytesVal:
		if x.array {
			return "bytearray"
		}
		return "bytes"
	case *listNode:
		return "list"
	case *tupleNode:
		return "tuple"
	case *dictNode:
		return "dict"
	case *setNode:
		if x.frozen {
			return "frozenset"
		}
		return "set"
	case time.Time:
		return "datetime.datetime"
	case Date:
		return "datetime.date"
	case Time:
		return "datetime.time"
	case time.Duration:
		return "datetime.timedelta"
	case Decimal:
		return "decimal.Decimal"
	case *zoneVal:
		return "datetime.tzinfo"
	case *uuidVal, UUID:
		return "uuid.UUID"
	case *safeUUIDVal:
		return "uuid.SafeUUID"
	case *classVal:
		return "type (" + x.module + "." + x.name + ")"
	}
	return fmt.Sprintf("%T", v)
}

// hashable reports whether Python could use v as a dict key or set element.
func (d *decoder) hashable(v any) bool { return hashable(v, &d.work) }

// hashable reports whether Python could use v as a dict key or set
// element, adding the tuple items it checks to *work.
func hashable(v any, work *int) bool {
	switch x := v.(type) {
	case *listNode, *dictNode:
		return false
	case *setNode:
		return x.frozen
	case *bytesVal:
		return !x.array
	case *tupleNode:
		return tupleHashable(x, 0, work)
	case *uuidVal:
		return x.set // Python hashes the int that BUILD sets
	}
	return true
}

func tupleHashable(t *tupleNode, depth int, work *int) bool {
	if t.hash != 0 {
		return t.hash > 0
	}
	if depth > maxDepth {
		return false
	}
	ok := true
	for _, it := range t.items {
		*work++
		if sub, isTuple := it.(*tupleNode); isTuple {
			ok = tupleHashable(sub, depth+1, work)
		} else {
			ok = hashable(it, work)
		}
		if !ok {
			break
		}
	}
	t.hash = 1
	if !ok {
		t.hash = -1
	}
	return ok
}

// --- the machine --------------------------------------------------------------

type decoder struct {
	data    []byte
	pos     int
	opPos   int // offset of the current opcode, for errors
	op      byte
	stack   []any
	marks   []int
	memo    []any          // dense memo: keys 0..len-1
	memoMap map[uint64]any // sparse memo, once a key breaks density
	copies  copyBudget
	work    int // opcodes run and tuple items checked for hashability
}

// copyBudget bounds what decoding copies on top of the objects the input
// describes: bytes of str, bytes and int data, and 8 per item copied from
// one container into another. Memo references share objects, but
// set(x), str.encode(...) and conversions such as str into []byte copy
// their argument each time it is reached. The budget is 8 bytes per input
// byte plus 1 MiB, so what Unmarshal allocates stays proportional to the
// input.
type copyBudget int

func newCopyBudget(inputLen int) copyBudget { return copyBudget(8*inputLen + 1<<20) }

// spend reports whether n more bytes may be copied, and charges them.
func (b *copyBudget) spend(n int) bool {
	if n > int(*b) {
		return false
	}
	*b -= copyBudget(n)
	return true
}

var errCopyLimit = errors.New("pickle: decoding would copy more than 8 times the input size (a str, bytes, int or container reached many times through the memo)")

// spend charges n copied bytes to the budget.
func (d *decoder) spend(n int) error {
	if !d.copies.spend(n) {
		return &decodeError{msg: opName(d.op) + " would copy more than 8 times the input size (an object reached many times through the memo)", offset: d.opPos, err: errCopyLimit}
	}
	return nil
}

type decodeError struct {
	msg    string
	offset int
	err    error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("pickle: %s (at offset %d)", e.msg, e.offset)
}

func (e *decodeError) Unwrap() error { return e.err }

func (d *decoder) errorf(format string, args ...any) error {
	return &decodeError{msg: fmt.Sprintf(format, args...), offset: d.opPos}
}

func (d *decoder) truncated() error {
	return &decodeError{msg: "truncated data in " + opName(d.op), offset: d.opPos, err: ErrTruncated}
}

func (d *decoder) read(n uint64) ([]byte, error) {
	if n > uint64(len(d.data)-d.pos) {
		return nil, d.truncated()
	}
	b := d.data[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) read1() (byte, error) {
	if d.pos >= len(d.data) {
		return 0, d.truncated()
	}
	d.pos++
	return d.data[d.pos-1], nil
}

func (d *decoder) readU32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) readU64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readLine returns the bytes up to the next newline, which it consumes.
func (d *decoder) readLine() ([]byte, error) {
	i := bytes.IndexByte(d.data[d.pos:], '\n')
	if i < 0 {
		return nil, d.truncated()
	}
	b := d.data[d.pos : d.pos+i]
	d.pos += i + 1
	return b, nil
}

func (d *decoder) push(v any) { d.stack = append(d.stack, v) }

// base is the start of the current stack frame: items below the last MARK
// are out of reach until POP_MARK, as in Python's metastack.
func (d *decoder) base() int {
	if len(d.marks) > 0 {
		return d.marks[len(d.marks)-1]
	}
	return 0
}

func (d *decoder) underflow() error {
	return d.errorf("stack underflow in %s", opName(d.op))
}

func (d *decoder) pop() (any, error) {
	if len(d.stack) <= d.base() {
		return nil, d.underflow()
	}
	v := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	return v, nil
}

func (d *decoder) top() (any, error) {
	if len(d.stack) <= d.base() {
		return nil, d.underflow()
	}
	return d.stack[len(d.stack)-1], nil
}

// popMark removes and returns the items above the last MARK. The result
// aliases the stack: copy it before the next push if it is kept.
func (d *decoder) popMark() ([]any, error) {
	if len(d.marks) == 0 {
		return nil, d.errorf("%s without MARK", opName(d.op))
	}
	m := d.marks[len(d.marks)-1]
	d.marks = d.marks[:len(d.marks)-1]
	items := d.stack[m:]
	d.stack = d.stack[:m]
	return items, nil
}

func markShared(v any) {
	if n, ok := v.(node); ok {
		n.cache().shared = true
	}
}

func (d *decoder) memoLen() int {
	if d.memoMap != nil {
		return len(d.memoMap)
	}
	return len(d.memo)
}

func (d *decoder) memoPut(idx uint64, v any) {
	if d.memoMap == nil {
		switch {
		case idx < uint64(len(d.memo)):
			d.memo[idx] = v
			return
		case idx == uint64(len(d.memo)):
			d.memo = append(d.memo, v)
			return
		}
		d.memoMap = make(map[uint64]any, len(d.memo)+1)
		for i, x := range d.memo {
			d.memoMap[uint64(i)] = x
		}
		d.memo = nil
	}
	d.memoMap[idx] = v
}

func (d *decoder) memoGet(idx uint64) error {
	var v any
	var ok bool
	if d.memoMap != nil {
		v, ok = d.memoMap[idx]
	} else if idx < uint64(len(d.memo)) {
		v, ok = d.memo[idx], true
	}
	if !ok {
		return d.errorf("memo key %d not found", idx)
	}
	markShared(v)
	d.push(v)
	return nil
}

func (d *decoder) memoPutTop(idx uint64) error {
	v, err := d.top()
	if err != nil {
		return err
	}
	d.memoPut(idx, v)
	return nil
}

func (d *decoder) run() (any, error) {
	for {
		if d.pos >= len(d.data) {
			d.opPos = d.pos
			return nil, &decodeError{msg: "truncated data: no STOP opcode", offset: d.pos, err: ErrTruncated}
		}
		d.opPos = d.pos
		d.op = d.data[d.pos]
		d.pos++
		d.work++
		if d.op == opStop {
			v, err := d.pop()
			if err != nil {
				return nil, d.errorf("STOP with an empty stack")
			}
			return v, nil
		}
		if err := d.step(); err != nil {
			return nil, err
		}
	}
}

func (d *decoder) step() error {
	switch d.op {
	case opProto:
		p, err := d.read1()
		if err != nil {
			return err
		}
		if p > highestProtocol {
			return d.errorf("unsupported pickle protocol %d", p)
		}
	case opFrame:
		n, err := d.readU64()
		if err != nil {
			return err
		}
		if n > uint64(len(d.data)-d.pos) {
			return d.truncated()
		}

	// Atoms.
	case opNone:
		d.push(nil)
	case opNewTrue:
		d.push(true)
	case opNewFalse:
		d.push(false)
	case opBinInt:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		d.push(int64(int32(n)))
	case opBinInt1:
		b, err := d.read1()
		if err != nil {
			return err
		}
		d.push(int64(b))
	case opBinInt2:
		b, err := d.read(2)
		if err != nil {
			return err
		}
		d.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1:
		n, err := d.read1()
		if err != nil {
			return err
		}
		b, err := d.read(uint64(n))
		if err != nil {
			return err
		}
		d.push(decodeLong(b))
	case opLong4:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		if int32(n) < 0 {
			return d.errorf("LONG4 with a negative byte count")
		}
		b, err := d.read(uint64(n))
		if err != nil {
			return err
		}
		d.push(decodeLong(b))
	case opInt:
		line, err := d.readLine()
		if err != nil {
			return err
		}
		switch string(line) {
		case "00":
			d.push(false)
		case "01":
			d.push(true)
		default:
			v, err := parsePyInt(string(line))
			if err != nil {
				return d.errorf("INT: %v", err)
			}
			d.push(v)
		}
	case opLong:
		line, err := d.readLine()
		if err != nil {
			return err
		}
		s := string(line)
		s = strings.TrimSuffix(s, "L")
		v, err := parsePyInt(s)
		if err != nil {
			return d.errorf("LONG: %v", err)
		}
		d.push(v)
	case opBinFloat:
		b, err := d.read(8)
		if err != nil {
			return err
		}
		d.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opFloat:
		line, err := d.readLine()
		if err != nil {
			return err
		}
		f, err := parsePyFloat(string(line))
		if err != nil {
			return d.errorf("FLOAT: %v", err)
		}
		d.push(f)

	// Strings and bytes.
	case opShortBinUnicode:
		n, err := d.read1()
		if err != nil {
			return err
		}
		return d.pushStr(uint64(n))
	case opBinUnicode:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		return d.pushStr(uint64(n))
	case opBinUnicode8:
		n, err := d.readU64()
		if err != nil {
			return err
		}
		return d.pushStr(n)
	case opUnicode:
		line, err := d.readLine()
		if err != nil {
			return err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return d.errorf("UNICODE: %v", err)
		}
		d.push(s)
	case opShortBinBytes:
		n, err := d.read1()
		if err != nil {
			return err
		}
		return d.pushBytes(uint64(n), false)
	case opBinBytes:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		return d.pushBytes(uint64(n), false)
	case opBinBytes8:
		n, err := d.readU64()
		if err != nil {
			return err
		}
		return d.pushBytes(n, false)
	case opByteArray8:
		n, err := d.readU64()
		if err != nil {
			return err
		}
		return d.pushBytes(n, true)
	case opShortBinString:
		n, err := d.read1()
		if err != nil {
			return err
		}
		b, err := d.read(uint64(n))
		if err != nil {
			return err
		}
		return d.pushPy2Str(b)
	case opBinString:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		if int32(n) < 0 {
			return d.errorf("BINSTRING with a negative byte count")
		}
		b, err := d.read(uint64(n))
		if err != nil {
			return err
		}
		return d.pushPy2Str(b)
	case opString:
		line, err := d.readLine()
		if err != nil {
			return err
		}
		if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
			return d.errorf("the STRING argument must be quoted")
		}
		b, err := escapeDecode(line[1 : len(line)-1])
		if err != nil {
			return d.errorf("STRING: %v", err)
		}
		return d.pushPy2Str(b)
	case opNextBuffer, opReadonlyBuffer:
		return d.errorf("out-of-band buffers (%s) are not supported", opName(d.op))

	// Containers.
	case opEmptyList:
		d.push(&listNode{})
	case opEmptyTuple:
		d.push(&tupleNode{})
	case opEmptyDict:
		d.push(&dictNode{})
	case opEmptySet:
		d.push(&setNode{})
	case opList:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		d.push(&listNode{items: append([]any(nil), items...)})
	case opTuple:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		d.push(&tupleNode{items: append([]any(nil), items...)})
	case opTuple1, opTuple2, opTuple3:
		n := int(d.op-opTuple1) + 1
		if len(d.stack)-d.base() < n {
			return d.underflow()
		}
		items := append([]any(nil), d.stack[len(d.stack)-n:]...)
		d.stack = d.stack[:len(d.stack)-n]
		d.push(&tupleNode{items: items})
	case opDict:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		dn := &dictNode{}
		if err := d.setItems(dn, items); err != nil {
			return err
		}
		d.push(dn)
	case opFrozenSet:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		sn := &setNode{frozen: true}
		if err := d.addItems(sn, items); err != nil {
			return err
		}
		d.push(sn)
	case opAppend:
		v, err := d.pop()
		if err != nil {
			return err
		}
		return d.appendItems([]any{v})
	case opAppends:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		return d.appendItems(items)
	case opSetItem:
		if len(d.stack)-d.base() < 3 {
			return d.underflow()
		}
		kv := d.stack[len(d.stack)-2:]
		d.stack = d.stack[:len(d.stack)-2]
		dn, ok := d.stack[len(d.stack)-1].(*dictNode)
		if !ok {
			return d.errorf("SETITEM on a Python %s", pyType(d.stack[len(d.stack)-1]))
		}
		return d.setItems(dn, kv)
	case opSetItems:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		t, err := d.top()
		if err != nil {
			return err
		}
		dn, ok := t.(*dictNode)
		if !ok {
			return d.errorf("SETITEMS on a Python %s", pyType(t))
		}
		return d.setItems(dn, items)
	case opAddItems:
		items, err := d.popMark()
		if err != nil {
			return err
		}
		t, err := d.top()
		if err != nil {
			return err
		}
		sn, ok := t.(*setNode)
		if !ok || sn.frozen {
			return d.errorf("ADDITEMS on a Python %s", pyType(t))
		}
		return d.addItems(sn, items)

	// Stack and memo.
	case opMark:
		d.marks = append(d.marks, len(d.stack))
	case opPop:
		if len(d.stack) > d.base() {
			d.stack = d.stack[:len(d.stack)-1]
		} else if _, err := d.popMark(); err != nil {
			return d.underflow()
		}
	case opPopMark:
		if _, err := d.popMark(); err != nil {
			return err
		}
	case opDup:
		v, err := d.top()
		if err != nil {
			return err
		}
		markShared(v)
		d.push(v)
	case opMemoize:
		return d.memoPutTop(uint64(d.memoLen()))
	case opBinPut:
		b, err := d.read1()
		if err != nil {
			return err
		}
		return d.memoPutTop(uint64(b))
	case opLongBinPut:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		return d.memoPutTop(uint64(n))
	case opPut:
		idx, err := d.textIndex()
		if err != nil {
			return err
		}
		return d.memoPutTop(idx)
	case opBinGet:
		b, err := d.read1()
		if err != nil {
			return err
		}
		return d.memoGet(uint64(b))
	case opLongBinGet:
		n, err := d.readU32()
		if err != nil {
			return err
		}
		return d.memoGet(uint64(n))
	case opGet:
		idx, err := d.textIndex()
		if err != nil {
			return err
		}
		return d.memoGet(idx)

	// Objects: only allowed classes, never executed.
	case opGlobal:
		module, err := d.readLine()
		if err != nil {
			return err
		}
		name, err := d.readLine()
		if err != nil {
			return err
		}
		c, err := resolveClass(string(module), string(name))
		if err != nil {
			return err
		}
		d.push(c)
	case opStackGlobal:
		if len(d.stack)-d.base() < 2 {
			return d.underflow()
		}
		module, ok1 := d.stack[len(d.stack)-2].(string)
		name, ok2 := d.stack[len(d.stack)-1].(string)
		if !ok1 || !ok2 {
			return d.errorf("STACK_GLOBAL needs two str, not %s and %s", pyType(d.stack[len(d.stack)-2]), pyType(d.stack[len(d.stack)-1]))
		}
		d.stack = d.stack[:len(d.stack)-2]
		c, err := resolveClass(module, name)
		if err != nil {
			return err
		}
		d.push(c)
	case opReduce:
		args, err := d.pop()
		if err != nil {
			return err
		}
		f, err := d.pop()
		if err != nil {
			return err
		}
		tup, ok := args.(*tupleNode)
		if !ok {
			return d.errorf("REDUCE arguments must be a tuple, not %s", pyType(args))
		}
		v, err := d.call(f, tup.items, false)
		if err != nil {
			return err
		}
		d.push(v)
	case opNewObj, opNewObjEx:
		if d.op == opNewObjEx {
			kw, err := d.pop()
			if err != nil {
				return err
			}
			if dn, ok := kw.(*dictNode); !ok || len(dn.keys) != 0 {
				return d.errorf("NEWOBJ_EX with keyword arguments is not supported")
			}
		}
		args, err := d.pop()
		if err != nil {
			return err
		}
		cls, err := d.pop()
		if err != nil {
			return err
		}
		tup, ok := args.(*tupleNode)
		if !ok {
			return d.errorf("%s arguments must be a tuple, not %s", opName(d.op), pyType(args))
		}
		v, err := d.call(cls, tup.items, true)
		if err != nil {
			return err
		}
		d.push(v)
	case opBuild:
		state, err := d.pop()
		if err != nil {
			return err
		}
		inst, err := d.top()
		if err != nil {
			return err
		}
		if u, ok := inst.(*uuidVal); ok {
			return d.buildUUID(u, state)
		}
		if !emptyState(state) {
			return d.errorf("BUILD with state on a Python %s is not supported", pyType(inst))
		}
	case opInst:
		module, err := d.readLine()
		if err != nil {
			return err
		}
		name, err := d.readLine()
		if err != nil {
			return err
		}
		c, err := resolveClass(string(module), string(name))
		if err != nil {
			return err
		}
		args, err := d.popMark()
		if err != nil {
			return err
		}
		v, err := d.call(c, append([]any(nil), args...), false)
		if err != nil {
			return err
		}
		d.push(v)
	case opObj:
		args, err := d.popMark()
		if err != nil {
			return err
		}
		if len(args) == 0 {
			return d.underflow()
		}
		args = append([]any(nil), args...)
		v, err := d.call(args[0], args[1:], false)
		if err != nil {
			return err
		}
		d.push(v)
	case opExt1, opExt2, opExt4:
		n := map[byte]uint64{opExt1: 1, opExt2: 2, opExt4: 4}[d.op]
		b, err := d.read(n)
		if err != nil {
			return err
		}
		var code uint64
		for i := len(b) - 1; i >= 0; i-- {
			code = code<<8 | uint64(b[i])
		}
		return d.errorf("extension code %d (%s) is not allowed", code, opName(d.op))
	case opPersID, opBinPersID:
		return d.errorf("persistent IDs (%s) are not supported", opName(d.op))
	default:
		return d.errorf("invalid opcode 0x%02x", d.op)
	}
	return nil
}

// emptyState reports a BUILD state that sets nothing: None, an empty dict,
// or a (dict, slots) pair of those.
func emptyState(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *dictNode:
		return len(x.keys) == 0
	case *tupleNode:
		if len(x.items) != 2 {
			return false
		}
		return emptyState(x.items[0]) && emptyState(x.items[1])
	}
	return false
}

func (d *decoder) textIndex() (uint64, error) {
	line, err := d.readLine()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(line)), 10, 64)
	if err != nil {
		return 0, d.errorf("%s: bad memo index %q", opName(d.op), printable(string(line)))
	}
	return n, nil
}

func (d *decoder) pushStr(n uint64) error {
	b, err := d.read(n)
	if err != nil {
		return err
	}
	s := string(b)
	if !validPyStr(s) {
		return d.errorf("%s: invalid UTF-8", opName(d.op))
	}
	d.push(s)
	return nil
}

func (d *decoder) pushBytes(n uint64, array bool) error {
	b, err := d.read(n)
	if err != nil {
		return err
	}
	d.push(&bytesVal{b: b, array: array})
	return nil
}

// pushPy2Str pushes a Python 2 str. Python 3 decodes it as ASCII by default
// (pickle.loads(encoding="ASCII")), which is what Django does.
func (d *decoder) pushPy2Str(b []byte) error {
	for _, c := range b {
		if c >= 0x80 {
			return d.errorf("%s: Python 2 str with non-ASCII bytes (Python 3 loads it only with an explicit encoding)", opName(d.op))
		}
	}
	d.push(string(b))
	return nil
}

func (d *decoder) appendItems(items []any) error {
	t, err := d.top()
	if err != nil {
		return err
	}
	ln, ok := t.(*listNode)
	if !ok {
		return d.errorf("%s on a Python %s", opName(d.op), pyType(t))
	}
	ln.items = append(ln.items, items...)
	return nil
}

func (d *decoder) setItems(dn *dictNode, items []any) error {
	if len(items)%2 != 0 {
		return d.errorf("%s with an odd number of items", opName(d.op))
	}
	dn.keys = slices.Grow(dn.keys, len(items)/2)
	dn.vals = slices.Grow(dn.vals, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		if !d.hashable(items[i]) {
			return d.errorf("unhashable Python %s as a dict key", pyType(items[i]))
		}
		dn.keys = append(dn.keys, items[i])
		dn.vals = append(dn.vals, items[i+1])
	}
	return nil
}

func (d *decoder) addItems(sn *setNode, items []any) error {
	for _, it := range items {
		if !d.hashable(it) {
			return d.errorf("unhashable Python %s as a set element", pyType(it))
		}
	}
	sn.items = append(sn.items, items...)
	return nil
}

// decodeLong decodes the little-endian two's complement of LONG1/LONG4.
func decodeLong(b []byte) any {
	n := len(b)
	if n == 0 {
		return int64(0)
	}
	if n <= 8 {
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		if b[n-1]&0x80 != 0 && n < 8 {
			u |= ^uint64(0) << (8 * n)
		}
		return int64(u)
	}
	be := make([]byte, n)
	for i := range b {
		be[n-1-i] = b[i]
	}
	x := new(big.Int).SetBytes(be)
	if b[n-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	if x.IsInt64() {
		return x.Int64()
	}
	return x
}

// maxIntDigits is Python's default limit on decimal digits converted by
// int(str) (sys.int_info.default_max_str_digits): it bounds the quadratic
// cost of the conversion.
const maxIntDigits = 4300

var errBadInt = errors.New("invalid literal for int() with base 0")

// ParseInt parses b as Python's int(b) does (base 10: surrounding
// whitespace, a sign, and underscores between digits are allowed; at most
// 4300 digits, Python's default limit). It returns an int64, or a *big.Int
// beyond 64 bits.
//
// Django's Redis backends store an exact int as its decimal text and read
// a value back as int(data) when that parses, else as a pickle; pymemcache
// does the same for values with the integer flag. ParseInt is that test.
func ParseInt(b []byte) (v any, ok bool) {
	v, err := parseIntBase(string(b), false)
	return v, err == nil
}

// parsePyInt parses s as Python's int(s, 0) does (the INT and LONG opcodes).
func parsePyInt(s string) (any, error) {
	return parseIntBase(s, true)
}

func parseIntBase(s string, base0 bool) (any, error) {
	s = strings.TrimSpace(s)
	body := s
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	base := 10
	if base0 && len(body) >= 2 && body[0] == '0' {
		switch body[1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 10 {
			body = body[2:]
			if strings.HasPrefix(body, "_") {
				body = body[1:]
			}
		}
	}
	if body == "" || body[0] == '_' || body[len(body)-1] == '_' || strings.Contains(body, "__") {
		return nil, errBadInt
	}
	clean := strings.ReplaceAll(body, "_", "")
	for i := 0; i < len(clean); i++ {
		c := clean[i]
		var v int
		switch {
		case '0' <= c && c <= '9':
			v = int(c - '0')
		case 'a' <= c && c <= 'z':
			v = int(c-'a') + 10
		case 'A' <= c && c <= 'Z':
			v = int(c-'A') + 10
		default:
			return nil, errBadInt
		}
		if v >= base {
			return nil, errBadInt
		}
	}
	if base == 10 {
		if base0 && len(clean) > 1 && clean[0] == '0' && strings.Trim(clean, "0") != "" {
			return nil, errBadInt // int(s, 0) rejects leading zeros ("010")
		}
		if len(clean) > maxIntDigits {
			return nil, fmt.Errorf("exceeds the limit (%d digits) for integer string conversion", maxIntDigits)
		}
	}
	if neg {
		clean = "-" + clean
	}
	if n, err := strconv.ParseInt(clean, base, 64); err == nil {
		return n, nil
	}
	x, ok := new(big.Int).SetString(clean, base)
	if !ok {
		return nil, errBadInt
	}
	if x.IsInt64() {
		return x.Int64(), nil
	}
	return x, nil
}

// parsePyFloat parses s as Python's float(s) does.
func parsePyFloat(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "_") {
		for i := 0; i < len(s); i++ {
			if s[i] == '_' && (i == 0 || i == len(s)-1 || !isDigit(s[i-1]) || !isDigit(s[i+1])) {
				return 0, fmt.Errorf("could not convert string to float: %q", printable(s))
			}
		}
		s = strings.ReplaceAll(s, "_", "")
	}
	t := strings.TrimLeft(s, "+-")
	if len(t) >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		return 0, fmt.Errorf("could not convert string to float: %q", printable(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil // Python gives inf (or 0.0) too
		}
		return 0, fmt.Errorf("could not convert string to float: %q", printable(s))
	}
	return f, nil
}

// appendWTF8 appends the UTF-8 form of code point r, surrogates included
// (Python's "surrogatepass").
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xd800 && r <= 0xdfff {
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return utf8.AppendRune(b, r)
}

// rawUnicodeEscape decodes Python's raw-unicode-escape codec (protocol 0's
// UNICODE opcode): bytes are Latin-1 code points, except \uXXXX and
// \UXXXXXXXX after an odd number of backslashes.
func rawUnicodeEscape(b []byte) (string, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c != '\\' {
			out = utf8.AppendRune(out, rune(c))
			i++
			continue
		}
		j := i
		for j < len(b) && b[j] == '\\' {
			j++
		}
		run := j - i
		if run%2 == 0 || j >= len(b) || (b[j] != 'u' && b[j] != 'U') {
			for k := 0; k < run; k++ {
				out = append(out, '\\')
			}
			i = j
			continue
		}
		for k := 0; k < run-1; k++ {
			out = append(out, '\\')
		}
		n := 4
		if b[j] == 'U' {
			n = 8
		}
		if j+1+n > len(b) {
			return "", errors.New("truncated \\uXXXX escape")
		}
		v, err := strconv.ParseUint(string(b[j+1:j+1+n]), 16, 32)
		if err != nil {
			return "", errors.New("truncated \\uXXXX escape")
		}
		if v > utf8.MaxRune {
			return "", errors.New("\\Uxxxxxxxx out of range")
		}
		out = appendWTF8(out, rune(v))
		i = j + 1 + n
	}
	return string(out), nil
}

// escapeDecode decodes the backslash escapes of a Python 2 str literal
// (protocol 0's STRING opcode), as codecs.escape_decode does.
func escapeDecode(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(b) {
			return nil, errors.New("trailing \\ in string")
		}
		switch c = b[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'v':
			out = append(out, '\v')
		case 'a':
			out = append(out, 7)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(b[i]-'0')
			}
			out = append(out, byte(v))
		case 'x':
			if i+2 >= len(b) {
				return nil, fmt.Errorf("invalid \\x escape at position %d", i-1)
			}
			v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
			if err != nil {
				return nil, fmt.Errorf("invalid \\x escape at position %d", i-1)
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

var opNames = map[byte]string{
	opMark: "MARK", opStop: "STOP", opPop: "POP", opPopMark: "POP_MARK", opDup: "DUP",
	opFloat: "FLOAT", opInt: "INT", opBinInt: "BININT", opBinInt1: "BININT1", opLong: "LONG",
	opBinInt2: "BININT2", opNone: "NONE", opPersID: "PERSID", opBinPersID: "BINPERSID",
	opReduce: "REDUCE", opString: "STRING", opBinString: "BINSTRING", opShortBinString: "SHORT_BINSTRING",
	opUnicode: "UNICODE", opBinUnicode: "BINUNICODE", opAppend: "APPEND", opBuild: "BUILD",
	opGlobal: "GLOBAL", opDict: "DICT", opEmptyDict: "EMPTY_DICT", opAppends: "APPENDS",
	opGet: "GET", opBinGet: "BINGET", opInst: "INST", opLongBinGet: "LONG_BINGET", opList: "LIST",
	opEmptyList: "EMPTY_LIST", opObj: "OBJ", opPut: "PUT", opBinPut: "BINPUT", opLongBinPut: "LONG_BINPUT",
	opSetItem: "SETITEM", opTuple: "TUPLE", opEmptyTuple: "EMPTY_TUPLE", opSetItems: "SETITEMS",
	opBinFloat: "BINFLOAT", opProto: "PROTO", opNewObj: "NEWOBJ", opExt1: "EXT1", opExt2: "EXT2",
	opExt4: "EXT4", opTuple1: "TUPLE1", opTuple2: "TUPLE2", opTuple3: "TUPLE3", opNewTrue: "NEWTRUE",
	opNewFalse: "NEWFALSE", opLong1: "LONG1", opLong4: "LONG4", opBinBytes: "BINBYTES",
	opShortBinBytes: "SHORT_BINBYTES", opShortBinUnicode: "SHORT_BINUNICODE", opBinUnicode8: "BINUNICODE8",
	opBinBytes8: "BINBYTES8", opEmptySet: "EMPTY_SET", opAddItems: "ADDITEMS", opFrozenSet: "FROZENSET",
	opNewObjEx: "NEWOBJ_EX", opStackGlobal: "STACK_GLOBAL", opMemoize: "MEMOIZE", opFrame: "FRAME",
	opByteArray8: "BYTEARRAY8", opNextBuffer: "NEXT_BUFFER", opReadonlyBuffer: "READONLY_BUFFER",
}

func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return fmt.Sprintf("opcode 0x%02x", op)
}
