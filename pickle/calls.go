package pickle

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// call evaluates an allowed class or function on its arguments, in Go: it
// builds the value the Python call would return, without running anything.
// newobj is true for NEWOBJ (cls.__new__(cls, *args)).
func (d *decoder) call(f any, args []any, newobj bool) (any, error) {
	c, ok := f.(*classVal)
	if !ok {
		return nil, d.errorf("%s: cannot call a Python %s", opName(d.op), pyType(f))
	}
	bad := func() (any, error) {
		parts := make([]string, 0, min(len(args), 9))
		for i, a := range args {
			if i == 8 { // keep the message short
				parts = append(parts, fmt.Sprintf("... %d in all", len(args)))
				break
			}
			parts = append(parts, pyType(a))
		}
		return nil, d.errorf("unsupported arguments for %s.%s: (%s)", c.module, c.name, strings.Join(parts, ", "))
	}
	switch c.kind {
	case clsDatetime:
		return d.newDatetime(args, bad)
	case clsDate:
		return d.newDate(args, bad)
	case clsTime:
		return d.newTimeOfDay(args, bad)
	case clsTimedelta:
		return d.newTimedelta(args, bad)
	case clsTimezone:
		return d.newTimezone(args, bad)
	case clsDecimal:
		if len(args) == 0 {
			return Decimal("0"), nil
		}
		if len(args) != 1 {
			return bad()
		}
		switch x := args[0].(type) {
		case string:
			s := strings.TrimSpace(x)
			if strings.Contains(s, "_") {
				if err := d.spend(len(s)); err != nil {
					return nil, err
				}
				s = strings.ReplaceAll(s, "_", "")
			}
			if !validDecimal(s) {
				return nil, d.errorf("invalid decimal.Decimal %q", printable(x))
			}
			return Decimal(s), nil
		case int64:
			return Decimal(fmt.Sprint(x)), nil
		case *big.Int:
			// Writing a huge int in decimal costs more than linear time:
			// Python's limit on int-to-str conversion bounds it.
			if x.BitLen() <= 4*maxIntDigits {
				if err := d.spend(x.BitLen()/3 + 2); err != nil {
					return nil, err
				}
				if s := x.String(); len(strings.TrimPrefix(s, "-")) <= maxIntDigits {
					return Decimal(s), nil
				}
			}
			return nil, d.errorf("decimal.Decimal of an int with more than %d digits is not supported", maxIntDigits)
		}
		return bad()
	case clsSet, clsFrozenSet:
		sn := &setNode{frozen: c.kind == clsFrozenSet}
		if len(args) == 0 || newobj && c.kind == clsSet {
			return sn, nil
		}
		if len(args) != 1 {
			return bad()
		}
		var items []any
		switch x := args[0].(type) {
		case *listNode:
			items = x.items
		case *tupleNode:
			items = x.items
		case *setNode:
			items = x.items
		case *dictNode:
			items = x.keys
		default:
			return bad()
		}
		if err := d.spend(8 * len(items)); err != nil {
			return nil, err
		}
		if err := d.addItems(sn, items); err != nil {
			return nil, err
		}
		// The items are now reached from both containers.
		for _, it := range items {
			markShared(it)
		}
		return sn, nil
	case clsBytes, clsByteArray:
		array := c.kind == clsByteArray
		if len(args) == 0 || newobj && array {
			return &bytesVal{array: array}, nil
		}
		switch x := args[0].(type) {
		case *bytesVal:
			if len(args) == 1 {
				return &bytesVal{b: x.b, array: array}, nil
			}
		case string:
			if len(args) == 2 {
				return d.encodeStr(x, args[1], array, bad)
			}
		}
		return bad()
	case clsCodecsEncode:
		if len(args) != 2 {
			return bad()
		}
		s, ok := args[0].(string)
		if !ok {
			return bad()
		}
		return d.encodeStr(s, args[1], false, bad)
	case clsGetattr:
		if len(args) == 2 {
			obj, ok1 := args[0].(*classVal)
			name, ok2 := args[1].(string)
			if ok1 && ok2 && obj.kind == clsZoneInfo && name == "_unpickle" {
				return &classVal{module: "zoneinfo", name: "ZoneInfo._unpickle", kind: clsZoneInfoUnpickle}, nil
			}
		}
		return nil, d.errorf("builtins.getattr is allowed only as getattr(zoneinfo.ZoneInfo, '_unpickle')")
	case clsZoneInfo, clsZoneInfoUnpickle:
		if len(args) < 1 || len(args) > 2 {
			return bad()
		}
		key, ok := args[0].(string)
		if !ok {
			return bad()
		}
		loc, err := loadLocation(key)
		if err != nil {
			return nil, d.errorf("zoneinfo.ZoneInfo(%q): %v", printable(key), err)
		}
		return &zoneVal{loc: loc}, nil
	case clsPytzUTC:
		if len(args) != 0 {
			return bad()
		}
		return &zoneVal{loc: time.UTC, fixed: true}, nil
	case clsPytzP:
		return d.newPytz(args, bad)
	case clsOrderedDict:
		if len(args) != 0 && !newobj {
			return bad()
		}
		return &dictNode{}, nil
	case clsStr:
		if len(args) == 1 {
			if s, ok := args[0].(string); ok {
				return s, nil
			}
		}
		return bad()
	case clsReconstructor:
		// copyreg._reconstructor(cls, base, state): protocols 0 and 1 write
		// str subclasses (Django's SafeString) this way.
		// uuid.UUID too, as _reconstructor(uuid.UUID, object, None),
		// which is object.__new__(uuid.UUID) (its state follows: BUILD).
		if len(args) == 3 {
			cls, ok1 := args[0].(*classVal)
			base, ok2 := args[1].(*classVal)
			if ok1 && ok2 {
				if s, ok := args[2].(string); ok && cls.kind == clsSafeString && base.kind == clsStr {
					return s, nil
				}
				if args[2] == nil && cls.kind == clsUUID && base.kind == clsObject {
					return &uuidVal{}, nil
				}
			}
		}
		return nil, d.errorf("copyreg._reconstructor is allowed only for Django's SafeString and uuid.UUID")
	case clsSafeString:
		if len(args) == 0 {
			return "", nil
		}
		if s, ok := args[0].(string); ok && len(args) == 1 {
			return s, nil
		}
		return bad()
	case clsUUID:
		// CPython pickles a UUID as UUID.__new__(UUID) (NEWOBJ with no
		// arguments) and then sets its state (BUILD): see buildUUID.
		if newobj && len(args) == 0 {
			return &uuidVal{}, nil
		}
		return nil, d.errorf("uuid.UUID is allowed only as CPython pickles it: NEWOBJ with no arguments, then BUILD with its state")
	case clsSafeUUID:
		if d.op == opReduce && len(args) == 1 && validIsSafe(args[0]) {
			return &safeUUIDVal{}, nil
		}
		return nil, d.errorf("uuid.SafeUUID is allowed only as REDUCE of uuid.SafeUUID with (0,), (-1,) or (None,)")
	case clsObject:
		return nil, d.errorf("builtins.object is allowed only as the base class argument of copyreg._reconstructor")
	}
	return bad()
}

// validIsSafe reports a value that uuid.SafeUUID(v) accepts: a member, or
// the value of one (SafeUUID.safe is 0, unsafe -1, unknown None). CPython
// pickles a UUID's is_safe as the value; bools, which Python would take
// for 0 and 1, are refused.
func validIsSafe(v any) bool {
	switch x := v.(type) {
	case nil, *safeUUIDVal:
		return true
	case int64:
		return x == 0 || x == -1
	}
	return false
}

// buildUUID applies BUILD to a uuid.UUID, as UUID.__setstate__ does: the
// state is a dict {'int': n} with 0 <= n < 2**128, plus 'is_safe' (see
// validIsSafe) when the UUID's is_safe is known. Anything else is an error.
func (d *decoder) buildUUID(u *uuidVal, state any) error {
	if u.set {
		return d.errorf("BUILD on a uuid.UUID whose state is already set")
	}
	dn, ok := state.(*dictNode)
	if !ok {
		return d.errorf("uuid.UUID state must be a dict, not %s", pyType(state))
	}
	var n any
	hasInt := false
	for i, k := range dn.keys { // a repeated key: the last one counts, as in Python
		name, _ := k.(string)
		switch v := dn.vals[i]; name {
		case "int":
			n, hasInt = v, true
		case "is_safe":
			if !validIsSafe(v) {
				return d.errorf("uuid.UUID state: is_safe must be a uuid.SafeUUID or 0, -1 or None, not %s", pyType(v))
			}
		default:
			return d.errorf("uuid.UUID state with key %s: only 'int' and 'is_safe' are allowed", keyRepr(k))
		}
	}
	if !hasInt {
		return d.errorf("uuid.UUID state without 'int'")
	}
	switch x := n.(type) {
	case int64:
		if x < 0 {
			return d.errorf("uuid.UUID int %d is out of range [0, 2**128)", x)
		}
		binary.BigEndian.PutUint64(u.v[8:], uint64(x))
	case *big.Int:
		if x.Sign() < 0 || x.BitLen() > 128 {
			return d.errorf("uuid.UUID int %s is out of range [0, 2**128)", intRepr(x))
		}
		x.FillBytes(u.v[:])
	default:
		return d.errorf("uuid.UUID state: 'int' must be an int, not %s", pyType(n))
	}
	u.set = true
	return nil
}

// encodeStr implements str.encode for Latin-1 (protocol 2 pickles bytes as
// _codecs.encode(str, 'latin1')) and UTF-8.
func (d *decoder) encodeStr(s string, enc any, array bool, bad func() (any, error)) (any, error) {
	name, ok := enc.(string)
	if !ok {
		return bad()
	}
	if err := d.spend(len(s)); err != nil {
		return nil, err
	}
	switch strings.ReplaceAll(strings.ReplaceAll(strings.ToLower(name), "-", ""), "_", "") {
	case "latin1", "iso88591", "l1":
		out := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff || r == utf8.RuneError {
				return nil, d.errorf("'latin-1' codec can't encode %q", printable(s))
			}
			out = append(out, byte(r))
		}
		return &bytesVal{b: out, array: array}, nil
	case "utf8":
		if !utf8.ValidString(s) {
			return nil, d.errorf("'utf-8' codec can't encode surrogates")
		}
		return &bytesVal{b: []byte(s), array: array}, nil
	}
	return nil, d.errorf("unsupported encoding %q", printable(name))
}

// stateBytes returns the n-byte state of a date or time pickle (bytes, or a
// Latin-1 str from Python 2).
func stateBytes(v any, n int) ([]byte, bool) {
	switch x := v.(type) {
	case *bytesVal:
		if len(x.b) == n && !x.array {
			return x.b, true
		}
	case string:
		if len(x) > 2*n {
			return nil, false
		}
		b := make([]byte, 0, n)
		for _, r := range x {
			if r > 0xff || r == utf8.RuneError {
				return nil, false
			}
			b = append(b, byte(r))
		}
		if len(b) == n {
			return b, true
		}
	}
	return nil, false
}

// intArgs returns args as ints, between min and max of them, and an
// optional last non-int argument (a tzinfo), allowed only after max ints.
func intArgs(args []any, min, max int) ([]int, any, bool) {
	n := len(args)
	var rest any
	if n > 0 {
		if _, isInt := args[n-1].(int64); !isInt {
			rest = args[n-1]
			n--
			if n != max {
				return nil, nil, false
			}
		}
	}
	if n < min || n > max {
		return nil, nil, false
	}
	out := make([]int, n)
	for i := 0; i < n; i++ {
		x, ok := args[i].(int64)
		if !ok || x < -1<<31 || x > 1<<31 {
			return nil, nil, false
		}
		out[i] = int(x)
	}
	return out, rest, true
}

func tzArg(v any) (*zoneVal, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case *zoneVal:
		return x, true
	}
	return nil, false
}

func (d *decoder) newDatetime(args []any, bad func() (any, error)) (any, error) {
	var f [7]int
	var tz *zoneVal
	fold := 0
	if st, ok := firstState(args, 10); ok {
		m := st[2] & 0x7f
		fold = int(st[2] >> 7)
		f = [7]int{int(st[0])<<8 | int(st[1]), int(m), int(st[3]), int(st[4]), int(st[5]), int(st[6]), int(st[7])<<16 | int(st[8])<<8 | int(st[9])}
		if len(args) == 2 {
			if tz, ok = tzArg(args[1]); !ok {
				return bad()
			}
		}
	} else {
		ints, rest, ok := intArgs(args, 3, 7)
		if !ok {
			return bad()
		}
		copy(f[:], ints)
		if tz, ok = tzArg(rest); !ok {
			return bad()
		}
	}
	dt := Date{f[0], time.Month(f[1]), f[2]}
	tod := Time{Hour: f[3], Minute: f[4], Second: f[5], Microsecond: f[6]}
	if !dt.valid() || !tod.valid() {
		return nil, d.errorf("invalid datetime.datetime(%d, %d, %d, %d, %d, %d, %d)", f[0], f[1], f[2], f[3], f[4], f[5], f[6])
	}
	ns := f[6] * 1000
	switch {
	case tz == nil:
		return resolveWall(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], ns, time.Local, fold), nil
	case tz.fixed:
		t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], ns, tz.loc)
		if tz.target != nil {
			t = t.In(tz.target)
		}
		return t, nil
	default:
		return resolveWall(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], ns, tz.loc, fold), nil
	}
}

// firstState reports whether args is (state,) or (state, tzinfo) with an
// n-byte state whose month (or hour) byte is sane, as CPython checks.
func firstState(args []any, n int) ([]byte, bool) {
	if len(args) < 1 || len(args) > 2 {
		return nil, false
	}
	st, ok := stateBytes(args[0], n)
	if !ok {
		return nil, false
	}
	switch n {
	case 10, 4:
		m := st[2] & 0x7f
		return st, m >= 1 && m <= 12
	case 6:
		return st, st[0]&0x7f < 24
	}
	return nil, false
}

func (d *decoder) newDate(args []any, bad func() (any, error)) (any, error) {
	var dt Date
	if st, ok := firstState(args, 4); ok && len(args) == 1 {
		dt = Date{int(st[0])<<8 | int(st[1]), time.Month(st[2]), int(st[3])}
	} else {
		ints, rest, ok := intArgs(args, 3, 3)
		if !ok || rest != nil {
			return bad()
		}
		dt = Date{ints[0], time.Month(ints[1]), ints[2]}
	}
	if !dt.valid() {
		return nil, d.errorf("invalid datetime.date(%d, %d, %d)", dt.Year, int(dt.Month), dt.Day)
	}
	return dt, nil
}

func (d *decoder) newTimeOfDay(args []any, bad func() (any, error)) (any, error) {
	var t Time
	var tz *zoneVal
	if st, ok := firstState(args, 6); ok {
		t = Time{Hour: int(st[0] & 0x7f), Minute: int(st[1]), Second: int(st[2]), Microsecond: int(st[3])<<16 | int(st[4])<<8 | int(st[5])}
		if len(args) == 2 {
			if tz, ok = tzArg(args[1]); !ok {
				return bad()
			}
		}
	} else {
		ints, rest, ok := intArgs(args, 0, 4)
		if !ok {
			return bad()
		}
		var f [4]int
		copy(f[:], ints)
		t = Time{Hour: f[0], Minute: f[1], Second: f[2], Microsecond: f[3]}
		if tz, ok = tzArg(rest); !ok {
			return bad()
		}
	}
	if !t.valid() {
		return nil, d.errorf("invalid datetime.time(%d, %d, %d, %d)", t.Hour, t.Minute, t.Second, t.Microsecond)
	}
	if tz != nil {
		t.Location = tz.location()
	}
	return t, nil
}

var (
	bigMicro  = big.NewInt(1000)
	bigSecond = big.NewInt(1000000000)
	bigDay    = big.NewInt(86400 * 1000000000)
)

func (d *decoder) newTimedelta(args []any, bad func() (any, error)) (any, error) {
	if len(args) > 3 {
		return bad()
	}
	total := new(big.Int)
	units := []*big.Int{bigDay, bigSecond, bigMicro}
	for i, a := range args {
		var x *big.Int
		switch v := a.(type) {
		case int64:
			x = big.NewInt(v)
		case *big.Int:
			if v.BitLen() > 128 {
				// Out of range whatever the other arguments; copying
				// a huge int for each call would cost more than the
				// input.
				return nil, d.errorf("datetime.timedelta out of range for a Go time.Duration (about ±292 years)")
			}
			x = new(big.Int).Set(v)
		default:
			return bad()
		}
		total.Add(total, x.Mul(x, units[i]))
	}
	if !total.IsInt64() {
		return nil, d.errorf("datetime.timedelta out of range for a Go time.Duration (about ±292 years)")
	}
	return time.Duration(total.Int64()), nil
}

func (d *decoder) newTimezone(args []any, bad func() (any, error)) (any, error) {
	if len(args) < 1 || len(args) > 2 {
		return bad()
	}
	off, ok := args[0].(time.Duration)
	if !ok {
		return bad()
	}
	if off <= -24*time.Hour || off >= 24*time.Hour {
		return nil, d.errorf("datetime.timezone offset %v is not strictly between -24h and 24h", off)
	}
	if off%time.Second != 0 {
		return nil, d.errorf("datetime.timezone offset %v has a fraction of a second, which Go locations cannot hold", off)
	}
	name := ""
	if len(args) == 2 {
		if name, ok = args[1].(string); !ok {
			return bad()
		}
	}
	if off == 0 && len(args) == 1 {
		return &zoneVal{loc: time.UTC, fixed: true}, nil
	}
	return &zoneVal{loc: time.FixedZone(name, int(off/time.Second)), fixed: true}, nil
}

// newPytz handles pytz._p(zone[, utcoffset, dstoffset, tzname]), the
// reducer of pytz time zones (Django 3.2's timezone.utc is pytz.utc, which
// pickles as pytz._UTC()). The datetime's wall clock is in the fixed
// offset; the value is then converted to the named zone when Go knows it.
func (d *decoder) newPytz(args []any, bad func() (any, error)) (any, error) {
	if len(args) != 1 && len(args) != 4 {
		return bad()
	}
	zone, ok := args[0].(string)
	if !ok {
		return bad()
	}
	target, lerr := loadLocation(zone)
	if len(args) == 1 {
		if lerr != nil {
			return nil, d.errorf("pytz zone %q: %v", printable(zone), lerr)
		}
		return &zoneVal{loc: target}, nil
	}
	off, ok1 := args[1].(int64)
	name, ok2 := args[3].(string)
	if !ok1 || !ok2 || off <= -86400 || off >= 86400 {
		return bad()
	}
	z := &zoneVal{loc: time.FixedZone(name, int(off)), fixed: true}
	if lerr == nil {
		z.target = target
	}
	return z, nil
}

// loadLocation loads an IANA time zone by name, refusing names that are
// not plain zone names.
func loadLocation(key string) (*time.Location, error) {
	if key == "" || len(key) > 64 {
		return nil, fmt.Errorf("invalid time zone key")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '-' || c == '+') {
			return nil, fmt.Errorf("invalid time zone key")
		}
	}
	if key == "UTC" {
		return time.UTC, nil
	}
	if loc, ok := locCache.Load(key); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(key)
	if err != nil {
		return nil, err
	}
	locCache.Store(key, loc)
	return loc, nil
}

// locCache holds the time zones loaded so far (only valid IANA names get
// in, so it stays small); time.LoadLocation reads a file on every call.
var locCache sync.Map
