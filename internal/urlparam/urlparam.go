// Package urlparam reads a backend's URL query parameters strictly: every
// accessor consumes its parameter, the first error sticks, and Done rejects
// whatever is left, naming it, so that a misspelt parameter fails at Open
// rather than being ignored.
package urlparam

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reader consumes the query parameters of one URL. It is not safe for
// concurrent use.
type Reader struct {
	backend string // "djcache: locmem: ", the prefix of messages
	q       url.Values
	err     error
}

// New returns a Reader of u's query for the named backend (used in
// messages, such as "locmem"; "" for djcache's own parameters).
func New(backend string, u *url.URL) *Reader {
	q, err := url.ParseQuery(u.RawQuery)
	prefix := "djcache: "
	if backend != "" {
		prefix += backend + ": "
	}
	r := &Reader{backend: prefix, q: q}
	if err != nil {
		r.err = fmt.Errorf("%sinvalid URL query: %v", prefix, err)
	}
	return r
}

// take removes name and returns its single value.
func (r *Reader) take(name string) (string, bool) {
	vs, ok := r.q[name]
	if !ok {
		return "", false
	}
	delete(r.q, name)
	if len(vs) > 1 && r.err == nil {
		r.err = fmt.Errorf("%sURL parameter %q is given %d times", r.backend, name, len(vs))
	}
	return vs[len(vs)-1], true
}

func (r *Reader) fail(name, val, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%sURL parameter %s=%q: want %s", r.backend, name, val, want)
	}
}

// String returns the parameter's value, or def if it is absent.
func (r *Reader) String(name, def string) string {
	if v, ok := r.take(name); ok {
		return v
	}
	return def
}

// Int returns the parameter as an integer in [min, max], or def if absent.
func (r *Reader) Int(name string, def, min, max int) int {
	v, ok := r.take(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.fail(name, v, fmt.Sprintf("an integer from %d to %d", min, max))
		return def
	}
	return n
}

// Bool returns the parameter as a boolean (1/0, true/false, yes/no, on/off),
// or def if absent.
func (r *Reader) Bool(name string, def bool) bool {
	v, ok := r.take(name)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	r.fail(name, v, "true or false")
	return def
}

// Seconds returns the parameter, a number of seconds (fractions allowed,
// such as 0.5), as a Duration. NaN, infinities and values beyond ±290 years
// are errors. forever reports the value "none" (any case), Django's None,
// when allowNone is true.
func (r *Reader) Seconds(name string, allowNone bool) (d time.Duration, forever, present bool) {
	v, ok := r.take(name)
	if !ok {
		return 0, false, false
	}
	if allowNone && strings.EqualFold(v, "none") {
		return 0, true, true
	}
	f, err := strconv.ParseFloat(v, 64)
	const limit = float64(math.MaxInt64) / 1e9
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) >= limit {
		want := "a number of seconds"
		if allowNone {
			want += " or none"
		}
		r.fail(name, v, want+fmt.Sprintf(" (at most %.0f)", math.Floor(limit)))
		return 0, false, false
	}
	return time.Duration(f * 1e9), false, true
}

// Float returns the parameter, a finite number.
func (r *Reader) Float(name string) (f float64, present bool) {
	v, ok := r.take(name)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(name, v, "a number")
		return 0, false
	}
	return f, true
}

// Err returns the first error so far.
func (r *Reader) Err() error { return r.err }

// Done returns the first error, or an error naming the parameters nobody
// consumed.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.q) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.q))
	for k := range r.q {
		names = append(names, k)
	}
	slices.Sort(names)
	if len(names) == 1 {
		return fmt.Errorf("%sunknown URL parameter %q", r.backend, names[0])
	}
	return fmt.Errorf("%sunknown URL parameters %q", r.backend, names)
}
