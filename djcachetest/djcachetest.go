// Package djcachetest provides a conformance suite for djcache drivers, in
// the manner of testing/fstest.TestFS and testing/slogtest: a backend's whole
// core test is a [Harness] and one call to [RunConformanceTests].
//
//	func TestConformance(t *testing.T) {
//		djcachetest.RunConformanceTests(t, newHarness, nil)
//	}
//
// The suite checks Django's semantics end to end, through the portable type
// ([djcache.New] over the driver), plus the few promises a bare driver makes
// (byte ownership, expiry in the past, Close twice), which [TestDriver] also
// checks on its own. Each case has a name and an explanation, written for a
// newcomer, of what Django does and why it matters; a failing case prints
// its explanation.
//
// # Fast path, fallback and pickle
//
// Every case runs three times: under "fast/" against the driver as the Harness
// made it, and under "fallback/" against a wrapper that hides the driver's
// optional interfaces (driver.GetManyDriver, driver.SetManyDriver,
// driver.DeleteManyDriver, driver.HasDriver, driver.GetSharedDriver) so that
// package djcache takes its generic fallbacks. The wrapper still forwards the
// capabilities driver.KeyChecker and driver.ExpiryReader, which change
// behaviour rather than speed. Both runs must pass: an optional interface
// may make a call faster, never different. The third run, "pickle/", opens
// every cache with djcache.PickleSerializer (unless the case sets a Codec):
// the values are then stored as Django stores them, and every semantic
// rule must hold as with djcache's own encoding.
//
// # Exemptions
//
// A backend that cannot honour a behaviour declares it in
// [Options.Unsupported], one [Feature] at a time, each with a documented
// reason; the cases that need it are skipped with a message naming the
// feature, never silently. Backend limits that are numbers rather than
// features (the largest value, the expiry resolution) are [Options] fields.
//
// # Time
//
// Expiry is tested with real, short timeouts fitted to
// [Options.ExpiryResolution]: with fine-grained expiry an entry set for
// 300ms must be alive at once and gone after 600ms. To keep the suite fast
// the cases run concurrently, each with its own Harness: 16 at a time by
// default, independently of GOMAXPROCS, since most of them wait rather than
// compute (see [RunConformanceTests]). A "still alive" check that fails only
// because the machine was too busy to read the entry in time counts its
// attempt as inconclusive, and the case runs again with a timeout three times longer
// (up to four times) instead of failing it; expiry times read back are
// checked against the instants the case observed, not a fixed window.
// Speed itself belongs in
// [RunBenchmarks].
//
// # Imports
//
// The kit imports only the standard library, package djcache and package
// driver, because an exported kit's imports become every third-party
// backend's.
package djcachetest

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
)

// Harness supplies drivers to the suite.
type Harness interface {
	// MakeDriver returns a driver on an empty namespace that no other
	// running test uses. Drivers from one Harness share storage: what one
	// writes, the next one reads (Django: same LOCATION, same data). The
	// suite closes each driver it makes (through djcache.Cache.Close or
	// directly), before it calls Close.
	MakeDriver(ctx context.Context) (driver.Driver, error)
	// Close releases what the Harness holds (servers, directories,
	// tables). It is called once, when the subtest that made the Harness
	// ends.
	Close()
}

// HarnessMaker makes a Harness for one subtest. It is called once per case
// and mode, from the case's own subtest, so t is that subtest: a maker may
// call t.Skip (an unreachable server) or t.Cleanup. Cases run concurrently,
// so it must be safe for concurrent use. The Harness's Close runs when the
// subtest ends.
type HarnessMaker func(ctx context.Context, t *testing.T) (Harness, error)

// Feature is a behaviour that a backend may declare unsupported in
// [Options.Unsupported]. Each constant says which backend needs the
// exemption and why; the cases that need a feature a backend lacks are
// skipped with that reason.
type Feature string

const (
	// Storage is keeping what is written. The dummy backend (Django's
	// DummyCache) stores nothing by design, so every case that reads back a
	// value is skipped for it; the dummy cases, which assert DummyCache's
	// own answers (Add true, Has/Touch/Delete false, Incr not found, ...),
	// run only when Storage is unsupported.
	Storage Feature = "Storage"

	// NegativeCounters is storing negative integers and taking Incr and Decr
	// below zero. Memcached's counters are unsigned 64-bit: its decr stops
	// at 0 and its incr refuses a stored "-7" (SPEC: "Document backend
	// limits (memcached floors at 0)").
	NegativeCounters Feature = "NegativeCounters"

	// PickledTextIsNotACounter is Incr refusing, with the pickle
	// serializer, a string or []byte whose text is a number ("12"), as it
	// does with djcache's own serializer. Memcached cannot: to be read by
	// Django, such a value must keep pymemcache's text or bytes flags, and
	// memcached's incr then counts it, as it does for Django.
	PickledTextIsNotACounter Feature = "PickledTextIsNotACounter"
)

// featureReasons are the documented reasons printed when a case is skipped.
var featureReasons = map[Feature]string{
	Storage:                  "the backend stores nothing (Django's DummyCache)",
	NegativeCounters:         "the backend's counters are unsigned and Decr stops at 0 (memcached)",
	PickledTextIsNotACounter: "with the pickle serializer the backend stores numeric text as Django does, and its incr counts it (memcached)",
}

// Options tunes the suite to a backend's documented limits. A nil *Options
// is the zero value, which expects everything: add Unsupported entries one
// at a time, each for a documented reason.
type Options struct {
	// Unsupported lists the features the backend cannot honour; the cases
	// that need them are skipped with the feature's reason.
	Unsupported []Feature

	// MaxValueSize is the largest encoded value, in bytes, that the backend
	// stores: what the driver's Set receives, including djcache's one-byte
	// kind tag. Zero means no limit. Memcached: about 1 MB less its item
	// overhead. The large-value case stores min(1 MB, MaxValueSize) bytes,
	// and, when it is set, a value over the limit must fail and leave no
	// value behind (Django's memcached set deletes the key when the server
	// refuses it).
	MaxValueSize int

	// ExpiryResolution is the coarsest step in which the backend keeps or
	// checks expiry. Zero means fine-grained (locmem, file, Redis: well
	// under a millisecond). SQL tables keep whole seconds and memcached
	// counts in seconds: 1s for both. The timed cases fit their timeouts and
	// waits to it.
	ExpiryResolution time.Duration
}

// supports reports whether the backend supports f.
func (o *Options) supports(f Feature) bool {
	return o == nil || !slices.Contains(o.Unsupported, f)
}

// normalize returns a copy of o that is never nil, or an error for an
// unknown feature or a negative limit.
func normalize(o *Options) (*Options, error) {
	var n Options
	if o != nil {
		n = *o
		n.Unsupported = slices.Clone(o.Unsupported)
	}
	for _, f := range n.Unsupported {
		if _, ok := featureReasons[f]; !ok {
			return nil, fmt.Errorf("djcachetest: unknown Feature %q in Options.Unsupported", f)
		}
	}
	if n.MaxValueSize < 0 {
		return nil, fmt.Errorf("djcachetest: Options.MaxValueSize %d is negative", n.MaxValueSize)
	}
	if n.ExpiryResolution < 0 {
		return nil, fmt.Errorf("djcachetest: Options.ExpiryResolution %v is negative", n.ExpiryResolution)
	}
	return &n, nil
}

// mode is one of the two ways every case runs.
type mode struct {
	name string
	wrap func(driver.Driver) driver.Driver
	// pickle opens the mode's caches with the pickle serializer (unless a
	// case sets a Codec), as a Cache that shares its backend with Django.
	pickle bool
}

var modes = []mode{
	{name: "fast", wrap: func(d driver.Driver) driver.Driver { return d }},
	{name: "fallback", wrap: hideOptional},
	{name: "pickle", wrap: func(d driver.Driver) driver.Driver { return d }, pickle: true},
}

// The fallback wrappers. Each embeds the driver, so only the methods of
// driver.Driver are promoted, plus the capabilities the wrapped driver has;
// the optional interfaces (GetManyDriver, SetManyDriver, DeleteManyDriver,
// HasDriver, GetSharedDriver) are hidden.
type (
	plainDriver struct{ driver.Driver }

	keyCheckingDriver struct {
		driver.Driver
		driver.KeyChecker
	}

	expiryReadingDriver struct {
		driver.Driver
		driver.ExpiryReader
	}

	keyCheckingExpiryReadingDriver struct {
		driver.Driver
		driver.KeyChecker
		driver.ExpiryReader
	}
)

// hideOptional returns d behind a wrapper that hides its optional
// interfaces and keeps its capabilities.
func hideOptional(d driver.Driver) driver.Driver {
	kc, isKC := d.(driver.KeyChecker)
	er, isER := d.(driver.ExpiryReader)
	switch {
	case isKC && isER:
		return keyCheckingExpiryReadingDriver{d, kc, er}
	case isKC:
		return keyCheckingDriver{d, kc}
	case isER:
		return expiryReadingDriver{d, er}
	}
	return plainDriver{d}
}

// testCase is one named behaviour of the suite.
type testCase struct {
	name string
	// explanation says, for a newcomer, what Django does and why it
	// matters; it is printed when the case fails.
	explanation string
	// needs lists the features the case relies on; it is skipped when the
	// backend declares one of them unsupported.
	needs []Feature
	// onlyWithout, if set, runs the case only when the backend declares
	// that feature unsupported (the dummy cases).
	onlyWithout Feature
	run         func(t *testing.T, e *env)
}

// RunConformanceTests runs the suite: every case of the conformance table,
// each as a subtest with its own Harness, as "fast/NAME" against the driver
// as made, as "fallback/NAME" against a wrapper that hides its optional
// interfaces, and as "pickle/NAME" with the pickle serializer (see the
// package documentation). The cases run concurrently,
// 16 at a time, or as many as go test's -parallel flag says when it is
// given (-parallel 1 runs them one by one). opts (nil means none) declares
// the backend's limits.
func RunConformanceTests(t *testing.T, newHarness HarnessMaker, opts *Options) {
	t.Helper()
	o, err := normalize(opts)
	if err != nil {
		t.Fatal(err)
	}
	all := append(portableCases(), driverTestCases()...)
	seen := map[string]bool{}
	for _, c := range all {
		if seen[c.name] {
			t.Fatalf("djcachetest: duplicate case name %q", c.name)
		}
		seen[c.name] = true
	}
	// The cases run at once, up to concurrency() of them, from goroutines
	// (testing.T.Run allows that) rather than with t.Parallel: a case that
	// waits for entries to expire would otherwise hold one of go test's
	// -parallel slots (GOMAXPROCS of them by default) while it sleeps.
	sem := make(chan struct{}, concurrency())
	var modesDone sync.WaitGroup
	for _, m := range modes {
		modesDone.Go(func() {
			t.Run(m.name, func(t *testing.T) {
				var casesDone sync.WaitGroup
				for _, c := range all {
					sem <- struct{}{}
					casesDone.Go(func() {
						defer func() { <-sem }()
						t.Run(c.name, func(t *testing.T) { runCase(t, c, m, o, newHarness) })
					})
				}
				casesDone.Wait()
			})
		})
	}
	modesDone.Wait()
}

// defaultConcurrency is how many cases run at once unless go test's
// -parallel flag says otherwise.
const defaultConcurrency = 16

// concurrency is the -parallel flag if it was given, else
// defaultConcurrency.
func concurrency() int {
	n := defaultConcurrency
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			if v, err := strconv.Atoi(f.Value.String()); err == nil && v > 0 {
				n = v
			}
		}
	})
	return n
}

func runCase(t *testing.T, c testCase, m mode, o *Options, newHarness HarnessMaker) {
	for _, f := range c.needs {
		if !o.supports(f) {
			t.Skipf("%s is declared unsupported: %s", f, featureReasons[f])
		}
	}
	if c.onlyWithout != "" && o.supports(c.onlyWithout) {
		t.Skipf("runs only when %s is declared unsupported (the backend supports it)", c.onlyWithout)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: %s", c.name, c.explanation)
		}
	})
	ctx := t.Context()
	h, err := newHarness(ctx, t)
	if err != nil {
		t.Fatalf("HarnessMaker: %v", err)
	}
	if h == nil {
		t.Fatal("HarnessMaker returned a nil Harness")
	}
	t.Cleanup(h.Close)
	c.run(t, &env{ctx: ctx, h: h, o: o, mode: m, maker: newHarness})
}

// env is what a case works with.
type env struct {
	ctx   context.Context
	h     Harness
	o     *Options
	mode  mode
	maker HarnessMaker // makes a fresh Harness for a retried timed case
}

// driver makes a driver from the Harness, wrapped for the mode. The caller
// closes it (usually through a Cache).
func (e *env) driver(t *testing.T) driver.Driver {
	t.Helper()
	d, err := e.h.MakeDriver(e.ctx)
	if err != nil {
		t.Fatalf("Harness.MakeDriver: %v", err)
	}
	if d == nil {
		t.Fatal("Harness.MakeDriver returned a nil driver")
	}
	return e.mode.wrap(d)
}

// cacheOn returns djcache.New(d, o), closed when the case ends. In the
// pickle mode, o gets the pickle serializer unless it sets a Codec.
func (e *env) cacheOn(t *testing.T, d driver.Driver, o *djcache.Options) *djcache.Cache {
	t.Helper()
	if e.mode.pickle && (o == nil || o.Codec == nil) {
		po := djcache.Options{}
		if o != nil {
			po = *o
		}
		po.Serializer = djcache.PickleSerializer
		o = &po
	}
	c, err := djcache.New(d, o)
	if err != nil {
		d.Close()
		t.Fatalf("djcache.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cache returns a Cache over a new driver from the Harness.
func (e *env) cache(t *testing.T, o *djcache.Options) *djcache.Cache {
	t.Helper()
	return e.cacheOn(t, e.driver(t), o)
}

// made is the made key of key with no prefix at version 1, the default.
func made(key string) string { return djcache.DefaultKeyFunc(key, "", 1) }

// quoteKeys shows keys in messages.
func quoteKeys(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return "[" + strings.Join(q, " ") + "]"
}
