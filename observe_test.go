package djcache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex // protects events
	events []djcache.Event
}

func (r *recorder) Observe(_ context.Context, e djcache.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns the events so far and forgets them.
func (r *recorder) take() []djcache.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// want is the part of an EventOp that a test checks.
type want struct {
	op, key                           string
	hits, misses, sets, deletes, size int
	errKind                           djcache.ErrorKind
	outcome                           djcache.Outcome
}

func (w want) String() string { return fmt.Sprintf("%+v", struct{ want }{w}) }

func opOf(e djcache.Event) want {
	return want{op: e.Op, key: e.Key, hits: e.Hits, misses: e.Misses, sets: e.Sets, deletes: e.Deletes, size: e.Size, errKind: e.ErrorKind, outcome: e.Outcome()}
}

func newObserved(t *testing.T, o *djcache.Options) (*djcache.Cache, *recorder) {
	t.Helper()
	d, err := locmem.New(fmt.Sprintf("%s-%d", t.Name(), storeSeq.Add(1)), &locmem.Options{MaxEntries: 1000}) // a store of its own, also under -count
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	opts := djcache.Options{Alias: "main", Observer: r}
	if o != nil {
		opts = *o
		opts.Observer = r
	}
	c, err := djcache.New(d, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, r
}

// TestObserverOps: every call sends one EventOp that names the call, the
// backend and the alias, with the counts, the size and the outcome of the
// call; their sums agree with Stats.
func TestObserverOps(t *testing.T) {
	c, r := newObserved(t, nil)
	ctx := t.Context()
	var s string
	var m map[string]string
	steps := []struct {
		call func()
		want want
	}{
		{func() { c.Set(ctx, "s", "hello") }, want{op: "set", key: "s", sets: 1, size: 6}},
		{func() { c.Get(ctx, "s", &s) }, want{op: "get", key: "s", hits: 1, size: 6, outcome: djcache.OutcomeHit}},
		{func() { c.Get(ctx, "nope", &s) }, want{op: "get", key: "nope", misses: 1, outcome: djcache.OutcomeMiss}},
		{func() { c.Add(ctx, "n", 42) }, want{op: "add", key: "n", sets: 1, size: 2}},
		{func() { c.Add(ctx, "n", 43) }, want{op: "add", key: "n", size: 2}},
		{func() { c.Has(ctx, "n") }, want{op: "has_key", key: "n", hits: 1, outcome: djcache.OutcomeHit}},
		{func() { c.Has(ctx, "nope") }, want{op: "has_key", key: "nope", misses: 1, outcome: djcache.OutcomeMiss}},
		{func() { c.Incr(ctx, "n", 1) }, want{op: "incr", key: "n"}},
		{func() { c.Decr(ctx, "n", 1) }, want{op: "decr", key: "n"}},
		{func() { c.Touch(ctx, "n") }, want{op: "touch", key: "n"}},
		{func() { c.TTL(ctx, "n") }, want{op: "ttl", key: "n"}},
		{func() { c.GetMany(ctx, []string{"s", "nope", "s"}, &m) }, want{op: "get_many", hits: 1, misses: 1, size: 12, outcome: djcache.OutcomePartial}},
		{func() { djcache.GetMany[string](ctx, c, []string{"s"}) }, want{op: "get_many", hits: 1, size: 6, outcome: djcache.OutcomeHit}},
		{func() { c.SetMany(ctx, map[string]any{"a": "x", "b": 7}) }, want{op: "set_many", sets: 2, size: 3}},
		{func() { c.DeleteMany(ctx, []string{"a", "b", "a"}) }, want{op: "delete_many", deletes: 2}},
		{func() { c.Delete(ctx, "s") }, want{op: "delete", key: "s", deletes: 1}},
		{func() { c.IncrVersion(ctx, "n", 1) }, want{op: "incr_version", key: "n"}},
		{func() { c.DecrVersion(ctx, "n", 1, djcache.Version(2)) }, want{op: "decr_version", key: "n"}},
		{func() {
			c.GetOrSet(ctx, "g", &s, func(context.Context) (any, error) { return "filled", nil })
		}, want{op: "get_or_set", key: "g", misses: 1, outcome: djcache.OutcomeMiss}},
		{func() { c.GetOrSet(ctx, "g", &s, nil) }, want{op: "get_or_set", key: "g", errKind: djcache.ErrorOther, outcome: djcache.OutcomeError}},
		{func() {
			c.GetOrSet(ctx, "g", &s, func(context.Context) (any, error) { return "again", nil })
		}, want{op: "get_or_set", key: "g", hits: 1, outcome: djcache.OutcomeHit}},
		{func() {
			c.GetOrSetMany(ctx, []string{"g", "h"}, &m, func(_ context.Context, missing []string) (map[string]any, error) {
				return map[string]any{"h": "made"}, nil
			})
		}, want{op: "get_or_set_many", hits: 1, misses: 1, outcome: djcache.OutcomePartial}},
		{func() { c.Ping(ctx) }, want{op: "ping"}},
		{func() { c.Clear(ctx) }, want{op: "clear"}},
	}
	before := c.Stats()
	var hits, misses, sets, deletes int
	for i, st := range steps {
		st.call()
		var ops []djcache.Event
		for _, e := range r.take() {
			if e.Kind == djcache.EventOp {
				ops = append(ops, e)
			}
		}
		if len(ops) != 1 {
			t.Fatalf("step %d (%s): %d EventOp events, want 1: %+v", i, st.want.op, len(ops), ops)
		}
		e := ops[0]
		if got := opOf(e); got != st.want {
			t.Errorf("step %d:\n got %v\nwant %v", i, got, st.want)
		}
		if e.Backend != "locmem" || e.Alias != "main" {
			t.Errorf("step %d (%s): Backend %q, Alias %q; want locmem, main", i, e.Op, e.Backend, e.Alias)
		}
		if e.Start.IsZero() || e.Duration < 0 {
			t.Errorf("step %d (%s): Start %v, Duration %v", i, e.Op, e.Start, e.Duration)
		}
		hits += e.Hits
		misses += e.Misses
		if e.Op != "get_or_set" && e.Op != "get_or_set_many" {
			sets += e.Sets
		}
		deletes += e.Deletes
	}
	after := c.Stats()
	if got := after.Hits - before.Hits; got != uint64(hits) {
		t.Errorf("Stats counted %d hits, the events %d", got, hits)
	}
	if got := after.Misses - before.Misses; got != uint64(misses) {
		t.Errorf("Stats counted %d misses, the events %d", got, misses)
	}
	// Stats counts also the entries that the fills stored (2) and IncrVersion's (2).
	if got := after.Sets - before.Sets; got != uint64(sets)+4 {
		t.Errorf("Stats counted %d sets, the events %d (+4 from fills and version moves)", got, sets)
	}
	if got := after.Deletes - before.Deletes; got != uint64(deletes) {
		t.Errorf("Stats counted %d deletes, the events %d", got, deletes)
	}
}

// TestObserverErrors: a call that fails sends its error, classified.
func TestObserverErrors(t *testing.T) {
	c, r := newObserved(t, nil)
	ctx := t.Context()
	c.Set(ctx, "s", "text")
	r.take()
	var n int
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		call       func() error
		kind       djcache.ErrorKind
		hits, size int // a value that does not decode was found
	}{
		{func() error { _, err := c.Get(ctx, "s", &n); return err }, djcache.ErrorDecode, 1, 5},
		{func() error { return c.Set(ctx, "f", func() {}) }, djcache.ErrorEncode, 0, 0},
		{func() error { _, err := c.Incr(ctx, "missing", 1); return err }, djcache.ErrorNotFound, 0, 0},
		{func() error { _, err := c.Incr(ctx, "s", 1); return err }, djcache.ErrorOther, 0, 0},
		{func() error { _, err := c.Get(cancelled, "s", &n); return err }, djcache.ErrorCanceled, 0, 0},
		{func() error { c.Close(); _, err := c.Get(ctx, "s", &n); return err }, djcache.ErrorClosed, 0, 0},
	} {
		err := tc.call()
		ev := r.take()
		if len(ev) != 1 {
			t.Fatalf("%d events, want 1: %+v", len(ev), ev)
		}
		e := ev[0]
		if e.Err != err || e.ErrorKind != tc.kind || e.Outcome() != djcache.OutcomeError || e.Hits != tc.hits || e.Misses != 0 || e.Size != tc.size {
			t.Errorf("%s: Err %v, ErrorKind %q, Outcome %v, Hits %d, Misses %d, Size %d; want the call's error %v, %q, error, %d hits, no misses, size %d",
				e.Op, e.Err, e.ErrorKind, e.Outcome(), e.Hits, e.Misses, e.Size, err, tc.kind, tc.hits, tc.size)
		}
	}
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestErrorKindOf(t *testing.T) {
	wrap := func(err error) error { return &djcache.OpError{Op: "get", Backend: "redis", Err: err} }
	for _, tc := range []struct {
		err  error
		want djcache.ErrorKind
	}{
		{nil, djcache.ErrorNone},
		{wrap(context.DeadlineExceeded), djcache.ErrorTimeout},
		{wrap(os.ErrDeadlineExceeded), djcache.ErrorTimeout},
		{wrap(timeoutError{}), djcache.ErrorTimeout},
		{wrap(context.Canceled), djcache.ErrorCanceled},
		{wrap(fmt.Errorf("memcached: %w", djcache.ErrInvalidKey)), djcache.ErrorInvalidKey},
		{wrap(&djcache.EncodeError{Err: errors.New("x")}), djcache.ErrorEncode},
		{wrap(&djcache.DecodeError{Stored: "text"}), djcache.ErrorDecode},
		{wrap(&djcache.ManyDecodeError{}), djcache.ErrorDecode},
		{wrap(djcache.ErrNotFound), djcache.ErrorNotFound},
		{wrap(djcache.ErrAbsent), djcache.ErrorNotFound},
		{djcache.ErrClosed, djcache.ErrorClosed},
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), djcache.ErrorConnection},
		{wrap(syscall.ECONNRESET), djcache.ErrorConnection},
		{wrap(io.EOF), djcache.ErrorConnection},
		{wrap(djcache.ErrNotInteger), djcache.ErrorOther},
		{errors.New("ERR wrong number of arguments"), djcache.ErrorOther},
	} {
		if got := djcache.ErrorKindOf(tc.err); got != tc.want {
			t.Errorf("ErrorKindOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	for k := djcache.ErrorNone; k <= djcache.ErrorOther; k++ {
		if s := k.String(); k != djcache.ErrorNone && (s == "" || strings.ContainsAny(s, " -.(")) {
			t.Errorf("ErrorKind(%d).String() = %q: want a label value", k, s)
		}
	}
}

// hotKinds returns the kinds of the events other than EventOp, in order.
func hotKinds(ev []djcache.Event) []string {
	var out []string
	for _, e := range ev {
		if e.Kind != djcache.EventOp {
			out = append(out, e.Kind.String())
		}
	}
	return out
}

// TestObserverHotEvents: fills, failed fills, stale values served, early
// and failed background refreshes are events of their own.
func TestObserverHotEvents(t *testing.T) {
	c, r := newObserved(t, nil)
	ctx := t.Context()
	var s string
	boom := errors.New("the database is down")

	// A fill, then a failed fill.
	c.GetOrSet(ctx, "k", &s, func(context.Context) (any, error) { return "v", nil })
	c.GetOrSet(ctx, "bad", &s, func(context.Context) (any, error) { return nil, boom })
	ev := r.take()
	if got := strings.Join(hotKinds(ev), " "); got != "fill fill" {
		t.Fatalf("hot-key events %q, want two fills", got)
	}
	for _, e := range ev {
		if e.Kind == djcache.EventFill && (e.Op != "get_or_set" || e.Keys != 1 || e.Duration < 0 || e.Start.IsZero() || !strings.HasSuffix(e.Key, ":k") && !strings.HasSuffix(e.Key, ":bad")) {
			t.Errorf("fill event %+v", e)
		}
	}
	if fe := ev[len(ev)-2]; fe.Kind != djcache.EventFill || fe.Err != boom || fe.ErrorKind != djcache.ErrorOther {
		t.Errorf("the failed fill's event: %+v", fe)
	}
	// An absence is a fill that worked.
	c.GetOrSet(ctx, "absent", &s, func(context.Context) (any, error) { return nil, djcache.ErrAbsent })
	for _, e := range r.take() {
		if e.Kind == djcache.EventFill && e.Err != nil {
			t.Errorf("a fill returning ErrAbsent sent Err %v", e.Err)
		}
	}

	// A stale value served, refreshed in the background by a fill that
	// fails: Timeout(0) with Stale stores an entry stale at once.
	stale := []djcache.Option{djcache.Timeout(0), djcache.Stale(time.Hour)}
	c.GetOrSet(ctx, "st", &s, func(context.Context) (any, error) { return "old", nil }, stale...)
	r.take()
	refreshed := make(chan struct{})
	if err := c.GetOrSet(ctx, "st", &s, func(context.Context) (any, error) {
		defer close(refreshed)
		return nil, boom
	}, stale...); err != nil || s != "old" {
		t.Fatalf("GetOrSet of a stale key = %q, %v", s, err)
	}
	<-refreshed
	waitFor(t, r, "refresh_error")
	// The refresh runs in its own goroutine: its fill and refresh_error
	// events and the caller's stale_served come in any order.
	kinds := hotKinds(r.take())
	slices.Sort(kinds)
	if got := strings.Join(kinds, " "); got != "fill refresh_error stale_served" {
		t.Errorf("hot-key events %q (sorted), want fill, refresh_error and stale_served", got)
	}

	// An early refresh.
	early := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e18)}
	c.GetOrSet(ctx, "e", &s, func(context.Context) (any, error) { time.Sleep(time.Millisecond); return "v1", nil }, early...)
	r.take()
	c.GetOrSet(ctx, "e", &s, func(context.Context) (any, error) { return "v2", nil }, early...)
	waitFor(t, r, "fill")
	if got := strings.Join(hotKinds(r.take()), " "); got != "early_refresh fill" && got != "fill early_refresh" {
		t.Errorf("hot-key events %q, want early_refresh and fill", got)
	}

	// GetOrSetMany: one fill event for the keys missed, with their number.
	var m map[string]string
	c.GetOrSetMany(ctx, []string{"x", "y", "k"}, &m, func(_ context.Context, missing []string) (map[string]any, error) {
		return map[string]any{"x": "1", "y": "2"}, nil
	})
	for _, e := range r.take() {
		if e.Kind == djcache.EventFill && (e.Op != "get_or_set_many" || e.Keys != 2 || e.Key != "") {
			t.Errorf("GetOrSetMany's fill event: %+v", e)
		}
	}
}

// waitFor waits until r holds an event of kind (from a background
// refresh); it fails the test after a minute, which catches a missing
// event, not a slow one.
func waitFor(t *testing.T, r *recorder, kind string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r.mu.Lock()
		n := 0
		for _, e := range r.events {
			if e.Kind.String() == kind {
				n++
			}
		}
		r.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event", kind)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestObserverLockWait: a GetOrSet that waits for another cache's fill
// lock sends EventLockWait.
func TestObserverLockWait(t *testing.T) {
	ctx := t.Context()
	store := fmt.Sprintf("%s-%d", t.Name(), storeSeq.Add(1))
	holder, err := djcache.Open("locmem://" + store)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	waiter, r := func() (*djcache.Cache, *recorder) {
		r := &recorder{}
		c, err := djcache.Open("locmem://"+store, &djcache.Options{Observer: r})
		if err != nil {
			t.Fatal(err)
		}
		return c, r
	}()
	defer waiter.Close()
	lock := djcache.FillLock(time.Minute)
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		var s string
		done <- holder.GetOrSet(ctx, "k", &s, func(context.Context) (any, error) {
			close(entered)
			<-release
			return "holder's", nil
		}, lock)
	}()
	<-entered
	waited := make(chan error)
	go func() {
		var s string
		waited <- waiter.GetOrSet(ctx, "k", &s, func(context.Context) (any, error) { return "waiter's", nil }, lock)
	}()
	waitFor(t, r, "lock_wait")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
}

// TestCachesObserve: Caches.Observe reaches the caches opened before and
// after it, and each reports its alias; CachesOptions.Options.Observer
// reaches every cache too.
func TestCachesObserve(t *testing.T) {
	s, err := djcache.ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "obs-default"},
		"other": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "obs-other"}}`))
	if err != nil {
		t.Fatal(err)
	}
	base := &recorder{}
	cs, err := djcache.NewCaches(s, &djcache.CachesOptions{Options: &djcache.Options{Observer: base}})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := t.Context()
	def, _ := cs.Default()
	r := &recorder{}
	cs.Observe(r)
	other, _ := cs.Cache("other")
	def.Set(ctx, "k", 1)
	other.Set(ctx, "k", 1)
	for _, rec := range []*recorder{r, base} {
		ev := rec.take()
		if len(ev) != 2 || ev[0].Alias != "default" || ev[1].Alias != "other" {
			t.Errorf("events %+v, want a set on default and one on other", ev)
		}
	}
}

// TestObserveConcurrent: attaching observers while calls run is safe
// (run with -race), and each observer sees the calls that start after it
// is attached.
func TestObserveConcurrent(t *testing.T) {
	c, _ := newObserved(t, nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				c.Set(ctx, fmt.Sprint(g, i), i)
			}
		})
	}
	late := make([]*recorder, 4)
	for i := range late {
		late[i] = &recorder{}
		c.Observe(late[i])
	}
	wg.Wait()
	for i, r := range late {
		r.take()
		c.Set(ctx, "after", i)
		if ev := r.take(); len(ev) != 1 {
			t.Errorf("observer %d: %d events for one call, want 1", i, len(ev))
		}
	}
}

// nopObserver counts events and does nothing else.
type nopObserver struct{ n int }

func (o *nopObserver) Observe(context.Context, djcache.Event) { o.n++ }

// BenchmarkGetHitNoObserver: a locmem Get hit on a Cache without
// observers, which the hook must leave as it was (compare it with the
// same benchmark on a build without the hook; djcacheotel's
// BenchmarkGetHit measures the instrumented calls).
func BenchmarkGetHitNoObserver(b *testing.B) {
	benchGetHit(b, nil)
}

// BenchmarkGetHitObserved: the same with an observer that does nothing:
// the cost of timing the call and building its Event.
func BenchmarkGetHitObserved(b *testing.B) {
	benchGetHit(b, &nopObserver{})
}

func benchGetHit(b *testing.B, o djcache.Observer) {
	d, err := locmem.New(b.Name(), &locmem.Options{MaxEntries: 1000})
	if err != nil {
		b.Fatal(err)
	}
	c, err := djcache.New(d, &djcache.Options{Observer: o})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "n", 42)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		if found, err := c.Get(ctx, "n", &n); !found || err != nil {
			b.Fatal(found, err)
		}
	}
}
