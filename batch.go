package djcache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/djcache/djcache/driver"
)

// madeKeys makes and validates the keys of a many-key call. It returns the
// distinct made keys and, for each caller's key in order, its made key.
// With the default key function all made keys share one allocation.
func (c *Cache) madeKeys(ctx context.Context, op string, keys []string, version int) (distinct, made []string, err error) {
	made = make([]string, len(keys))
	if c.set.keyFunc == nil {
		head := c.head
		if version != c.set.version {
			head = DefaultKeyFunc("", c.set.prefix, version)
		}
		n := 0
		for _, k := range keys {
			n += len(head) + len(k)
		}
		buf := make([]byte, 0, n)
		for i, k := range keys {
			start := len(buf)
			buf = append(append(buf, head...), k...)
			// buf never grows past its capacity and is never written again,
			// so the strings stay valid and immutable.
			made[i] = unsafe.String(unsafe.SliceData(buf[start:]), len(buf)-start)
		}
	} else {
		for i, k := range keys {
			made[i] = c.makeKey(k, version)
		}
	}
	for _, m := range made {
		if err := c.checkKey(ctx, op, m); err != nil {
			return nil, nil, err
		}
	}
	return distinctKeys(made), made, nil
}

// distinctKeys returns a new slice of keys without repeats, in first-seen
// order (drivers may reorder it: the caller's made keys stay as they are).
// Short lists are checked without a map.
func distinctKeys(keys []string) []string {
	dup := false
	if len(keys) <= 16 {
		for i := 1; i < len(keys) && !dup; i++ {
			dup = slices.Contains(keys[:i], keys[i])
		}
		if !dup {
			return slices.Clone(keys)
		}
	}
	seen := make(map[string]struct{}, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

// getManyRaw fetches keys and returns, for each of the caller's keys in
// order, its made key, and the encoded values found by made key. The
// fallback for drivers without driver.GetManyDriver calls Get once per
// distinct key.
func (c *Cache) getManyRaw(ctx context.Context, keys []string, opts []Option, note *obsNote) (made []string, got map[string][]byte, err error) {
	if err := c.enter(ctx, "get_many"); err != nil {
		return nil, nil, err
	}
	co := c.options(opts)
	distinct, made, err := c.madeKeys(ctx, "get_many", keys, co.version)
	if err != nil || len(distinct) == 0 {
		return nil, nil, err
	}
	if got, err = c.readDriverMany(ctx, distinct); err != nil {
		return nil, nil, c.opError("get_many", "", err)
	}
	c.stats.add(statHits, uint64(len(got)))
	c.stats.add(statMisses, uint64(len(distinct)-len(got)))
	note.hits, note.misses = len(got), len(distinct)-len(got)
	return made, got, nil
}

// GetMany looks up many keys, in one round trip where the backend allows,
// and decodes the values found into *dst, a map with string keys (such as
// map[string]T, map[string]*T or map[string]any), under the caller's keys. A
// nil map is allocated; entries already in the map for other keys stay.
// Missing keys are absent; a stored nil is present with T's zero value (a
// nil pointer for a map of pointers). Duplicate keys are fetched once.
//
// If some values do not decode into T, GetMany still stores the others and
// returns an *OpError wrapping a *ManyDecodeError that names the keys left
// out, each with its *DecodeError; an entry the map held for such a key is
// left as it was. If the lookup itself fails, GetMany returns its error and
// leaves the map unchanged.
func (c *Cache) GetMany(ctx context.Context, keys []string, dst any, opts ...Option) (err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "get_many", "", now(), &note, nil, &err)
	}
	mv, err := mapDst("GetMany", dst)
	if err != nil {
		if eerr := c.enter(ctx, "get_many"); eerr != nil {
			return eerr
		}
		return c.opError("get_many", "", err)
	}
	made, got, err := c.getManyRaw(ctx, keys, opts, &note)
	if err != nil {
		return err
	}
	bad, size := c.decodeMany(mv, keys, made, got)
	note.size += size
	return bad.err(c, "get_many", len(got))
}

// decodeMany decodes into the map mv (allocated if nil) the values in got,
// by made key, of the caller's keys (made[i] is keys[i]'s made key), and
// returns the keys whose values did not decode and the bytes decoded. Keys
// not in got, and keys that fail, leave mv's entries as they were.
func (c *Cache) decodeMany(mv reflect.Value, keys, made []string, got map[string][]byte) (bad decodeFailures, size int) {
	t := mv.Type()
	if mv.IsNil() {
		mv.Set(reflect.MakeMapWithSize(t, len(got)))
	}
	for i, k := range keys {
		b, ok := got[made[i]]
		if !ok {
			continue
		}
		size += len(b)
		ev := reflect.New(t.Elem())
		if err := c.decode(b, ev.Interface()); err != nil {
			bad.add(k, err)
			continue
		}
		mv.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev.Elem())
	}
	return bad, size
}

// decodeFailures gathers the keys of a GetMany whose values did not decode.
type decodeFailures struct {
	keys []string
	errs []error
}

// add records key's decode error, once per key (a key given twice is
// decoded twice from the same bytes, and fails twice).
func (f *decodeFailures) add(key string, err error) {
	if !slices.Contains(f.keys, key) {
		f.keys = append(f.keys, key)
		f.errs = append(f.errs, err)
	}
}

// err returns nil, or the *ManyDecodeError of the failures in an *OpError.
// found is how many distinct keys were found.
func (f *decodeFailures) err(c *Cache, op string, found int) error {
	if len(f.keys) == 0 {
		return nil
	}
	return c.opError(op, "", &ManyDecodeError{Keys: f.keys, Errs: f.errs, Found: found})
}

// mapDst checks the dst of method (GetMany, GetOrSetMany): a non-nil
// pointer to a map with string keys.
func mapDst(method string, dst any) (reflect.Value, error) {
	if err := checkDst(dst); err != nil {
		return reflect.Value{}, err
	}
	mv := reflect.ValueOf(dst).Elem()
	if mv.Kind() != reflect.Map || mv.Type().Key().Kind() != reflect.String {
		return reflect.Value{}, fmt.Errorf("djcache: %s needs a pointer to a map with string keys, such as *map[string]any, not %T", method, dst)
	}
	return mv, nil
}

// SetMany stores every item, in one round trip or transaction where the
// backend allows, and returns the caller's keys that could not be stored
// (Django's set_many list). Values are encoded before anything is written:
// if one cannot be encoded, SetMany returns its *EncodeError and stores
// nothing. A driver failure returns the keys it left unstored and the first
// error.
func (c *Cache) SetMany(ctx context.Context, items map[string]any, opts ...Option) (failed []string, err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "set_many", "", now(), &note, nil, &err)
	}
	if err := c.enter(ctx, "set_many"); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, nil
	}
	co := c.options(opts)
	if co.err != nil {
		return nil, c.opError("set_many", "", co.err)
	}
	exp := c.expiry(co.timeout)
	batch := make([]driver.Item, 0, len(items))
	back := make(map[string]string, len(items)) // made key -> caller's key
	for k, v := range items {
		m := c.makeKey(k, co.version)
		if err := c.checkKey(ctx, "set_many", m); err != nil {
			return nil, err
		}
		b, err := c.encode(nil, v)
		if err != nil {
			return nil, c.opError("set_many", m, err)
		}
		back[m] = k
		note.size += len(b)
		if co.jitter > 0 {
			exp = c.entryExpiry(&co) // keys written together do not expire together
		}
		batch = append(batch, driver.Item{Key: m, Value: b, Expires: exp})
	}
	// A fixed order makes backends take their locks in the same order.
	slices.SortFunc(batch, func(a, b driver.Item) int { return strings.Compare(a.Key, b.Key) })
	var madeFailed []string
	if c.setMany != nil {
		madeFailed, err = c.setMany.SetMany(ctx, batch)
	} else {
		for _, it := range batch {
			if serr := c.drv.Set(ctx, it.Key, it.Value, it.Expires); serr != nil {
				madeFailed = append(madeFailed, it.Key)
				if err == nil {
					err = serr
				}
				if ctx.Err() != nil {
					break
				}
			}
		}
	}
	for _, m := range madeFailed {
		failed = append(failed, back[m])
	}
	slices.Sort(failed)
	c.stats.add(statSets, uint64(len(batch)-len(madeFailed)))
	note.sets = len(batch) - len(madeFailed)
	return failed, c.opError("set_many", "", err)
}

// DeleteMany removes every key, in one round trip where the backend allows.
// Missing keys are not an error.
func (c *Cache) DeleteMany(ctx context.Context, keys []string, opts ...Option) (err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "delete_many", "", now(), &note, nil, &err)
	}
	if err := c.enter(ctx, "delete_many"); err != nil {
		return err
	}
	co := c.options(opts)
	distinct, _, err := c.madeKeys(ctx, "delete_many", keys, co.version)
	if err != nil || len(distinct) == 0 {
		return err
	}
	slices.Sort(distinct)
	c.stats.add(statDeletes, uint64(len(distinct)))
	note.deletes = len(distinct)
	if c.deleteMany != nil {
		return c.opError("delete_many", "", c.deleteMany.DeleteMany(ctx, distinct))
	}
	var errs []error
	for _, m := range distinct {
		if _, err := c.drv.Delete(ctx, m); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return c.opError("delete_many", "", errors.Join(errs...))
}

// readDriverMany reads the made keys in one round trip where the driver has
// a GetManyDriver, and one by one otherwise; it returns the values found, by
// made key, with the driver's error unwrapped.
func (c *Cache) readDriverMany(ctx context.Context, made []string) (map[string][]byte, error) {
	if c.getMany != nil {
		return c.getMany.GetMany(ctx, made)
	}
	got := make(map[string][]byte, len(made))
	for _, m := range made {
		v, found, err := c.drv.Get(ctx, m)
		if err != nil {
			return nil, err
		}
		if found {
			got[m] = v
		}
	}
	return got, nil
}
