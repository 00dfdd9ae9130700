package pickle

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Constants of CPython's pickler (Modules/_pickle.c).
const (
	frameHeaderSize = 9         // FRAME opcode + 8-byte length
	frameSizeMin    = 4         // smaller frames are dropped at commit
	frameSizeTarget = 64 * 1024 // a frame is committed at an opcode boundary once this big
	batchSize       = 1000      // items per APPENDS / SETITEMS / ADDITEMS
	maxDepth        = 1000      // nesting limit, like Python's recursion limit
)

// Marshal returns the pickle (protocol 5) of v, byte for byte what
// CPython's pickle.dumps(v, 5) writes for the equivalent Python value (see
// the package documentation for the mapping and for when Python would
// share objects).
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the pickle of v to dst and returns the extended slice. On
// error it returns dst unchanged (the bytes after len(dst) may have been
// overwritten).
func Append(dst []byte, v any) ([]byte, error) {
	if cap(dst)-len(dst) < 64 {
		dst = append(make([]byte, 0, len(dst)+128), dst...)
	}
	e := encoder{out: dst, frameStart: -1}
	e.out = append(e.out, opProto, highestProtocol)
	e.framing = true
	if err := e.save(v); err != nil {
		return dst, err
	}
	e.op(opStop)
	e.commitFrame()
	return e.out, nil
}

type ident struct {
	p uintptr
	n int
	t reflect.Type
}

type identState struct {
	idx  int
	done bool
}

type zoneKey struct {
	off  int
	name string
}

type encoder struct {
	out        []byte
	frameStart int // offset of the reserved header of the open frame, or -1
	framing    bool
	memoLen    int
	depth      int

	strs    map[string]int // str value -> memo index (Python shares equal constants and interned names)
	bytes   map[string]int // bytes value -> memo index
	tuples  map[string]int // constant tuple key -> memo index
	idents  map[ident]identState
	globals map[string]int // "module.name" -> memo index of the class
	zones   map[zoneKey]int
	keyBuf  []byte
}

// --- output and framing ---------------------------------------------------

// reserve opens a frame if framing is on and none is open (CPython's
// _Pickler_Write).
func (e *encoder) reserve() {
	if e.framing && e.frameStart < 0 {
		e.frameStart = len(e.out)
		e.out = append(e.out, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
}

func (e *encoder) op(b byte) {
	e.reserve()
	e.out = append(e.out, b)
}

func (e *encoder) op2(a, b byte) {
	e.reserve()
	e.out = append(e.out, a, b)
}

// boundary commits the open frame when it has reached the target size;
// CPython does this at the start of every save().
func (e *encoder) boundary() {
	if e.frameStart >= 0 && len(e.out)-e.frameStart-frameHeaderSize >= frameSizeTarget {
		e.commitFrame()
	}
}

// commitFrame closes the open frame: it writes its header, or removes the
// reserved header when the frame is shorter than frameSizeMin.
func (e *encoder) commitFrame() {
	if e.frameStart < 0 {
		return
	}
	fs := e.frameStart
	n := len(e.out) - fs - frameHeaderSize
	if n >= frameSizeMin {
		e.out[fs] = opFrame
		binary.LittleEndian.PutUint64(e.out[fs+1:], uint64(n))
	} else {
		copy(e.out[fs:], e.out[fs+frameHeaderSize:])
		e.out = e.out[:len(e.out)-frameHeaderSize]
	}
	e.frameStart = -1
}

// writeData writes an opcode header and its payload. A payload of at least
// frameSizeTarget bytes goes outside any frame, as CPython does.
func writeData[T string | []byte](e *encoder, header []byte, data T) {
	if len(data) >= frameSizeTarget {
		e.commitFrame()
		e.out = append(e.out, header...)
		e.out = append(e.out, data...)
		return
	}
	e.reserve()
	e.out = append(e.out, header...)
	e.out = append(e.out, data...)
}

func (e *encoder) memoize() int {
	e.op(opMemoize)
	e.memoLen++
	return e.memoLen - 1
}

func (e *encoder) get(idx int) {
	if idx < 256 {
		e.op2(opBinGet, byte(idx))
		return
	}
	e.reserve()
	e.out = append(e.out, opLongBinGet)
	e.out = binary.LittleEndian.AppendUint32(e.out, uint32(idx))
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > maxDepth {
		return errTooDeep
	}
	return nil
}

func (e *encoder) leave() { e.depth-- }

var errTooDeep = &UnsupportedTypeError{Reason: "value nested deeper than 1000 levels (or a cycle through pointers)"}

// --- dispatch ---------------------------------------------------------------

var (
	tupleType     = reflect.TypeFor[Tuple]()
	setType       = reflect.TypeFor[Set]()
	frozenSetType = reflect.TypeFor[FrozenSet]()
	timeType      = reflect.TypeFor[time.Time]()
	durationType  = reflect.TypeFor[time.Duration]()
	dateType      = reflect.TypeFor[Date]()
	timeOfDayType = reflect.TypeFor[Time]()
	decimalType   = reflect.TypeFor[Decimal]()
	uuidType      = reflect.TypeFor[UUID]()
	bigIntType    = reflect.TypeFor[big.Int]()
	bigIntPtrType = reflect.TypeFor[*big.Int]()
	locationType  = reflect.TypeFor[*time.Location]()
	anyType       = reflect.TypeFor[any]()
)

// isSpecialStruct reports struct types that are not written as dicts.
func isSpecialStruct(t reflect.Type) bool {
	return t == timeType || t == dateType || t == timeOfDayType || t == bigIntType
}

func (e *encoder) save(v any) error {
	e.boundary()
	switch x := v.(type) {
	case nil:
		e.op(opNone)
	case bool:
		e.saveBool(x)
	case int:
		e.saveInt(int64(x))
	case int64:
		e.saveInt(x)
	case int32:
		e.saveInt(int64(x))
	case int16:
		e.saveInt(int64(x))
	case int8:
		e.saveInt(int64(x))
	case uint:
		e.saveUint(uint64(x))
	case uint64:
		e.saveUint(x)
	case uint32:
		e.saveInt(int64(x))
	case uint16:
		e.saveInt(int64(x))
	case uint8:
		e.saveInt(int64(x))
	case float64:
		e.saveFloat(x)
	case float32:
		e.saveFloat(float64(x))
	case string:
		return e.saveStr(x, true)
	case []byte:
		e.saveBytes(x, true)
	case *big.Int:
		if x == nil {
			e.op(opNone)
			return nil
		}
		e.saveBig(x)
	case Decimal:
		return e.saveDecimal(x)
	case UUID:
		e.saveUUID(x)
	case time.Time:
		return e.saveDatetime(x)
	case time.Duration:
		e.saveTimedelta(x)
	case Date:
		return e.saveDate(x)
	case Time:
		return e.saveTimeOfDay(x)
	case []any:
		return e.saveList(reflect.ValueOf(x))
	case map[string]any:
		return e.saveStringMap(x)
	default:
		return e.saveValue(reflect.ValueOf(v))
	}
	return nil
}

func (e *encoder) saveValue(rv reflect.Value) error {
	e.boundary()
	if !rv.IsValid() {
		e.op(opNone)
		return nil
	}
	t := rv.Type()
	switch t {
	case timeType, durationType, dateType, timeOfDayType, decimalType, bigIntType, bigIntPtrType:
		if !rv.CanInterface() {
			return &UnsupportedTypeError{Type: t, Reason: "reached through an unexported field"}
		}
		if t == bigIntType {
			b := rv.Interface().(big.Int)
			e.saveBig(&b)
			return nil
		}
		return e.save(rv.Interface())
	case locationType:
		if rv.IsNil() {
			e.op(opNone)
			return nil
		}
		if !rv.CanInterface() {
			return &UnsupportedTypeError{Type: t, Reason: "reached through an unexported field"}
		}
		loc := rv.Interface().(*time.Location)
		return e.saveZone(zoneAt(time.Date(2000, 1, 1, 0, 0, 0, 0, loc)))
	case uuidType:
		var u UUID
		copy(u[:], arrayBytes(rv))
		e.saveUUID(u)
		return nil
	case tupleType:
		return e.saveTuple(rv, false)
	case setType:
		return e.saveSet(rv, false)
	case frozenSetType:
		return e.saveSet(rv, true)
	}
	switch rv.Kind() {
	case reflect.Bool:
		e.saveBool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.saveInt(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.saveUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		e.saveFloat(rv.Float())
	case reflect.String:
		return e.saveStr(rv.String(), true)
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			e.saveBytes(rv.Bytes(), true)
			return nil
		}
		return e.saveList(rv)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			e.saveBytes(arrayBytes(rv), true)
			return nil
		}
		return e.saveList(rv)
	case reflect.Map:
		return e.saveMap(rv)
	case reflect.Struct:
		return e.saveStruct(rv)
	case reflect.Pointer:
		if rv.IsNil() {
			e.op(opNone)
			return nil
		}
		return e.savePointer(rv)
	case reflect.Interface:
		if rv.IsNil() {
			e.op(opNone)
			return nil
		}
		if err := e.enter(); err != nil {
			return err
		}
		defer e.leave()
		el := rv.Elem()
		if el.CanInterface() {
			return e.save(el.Interface())
		}
		return e.saveValue(el)
	default:
		return &UnsupportedTypeError{Type: t}
	}
	return nil
}

func arrayBytes(rv reflect.Value) []byte {
	if rv.CanAddr() {
		return rv.Bytes()
	}
	b := make([]byte, rv.Len())
	for i := range b {
		b[i] = byte(rv.Index(i).Uint())
	}
	return b
}

// --- atoms ------------------------------------------------------------------

func (e *encoder) saveBool(b bool) {
	if b {
		e.op(opNewTrue)
	} else {
		e.op(opNewFalse)
	}
}

func (e *encoder) saveInt(i int64) {
	e.reserve()
	switch {
	case i >= 0 && i <= 0xff:
		e.out = append(e.out, opBinInt1, byte(i))
	case i >= 0 && i <= 0xffff:
		e.out = append(e.out, opBinInt2, byte(i), byte(i>>8))
	case i >= math.MinInt32 && i <= math.MaxInt32:
		e.out = append(e.out, opBinInt)
		e.out = binary.LittleEndian.AppendUint32(e.out, uint32(i))
	default:
		// LONG1 with CPython's encode_long: (bit_length >> 3) + 1 bytes of
		// two's complement, one fewer for -(2**(8k-1)).
		mag := uint64(i)
		if i < 0 {
			mag = -mag
		}
		n := bits.Len64(mag)/8 + 1
		var buf [9]byte
		binary.LittleEndian.PutUint64(buf[:8], uint64(i))
		if i < 0 {
			buf[8] = 0xff
		}
		if i < 0 && n > 1 && buf[n-1] == 0xff && buf[n-2]&0x80 != 0 {
			n--
		}
		e.out = append(e.out, opLong1, byte(n))
		e.out = append(e.out, buf[:n]...)
	}
}

func (e *encoder) saveUint(u uint64) {
	if u <= math.MaxInt64 {
		e.saveInt(int64(u))
		return
	}
	e.reserve()
	e.out = append(e.out, opLong1, 9)
	e.out = binary.LittleEndian.AppendUint64(e.out, u)
	e.out = append(e.out, 0)
}

func (e *encoder) saveBig(x *big.Int) {
	if x.IsInt64() {
		e.saveInt(x.Int64())
		return
	}
	n := x.BitLen()/8 + 1
	var tc big.Int
	if x.Sign() < 0 {
		tc.Lsh(big.NewInt(1), uint(8*n))
		tc.Add(&tc, x)
	} else {
		tc.Set(x)
	}
	buf := tc.FillBytes(make([]byte, n)) // big-endian
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		buf[i], buf[j] = buf[j], buf[i]
	}
	if x.Sign() < 0 && n > 1 && buf[n-1] == 0xff && buf[n-2]&0x80 != 0 {
		n--
		buf = buf[:n]
	}
	e.reserve()
	if n < 256 {
		e.out = append(e.out, opLong1, byte(n))
	} else {
		e.out = append(e.out, opLong4)
		e.out = binary.LittleEndian.AppendUint32(e.out, uint32(n))
	}
	e.out = append(e.out, buf...)
}

func (e *encoder) saveFloat(f float64) {
	e.reserve()
	e.out = append(e.out, opBinFloat)
	e.out = binary.BigEndian.AppendUint64(e.out, math.Float64bits(f))
}

// saveStr writes a str. shared says whether equal strings are shared (one
// memo entry), as Python shares equal string constants; the strings that
// CPython creates afresh (class names, Decimal digits) are not.
func (e *encoder) saveStr(s string, shared bool) error {
	if shared {
		if idx, ok := e.strs[s]; ok {
			e.get(idx)
			return nil
		}
	}
	if !validPyStr(s) {
		return &UnsupportedTypeError{Type: reflect.TypeFor[string](), Reason: "string " + strconv.QuoteToASCII(truncate(s)) + " is not valid UTF-8 (use []byte for binary data)"}
	}
	var hdr [9]byte
	switch n := len(s); {
	case n <= 0xff:
		e.reserve()
		e.out = append(e.out, opShortBinUnicode, byte(n))
		e.out = append(e.out, s...)
	case uint64(n) <= 0xffffffff:
		hdr[0] = opBinUnicode
		binary.LittleEndian.PutUint32(hdr[1:], uint32(n))
		writeData(e, hdr[:5], s)
	default:
		hdr[0] = opBinUnicode8
		binary.LittleEndian.PutUint64(hdr[1:], uint64(n))
		writeData(e, hdr[:9], s)
	}
	idx := e.memoize()
	// At depth 0 the str is the whole pickle: nothing can refer to it
	// again, so a lone str (the commonest cached value) needs no memo map.
	if shared && e.depth > 0 {
		if e.strs == nil {
			e.strs = make(map[string]int)
		}
		e.strs[s] = idx
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func (e *encoder) saveBytes(b []byte, shared bool) {
	if shared {
		if idx, ok := e.bytes[string(b)]; ok {
			e.get(idx)
			return
		}
	}
	var hdr [9]byte
	switch n := len(b); {
	case n <= 0xff:
		e.reserve()
		e.out = append(e.out, opShortBinBytes, byte(n))
		e.out = append(e.out, b...)
	case uint64(n) <= 0xffffffff:
		hdr[0] = opBinBytes
		binary.LittleEndian.PutUint32(hdr[1:], uint32(n))
		writeData(e, hdr[:5], b)
	default:
		hdr[0] = opBinBytes8
		binary.LittleEndian.PutUint64(hdr[1:], uint64(n))
		writeData(e, hdr[:9], b)
	}
	idx := e.memoize()
	if shared && e.depth > 0 { // see saveStr
		if e.bytes == nil {
			e.bytes = make(map[string]int)
		}
		e.bytes[string(b)] = idx
	}
}

// validPyStr reports whether s is UTF-8 that Python decodes with
// "surrogatepass" (lone surrogates encoded as 3 bytes are allowed: that is
// how Python pickles them).
func validPyStr(s string) bool {
	if utf8.ValidString(s) {
		return true
	}
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if s[i] == 0xed && i+2 < len(s) && s[i+1] >= 0xa0 && s[i+1] <= 0xbf && s[i+2] >= 0x80 && s[i+2] <= 0xbf {
				i += 3
				continue
			}
			return false
		}
		i += size
	}
	return true
}

// --- containers -----------------------------------------------------------

// checkIdent looks up a container that has an identity (a slice's backing
// array, a map, a pointer). It writes a memo get for one already written
// and reports a cycle for one being written.
func (e *encoder) checkIdent(id ident) (done bool, err error) {
	st, ok := e.idents[id]
	if !ok {
		return false, nil
	}
	if !st.done {
		return false, &UnsupportedTypeError{Type: id.t, Reason: "cyclic value (it contains itself)"}
	}
	e.get(st.idx)
	return true, nil
}

func (e *encoder) setIdent(id ident, idx int, done bool) {
	if e.idents == nil {
		e.idents = make(map[ident]identState)
	}
	e.idents[id] = identState{idx, done}
}

func sliceIdent(rv reflect.Value) (ident, bool) {
	if rv.Kind() != reflect.Slice || rv.Len() == 0 || rv.Type().Elem().Size() == 0 {
		return ident{}, false
	}
	return ident{rv.Pointer(), rv.Len(), rv.Type()}, true
}

func (e *encoder) saveList(rv reflect.Value) error {
	id, hasID := sliceIdent(rv)
	if hasID {
		if done, err := e.checkIdent(id); done || err != nil {
			return err
		}
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	e.op(opEmptyList)
	idx := e.memoize()
	if hasID {
		e.setIdent(id, idx, false)
	}
	n := rv.Len()
	if n == 1 {
		if err := e.saveElem(rv.Index(0)); err != nil {
			return err
		}
		e.op(opAppend)
	} else if n > 1 {
		for total := 0; total < n; {
			e.op(opMark)
			for k := 0; total < n && k < batchSize; k++ {
				if err := e.saveElem(rv.Index(total)); err != nil {
					return err
				}
				total++
			}
			e.op(opAppends)
		}
	}
	if hasID {
		e.setIdent(id, idx, true)
	}
	return nil
}

// saveElem saves a container element, using the type switch of save for
// values that can be turned into interfaces.
func (e *encoder) saveElem(rv reflect.Value) error {
	if rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			e.boundary()
			e.op(opNone)
			return nil
		}
		rv = rv.Elem()
	}
	if rv.CanInterface() {
		return e.save(rv.Interface())
	}
	return e.saveValue(rv)
}

// saveTuple writes a Tuple (or, as a dict key or set element, an array). A
// tuple whose items are all constants (None, bool, int, float, str, bytes,
// constant tuples) is shared with an equal earlier one, as Python shares
// equal tuple constants.
func (e *encoder) saveTuple(rv reflect.Value, asKey bool) error {
	n := rv.Len()
	if n == 0 {
		e.op(opEmptyTuple)
		return nil
	}
	key, isConst := e.constKey(rv)
	if isConst {
		if idx, ok := e.tuples[key]; ok {
			e.get(idx)
			return nil
		}
	}
	id, hasID := sliceIdent(rv)
	if hasID && !isConst {
		if done, err := e.checkIdent(id); done || err != nil {
			return err
		}
		e.setIdent(id, -1, false)
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if n > 3 {
		e.op(opMark)
	}
	for i := 0; i < n; i++ {
		var err error
		if asKey {
			err = e.saveKey(rv.Index(i))
		} else {
			err = e.saveElem(rv.Index(i))
		}
		if err != nil {
			return err
		}
	}
	switch n {
	case 1:
		e.op(opTuple1)
	case 2:
		e.op(opTuple2)
	case 3:
		e.op(opTuple3)
	default:
		e.op(opTuple)
	}
	idx := e.memoize()
	if isConst {
		if e.tuples == nil {
			e.tuples = make(map[string]int)
		}
		e.tuples[key] = idx
	} else if hasID {
		e.setIdent(id, idx, true)
	}
	return nil
}

// constKeyBudget bounds the work of constKey: Python's tuple constants are
// small, and a bigger tuple is shared by identity instead. Without a bound,
// tuples sharing sub-tuples (a DAG) would take exponential time.
const constKeyBudget = 4096

// constKey returns a key identifying the value of a constant tuple.
func (e *encoder) constKey(rv reflect.Value) (string, bool) {
	budget := constKeyBudget
	buf, ok := appendConstKey(e.keyBuf[:0], rv, &budget)
	e.keyBuf = buf
	if !ok {
		return "", false
	}
	return string(buf), true
}

func appendConstKey(buf []byte, rv reflect.Value, budget *int) ([]byte, bool) {
	if *budget--; *budget < 0 || len(buf) > constKeyBudget {
		return buf, false
	}
	for rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return append(buf, 'N'), true
		}
		rv = rv.Elem()
	}
	t := rv.Type()
	switch t {
	case durationType, decimalType, timeType, dateType, timeOfDayType, setType, frozenSetType, bigIntType, uuidType:
		return buf, false
	case bigIntPtrType:
		if rv.IsNil() {
			return append(buf, 'N'), true
		}
		if !rv.CanInterface() {
			return buf, false
		}
		buf = append(buf, 'i')
		buf = rv.Interface().(*big.Int).Append(buf, 10)
		return append(buf, ';'), true
	}
	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return append(buf, 'T'), true
		}
		return append(buf, 'F'), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		buf = append(buf, 'i')
		return append(strconv.AppendInt(buf, rv.Int(), 10), ';'), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		buf = append(buf, 'i')
		return append(strconv.AppendUint(buf, rv.Uint(), 10), ';'), true
	case reflect.Float32, reflect.Float64:
		buf = append(buf, 'f')
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(rv.Float())), true
	case reflect.String:
		buf = append(buf, 's')
		buf = strconv.AppendInt(buf, int64(rv.Len()), 10)
		buf = append(buf, ':')
		return append(buf, rv.String()...), true
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			buf = append(buf, 'b')
			buf = strconv.AppendInt(buf, int64(rv.Len()), 10)
			buf = append(buf, ':')
			if rv.Kind() == reflect.Slice {
				return append(buf, rv.Bytes()...), true
			}
			return append(buf, arrayBytes(rv)...), true
		}
		if t != tupleType && rv.Kind() != reflect.Array {
			return buf, false
		}
		buf = append(buf, '(')
		for i := 0; i < rv.Len(); i++ {
			var ok bool
			if buf, ok = appendConstKey(buf, rv.Index(i), budget); !ok {
				return buf, false
			}
		}
		return append(buf, ')'), true
	case reflect.Pointer:
		if rv.IsNil() {
			return append(buf, 'N'), true
		}
		return buf, false
	}
	return buf, false
}

// saveKey writes a dict key or set element: arrays become tuples, since a
// Python list is not hashable; structs (other than the date and time
// types) and maps cannot be keys.
func (e *encoder) saveKey(rv reflect.Value) error {
	e.boundary()
	for {
		switch rv.Kind() {
		case reflect.Interface:
			if rv.IsNil() {
				e.op(opNone)
				return nil
			}
			rv = rv.Elem()
			continue
		case reflect.Pointer:
			if rv.Type() == bigIntPtrType || rv.IsNil() {
				return e.saveValue(rv)
			}
			if err := e.enter(); err != nil {
				return err
			}
			defer e.leave()
			rv = rv.Elem()
			continue
		}
		break
	}
	switch rv.Kind() {
	case reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return e.saveValue(rv)
		}
		return e.saveTuple(rv, true)
	case reflect.Struct:
		if !isSpecialStruct(rv.Type()) {
			return &UnsupportedTypeError{Type: rv.Type(), Reason: "a struct as a map key or set element would be a Python dict, which is unhashable"}
		}
	case reflect.Map, reflect.Slice:
		if t := rv.Type(); t != tupleType {
			return &UnsupportedTypeError{Type: t, Reason: "unhashable as a Python dict key or set element"}
		}
	}
	return e.saveValue(rv)
}

func (e *encoder) saveMap(rv reflect.Value) error {
	if rv.IsNil() {
		// A nil map is an empty dict (see the package documentation).
		e.op(opEmptyDict)
		e.memoize()
		return nil
	}
	id := ident{rv.Pointer(), 0, rv.Type()}
	if done, err := e.checkIdent(id); done || err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	e.op(opEmptyDict)
	idx := e.memoize()
	e.setIdent(id, idx, false)
	n := rv.Len()
	if n > 0 {
		keys, vals := sortedEntries(rv)
		item := func(i int) error {
			if err := e.saveKey(keys[i]); err != nil {
				return err
			}
			return e.saveElem(vals[i])
		}
		if err := e.batchSetItems(len(keys), item); err != nil {
			return err
		}
	}
	e.setIdent(id, idx, true)
	return nil
}

// saveStringMap is saveMap for the common map[string]any, without
// reflection.
func (e *encoder) saveStringMap(m map[string]any) error {
	if m == nil {
		e.op(opEmptyDict)
		e.memoize()
		return nil
	}
	id := ident{uintptr(reflect.ValueOf(m).UnsafePointer()), 0, stringMapType}
	if done, err := e.checkIdent(id); done || err != nil {
		return err
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	e.op(opEmptyDict)
	idx := e.memoize()
	e.setIdent(id, idx, false)
	if len(m) > 0 {
		var small [16]string
		keys := small[:0]
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		err := e.batchSetItems(len(keys), func(i int) error {
			e.boundary()
			if err := e.saveStr(keys[i], true); err != nil {
				return err
			}
			return e.save(m[keys[i]])
		})
		if err != nil {
			return err
		}
	}
	e.setIdent(id, idx, true)
	return nil
}

var stringMapType = reflect.TypeFor[map[string]any]()

// batchSetItems writes n dict items as CPython's batch_dict_exact does: one
// item with SETITEM, else batches of 1000 with SETITEMS, plus an empty
// batch when n is a multiple of 1000.
func (e *encoder) batchSetItems(n int, item func(i int) error) error {
	if n == 1 {
		if err := item(0); err != nil {
			return err
		}
		e.op(opSetItem)
		return nil
	}
	total := 0
	for {
		e.op(opMark)
		k := 0
		for total < n {
			if err := item(total); err != nil {
				return err
			}
			total++
			if k++; k == batchSize {
				break
			}
		}
		e.op(opSetItems)
		if k != batchSize {
			return nil
		}
	}
}

func (e *encoder) saveSet(rv reflect.Value, frozen bool) error {
	var id ident
	hasID := !rv.IsNil()
	if hasID {
		id = ident{rv.Pointer(), 0, rv.Type()}
		if done, err := e.checkIdent(id); done || err != nil {
			return err
		}
		e.setIdent(id, -1, false)
	}
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	keys := sortedKeys(rv)
	if frozen {
		e.op(opMark)
		for _, k := range keys {
			if err := e.saveKey(k); err != nil {
				return err
			}
		}
		e.op(opFrozenSet)
		idx := e.memoize()
		if hasID {
			e.setIdent(id, idx, true)
		}
		return nil
	}
	e.op(opEmptySet)
	idx := e.memoize()
	if hasID {
		defer e.setIdent(id, idx, true)
	}
	if len(keys) == 0 {
		return nil
	}
	total := 0
	for {
		e.op(opMark)
		k := 0
		for total < len(keys) {
			if err := e.saveKey(keys[total]); err != nil {
				return err
			}
			total++
			if k++; k == batchSize {
				break
			}
		}
		e.op(opAddItems)
		if k != batchSize {
			return nil
		}
	}
}

func (e *encoder) savePointer(rv reflect.Value) error {
	el := rv.Elem()
	k := el.Kind()
	tracked := (k == reflect.Struct && !isSpecialStruct(el.Type())) || (k == reflect.Array && el.Type().Elem().Kind() != reflect.Uint8)
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	if !tracked {
		return e.saveValue(el)
	}
	id := ident{rv.Pointer(), 0, rv.Type()}
	if done, err := e.checkIdent(id); done || err != nil {
		return err
	}
	idx := e.memoLen // the dict or list is the first object memoized below
	e.setIdent(id, idx, false)
	if err := e.saveValue(el); err != nil {
		return err
	}
	e.setIdent(id, idx, true)
	return nil
}

func (e *encoder) saveStruct(rv reflect.Value) error {
	if err := e.enter(); err != nil {
		return err
	}
	defer e.leave()
	si := cachedFields(rv.Type())
	e.op(opEmptyDict)
	e.memoize()
	type kv struct {
		name string
		v    reflect.Value
	}
	var small [16]kv
	items := small[:0]
	for i := range si.fields {
		f := &si.fields[i]
		fv, err := rv.FieldByIndexErr(f.index)
		if err != nil {
			continue // through a nil embedded pointer
		}
		if f.omitEmpty && isEmptyValue(fv) || f.omitZero && isZeroValue(fv) {
			continue
		}
		items = append(items, kv{f.name, fv})
	}
	if len(items) == 0 {
		return nil
	}
	return e.batchSetItems(len(items), func(i int) error {
		e.boundary()
		if err := e.saveStr(items[i].name, true); err != nil {
			return err
		}
		return e.saveElem(items[i].v)
	})
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func isZeroValue(v reflect.Value) bool {
	if v.CanInterface() {
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
			if v.Kind() == reflect.Pointer && v.IsNil() {
				return true
			}
			return z.IsZero()
		}
	}
	return v.IsZero()
}

// --- key order --------------------------------------------------------------

// sortedKeys returns the keys of a map in a deterministic order: Go map
// order is random, so the pickle of a map would otherwise change from run
// to run.
func sortedKeys(rv reflect.Value) []reflect.Value {
	keys := rv.MapKeys()
	if len(keys) >= 2 {
		slices.SortFunc(keys, keyOrder(rv.Type().Key()))
	}
	return keys
}

// sortedEntries returns the keys of a map in the order of sortedKeys, and
// their values. It reads them with MapRange, since MapIndex cannot find a
// NaN key, and orders keys that compare equal (NaNs) by their values.
func sortedEntries(rv reflect.Value) (keys, vals []reflect.Value) {
	type entry struct{ k, v reflect.Value }
	entries := make([]entry, 0, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		entries = append(entries, entry{it.Key(), it.Value()})
	}
	order := keyOrder(rv.Type().Key())
	slices.SortFunc(entries, func(a, b entry) int {
		if c := order(a.k, b.k); c != 0 {
			return c
		}
		return compareKeys(a.v, b.v)
	})
	keys, vals = make([]reflect.Value, len(entries)), make([]reflect.Value, len(entries))
	for i, en := range entries {
		keys[i], vals[i] = en.k, en.v
	}
	return keys, vals
}

// keyOrder returns the comparison of keys of type kt.
func keyOrder(kt reflect.Type) func(a, b reflect.Value) int {
	switch kt.Kind() {
	case reflect.String:
		return func(a, b reflect.Value) int { return cmpString(a.String(), b.String()) }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Int(), b.Int()) }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(a, b reflect.Value) int { return cmp.Compare(a.Uint(), b.Uint()) }
	}
	return compareKeys
}

// keyRank orders values of different Python types: None, bool, numbers,
// str, Decimal, bytes, tuples, datetimes, dates, times, timedeltas, UUIDs,
// others.
func keyRank(v reflect.Value) (int, reflect.Value) {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer && v.Type() != bigIntPtrType) {
		if v.IsNil() {
			return 0, v
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return 0, v
	}
	switch v.Type() {
	case bigIntPtrType:
		if v.IsNil() {
			return 0, v
		}
		return 2, v
	case decimalType:
		return 4, v
	case timeType:
		return 7, v
	case dateType:
		return 8, v
	case timeOfDayType:
		return 9, v
	case durationType:
		return 10, v
	case uuidType:
		return 11, v
	}
	switch v.Kind() {
	case reflect.Bool:
		return 1, v
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return 2, v
	case reflect.String:
		return 3, v
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return 5, v
		}
		return 6, v
	}
	return 12, v
}

func compareKeys(a, b reflect.Value) int {
	ra, a := keyRank(a)
	rb, b := keyRank(b)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch ra {
	case 0:
		return 0
	case 1:
		return cmpInt(b2i(a.Bool()), b2i(b.Bool()))
	case 2:
		return compareNumbers(a, b)
	case 3, 4:
		return cmpString(a.String(), b.String())
	case 5, 11: // a UUID's bytes are its int, big-endian
		return cmpString(string(arrayBytes(a)), string(arrayBytes(b)))
	case 6:
		for i := 0; i < a.Len() && i < b.Len(); i++ {
			if c := compareKeys(a.Index(i), b.Index(i)); c != 0 {
				return c
			}
		}
		return cmpInt(a.Len(), b.Len())
	case 7:
		if a.CanInterface() && b.CanInterface() {
			return a.Interface().(time.Time).Compare(b.Interface().(time.Time))
		}
	case 8, 9:
		for i := 0; i < a.NumField() && i < 4; i++ {
			if c := cmpInt(int(a.Field(i).Int()), int(b.Field(i).Int())); c != 0 {
				return c
			}
		}
		return 0
	case 10:
		return cmpInt(int(a.Int()), int(b.Int()))
	}
	if c := cmpString(a.Type().String(), b.Type().String()); c != 0 {
		return c
	}
	return 0
}

func compareNumbers(a, b reflect.Value) int {
	fa, isFa := floatOf(a)
	fb, isFb := floatOf(b)
	if isFa || isFb {
		if c := cmpFloat(fa, fb); c != 0 || isFa && isFb {
			return c
		}
		return cmpInt(b2i(isFa), b2i(isFb))
	}
	return bigOf(a).Cmp(bigOf(b))
}

func floatOf(v reflect.Value) (float64, bool) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), false
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(v.Uint()), false
	}
	if v.Type() == bigIntPtrType && v.CanInterface() {
		f, _ := new(big.Float).SetInt(v.Interface().(*big.Int)).Float64()
		return f, false
	}
	return 0, false
}

func bigOf(v reflect.Value) *big.Int {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return big.NewInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return new(big.Int).SetUint64(v.Uint())
	}
	if v.Type() == bigIntPtrType && v.CanInterface() {
		return v.Interface().(*big.Int)
	}
	return new(big.Int)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	// NaNs sort first, by their bits (sets and maps may hold several).
	if math.IsNaN(a) && math.IsNaN(b) {
		return cmp.Compare(math.Float64bits(a), math.Float64bits(b))
	}
	return cmpInt(b2i(!math.IsNaN(a)), b2i(!math.IsNaN(b)))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
