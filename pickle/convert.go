package pickle

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// maxKeyTuple is the longest tuple decoded as an array key of a Go
// map[any]any or Set (each length is a distinct Go array type), and
// maxKeyNodes bounds the values in one such key, nested tuples included:
// Go hashes and compares arrays element by element, so a key made of
// tuples sharing sub-tuples (a DAG) would otherwise cost exponential time.
const (
	maxKeyTuple = 32
	maxKeyNodes = 1024
)

var (
	errTooDeepData = errors.New("pickle: data nested deeper than 1000 levels")
	errCycle       = errors.New("pickle: recursive data (a container that contains itself) cannot be decoded into Go values")
)

// converter turns the decoder's graph into Go values. A container reached
// more than once (through the memo) is converted once per destination type
// and shared, so memo references cannot blow up the output; what is copied
// each time it is reached (a str into a []byte, an int into a big.Int) is
// charged to copies.
type converter struct {
	copies copyBudget
	path   []string // segments of a type error's path, innermost first
	work   int      // values visited (see unmarshal)
}

// spend charges n copied bytes to the budget.
func (c *converter) spend(n int) error {
	if !c.copies.spend(n) {
		return errCopyLimit
	}
	return nil
}

// enterNode runs fill for a container node, reusing the result for nodes
// reached more than once and detecting cycles.
func enterNode[T any](n node, fill func() (T, error)) (T, error) {
	cc := n.cache()
	var zero T
	if !cc.shared {
		return fill()
	}
	if cc.done != nil && cc.done.natDone {
		return cc.done.nat.(T), nil
	}
	if cc.busy {
		return zero, errCycle
	}
	cc.busy = true
	v, err := fill()
	cc.busy = false
	if err != nil {
		return zero, err
	}
	cc.kept().nat, cc.kept().natDone = v, true
	return v, nil
}

// natural returns the Go value of the package documentation's table for v.
func (c *converter) natural(v any, depth int) (any, error) {
	c.work++
	if depth > maxDepth {
		return nil, errTooDeepData
	}
	switch x := v.(type) {
	case *bytesVal:
		return c.bytes(x)
	case *zoneVal:
		return x.location(), nil
	case *classVal:
		return nil, fmt.Errorf("pickle: a Python class (%s.%s) is not a value Unmarshal can return", x.module, x.name)
	case *uuidVal, *safeUUIDVal:
		u, err := uuidOf(v)
		if err != nil {
			return nil, err
		}
		// Boxing a UUID allocates: once per object, not per reference.
		if x, ok := v.(*uuidVal); ok {
			if x.boxed == nil {
				x.boxed = u
			}
			return x.boxed, nil
		}
		return u, nil
	case *listNode:
		return enterNode(x, func() (any, error) {
			out := make([]any, len(x.items))
			for i, it := range x.items {
				var err error
				if out[i], err = c.natural(it, depth+1); err != nil {
					return nil, err
				}
			}
			return out, nil
		})
	case *tupleNode:
		return enterNode(x, func() (any, error) {
			out := make(Tuple, len(x.items))
			for i, it := range x.items {
				var err error
				if out[i], err = c.natural(it, depth+1); err != nil {
					return nil, err
				}
			}
			return out, nil
		})
	case *dictNode:
		return enterNode(x, func() (any, error) { return c.naturalDict(x, depth) })
	case *setNode:
		return enterNode(x, func() (any, error) {
			var m map[any]struct{}
			if x.frozen {
				m = make(FrozenSet, len(x.items))
			} else {
				m = make(Set, len(x.items))
			}
			for _, it := range x.items {
				k, err := c.naturalKey(it, depth+1, nil)
				if err != nil {
					return nil, err
				}
				m[k] = struct{}{}
			}
			if x.frozen {
				return FrozenSet(m), nil
			}
			return Set(m), nil
		})
	}
	return v, nil // nil, bool, int64, *big.Int, float64, string, time.Time, Date, Time, time.Duration, Decimal
}

var (
	errUUIDNoState = errors.New("pickle: a uuid.UUID without its state (no BUILD)")
	errSafeUUID    = errors.New("pickle: uuid.SafeUUID is allowed only as the is_safe of a uuid.UUID's state")
)

// uuidOf returns the UUID of a uuid.UUID object (a *uuidVal), or an
// error for one that BUILD has not set and for a uuid.SafeUUID (a
// *safeUUIDVal) found elsewhere than in a UUID's state.
func uuidOf(v any) (UUID, error) {
	switch x := v.(type) {
	case *uuidVal:
		if !x.set {
			return UUID{}, errUUIDNoState
		}
		return x.v, nil
	case *safeUUIDVal:
		return UUID{}, errSafeUUID
	}
	return UUID{}, fmt.Errorf("pickle: internal error: uuidOf(%T)", v)
}

// uuidInto decodes a uuid.UUID into rv: a UUID or another [16]byte, a
// []byte (the 16 bytes), a string (the canonical form), an interface the
// UUID satisfies, or a pointer to one of these.
func (c *converter) uuidInto(v any, rv reflect.Value, depth int) error {
	u, err := uuidOf(v)
	if err != nil {
		return err
	}
	t := rv.Type()
	switch t.Kind() {
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if t.Len() != len(u) {
				return c.typeErr(v, t, fmt.Sprintf("length %d", len(u)))
			}
			copy(rv.Bytes(), u[:]) // fine with a named byte type
			return nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if err := c.spend(len(u)); err != nil {
				return err
			}
			rv.SetBytes(append([]byte(nil), u[:]...))
			return nil
		}
	case reflect.String:
		if t == decimalType {
			break
		}
		if err := c.spend(36); err != nil {
			return err
		}
		rv.SetString(u.String())
		return nil
	case reflect.Interface:
		nv := reflect.ValueOf(u)
		if !nv.Type().AssignableTo(t) {
			return c.typeErr(v, t, "")
		}
		rv.Set(nv)
		return nil
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := c.into(v, p.Elem(), depth+1); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	}
	return c.typeErr(v, t, "")
}

func cloneBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// bytes returns the Go copy of a bytes or bytearray object, made once:
// references to the object through the memo share it, as they share
// containers.
func (c *converter) bytes(x *bytesVal) ([]byte, error) {
	if x.out == nil {
		if err := c.spend(len(x.b)); err != nil {
			return nil, err
		}
		x.out = cloneBytes(x.b)
	}
	return x.out, nil
}

// naturalDict returns a map[string]any when every key is a str (an empty
// dict included), else a map[any]any.
func (c *converter) naturalDict(x *dictNode, depth int) (any, error) {
	allStr := true
	for _, k := range x.keys {
		if _, ok := k.(string); !ok {
			allStr = false
			break
		}
	}
	if allStr {
		m := make(map[string]any, len(x.keys))
		for i, k := range x.keys {
			v, err := c.natural(x.vals[i], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.(string)] = v
		}
		return m, nil
	}
	m := make(map[any]any, len(x.keys))
	for i, k := range x.keys {
		nk, err := c.naturalKey(k, depth+1, nil)
		if err != nil {
			return nil, err
		}
		v, err := c.natural(x.vals[i], depth+1)
		if err != nil {
			return nil, err
		}
		m[nk] = v
	}
	return m, nil
}

// keyBudget tracks one dict key or set element in naturalKey: the values
// it may still hold, and the deepest level it reaches.
type keyBudget struct {
	left, deepest int
}

var errKeyTooLarge = fmt.Errorf("pickle: a dict key or set element holding more than %d values cannot be a key of a Go map[any]any; decode into a typed map", maxKeyNodes)

// naturalKey returns a comparable Go value for a dict key or set element:
// tuples become arrays ([n]any). kb is nil at the top. A tuple's array is
// made once and reused if the tuple is shared (with its size and height
// counted again), so memo references to it cost no more allocations.
func (c *converter) naturalKey(v any, depth int, kb *keyBudget) (any, error) {
	c.work++
	if depth > maxDepth {
		return nil, errTooDeepData
	}
	if kb == nil {
		kb = &keyBudget{left: maxKeyNodes}
	}
	kb.deepest = max(kb.deepest, depth)
	switch x := v.(type) {
	case *tupleNode:
		if k := x.done; k != nil && k.key != nil {
			if depth+k.keyHeight > maxDepth {
				return nil, errTooDeepData
			}
			if kb.left -= k.keyNodes; kb.left < 0 {
				return nil, errKeyTooLarge
			}
			kb.deepest = max(kb.deepest, depth+k.keyHeight)
			return k.key, nil
		}
		if kb.left--; kb.left < 0 {
			return nil, errKeyTooLarge
		}
		if len(x.items) > maxKeyTuple {
			return nil, fmt.Errorf("pickle: a tuple of %d items as a dict key or set element (more than %d) cannot be a key of a Go map[any]any; decode into a typed map", len(x.items), maxKeyTuple)
		}
		left, outer := kb.left, kb.deepest
		kb.deepest = depth
		arr := reflect.New(reflect.ArrayOf(len(x.items), anyType)).Elem()
		for i, it := range x.items {
			k, err := c.naturalKey(it, depth+1, kb)
			if err != nil {
				return nil, err
			}
			if k != nil {
				arr.Index(i).Set(reflect.ValueOf(k))
			}
		}
		key, height := arr.Interface(), kb.deepest-depth
		kb.deepest = max(kb.deepest, outer)
		if x.shared {
			k := x.kept()
			k.key, k.keyNodes, k.keyHeight = key, 1+left-kb.left, height
		}
		return key, nil
	case *bytesVal, *setNode, *listNode, *dictNode:
		return nil, fmt.Errorf("pickle: a Python %s as a dict key or set element cannot be a key of a Go map[any]any or Set; decode into a typed map (for example map[string]T)", pyType(v))
	}
	if kb.left--; kb.left < 0 {
		return nil, errKeyTooLarge
	}
	return c.natural(v, depth)
}

func (c *converter) typeErr(v any, t reflect.Type, detail string) error {
	return &UnmarshalTypeError{Python: pyType(v), Go: t, Detail: detail}
}

// withPath notes seg as the next enclosing segment of a type error's
// path, and finishPath writes the segments into the error once: prepending
// each to Path would cost time and memory quadratic in the depth.
func (c *converter) withPath(err error, seg string) error {
	var te *UnmarshalTypeError
	if errors.As(err, &te) {
		c.path = append(c.path, seg)
	}
	return err
}

func (c *converter) finishPath(err error) error {
	var te *UnmarshalTypeError
	if errors.As(err, &te) && len(c.path) > 0 {
		slices.Reverse(c.path)
		te.Path = strings.Join(c.path, "") + te.Path
		c.path = nil
	}
	return err
}

// intoCached runs fill for a container node that is decoded into a typed
// destination, reusing the value for nodes reached more than once.
func (c *converter) intoCached(v any, rv reflect.Value, fill func() error) error {
	n, ok := v.(node)
	if !ok || !n.cache().shared {
		return fill()
	}
	cc := n.cache()
	t := rv.Type()
	if cc.done != nil {
		for _, tc := range cc.done.typed {
			if tc.t == t {
				rv.Set(tc.v)
				return nil
			}
		}
	}
	if cc.busy {
		return errCycle
	}
	cc.busy = true
	err := fill()
	cc.busy = false
	if err != nil {
		return err
	}
	cp := reflect.New(t).Elem()
	cp.Set(rv)
	cc.kept().typed = append(cc.kept().typed, typedConv{t, cp})
	return nil
}

// into decodes v into rv, which is settable.
func (c *converter) into(v any, rv reflect.Value, depth int) error {
	c.work++
	if depth > maxDepth {
		return errTooDeepData
	}
	switch v.(type) {
	case *uuidVal, *safeUUIDVal:
		return c.uuidInto(v, rv, depth)
	}
	t := rv.Type()
	switch t {
	case locationType:
		switch x := v.(type) {
		case nil:
			rv.SetZero()
		case *zoneVal:
			rv.Set(reflect.ValueOf(x.location()))
		default:
			return c.typeErr(v, t, "")
		}
		return nil
	case timeType, dateType, timeOfDayType, durationType, decimalType:
		if v == nil || reflect.TypeOf(v) != t {
			return c.typeErr(v, t, "")
		}
		rv.Set(reflect.ValueOf(v))
		return nil
	case bigIntType:
		switch x := v.(type) {
		case int64:
			rv.Addr().Interface().(*big.Int).SetInt64(x)
		case *big.Int:
			if err := c.spend(len(x.Bits()) * bits.UintSize / 8); err != nil {
				return err
			}
			rv.Addr().Interface().(*big.Int).Set(x)
		default:
			return c.typeErr(v, t, "")
		}
		return nil
	case tupleType, setType, frozenSetType:
		ok := false
		switch x := v.(type) {
		case *tupleNode, *listNode:
			ok = t == tupleType
		case *setNode:
			ok = t == setType && !x.frozen || t == frozenSetType && x.frozen
		case nil:
			rv.SetZero()
			return nil
		}
		if !ok {
			return c.typeErr(v, t, "")
		}
		nat, err := c.natural(v, depth)
		if err != nil {
			return err
		}
		nv := reflect.ValueOf(nat)
		if t == tupleType && nv.Type() != tupleType {
			nv = nv.Convert(tupleType)
		}
		rv.Set(nv)
		return nil
	}

	switch t.Kind() {
	case reflect.Interface:
		if v == nil {
			rv.SetZero()
			return nil
		}
		nat, err := c.natural(v, depth)
		if err != nil {
			return err
		}
		nv := reflect.ValueOf(nat)
		if !nv.Type().AssignableTo(t) {
			return c.typeErr(v, t, "")
		}
		rv.Set(nv)
		return nil
	case reflect.Pointer:
		if v == nil {
			rv.SetZero()
			return nil
		}
		p := reflect.New(t.Elem())
		if err := c.into(v, p.Elem(), depth+1); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return c.typeErr(v, t, "")
		}
		rv.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch x := v.(type) {
		case int64:
			if rv.OverflowInt(x) {
				return c.typeErr(v, t, strconv.FormatInt(x, 10)+" overflows it")
			}
			rv.SetInt(x)
			return nil
		case *big.Int:
			return c.typeErr(v, t, intRepr(x)+" overflows it")
		}
		return c.typeErr(v, t, "")
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch x := v.(type) {
		case int64:
			if x < 0 || rv.OverflowUint(uint64(x)) {
				return c.typeErr(v, t, strconv.FormatInt(x, 10)+" overflows it")
			}
			rv.SetUint(uint64(x))
			return nil
		case *big.Int:
			if x.Sign() < 0 || !x.IsUint64() || rv.OverflowUint(x.Uint64()) {
				return c.typeErr(v, t, intRepr(x)+" overflows it")
			}
			rv.SetUint(x.Uint64())
			return nil
		}
		return c.typeErr(v, t, "")
	case reflect.Float32, reflect.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case *big.Int:
			// Like Python's float(int), an int too large for the float
			// kind is an error rather than infinity.
			if x.BitLen() <= 1024 {
				f, _ = new(big.Float).SetInt(x).Float64()
			}
			if x.BitLen() > 1024 || math.IsInf(f, 0) || rv.OverflowFloat(f) {
				return c.typeErr(v, t, intRepr(x)+" overflows it")
			}
		default:
			return c.typeErr(v, t, "")
		}
		if rv.OverflowFloat(f) {
			return c.typeErr(v, t, strconv.FormatFloat(f, 'g', -1, 64)+" overflows it")
		}
		rv.SetFloat(f)
		return nil
	case reflect.String:
		switch x := v.(type) {
		case string:
			rv.SetString(x)
			return nil
		case *bytesVal:
			if err := c.spend(len(x.b)); err != nil {
				return err
			}
			rv.SetString(string(x.b))
			return nil
		}
		return c.typeErr(v, t, "")
	case reflect.Slice:
		if v == nil {
			rv.SetZero()
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			switch x := v.(type) {
			case *bytesVal:
				b, err := c.bytes(x)
				if err != nil {
					return err
				}
				rv.SetBytes(b) // unlike Convert, fine with a named byte type
				return nil
			case string:
				if err := c.spend(len(x)); err != nil {
					return err
				}
				rv.SetBytes([]byte(x))
				return nil
			}
		}
		items, ok := sequence(v)
		if !ok {
			return c.typeErr(v, t, "")
		}
		return c.intoCached(v, rv, func() error {
			s := reflect.MakeSlice(t, len(items), len(items))
			for i, it := range items {
				if err := c.into(it, s.Index(i), depth+1); err != nil {
					return c.withPath(err, "["+strconv.Itoa(i)+"]")
				}
			}
			rv.Set(s)
			return nil
		})
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if x, ok := v.(*bytesVal); ok {
				if len(x.b) != t.Len() {
					return c.typeErr(v, t, fmt.Sprintf("length %d", len(x.b)))
				}
				copy(rv.Bytes(), x.b) // unlike reflect.Copy, fine with a named byte type
				return nil
			}
		}
		var items []any
		switch x := v.(type) {
		case *listNode:
			items = x.items
		case *tupleNode:
			items = x.items
		default:
			return c.typeErr(v, t, "")
		}
		if len(items) != t.Len() {
			return c.typeErr(v, t, fmt.Sprintf("length %d", len(items)))
		}
		return c.intoCached(v, rv, func() error {
			a := reflect.New(t).Elem()
			for i, it := range items {
				if err := c.into(it, a.Index(i), depth+1); err != nil {
					return c.withPath(err, "["+strconv.Itoa(i)+"]")
				}
			}
			rv.Set(a)
			return nil
		})
	case reflect.Map:
		switch x := v.(type) {
		case nil:
			rv.SetZero()
			return nil
		case *dictNode:
			return c.intoCached(v, rv, func() error { return c.intoMap(x, rv, depth) })
		case *setNode:
			vk := t.Elem().Kind()
			if vk != reflect.Bool && !(vk == reflect.Struct && t.Elem().NumField() == 0) {
				return c.typeErr(v, t, "a set decodes into map[K]struct{} or map[K]bool")
			}
			return c.intoCached(v, rv, func() error {
				m := reflect.MakeMapWithSize(t, len(x.items))
				val := reflect.New(t.Elem()).Elem()
				if vk == reflect.Bool {
					val.SetBool(true)
				}
				k := reflect.New(t.Key()).Elem()
				for _, it := range x.items {
					if err := c.mapKey(it, k, depth); err != nil {
						return c.withPath(err, "["+keyRepr(it)+"]")
					}
					m.SetMapIndex(k, val)
				}
				rv.Set(m)
				return nil
			})
		}
		return c.typeErr(v, t, "")
	case reflect.Struct:
		x, ok := v.(*dictNode)
		if !ok {
			return c.typeErr(v, t, "")
		}
		return c.intoCached(v, rv, func() error { return c.intoStruct(x, rv, depth) })
	}
	return c.typeErr(v, t, "")
}

// sequence returns the items of a list, tuple, set or frozenset.
func sequence(v any) ([]any, bool) {
	switch x := v.(type) {
	case *listNode:
		return x.items, true
	case *tupleNode:
		return x.items, true
	case *setNode:
		return x.items, true
	}
	return nil, false
}

// mapKey decodes k into kv, a map key the caller reuses for all the keys
// of a map (SetMapIndex copies it): a new one for each key would allocate
// the key type's size for each reference to the same memoized key.
func (c *converter) mapKey(k any, kv reflect.Value, depth int) error {
	kt := kv.Type()
	kv.SetZero()
	if kt.Kind() == reflect.Interface {
		nk, err := c.naturalKey(k, depth+1, nil)
		if err != nil {
			return err
		}
		if nk == nil {
			return nil
		}
		nv := reflect.ValueOf(nk)
		if !nv.Type().AssignableTo(kt) {
			return c.typeErr(k, kt, "")
		}
		kv.Set(nv)
		return nil
	}
	if err := c.into(k, kv, depth+1); err != nil {
		return err
	}
	if holdsInterface(kt) && !kv.Comparable() {
		// An array or struct key holding a slice or map (a tuple decoded
		// into [2]any, say) would make the map insertion panic.
		return c.typeErr(k, kt, "a map key that holds an uncomparable Go value")
	}
	return nil
}

// holdsInterface reports whether values of type t hold interface values
// (as elements or fields), whose dynamic types may not be comparable.
func holdsInterface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return holdsInterface(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInterface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

func (c *converter) intoMap(x *dictNode, rv reflect.Value, depth int) error {
	t := rv.Type()
	m := reflect.MakeMapWithSize(t, len(x.keys))
	kv, vv := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
	for i, k := range x.keys {
		if err := c.mapKey(k, kv, depth); err != nil {
			return c.withPath(err, "["+keyRepr(k)+"]")
		}
		vv.SetZero()
		if err := c.into(x.vals[i], vv, depth+1); err != nil {
			return c.withPath(err, "["+keyRepr(k)+"]")
		}
		m.SetMapIndex(kv, vv)
	}
	rv.Set(m)
	return nil
}

// intRepr formats an int for an error message, without the digits of a
// huge one (converting it to decimal would cost more than linear time).
func intRepr(x *big.Int) string {
	switch {
	case x.BitLen() <= 256:
		return x.String()
	case x.Sign() < 0:
		return fmt.Sprintf("a negative int of %d bits", x.BitLen())
	}
	return fmt.Sprintf("an int of %d bits", x.BitLen())
}

func keyRepr(k any) string {
	switch x := k.(type) {
	case string:
		return strconv.Quote(truncate(x))
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return pyType(k)
}

func (c *converter) intoStruct(x *dictNode, rv reflect.Value, depth int) error {
	t := rv.Type()
	si := cachedFields(t)
	s := reflect.New(t).Elem()
	for i, k := range x.keys {
		name, ok := k.(string)
		if !ok {
			continue
		}
		fi, ok := si.exact[name]
		if !ok {
			if fi, ok = si.folded[strings.ToLower(name)]; !ok {
				continue
			}
		}
		fv, ok := fieldForSet(s, si.fields[fi].index)
		if !ok {
			continue
		}
		if err := c.into(x.vals[i], fv, depth+1); err != nil {
			return c.withPath(err, "."+si.fields[fi].name)
		}
	}
	rv.Set(s)
	return nil
}

// fieldForSet returns the settable field at index, allocating embedded
// struct pointers on the way.
func fieldForSet(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, v.CanSet()
}
