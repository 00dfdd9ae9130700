package djcache

import "time"

// now is the only clock reader of package djcache. Tests of timing use
// testing/synctest, which fakes time.Now inside a bubble.
func now() time.Time { return time.Now() }

// expiry turns a timeout option into the absolute expiry a driver gets:
// the zero time for Forever, a time already passed for Django's timeout 0 or
// a negative one (one second ago, as Django's ticket 21147), and now+d
// otherwise. kindNone means the cache's default timeout.
func (c *Cache) expiry(t Option) time.Time {
	if t.kind == kindNone {
		t = c.set.timeout
	}
	if t.kind == kindForever || t.d >= maxTimeout {
		return time.Time{}
	}
	n := now()
	if t.d <= 0 {
		return n.Add(-time.Second)
	}
	return n.Add(t.d)
}
