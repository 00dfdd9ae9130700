package djcache

import "context"

// Get is Cache.Get for callers who want the value returned: it decodes
// key's value into a new T and reports whether the key was found.
//
//	views, ok, err := djcache.Get[int](ctx, c, "views")
func Get[T any](ctx context.Context, c *Cache, key string, opts ...Option) (T, bool, error) {
	var v T
	found, err := c.Get(ctx, key, &v, opts...)
	return v, found, err
}

// GetOrSet is Cache.GetOrSet with a typed fill function and result.
//
//	report, err := djcache.GetOrSet(ctx, c, "report", func(ctx context.Context) (Report, error) {
//		return buildReport(ctx)
//	}, djcache.Timeout(10*time.Minute))
func GetOrSet[T any](ctx context.Context, c *Cache, key string, fill func(context.Context) (T, error), opts ...Option) (T, error) {
	var v T
	if fill == nil {
		return v, c.GetOrSet(ctx, key, &v, nil, opts...)
	}
	err := c.GetOrSet(ctx, key, &v, func(ctx context.Context) (any, error) {
		return fill(ctx)
	}, opts...)
	return v, err
}

// GetMany is Cache.GetMany returning a new map[string]T that holds the keys
// found. If some values do not decode into T, the map holds the others and
// the error, an *OpError wrapping a *ManyDecodeError, names the keys left
// out; if the lookup itself fails, the map is nil.
//
//	views, err := djcache.GetMany[int](ctx, c, []string{"home", "about"})
//	var bad *djcache.ManyDecodeError
//	if errors.As(err, &bad) {
//		log.Printf("ignoring %v: %v", bad.Keys, err) // views holds the rest
//	} else if err != nil {
//		return err
//	}
func GetMany[T any](ctx context.Context, c *Cache, keys []string, opts ...Option) (_ map[string]T, err error) {
	var note obsNote
	if ob := c.obs.Load(); ob != nil {
		defer c.observed(ctx, ob, "get_many", "", now(), &note, nil, &err)
	}
	made, got, err := c.getManyRaw(ctx, keys, opts, &note)
	if err != nil {
		return nil, err
	}
	out := make(map[string]T, len(got))
	var bad decodeFailures
	for i, k := range keys {
		b, ok := got[made[i]]
		if !ok {
			continue
		}
		note.size += len(b)
		var v T
		if err := c.decode(b, &v); err != nil {
			bad.add(k, err)
			continue
		}
		out[k] = v
	}
	return out, bad.err(c, "get_many", len(got))
}
