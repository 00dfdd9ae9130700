package djcachetest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

// memDriver is a minimal reference driver: a map under a mutex, with no
// optional interfaces and the ExpiryReader capability. bugs switches on
// deliberate mistakes, to prove that the suite catches them.
type memDriver struct {
	s    *memStore
	bugs []string
}

type memStore struct {
	mu sync.Mutex // protects m
	m  map[string]memEntry

	// race forces the planted races (add-racy, incr-racy): the first
	// caller to reach the window waits there for a second one, so both
	// act on the same stale read, every run.
	race rendezvous
}

// rendezvous makes the first two goroutines that call meet wait for each
// other, once; later calls return at once. A goroutine that finds no
// partner within a minute goes on alone (TestSuiteCatchesBugs runs each
// racy bug only in the case that calls concurrently, so a partner comes).
type rendezvous struct {
	mu   sync.Mutex
	wait chan struct{} // the first caller waits on it; nil before and after
	done bool          // the two have met
}

func (r *rendezvous) meet() {
	r.mu.Lock()
	if r.done {
		r.mu.Unlock()
		return
	}
	if r.wait != nil {
		close(r.wait)
		r.wait, r.done = nil, true
		r.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	r.wait = ch
	r.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		r.mu.Lock()
		if r.wait == ch {
			r.wait = nil
		}
		r.mu.Unlock()
	}
}

type memEntry struct {
	v   []byte
	exp time.Time
}

var (
	_ driver.Driver       = (*memDriver)(nil)
	_ driver.ExpiryReader = (*memDriver)(nil)
)

func (d *memDriver) bug(name string) bool { return slices.Contains(d.bugs, name) }

func clone(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }

// live returns key's entry if it is live; d.s.mu must be held. With
// expiredCounts, an expired entry counts too (a bug).
func (d *memDriver) live(key string, expiredCounts bool) (memEntry, bool) {
	e, ok := d.s.m[key]
	if !ok || (!expiredCounts && driver.Expired(e.exp, time.Now())) {
		return memEntry{}, false
	}
	return e, true
}

func (d *memDriver) Get(_ context.Context, key string) ([]byte, bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	e, ok := d.live(key, false)
	if d.bug("get-aliases") {
		return e.v, ok, nil
	}
	return clone(e.v), ok, nil
}

func (d *memDriver) GetWithExpiry(_ context.Context, key string) ([]byte, time.Time, bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	e, ok := d.live(key, false)
	return clone(e.v), e.exp, ok, nil
}

func (d *memDriver) Set(_ context.Context, key string, value []byte, exp time.Time) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if driver.Expired(exp, time.Now()) {
		delete(d.s.m, key)
		return nil
	}
	if !d.bug("set-keeps-slice") {
		value = clone(value)
	}
	d.s.m[key] = memEntry{value, exp}
	return nil
}

func (d *memDriver) Add(_ context.Context, key string, value []byte, exp time.Time) (bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	if _, ok := d.live(key, false); ok {
		return false, nil
	}
	if d.bug("add-racy") {
		d.s.mu.Unlock()
		d.s.race.meet()
		d.s.mu.Lock()
	}
	if driver.Expired(exp, time.Now()) {
		delete(d.s.m, key)
		return true, nil
	}
	d.s.m[key] = memEntry{clone(value), exp}
	return true, nil
}

func (d *memDriver) Touch(_ context.Context, key string, exp time.Time) (bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	e, ok := d.live(key, d.bug("touch-revives"))
	if !ok {
		return false, nil
	}
	if driver.Expired(exp, time.Now()) {
		delete(d.s.m, key)
		return true, nil
	}
	d.s.m[key] = memEntry{e.v, exp}
	return true, nil
}

func (d *memDriver) Delete(_ context.Context, key string) (bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	_, ok := d.live(key, d.bug("delete-expired-true"))
	delete(d.s.m, key)
	return ok, nil
}

func (d *memDriver) Incr(_ context.Context, key string, delta int64) (int64, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	e, ok := d.live(key, false)
	if !ok {
		return 0, driver.ErrNotFound
	}
	if d.bug("incr-racy") {
		d.s.mu.Unlock()
		d.s.race.meet()
		d.s.mu.Lock()
	}
	nv, sum, err := driver.AddInt(e.v, delta)
	if err != nil {
		return 0, err
	}
	if d.bug("incr-resets-expiry") {
		e.exp = time.Now().Add(300 * time.Second)
	}
	d.s.m[key] = memEntry{nv, e.exp}
	return sum, nil
}

func (d *memDriver) Clear(context.Context, driver.Scope) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	clear(d.s.m)
	return nil
}

func (d *memDriver) Close() error { return nil }

type memHarness struct {
	s    *memStore
	bugs []string
}

func (h *memHarness) MakeDriver(context.Context) (driver.Driver, error) {
	return &memDriver{s: h.s, bugs: h.bugs}, nil
}

func (h *memHarness) Close() {}

func memMaker(bugs []string) HarnessMaker {
	return func(context.Context, *testing.T) (Harness, error) {
		return &memHarness{s: &memStore{m: map[string]memEntry{}}, bugs: bugs}, nil
	}
}

// TestReference runs the suite on the reference driver, which must pass.
func TestReference(t *testing.T) {
	RunConformanceTests(t, memMaker(nil), nil)
}

func TestDriverReference(t *testing.T) {
	d := &memDriver{s: &memStore{m: map[string]memEntry{}}}
	if err := TestDriver(t.Context(), d, nil); err != nil {
		t.Error(err)
	}
}

// TestDriverCatchesBugs checks that TestDriver reports each deliberate
// mistake under the check that is about it.
func TestDriverCatchesBugs(t *testing.T) {
	for bug, check := range map[string]string{
		"get-aliases":         "driver-get-returns-owned-copy",
		"set-keeps-slice":     "driver-set-copies-value",
		"incr-resets-expiry":  "driver-expiry-reader",
		"delete-expired-true": "driver-expired-entry",
		"touch-revives":       "driver-expired-entry",
	} {
		d := &memDriver{s: &memStore{m: map[string]memEntry{}}, bugs: []string{bug}}
		err := TestDriver(t.Context(), d, nil)
		if err == nil || !strings.Contains(err.Error(), check) {
			t.Errorf("TestDriver with bug %s: %v; want a failure of %s", bug, err, check)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []*Options{
		{Unsupported: []Feature{"NoSuchFeature"}},
		{MaxValueSize: -1},
		{ExpiryResolution: -time.Second},
	} {
		if _, err := normalize(o); err == nil {
			t.Errorf("normalize(%+v): no error", o)
		}
	}
}

// bugCases maps each deliberate mistake to the case of the suite that must
// catch it.
var bugCases = map[string]string{
	"incr-resets-expiry":  "incr-keeps-expiry",
	"delete-expired-true": "delete-expired",
	"touch-revives":       "touch-expired",
	"add-racy":            "concurrent-add",
	"incr-racy":           "concurrent-incr",
}

// TestSuiteCatchesBugs runs the suite on the reference driver with each
// deliberate mistake, in a child process per mistake (a failing suite fails
// its test) that runs only the case about it, and checks that the case fails
// in both modes. The racy mistakes are forced (see rendezvous), so each
// case fails every time, not when the scheduler happens to interleave.
func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the suite in child processes")
	}
	for bug, c := range bugCases {
		t.Run(bug, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenReference$/^(fast|fallback)$/^"+c+"$", "-test.v")
			cmd.Env = append(os.Environ(), "DJCACHETEST_BUGS="+bug)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a driver with bug %s:\n%s", bug, out)
			}
			for _, m := range []string{"fast", "fallback"} {
				if want := "--- FAIL: TestBrokenReference/" + m + "/" + c + " "; !strings.Contains(string(out), want) {
					t.Errorf("case %s/%s did not fail on a driver with bug %s", m, c, bug)
				}
			}
			if t.Failed() {
				t.Logf("child output:\n%s", out)
			}
		})
	}
}

// TestBrokenReference is TestSuiteCatchesBugs's child.
func TestBrokenReference(t *testing.T) {
	bugs := os.Getenv("DJCACHETEST_BUGS")
	if bugs == "" {
		t.Skip("run by TestSuiteCatchesBugs")
	}
	RunConformanceTests(t, memMaker(strings.Split(bugs, ",")), nil)
}
