package pickle

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"time"
)

// --- encoding -----------------------------------------------------------------

// saveGlobal writes a reference to module.name as CPython does for a class:
// the class is memoized; so is the module name, which CPython interns, so
// it is the same object as an equal str constant or another class's module
// name. The name of a class defined in C (datetime.date, decimal.Decimal)
// is a fresh str each time; that of a class defined in Python (uuid.UUID)
// is interned: internedName.
func (e *encoder) saveGlobal(module, name string, internedName bool) {
	e.boundary()
	key := module + "." + name
	if idx, ok := e.globals[key]; ok {
		e.get(idx)
		return
	}
	e.boundary()
	e.saveInterned(module)
	e.boundary()
	if internedName {
		e.saveInterned(name)
	} else {
		_ = e.saveStr(name, false)
	}
	e.op(opStackGlobal)
	if e.globals == nil {
		e.globals = make(map[string]int)
	}
	e.globals[key] = e.memoize()
}

// saveInterned writes a str that CPython interns (a module or class name,
// valid UTF-8): one memo entry shared with equal str constants, whatever
// the depth (saveStr leaves out the top level).
func (e *encoder) saveInterned(s string) {
	if idx, ok := e.strs[s]; ok {
		e.get(idx)
		return
	}
	_ = e.saveStr(s, false)
	if e.strs == nil {
		e.strs = make(map[string]int)
	}
	e.strs[s] = e.memoLen - 1
}

// saveState writes the fresh bytes state of a date or time object.
func (e *encoder) saveState(state []byte) {
	e.boundary()
	e.saveBytes(state, false)
}

// reduce writes TUPLEn for the arguments already saved, then REDUCE,
// memoizing both as CPython's save_reduce does.
func (e *encoder) reduce(nargs int) {
	e.op(opTuple1 + byte(nargs-1))
	e.memoize()
	e.op(opReduce)
	e.memoize()
}

type zoneSpec struct {
	aware bool
	off   int    // seconds east of UTC
	name  string // "" for an unnamed datetime.timezone
}

// zoneOf returns the Python tzinfo for a Go location at instant t: none for
// time.Local (naive), timezone.utc for UTC, else a fixed-offset timezone
// named after the zone abbreviation.
func zoneOf(t time.Time) zoneSpec {
	if t.Location() == time.Local {
		return zoneSpec{}
	}
	return zoneAt(t)
}

// zoneAt is zoneOf without the naive case.
func zoneAt(t time.Time) zoneSpec {
	loc := t.Location()
	name, off := t.Zone()
	if off == 0 && (loc == time.UTC || name == "UTC" || name == "") {
		return zoneSpec{aware: true}
	}
	return zoneSpec{aware: true, off: off, name: name}
}

func (e *encoder) saveZone(z zoneSpec) error {
	e.boundary()
	key := zoneKey{z.off, z.name}
	if idx, ok := e.zones[key]; ok {
		e.get(idx)
		return nil
	}
	if z.off <= -86400 || z.off >= 86400 {
		return &UnsupportedTypeError{Type: locationType, Reason: fmt.Sprintf("UTC offset %ds is not strictly between -24h and 24h", z.off)}
	}
	e.saveGlobal("datetime", "timezone", false)
	e.boundary()
	e.saveTimedelta(time.Duration(z.off) * time.Second)
	nargs := 1
	if z.name != "" {
		e.boundary()
		if err := e.saveStr(z.name, true); err != nil {
			return err
		}
		nargs = 2
	}
	e.op(opTuple1 + byte(nargs-1))
	e.memoize()
	e.op(opReduce)
	idx := e.memoize()
	if e.zones == nil {
		e.zones = make(map[zoneKey]int)
	}
	e.zones[key] = idx
	return nil
}

func (e *encoder) saveDatetime(t time.Time) error {
	z := zoneOf(t)
	y, mo, d := t.Date()
	if y < 1 || y > 9999 {
		return &UnsupportedTypeError{Type: timeType, Reason: fmt.Sprintf("year %d is outside Python's 1..9999", y)}
	}
	h, mi, s := t.Clock()
	us := t.Nanosecond() / 1000
	m := byte(mo)
	if !z.aware && foldOf(t) == 1 {
		m |= 0x80
	}
	e.saveGlobal("datetime", "datetime", false)
	e.saveState([]byte{byte(y >> 8), byte(y), m, byte(d), byte(h), byte(mi), byte(s), byte(us >> 16), byte(us >> 8), byte(us)})
	nargs := 1
	if z.aware {
		if err := e.saveZone(z); err != nil {
			return err
		}
		nargs = 2
	}
	e.reduce(nargs)
	return nil
}

func (e *encoder) saveDate(d Date) error {
	if !d.valid() {
		return &UnsupportedTypeError{Type: dateType, Reason: fmt.Sprintf("invalid date %04d-%02d-%02d", d.Year, int(d.Month), d.Day)}
	}
	e.saveGlobal("datetime", "date", false)
	e.saveState([]byte{byte(d.Year >> 8), byte(d.Year), byte(d.Month), byte(d.Day)})
	e.reduce(1)
	return nil
}

func (e *encoder) saveTimeOfDay(t Time) error {
	if !t.valid() {
		return &UnsupportedTypeError{Type: timeOfDayType, Reason: fmt.Sprintf("invalid time of day %02d:%02d:%02d.%06d", t.Hour, t.Minute, t.Second, t.Microsecond)}
	}
	us := t.Microsecond
	e.saveGlobal("datetime", "time", false)
	e.saveState([]byte{byte(t.Hour), byte(t.Minute), byte(t.Second), byte(us >> 16), byte(us >> 8), byte(us)})
	if t.Location == nil {
		e.reduce(1)
		return nil
	}
	if err := e.saveZone(zoneAt(time.Date(2000, 1, 1, t.Hour, t.Minute, t.Second, 0, t.Location))); err != nil {
		return err
	}
	e.reduce(2)
	return nil
}

// saveTimedelta writes timedelta(days, seconds, microseconds), normalized as
// Python does (0 <= seconds < 86400, 0 <= microseconds < 10**6), with d
// truncated to the microsecond.
func (e *encoder) saveTimedelta(d time.Duration) {
	const usPerDay = 86400 * 1000000
	us := int64(d / time.Microsecond)
	days := us / usPerDay
	rem := us % usPerDay
	if rem < 0 {
		rem += usPerDay
		days--
	}
	e.saveGlobal("datetime", "timedelta", false)
	e.boundary()
	e.saveInt(days)
	e.boundary()
	e.saveInt(rem / 1000000)
	e.boundary()
	e.saveInt(rem % 1000000)
	e.reduce(3)
}

func (e *encoder) saveDecimal(d Decimal) error {
	if !validDecimal(string(d)) {
		return &UnsupportedTypeError{Type: decimalType, Reason: fmt.Sprintf("%q is not a decimal number", truncate(string(d)))}
	}
	e.saveGlobal("decimal", "Decimal", false)
	e.boundary()
	if err := e.saveStr(string(d), false); err != nil {
		return err
	}
	e.reduce(1)
	return nil
}

// saveUUID writes a uuid.UUID as CPython does (object.__reduce_ex__,
// protocol 2 and up): UUID.__new__(UUID) by NEWOBJ, then BUILD with the
// state UUID.__getstate__ returns, {'int': n}, without 'is_safe' since a
// Go UUID's is_safe is SafeUUID.unknown. Each UUID is a fresh object, as
// UUIDs read from a database are; the key 'int' is an interned constant.
func (e *encoder) saveUUID(u UUID) {
	e.saveGlobal("uuid", "UUID", true)
	e.boundary()
	e.op(opEmptyTuple)
	e.op(opNewObj)
	e.memoize()
	e.boundary()
	e.op(opEmptyDict)
	e.memoize()
	e.boundary()
	e.saveInterned("int")
	e.boundary()
	if hi := binary.BigEndian.Uint64(u[:8]); hi == 0 {
		e.saveUint(binary.BigEndian.Uint64(u[8:]))
	} else {
		e.saveBig(new(big.Int).SetBytes(u[:]))
	}
	e.op(opSetItem)
	e.op(opBuild)
}

// --- wall clocks and folds -------------------------------------------------------

// resolveWall returns the instant at which the wall clock of loc shows the
// given fields. When the wall time occurs twice (a daylight-saving fall
// back), fold 0 picks the first occurrence and fold 1 the second, as
// Python's fold attribute does. When it does not occur (a gap), time.Date's
// normalization applies.
func resolveWall(y int, mo time.Month, d, h, mi, s, ns int, loc *time.Location, fold int) time.Time {
	t := time.Date(y, mo, d, h, mi, s, ns, loc)
	if loc == time.UTC {
		return t
	}
	wall := time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	var offs [3]int
	n := 0
	for _, probe := range []time.Time{t.Add(-36 * time.Hour), t, t.Add(36 * time.Hour)} {
		_, off := probe.Zone()
		dup := false
		for _, o := range offs[:n] {
			dup = dup || o == off
		}
		if !dup {
			offs[n] = off
			n++
		}
	}
	if n == 1 {
		return t
	}
	var best time.Time
	found := false
	for _, off := range offs[:n] {
		u := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if !sameWall(u, wall) {
			continue
		}
		if !found || (fold == 0 && u.Before(best)) || (fold == 1 && u.After(best)) {
			best, found = u, true
		}
	}
	if !found {
		return t
	}
	return best
}

func sameWall(u, wall time.Time) bool {
	y1, m1, d1 := u.Date()
	y2, m2, d2 := wall.Date()
	h1, i1, s1 := u.Clock()
	h2, i2, s2 := wall.Clock()
	return y1 == y2 && m1 == m2 && d1 == d2 && h1 == h2 && i1 == i2 && s1 == s2 && u.Nanosecond() == wall.Nanosecond()
}

// foldOf returns 1 when t is the second occurrence of its wall clock time in
// its location, else 0.
func foldOf(t time.Time) int {
	loc := t.Location()
	if loc == time.UTC {
		return 0
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	if first := resolveWall(y, mo, d, h, mi, s, t.Nanosecond(), loc, 0); first.Equal(t) {
		return 0
	}
	return 1
}
