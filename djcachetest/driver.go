package djcachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

// driverCheck is one promise of a bare driver, checked without package
// djcache in between.
type driverCheck struct {
	name        string
	explanation string
	needs       []Feature
	// run returns nil, a failure, or a notApplicable (the driver lacks the
	// optional interface the check is about).
	run func(ctx context.Context, d driver.Driver, o *Options) error
}

// notApplicable reports a check that has nothing to check on this driver.
type notApplicable string

func (n notApplicable) Error() string { return string(n) }

// never is the expiry of an entry that does not expire.
var never time.Time

// TestDriver checks the promises a bare driver makes to package djcache
// (see package driver): the caller owns the slices Get returns, Set copies
// what it keeps, an expiry in the past leaves nothing visible, Incr's errors,
// the optional interfaces agree with the required methods, and Close may be
// called twice without crashing. It waits briefly (fitted to
// opts.ExpiryResolution) for an entry to expire. It returns the failures joined with
// errors.Join, each with its explanation, or nil.
//
// d should be on an empty namespace: TestDriver writes keys that start with
// ":1:djcachetest-" (made keys of version 1 with no prefix, and it calls
// Clear with that scope). It closes d when it is done. opts (nil means none)
// declares the backend's limits; the checks that need an unsupported feature
// are left out.
func TestDriver(ctx context.Context, d driver.Driver, opts *Options) error {
	o, err := normalize(opts)
	if err != nil {
		return err
	}
	var errs []error
	checks := driverChecks()
	for _, c := range checks {
		if c.name == closeCheckName || !supportsAll(o, c.needs) {
			continue
		}
		if err := runCheck(ctx, c, d, o); err != nil && !isNotApplicable(err) {
			errs = append(errs, checkError(c, err))
		}
	}
	for _, c := range checks {
		if c.name == closeCheckName {
			if err := runCheck(ctx, c, d, o); err != nil {
				errs = append(errs, checkError(c, err))
			}
		}
	}
	return errors.Join(errs...)
}

func supportsAll(o *Options, fs []Feature) bool {
	for _, f := range fs {
		if !o.supports(f) {
			return false
		}
	}
	return true
}

func isNotApplicable(err error) bool {
	var n notApplicable
	return errors.As(err, &n)
}

func checkError(c driverCheck, err error) error {
	return fmt.Errorf("djcachetest: %s: %w\n\t(%s)", c.name, err, c.explanation)
}

// runCheck runs c, turning a panic into an error.
func runCheck(ctx context.Context, c driverCheck, d driver.Driver, o *Options) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.run(ctx, d, o)
}

// driverTestCases wraps the driver checks as cases of the suite. Each runs on
// its own driver from the Harness.
func driverTestCases() []testCase {
	var cases []testCase
	for _, c := range driverChecks() {
		cases = append(cases, testCase{
			name:        c.name,
			explanation: c.explanation,
			needs:       c.needs,
			run: func(t *testing.T, e *env) {
				d := e.driver(t)
				if c.name != closeCheckName {
					t.Cleanup(func() { d.Close() })
				}
				err := runCheck(e.ctx, c, d, e.o)
				if isNotApplicable(err) {
					t.Skip(err)
				}
				if err != nil {
					t.Error(err)
				}
			},
		})
	}
	return cases
}

const closeCheckName = "driver-close-twice"

// The values the checks store are encoded as package djcache encodes them
// (a tag byte, or decimal text for integers), since a driver may look at
// the kind.
func text(s string) []byte { return append([]byte{0x02}, s...) }

func getEq(ctx context.Context, d driver.Driver, key string, want []byte) error {
	got, found, err := d.Get(ctx, key)
	switch {
	case err != nil:
		return fmt.Errorf("Get(%q): %v", key, err)
	case want == nil && found:
		return fmt.Errorf("Get(%q) = %q, want a miss", key, got)
	case want != nil && !found:
		return fmt.Errorf("Get(%q): not found, want %q", key, want)
	case want != nil && !bytes.Equal(got, want):
		return fmt.Errorf("Get(%q) = %q, want %q", key, got, want)
	}
	return nil
}

func driverChecks() []driverCheck {
	return []driverCheck{
		{
			name:        "driver-get-returns-owned-copy",
			explanation: "the slice a driver's Get returns belongs to the caller, who may modify it; the stored value must not change (io/fs ReadFile's rule)",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				const k = ":1:djcachetest-get-owned"
				if err := d.Set(ctx, k, text("value"), never); err != nil {
					return err
				}
				got, found, err := d.Get(ctx, k)
				if err != nil || !found {
					return fmt.Errorf("Get(%q) = %v, %v; want the value", k, found, err)
				}
				for i := range got {
					got[i] = 'X'
				}
				return getEq(ctx, d, k, text("value"))
			},
		},
		{
			name:        "driver-set-copies-value",
			explanation: "a driver's Set and Add copy what they keep: the caller may reuse the slice's memory as soon as they return (package djcache passes pooled buffers)",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				buf := text("original")
				if err := d.Set(ctx, ":1:djcachetest-set-copies", buf, never); err != nil {
					return err
				}
				copy(buf[1:], "XXXXXXXX")
				if err := getEq(ctx, d, ":1:djcachetest-set-copies", text("original")); err != nil {
					return fmt.Errorf("after changing the slice passed to Set: %w", err)
				}
				buf = text("added")
				if added, err := d.Add(ctx, ":1:djcachetest-add-copies", buf, never); err != nil || !added {
					return fmt.Errorf("Add = %v, %v; want true, nil", added, err)
				}
				copy(buf[1:], "XXXXX")
				if err := getEq(ctx, d, ":1:djcachetest-add-copies", text("added")); err != nil {
					return fmt.Errorf("after changing the slice passed to Add: %w", err)
				}
				if sm, ok := d.(driver.SetManyDriver); ok {
					items := []driver.Item{{Key: ":1:djcachetest-setmany-copies", Value: text("many")}}
					if failed, err := sm.SetMany(ctx, items); err != nil || len(failed) > 0 {
						return fmt.Errorf("SetMany = %v, %v", failed, err)
					}
					copy(items[0].Value[1:], "XXXX")
					if err := getEq(ctx, d, ":1:djcachetest-setmany-copies", text("many")); err != nil {
						return fmt.Errorf("after changing the slice passed to SetMany: %w", err)
					}
				}
				return nil
			},
		},
		{
			name:        "driver-get-shared",
			explanation: "GetShared (driver.GetSharedDriver) returns what Get returns, and a slice it lent is never modified afterwards, even when the key is overwritten: the driver replaces stored slices instead of writing into them",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				gs, ok := d.(driver.GetSharedDriver)
				if !ok {
					return notApplicable("the driver does not implement driver.GetSharedDriver")
				}
				const k = ":1:djcachetest-shared"
				if err := d.Set(ctx, k, text("first"), never); err != nil {
					return err
				}
				lent, found, err := gs.GetShared(ctx, k)
				if err != nil || !found || !bytes.Equal(lent, text("first")) {
					return fmt.Errorf("GetShared(%q) = %q, %v, %v; want %q", k, lent, found, err, text("first"))
				}
				if err := d.Set(ctx, k, text("other"), never); err != nil {
					return err
				}
				if _, err := d.Incr(ctx, k, 1); !errors.Is(err, driver.ErrNotInteger) {
					return fmt.Errorf("Incr of text: %v, want ErrNotInteger", err)
				}
				if _, err := d.Touch(ctx, k, never); err != nil {
					return err
				}
				if !bytes.Equal(lent, text("first")) {
					return fmt.Errorf("a slice GetShared lent changed to %q after the key was overwritten", lent)
				}
				if _, found, err := gs.GetShared(ctx, ":1:djcachetest-shared-missing"); err != nil || found {
					return fmt.Errorf("GetShared of a missing key = %v, %v; want false, nil", found, err)
				}
				return nil
			},
		},
		{
			name:        "driver-get-many",
			explanation: "GetMany (driver.GetManyDriver) returns the live entries Get would return, leaves missing keys out, and its slices belong to the caller",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				gm, ok := d.(driver.GetManyDriver)
				if !ok {
					return notApplicable("the driver does not implement driver.GetManyDriver")
				}
				if err := d.Set(ctx, ":1:djcachetest-gm-a", text("a"), never); err != nil {
					return err
				}
				if err := d.Set(ctx, ":1:djcachetest-gm-b", []byte("2"), time.Now().Add(time.Hour)); err != nil {
					return err
				}
				got, err := gm.GetMany(ctx, []string{":1:djcachetest-gm-a", ":1:djcachetest-gm-missing", ":1:djcachetest-gm-b"})
				if err != nil {
					return err
				}
				if len(got) != 2 || !bytes.Equal(got[":1:djcachetest-gm-a"], text("a")) || !bytes.Equal(got[":1:djcachetest-gm-b"], []byte("2")) {
					return fmt.Errorf("GetMany = %q, want the two stored entries", got)
				}
				for _, v := range got {
					for i := range v {
						v[i] = 'X'
					}
				}
				return getEq(ctx, d, ":1:djcachetest-gm-a", text("a"))
			},
		},
		{
			name:        "driver-set-many",
			explanation: "SetMany (driver.SetManyDriver) stores every item with its own expiry, as Set would, and reports no failed keys when all were stored",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				sm, ok := d.(driver.SetManyDriver)
				if !ok {
					return notApplicable("the driver does not implement driver.SetManyDriver")
				}
				if err := d.Set(ctx, ":1:djcachetest-sm-past", text("old"), never); err != nil {
					return err
				}
				failed, err := sm.SetMany(ctx, []driver.Item{
					{Key: ":1:djcachetest-sm-never", Value: text("a")},
					{Key: ":1:djcachetest-sm-hour", Value: []byte("7"), Expires: time.Now().Add(time.Hour)},
					{Key: ":1:djcachetest-sm-past", Value: text("new"), Expires: time.Now().Add(-time.Second)},
				})
				if err != nil || len(failed) > 0 {
					return fmt.Errorf("SetMany = %v, %v; want no failed keys, nil", failed, err)
				}
				return errors.Join(
					getEq(ctx, d, ":1:djcachetest-sm-never", text("a")),
					getEq(ctx, d, ":1:djcachetest-sm-hour", []byte("7")),
					getEq(ctx, d, ":1:djcachetest-sm-past", nil),
				)
			},
		},
		{
			name:        "driver-delete-many",
			explanation: "DeleteMany (driver.DeleteManyDriver) removes the given keys, as Delete would, leaves the others, and missing keys are no error",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				dm, ok := d.(driver.DeleteManyDriver)
				if !ok {
					return notApplicable("the driver does not implement driver.DeleteManyDriver")
				}
				for _, k := range []string{":1:djcachetest-dm-a", ":1:djcachetest-dm-b"} {
					if err := d.Set(ctx, k, text("v"), never); err != nil {
						return err
					}
				}
				if err := dm.DeleteMany(ctx, []string{":1:djcachetest-dm-a", ":1:djcachetest-dm-missing"}); err != nil {
					return err
				}
				return errors.Join(getEq(ctx, d, ":1:djcachetest-dm-a", nil), getEq(ctx, d, ":1:djcachetest-dm-b", text("v")))
			},
		},
		{
			name:        "driver-has",
			explanation: "Has (driver.HasDriver) agrees with Get: true for a live entry, false for a missing or expired one",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				hd, ok := d.(driver.HasDriver)
				if !ok {
					return notApplicable("the driver does not implement driver.HasDriver")
				}
				if err := d.Set(ctx, ":1:djcachetest-has", text(""), never); err != nil {
					return err
				}
				if err := d.Set(ctx, ":1:djcachetest-has-past", text("v"), time.Now().Add(-time.Second)); err != nil {
					return err
				}
				for k, want := range map[string]bool{":1:djcachetest-has": true, ":1:djcachetest-has-missing": false, ":1:djcachetest-has-past": false} {
					if got, err := hd.Has(ctx, k); err != nil || got != want {
						return fmt.Errorf("Has(%q) = %v, %v; want %v", k, got, err, want)
					}
				}
				return nil
			},
		},
		{
			name:        "driver-past-expiry",
			explanation: "an expiry at or before now leaves no visible entry: Set removes the earlier value, Add over an absent key reports true and leaves nothing, Add over a live entry reports false, Touch of a live entry reports true and expires it (Django's timeout 0 reaches drivers this way)",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				past := time.Now().Add(-time.Second)
				var errs []error
				if err := d.Set(ctx, ":1:djcachetest-past-set", text("old"), never); err != nil {
					return err
				}
				if err := d.Set(ctx, ":1:djcachetest-past-set", text("new"), past); err != nil {
					return err
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-past-set", nil))
				if added, err := d.Add(ctx, ":1:djcachetest-past-add", text("v"), past); err != nil || !added {
					errs = append(errs, fmt.Errorf("Add with a past expiry over an absent key = %v, %v; want true, nil", added, err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-past-add", nil))
				if err := d.Set(ctx, ":1:djcachetest-past-live", text("live"), never); err != nil {
					return err
				}
				if added, err := d.Add(ctx, ":1:djcachetest-past-live", text("v"), past); err != nil || added {
					errs = append(errs, fmt.Errorf("Add with a past expiry over a live entry = %v, %v; want false, nil", added, err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-past-live", text("live")))
				if touched, err := d.Touch(ctx, ":1:djcachetest-past-live", past); err != nil || !touched {
					errs = append(errs, fmt.Errorf("Touch with a past expiry of a live entry = %v, %v; want true, nil", touched, err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-past-live", nil))
				if deleted, err := d.Delete(ctx, ":1:djcachetest-past-live"); err != nil || deleted {
					errs = append(errs, fmt.Errorf("Delete after Touch expired the entry = %v, %v; want false, nil", deleted, err))
				}
				return errors.Join(errs...)
			},
		},
		{
			name:        "driver-expired-entry",
			explanation: "an entry whose expiry has passed is absent for every method, even if the driver has not removed it yet: Get and Has miss it, Delete and Touch report false, Incr gives ErrNotFound, and Add stores over it (Django's locmem _has_expired)",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, o *Options) error {
				keys := []string{"get", "has", "delete", "touch", "incr", "add", "reader"}
				exp := time.Now().Add(o.briefTTL())
				for _, k := range keys {
					if err := d.Set(ctx, ":1:djcachetest-expired-"+k, []byte("1"), exp); err != nil {
						return err
					}
				}
				time.Sleep(time.Until(exp.Add(o.afterBrief() - o.briefTTL())))
				k := func(name string) string { return ":1:djcachetest-expired-" + name }
				errs := []error{getEq(ctx, d, k("get"), nil)}
				if hd, ok := d.(driver.HasDriver); ok {
					if found, err := hd.Has(ctx, k("has")); err != nil || found {
						errs = append(errs, fmt.Errorf("Has of an expired entry = %v, %v; want false, nil", found, err))
					}
				}
				if deleted, err := d.Delete(ctx, k("delete")); err != nil || deleted {
					errs = append(errs, fmt.Errorf("Delete of an expired entry = %v, %v; want false, nil", deleted, err))
				}
				if touched, err := d.Touch(ctx, k("touch"), never); err != nil || touched {
					errs = append(errs, fmt.Errorf("Touch of an expired entry = %v, %v; want false, nil", touched, err))
				}
				errs = append(errs, getEq(ctx, d, k("touch"), nil))
				if _, err := d.Incr(ctx, k("incr"), 1); !errors.Is(err, driver.ErrNotFound) {
					errs = append(errs, fmt.Errorf("Incr of an expired entry: error %v, want ErrNotFound", err))
				}
				if added, err := d.Add(ctx, k("add"), text("new"), never); err != nil || !added {
					errs = append(errs, fmt.Errorf("Add over an expired entry = %v, %v; want true, nil", added, err))
				}
				errs = append(errs, getEq(ctx, d, k("add"), text("new")))
				if er, ok := d.(driver.ExpiryReader); ok {
					if _, _, found, err := er.GetWithExpiry(ctx, k("reader")); err != nil || found {
						errs = append(errs, fmt.Errorf("GetWithExpiry of an expired entry = %v, %v; want false, nil", found, err))
					}
				}
				return errors.Join(errs...)
			},
		},
		{
			name:        "driver-expiry-reader",
			explanation: "GetWithExpiry (driver.ExpiryReader) returns the value and the expiry last set by Set, Add or Touch (zero for never), and Incr keeps it; IncrVersion relies on it to keep an entry's remaining lifetime",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, o *Options) error {
				er, ok := d.(driver.ExpiryReader)
				if !ok {
					return notApplicable("the driver does not implement driver.ExpiryReader")
				}
				// Expiries are absolute here, but a driver that sends a
				// relative one (Redis PX, memcached) converts it when the
				// call runs: allow for a call delayed by a busy machine.
				// The mistakes this catches are minutes or hours off.
				tol := o.ExpiryResolution + 5*time.Second
				check := func(key string, wantValue []byte, want time.Time) error {
					v, exp, found, err := er.GetWithExpiry(ctx, key)
					switch {
					case err != nil:
						return fmt.Errorf("GetWithExpiry(%q): %v", key, err)
					case !found:
						return fmt.Errorf("GetWithExpiry(%q): not found", key)
					case !bytes.Equal(v, wantValue):
						return fmt.Errorf("GetWithExpiry(%q) value = %q, want %q", key, v, wantValue)
					case want.IsZero() != exp.IsZero() || exp.Before(want.Add(-tol)) || exp.After(want.Add(tol)):
						return fmt.Errorf("GetWithExpiry(%q) expiry = %v, want %v ± %v", key, exp, want, tol)
					}
					return nil
				}
				hour := time.Now().Add(time.Hour)
				if err := d.Set(ctx, ":1:djcachetest-er", []byte("41"), hour); err != nil {
					return err
				}
				if err := d.Set(ctx, ":1:djcachetest-er-never", text("v"), never); err != nil {
					return err
				}
				errs := []error{check(":1:djcachetest-er", []byte("41"), hour), check(":1:djcachetest-er-never", text("v"), never)}
				if _, err := d.Incr(ctx, ":1:djcachetest-er", 1); err != nil {
					return err
				}
				errs = append(errs, check(":1:djcachetest-er", []byte("42"), hour))
				two := time.Now().Add(2 * time.Hour)
				if _, err := d.Touch(ctx, ":1:djcachetest-er-never", two); err != nil {
					return err
				}
				errs = append(errs, check(":1:djcachetest-er-never", text("v"), two))
				if _, _, found, err := er.GetWithExpiry(ctx, ":1:djcachetest-er-missing"); err != nil || found {
					errs = append(errs, fmt.Errorf("GetWithExpiry of a missing key = %v, %v; want false, nil", found, err))
				}
				return errors.Join(errs...)
			},
		},
		{
			name:        "driver-incr",
			explanation: "a driver's Incr adds to a decimal integer and stores the sum as decimal text; a value that is not an integer gives ErrNotInteger and a sum outside int64 ErrOverflow, both leaving the value unchanged",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				var errs []error
				if err := d.Set(ctx, ":1:djcachetest-incr", []byte("41"), never); err != nil {
					return err
				}
				if n, err := d.Incr(ctx, ":1:djcachetest-incr", 1); err != nil || n != 42 {
					errs = append(errs, fmt.Errorf("Incr(41, 1) = %d, %v; want 42, nil", n, err))
				}
				if n, err := d.Incr(ctx, ":1:djcachetest-incr", -2); err != nil || n != 40 {
					errs = append(errs, fmt.Errorf("Incr(42, -2) = %d, %v; want 40, nil", n, err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-incr", []byte("40")))
				if err := d.Set(ctx, ":1:djcachetest-incr-text", text("12"), never); err != nil {
					return err
				}
				if _, err := d.Incr(ctx, ":1:djcachetest-incr-text", 1); !errors.Is(err, driver.ErrNotInteger) {
					errs = append(errs, fmt.Errorf("Incr of text: error %v, want ErrNotInteger", err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-incr-text", text("12")))
				maxText := []byte(strconv.FormatInt(math.MaxInt64, 10))
				if err := d.Set(ctx, ":1:djcachetest-incr-max", maxText, never); err != nil {
					return err
				}
				if _, err := d.Incr(ctx, ":1:djcachetest-incr-max", 1); !errors.Is(err, driver.ErrOverflow) {
					errs = append(errs, fmt.Errorf("Incr(MaxInt64, 1): error %v, want ErrOverflow", err))
				}
				errs = append(errs, getEq(ctx, d, ":1:djcachetest-incr-max", maxText))
				return errors.Join(errs...)
			},
		},
		{
			name:        "driver-incr-missing",
			explanation: "a driver's Incr of a missing key gives ErrNotFound and creates nothing",
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				if _, err := d.Incr(ctx, ":1:djcachetest-incr-missing", 1); !errors.Is(err, driver.ErrNotFound) {
					return fmt.Errorf("Incr of a missing key: error %v, want ErrNotFound", err)
				}
				return getEq(ctx, d, ":1:djcachetest-incr-missing", nil)
			},
		},
		{
			name:        "driver-key-checker",
			explanation: "CheckKey (driver.KeyChecker) accepts ordinary made keys and refuses others with an error that wraps ErrInvalidKey, which djcache returns to the caller",
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				kc, ok := d.(driver.KeyChecker)
				if !ok {
					return notApplicable("the driver does not implement driver.KeyChecker")
				}
				var errs []error
				for _, k := range []string{":1:key", "p:2:a-b_c.d", ":1:"} {
					if err := kc.CheckKey(k); err != nil {
						errs = append(errs, fmt.Errorf("CheckKey(%q): %v, want nil", k, err))
					}
				}
				for _, k := range []string{":1:with space", ":1:" + string(bytes.Repeat([]byte("x"), 300)), ":1:nul\x00"} {
					if err := kc.CheckKey(k); err != nil && !errors.Is(err, driver.ErrInvalidKey) {
						errs = append(errs, fmt.Errorf("CheckKey(%.20q…): error %v does not wrap ErrInvalidKey", k, err))
					}
				}
				return errors.Join(errs...)
			},
		},
		{
			name:        "driver-clear",
			explanation: "a driver's Clear removes every entry of its namespace, and the driver works normally afterwards",
			needs:       storage,
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				for _, k := range []string{":1:djcachetest-clear-a", ":1:djcachetest-clear-b"} {
					if err := d.Set(ctx, k, text("v"), never); err != nil {
						return err
					}
				}
				if err := d.Clear(ctx, driver.Scope{DefaultKeyFunc: true}); err != nil {
					return err
				}
				if err := errors.Join(getEq(ctx, d, ":1:djcachetest-clear-a", nil), getEq(ctx, d, ":1:djcachetest-clear-b", nil)); err != nil {
					return err
				}
				if err := d.Set(ctx, ":1:djcachetest-clear-a", text("after"), never); err != nil {
					return err
				}
				return getEq(ctx, d, ":1:djcachetest-clear-a", text("after"))
			},
		},
		{
			name:        closeCheckName,
			explanation: "a driver's Close releases its resources and returns nil; a second Close must not crash (package djcache closes a driver once, but users of a bare driver may not)",
			run: func(ctx context.Context, d driver.Driver, _ *Options) error {
				if err := d.Close(); err != nil {
					return fmt.Errorf("Close: %v", err)
				}
				_ = d.Close() // may report an error, must not panic
				return nil
			},
		},
	}
}
