package djcachetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// Timing. A timed case writes an entry with a short timeout, checks that it
// is alive, and waits for it to expire. On a loaded machine the check can
// come too late: the entry expired, legitimately, before the case could
// look. That is not a failure of the backend, so a timed case runs through
// [env.timed]: its body reads the clock through an [attempt], and when a
// "still alive" check fails after the entry could have expired, the attempt
// is declared inconclusive and the body runs again, on a fresh Harness, with
// a timeout three times longer. Only a check that fails while the entry was
// certainly still alive is an error. Expiry times read back are compared
// with a window made of what the case observed: no earlier than the instant
// before the write plus the timeout, no later than the instant after the
// read plus the timeout, give or take the backend's resolution.

// timedAttempts is how many timeouts a timed case tries, each three times
// the one before (300ms, 900ms, 2.7s, 8.1s with fine-grained expiry).
const timedAttempts = 4

// attempt is one run of a timed case's body.
type attempt struct {
	e     *env
	ttl   time.Duration // the entry's timeout in this attempt
	start time.Time     // taken by begin, just before the first write

	inconclusive bool // set by late when this attempt could not decide
}

// timed runs body with the timeout base, and again with longer timeouts
// (up to timedAttempts in all) while an attempt is inconclusive. Each
// attempt is a subtest named after its timeout; the attempts after the
// first get a Harness of their own, so that no entry of an earlier attempt
// is seen. If every attempt is inconclusive the case is skipped, saying so.
func (e *env) timed(t *testing.T, base time.Duration, body func(t *testing.T, e *env, a *attempt)) {
	t.Helper()
	ttl := base
	for i := range timedAttempts {
		a := &attempt{ttl: ttl}
		t.Run(fmt.Sprintf("ttl=%v", ttl), func(t *testing.T) {
			ae := e
			if i > 0 {
				ae = e.fresh(t)
			}
			a.e = ae
			body(t, ae, a)
		})
		if !a.inconclusive {
			return
		}
		ttl *= 3
	}
	t.Skipf("inconclusive %d times: the machine was too busy to read entries before their timeout, even at %v", timedAttempts, ttl/3)
}

// fresh returns a copy of e with a new Harness from the case's maker,
// closed when t ends.
func (e *env) fresh(t *testing.T) *env {
	t.Helper()
	h, err := e.maker(e.ctx, t)
	if err != nil {
		t.Fatalf("HarnessMaker: %v", err)
	}
	if h == nil {
		t.Fatal("HarnessMaker returned a nil Harness")
	}
	t.Cleanup(h.Close)
	ae := *e
	ae.h = h
	return &ae
}

// begin records the instant before the attempt's first write and returns
// it.
func (a *attempt) begin() time.Time {
	a.start = time.Now()
	return a.start
}

// late is called where a "still alive" check failed. If enough time has
// passed since begin for the entry to have expired legitimately, it marks
// the attempt inconclusive and ends it (the case runs again with a longer
// timeout); otherwise it returns false and the caller reports the failure.
func (a *attempt) late(t *testing.T) bool {
	t.Helper()
	margin := a.e.o.ExpiryResolution + 50*time.Millisecond
	if el := time.Since(a.start); el >= a.ttl-margin {
		a.inconclusive = true
		t.Skipf("inconclusive: %v passed between writing an entry with a %v timeout and reading it (machine too busy); trying a longer timeout", el.Round(time.Millisecond), a.ttl)
	}
	return false
}

// afterExpiry waits until every entry written so far with the attempt's
// timeout has surely expired. It counts from now, not from begin: a write
// that a busy machine delayed expires later than begin+ttl, and every
// write of the case has returned by the time it calls afterExpiry.
func (a *attempt) afterExpiry(t *testing.T) {
	t.Helper()
	a.e.sleep(t, a.ttl+a.e.o.ExpiryResolution+300*time.Millisecond)
}

// checkExpiry checks, on drivers that can read expiries, that the made key,
// written after begin with the attempt's timeout (or a remaining lifetime
// carried from such an entry), expires within the window the attempt
// observed. An entry already gone is inconclusive if it could have expired.
func (a *attempt) checkExpiry(t *testing.T, c *djcache.Cache, made string) {
	t.Helper()
	if found := a.e.checkExpiryFrom(t, c, made, a.start, a.ttl); !found && !a.late(t) {
		t.Errorf("GetWithExpiry(%q): not found, want an entry", made)
	}
}

// expiryTolerance is how far an expiry read back may stray from the window
// the case observed: the backend's resolution, and a little for rounding.
func (e *env) expiryTolerance() time.Duration {
	return e.o.ExpiryResolution + 50*time.Millisecond
}

// checkExpiryFrom checks, on drivers that can read expiries, that the made
// key expires d after it was written: no earlier than before+d, where
// before is an instant taken before the write, and no later than d after
// the read returns (the write, and the read's own view of the remaining
// time, happened before that), each give or take the tolerance. It reports
// whether the entry was found (true when the driver cannot read expiries);
// a missing entry is left to the caller.
func (e *env) checkExpiryFrom(t *testing.T, c *djcache.Cache, made string, before time.Time, d time.Duration) (found bool) {
	t.Helper()
	exp, found, ok := e.expiryOf(t, c, made)
	readDone := time.Now()
	if !ok {
		return true
	}
	if !found {
		return false
	}
	tol := e.expiryTolerance()
	lo, hi := before.Add(d-tol), readDone.Add(d+tol)
	switch {
	case exp.IsZero():
		t.Errorf("GetWithExpiry(%q): never expires, want about %v from the write", made, d)
	case exp.Before(lo) || exp.After(hi):
		t.Errorf("GetWithExpiry(%q): expires at %v, want between %v and %v (%v after the write, ± %v)",
			made, exp.Format(time.StampMilli), lo.Format(time.StampMilli), hi.Format(time.StampMilli), d, tol)
	}
	return true
}

// checkLife is checkExpiryFrom for an entry that must be there.
func (e *env) checkLife(t *testing.T, c *djcache.Cache, made string, before time.Time, d time.Duration) {
	t.Helper()
	if !e.checkExpiryFrom(t, c, made, before, d) {
		t.Errorf("GetWithExpiry(%q): not found, want an entry expiring in about %v", made, d)
	}
}

// checkForever checks, on drivers that can read expiries, that the made key
// holds an entry that never expires (the zero time).
func (e *env) checkForever(t *testing.T, c *djcache.Cache, made string) {
	t.Helper()
	exp, found, ok := e.expiryOf(t, c, made)
	switch {
	case !ok:
	case !found:
		t.Errorf("GetWithExpiry(%q): not found, want an entry", made)
	case !exp.IsZero():
		t.Errorf("GetWithExpiry(%q): expires at %v (in %v), want never (zero time)", made, exp, time.Until(exp).Round(time.Millisecond))
	}
}

// expiryOf reads the expiry of the made key through driver.ExpiryReader.
// ok is false if the driver cannot read expiries.
func (e *env) expiryOf(t *testing.T, c *djcache.Cache, made string) (exp time.Time, found, ok bool) {
	t.Helper()
	er, ok := c.Driver().(driver.ExpiryReader)
	if !ok {
		return time.Time{}, false, false
	}
	_, exp, found, err := er.GetWithExpiry(e.ctx, made)
	if err != nil {
		t.Fatalf("GetWithExpiry(%q): %v", made, err)
	}
	return exp, found, true
}

// The timing of the timed cases, fitted to Options.ExpiryResolution.

// shortTTL is a timeout long enough that an entry is alive when it is read
// at once on an idle machine, and short enough to wait out. Cases that use
// it run through timed, which lengthens it when the machine is busy.
func (e *env) shortTTL() time.Duration {
	if r := e.o.ExpiryResolution; r > 0 {
		return 2 * r
	}
	return 300 * time.Millisecond
}

// briefTTL is a timeout for entries that need only to expire.
func (e *env) briefTTL() time.Duration { return e.o.briefTTL() }

// afterBrief is how long to wait, from the moment the write returned, for
// an entry set with briefTTL to be gone.
func (e *env) afterBrief() time.Duration { return e.o.afterBrief() }

func (o *Options) briefTTL() time.Duration {
	if r := o.ExpiryResolution; r > 0 {
		return r
	}
	return 20 * time.Millisecond
}

func (o *Options) afterBrief() time.Duration {
	if r := o.ExpiryResolution; r > 0 {
		return 2*r + 500*time.Millisecond
	}
	return o.briefTTL() + 300*time.Millisecond
}

// sleep waits for d or the end of the case.
func (e *env) sleep(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-time.After(d):
	case <-e.ctx.Done():
		t.Fatal("the test ended while waiting for entries to expire")
	}
}
