package djcache

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/pickle"
)

// Codec encodes the structured values of a cache: everything that is not
// nil, a string, a byte slice, an integer, a float or a bool (those have
// reflection-free encodings of their own, see the package documentation).
// A Codec must be safe for concurrent use.
type Codec interface {
	// Marshal appends the encoding of v to dst and returns the result.
	Marshal(dst []byte, v any) ([]byte, error)
	// Unmarshal decodes data into v, a non-nil pointer whose target has
	// already been set to its zero value. It must not keep data.
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec: encoding/json, with the usual struct tags. The
// codec benchmark (BenchmarkCodec in codec_test.go) chose it over gob: for
// single small values it is several times faster and its output is several
// times smaller, because gob sends its type description with every value.
var JSON Codec = jsonCodec{}

// Gob is a Codec over encoding/gob, for values JSON cannot represent
// exactly (for example maps with non-string keys). Each value carries its
// type description, so it is larger and slower than JSON for small values.
var Gob Codec = gobCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// Unmarshal decodes data into v. Into the generic destinations (*any,
// *map[string]any, *[]any) integral numbers come back as int64, as the
// scalar integers of djcache do, and other numbers as float64; elsewhere
// encoding/json's rules apply (float64 for numbers in interfaces).
func (jsonCodec) Unmarshal(data []byte, v any) error {
	switch v.(type) {
	case *any, *map[string]any, *[]any:
	default:
		return json.Unmarshal(data, v)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("json: invalid data after top-level value")
	}
	switch p := v.(type) {
	case *any:
		*p = numbers(*p)
	case *map[string]any:
		numbers(*p)
	case *[]any:
		numbers(*p)
	}
	return nil
}

// numbers replaces the json.Numbers in a decoded tree with int64 (integral
// literals that fit) or float64, in place where it can.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

type gobCodec struct{}

func (gobCodec) Marshal(dst []byte, v any) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	err := gob.NewEncoder(buf).Encode(v)
	return buf.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// EncodeError reports a value that cannot be stored. Nothing was written:
// the earlier value under the key is intact.
type EncodeError struct {
	Type reflect.Type // the value's type
	Err  error        // the codec's error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("djcache: cannot encode value of type %v: %v", e.Type, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }

// DecodeError reports a stored value that does not fit the destination.
// The destination is unchanged unless the codec had started writing it.
type DecodeError struct {
	Stored string       // the stored value's kind: "int", "text", "bytes", "float", "bool", "codec", …
	Type   reflect.Type // the destination's type (a pointer)
	Err    error        // the codec's error, if any
}

func (e *DecodeError) Error() string {
	msg := fmt.Sprintf("djcache: cannot decode stored %s value into %v", e.Stored, e.Type)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

// encode appends the encoding of v to dst: decimal text for integers, a tag
// byte and a payload for the other kinds (see driver.Kind).
func (c *Cache) encode(dst []byte, v any) ([]byte, error) {
	if c.set.pickle {
		return c.encodePickle(dst, v)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, tag(driver.KindNil)), nil
	case string:
		return append(append(dst, tag(driver.KindText)), x...), nil
	case []byte:
		return append(append(dst, tag(driver.KindBytes)), x...), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return strconv.AppendFloat(append(dst, tag(driver.KindFloat)), x, 'g', -1, 64), nil
	case float32:
		return strconv.AppendFloat(append(dst, tag(driver.KindFloat)), float64(x), 'g', -1, 32), nil
	case bool:
		return append(dst, tag(driver.KindBool), boolByte(x)), nil
	}
	return c.encodeReflect(dst, v)
}

// encodeReflect handles named basic types (type Score int) like their
// underlying types, and hands everything else to the codec.
func (c *Cache) encodeReflect(dst []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return append(append(dst, tag(driver.KindText)), rv.String()...), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.AppendFloat(append(dst, tag(driver.KindFloat)), rv.Float(), 'g', -1, rv.Type().Bits()), nil
	case reflect.Bool:
		return append(dst, tag(driver.KindBool), boolByte(rv.Bool())), nil
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 && !implementsMarshaler(rv.Type()) {
			return append(append(dst, tag(driver.KindBytes)), rv.Bytes()...), nil
		}
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return dst, &EncodeError{Type: rv.Type(), Err: fmt.Errorf("%v values cannot be cached", rv.Kind())}
	}
	n := len(dst)
	out, err := c.set.codec.Marshal(append(dst, tag(driver.KindCodec)), v)
	if err != nil {
		return dst[:n], &EncodeError{Type: rv.Type(), Err: err}
	}
	return out, nil
}

// encodePickle is encode for the pickle serializer: the kinds the driver
// keeps outside pickle (driver.Pickler) as encode writes them, everything
// else as the protocol-5 pickle CPython writes.
func (c *Cache) encodePickle(dst []byte, v any) ([]byte, error) {
	if s, ok := v.(string); ok && !utf8.ValidString(s) {
		// Python's str cannot hold it: a bytes, which reads back into a
		// Go string unchanged (as binary data does with the native
		// serializer).
		v = []byte(s)
	}
	if n := c.set.natives; n != 0 {
		switch x := v.(type) {
		case string:
			if n.Has(driver.KindText) {
				return append(append(dst, tag(driver.KindText)), x...), nil
			}
		case []byte:
			if n.Has(driver.KindBytes) {
				return append(append(dst, tag(driver.KindBytes)), x...), nil
			}
		case int:
			if n.Has(driver.KindInt) {
				return strconv.AppendInt(dst, int64(x), 10), nil
			}
		case int64:
			if n.Has(driver.KindInt) {
				return strconv.AppendInt(dst, x, 10), nil
			}
		case *big.Int:
			if n.Has(driver.KindInt) && x != nil {
				return x.Append(dst, 10), nil
			}
		case big.Int:
			if n.Has(driver.KindInt) {
				return x.Append(dst, 10), nil
			}
		case bool, float64, nil, time.Duration, pickle.Decimal:
			// Pickled: Python's bool, float, None, and the types package
			// pickle writes as Python objects (timedelta, Decimal) although
			// their Go kinds are int64 and string.
		default:
			// Named and sized basic types (type Score int, int32, ...) are
			// kept outside pickle as Python keeps their values (an int, a
			// str, a bytes).
			rv := reflect.ValueOf(v)
			switch rv.Kind() {
			case reflect.String:
				if n.Has(driver.KindText) {
					return append(append(dst, tag(driver.KindText)), rv.String()...), nil
				}
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				if n.Has(driver.KindInt) {
					return strconv.AppendInt(dst, rv.Int(), 10), nil
				}
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				if n.Has(driver.KindInt) {
					return strconv.AppendUint(dst, rv.Uint(), 10), nil
				}
			case reflect.Slice:
				if rv.Type().Elem().Kind() == reflect.Uint8 && n.Has(driver.KindBytes) {
					return append(append(dst, tag(driver.KindBytes)), rv.Bytes()...), nil
				}
			}
		}
	}
	out, err := pickle.Append(dst, v)
	if err != nil {
		return dst, &EncodeError{Type: reflect.TypeOf(v), Err: err}
	}
	return out, nil
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	gobEncoderType    = reflect.TypeFor[gob.GobEncoder]()
)

// implementsMarshaler reports whether a named byte-slice type encodes
// itself, in which case its own encoding wins over raw bytes.
func implementsMarshaler(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(gobEncoderType)
}

func tag(k driver.Kind) byte {
	t, _ := k.Tag()
	return t
}

func boolByte(b bool) byte {
	if b {
		return '1'
	}
	return '0'
}

// checkDst returns an error unless dst is a non-nil pointer.
func checkDst(dst any) error {
	if dst == nil {
		return fmt.Errorf("djcache: dst is nil; pass a non-nil pointer, such as &v")
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer {
		return fmt.Errorf("djcache: dst must be a non-nil pointer, not %T", dst)
	}
	if rv.IsNil() {
		return fmt.Errorf("djcache: dst is a nil %T; pass a pointer to a variable", dst)
	}
	return nil
}

// decode decodes an encoded value into dst, a non-nil pointer (checked by
// the caller), replacing what *dst held. The result never shares data's
// memory. The common destinations take reflection-free paths.
func (c *Cache) decode(data []byte, dst any) error {
	if hasMeta(data) {
		data, _ = splitMeta(data) // GetOrSet's metadata (meta.go): the value is inside
	}
	kind, p := driver.SplitKind(data)
	switch kind {
	case driver.KindCodec:
		return c.decodeCodec(p, dst)
	case driver.KindPickle:
		// Whatever the cache's serializer, a pickle (Django's value) is
		// read: decoding one never executes anything (package pickle).
		if pickledNone(p) {
			// A stored None is a hit that zeroes any destination, as a
			// stored nil does (package pickle would refuse None for a
			// string or a struct).
			reflect.ValueOf(dst).Elem().SetZero()
			return nil
		}
		if err := pickle.Unmarshal(p, dst); err != nil {
			return &DecodeError{Stored: "pickle", Type: reflect.TypeOf(dst), Err: err}
		}
		return nil
	}
	return c.decodeNative(kind, p, dst)
}

// decodeNative decodes a value of one of djcache's own kinds (not a codec
// value or a pickle) into dst.
func (c *Cache) decodeNative(kind driver.Kind, p []byte, dst any) error {
	var ok bool
	switch d := dst.(type) {
	case *[]byte:
		// The slice's capacity is reused, as encoding/json reuses a
		// slice's: a Get into the same variable in a loop allocates nothing.
		// The result is still a copy that never shares the cache's memory.
		if kind == driver.KindNil {
			*d, ok = nil, true
		} else if ok = isText(kind); ok {
			*d = append((*d)[:0], p...)
			if *d == nil {
				*d = []byte{} // stored empty bytes are not nil
			}
		}
	case *string:
		if kind == driver.KindNil {
			*d, ok = "", true
		} else if ok = isText(kind); ok {
			*d = string(p)
		}
	case *int:
		var n int64
		if n, ok = intOf(kind, p, strconv.IntSize); ok {
			*d = int(n)
		}
	case *int64:
		*d, ok = intOf(kind, p, 64)
	case *float64:
		*d, ok = floatOf(kind, p, 64)
	case *bool:
		*d, ok = boolOf(kind, p)
	case *any:
		var v any
		if v, ok = naturalOf(kind, p, c.set.pickle); ok {
			*d = v
		}
	default:
		return c.decodeReflect(kind, p, dst)
	}
	if !ok {
		return &DecodeError{Stored: kind.String(), Type: reflect.TypeOf(dst)}
	}
	return nil
}

// pickledNone reports whether p is the pickle of None, as any protocol
// writes it: an optional PROTO, an optional FRAME, NONE, STOP.
func pickledNone(p []byte) bool {
	if len(p) >= 2 && p[0] == 0x80 {
		p = p[2:]
	}
	if len(p) >= 9 && p[0] == 0x95 {
		p = p[9:]
	}
	return len(p) == 2 && p[0] == 'N' && p[1] == '.'
}

func (c *Cache) decodeCodec(p []byte, dst any) error {
	rv := reflect.ValueOf(dst).Elem()
	rv.SetZero() // replace, never merge into a non-zero struct or map
	if err := c.set.codec.Unmarshal(p, dst); err != nil {
		return &DecodeError{Stored: "codec", Type: reflect.TypeOf(dst), Err: err}
	}
	return nil
}

// decodeReflect handles every destination the fast paths in decode do not:
// other integer and float sizes, named basic types, interfaces, pointers.
func (c *Cache) decodeReflect(kind driver.Kind, p []byte, dst any) error {
	rv := reflect.ValueOf(dst).Elem()
	if kind == driver.KindNil {
		rv.SetZero() // a nil pointer, at any depth, as encoding/json
		return nil
	}
	ok := false
	switch rv.Kind() {
	case reflect.Pointer:
		// As encoding/json: the value goes into a new T that the pointer
		// then points to (**int, *Struct, any depth). It is always a new
		// one: the variable *dst pointed to before is left alone, as Get
		// replaces what dst held and never writes through it.
		nv := reflect.New(rv.Type().Elem())
		if err := c.decodeNative(kind, p, nv.Interface()); err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				de.Type = reflect.TypeOf(dst) // name the caller's type, not ours
			}
			return err
		}
		rv.Set(nv)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		if n, ok = intOf(kind, p, rv.Type().Bits()); ok {
			rv.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if kind == driver.KindInt {
			n, err := strconv.ParseUint(string(p), 10, rv.Type().Bits())
			if ok = err == nil; ok {
				rv.SetUint(n)
			}
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if f, ok = floatOf(kind, p, rv.Type().Bits()); ok {
			rv.SetFloat(f)
		}
	case reflect.Bool:
		var b bool
		if b, ok = boolOf(kind, p); ok {
			rv.SetBool(b)
		}
	case reflect.String:
		if ok = isText(kind); ok {
			rv.SetString(string(p))
		}
	case reflect.Slice:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			var b []byte
			if b, ok = bytesOf(kind, p); ok {
				rv.SetBytes(b)
			}
		}
	case reflect.Interface:
		var v any
		if v, ok = naturalOf(kind, p, c.set.pickle); ok && v != nil {
			nv := reflect.ValueOf(v)
			if ok = nv.Type().AssignableTo(rv.Type()); ok {
				rv.Set(nv)
			}
		}
	}
	if !ok {
		return &DecodeError{Stored: kind.String(), Type: reflect.TypeOf(dst)}
	}
	return nil
}

// isText reports whether a value of kind k reads as text: strings, bytes,
// decimal integers and values written by other programs.
func isText(k driver.Kind) bool {
	return k == driver.KindText || k == driver.KindBytes || k == driver.KindForeign || k == driver.KindInt
}

func bytesOf(k driver.Kind, p []byte) ([]byte, bool) {
	if k == driver.KindNil {
		return nil, true
	}
	if !isText(k) {
		return nil, false
	}
	return append(make([]byte, 0, len(p)), p...), true
}

func intOf(k driver.Kind, p []byte, bits int) (int64, bool) {
	switch k {
	case driver.KindNil:
		return 0, true
	case driver.KindInt:
		n, err := strconv.ParseInt(string(p), 10, bits)
		return n, err == nil
	}
	return 0, false
}

func floatOf(k driver.Kind, p []byte, bits int) (float64, bool) {
	switch k {
	case driver.KindNil:
		return 0, true
	case driver.KindInt, driver.KindFloat:
		f, err := strconv.ParseFloat(string(p), bits)
		return f, err == nil
	}
	return 0, false
}

func boolOf(k driver.Kind, p []byte) (bool, bool) {
	switch k {
	case driver.KindNil:
		return false, true
	case driver.KindBool:
		return len(p) == 1 && p[0] == '1', len(p) == 1
	}
	return false, false
}

// naturalOf returns the Go value a kind decodes to in an *any: nil, int64
// (uint64 above MaxInt64, or with pyInts package pickle's *big.Int, as a
// Python int beyond int64 decodes), string, []byte, float64 or bool. Values
// written by other programs come back as []byte.
func naturalOf(k driver.Kind, p []byte, pyInts bool) (any, bool) {
	switch k {
	case driver.KindNil:
		return nil, true
	case driver.KindInt:
		if n, err := strconv.ParseInt(string(p), 10, 64); err == nil {
			return n, true
		}
		if pyInts {
			// Skip uint64: with the pickle serializer an integer reads the
			// same whether Redis or memcached kept it as text or another
			// backend pickled it.
		} else if n, err := strconv.ParseUint(string(p), 10, 64); err == nil {
			return n, true
		}
		if n, ok := new(big.Int).SetString(string(p), 10); ok {
			return n, true // a Python int beyond 64 bits, from Django
		}
		return string(p), true
	case driver.KindText:
		return string(p), true
	case driver.KindBytes, driver.KindForeign:
		return append(make([]byte, 0, len(p)), p...), true
	case driver.KindFloat:
		return floatOf(k, p, 64)
	case driver.KindBool:
		return boolOf(k, p)
	}
	return nil, false
}
