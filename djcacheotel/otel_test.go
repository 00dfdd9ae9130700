package djcacheotel_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/redis"
	"github.com/djcache/djcache/djcacheotel"
	"github.com/djcache/djcache/internal/testenv"
)

// harness is an SDK meter and tracer provider that keep everything in
// memory.
type harness struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	opts   *djcacheotel.Options
}

func newHarness() *harness {
	h := &harness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	h.opts = &djcacheotel.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans)),
	}
	return h
}

// snapshot is one collection of the metrics, by name.
type snapshot map[string]metricdata.Aggregation

func (h *harness) collect(t *testing.T) snapshot {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	s := snapshot{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != djcacheotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, djcacheotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			s[m.Name] = m.Data
		}
	}
	return s
}

// matches reports whether set holds every one of attrs.
func matches(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// sum is the total of counter name over the points that have attrs.
func (s snapshot) sum(name string, attrs ...attribute.KeyValue) int64 {
	d, _ := s[name].(metricdata.Sum[int64])
	var n int64
	for _, p := range d.DataPoints {
		if matches(p.Attributes, attrs) {
			n += p.Value
		}
	}
	return n
}

// count is the number of measurements of histogram name over the points
// that have attrs.
func (s snapshot) count(name string, attrs ...attribute.KeyValue) uint64 {
	var n uint64
	switch d := s[name].(type) {
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, attrs) {
				n += p.Count
			}
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			if matches(p.Attributes, attrs) {
				n += p.Count
			}
		}
	}
	return n
}

// histSum is the sum of the measurements of an int64 histogram.
func (s snapshot) histSum(name string, attrs ...attribute.KeyValue) int64 {
	d, _ := s[name].(metricdata.Histogram[int64])
	var n int64
	for _, p := range d.DataPoints {
		if matches(p.Attributes, attrs) {
			n += p.Sum
		}
	}
	return n
}

// quiet drops the warnings of the background refreshes that fail on purpose.
var quiet = slog.New(slog.DiscardHandler)

func op(name string) attribute.KeyValue { return djcacheotel.AttrOperation.String(name) }

// signal is an Observer that tells when an event of a kind arrived.
type signal struct {
	mu   sync.Mutex // protects subs
	subs map[djcache.EventKind]chan struct{}
}

func (s *signal) on(k djcache.EventKind) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[djcache.EventKind]chan struct{}{}
	}
	ch := make(chan struct{})
	s.subs[k] = ch
	return ch
}

func (s *signal) Observe(_ context.Context, e djcache.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.subs[e.Kind]; ok {
		close(ch)
		delete(s.subs, e.Kind)
	}
}

func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute): // catches a missing event, not a slow one
		t.Fatalf("no %s event", what)
	}
}

// script runs the same calls on any cache and returns what the metrics
// must then say, by metric and operation.
func script(t *testing.T, c *djcache.Cache, sig *signal) map[string]map[string]int64 {
	t.Helper()
	ctx := t.Context()
	var s string
	var n int
	var m map[string]any
	boom := errors.New("the database is down")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "a", "hello"))                          // sets{set} 1
	_, err := c.Get(ctx, "a", &s)                           // hits{get} 1
	must(err)                                               //
	_, err = c.Get(ctx, "missing", &s)                      // misses{get} 1
	must(err)                                               //
	_, err = c.Add(ctx, "a", "again")                       // nothing stored
	must(err)                                               //
	_, err = c.Add(ctx, "b", "new")                         // sets{add} 1
	must(err)                                               //
	_, err = c.Has(ctx, "a")                                // hits{has_key} 1
	must(err)                                               //
	_, err = c.Delete(ctx, "a")                             // deletes{delete} 1
	must(err)                                               //
	_, err = c.SetMany(ctx, map[string]any{"x": 1, "y": 2}) // sets{set_many} 2
	must(err)                                               //
	must(c.GetMany(ctx, []string{"x", "y", "z"}, &m))       // hits{get_many} 2, misses 1
	must(c.DeleteMany(ctx, []string{"x", "y"}))             // deletes{delete_many} 2
	must(c.Set(ctx, "text", "not a number"))                // sets{set} 2
	if _, err := c.Get(ctx, "text", &n); err == nil {       // hits{get} 2, errors{get, decode}
		t.Fatal("Get of text into *int did not fail")
	}
	if _, err := c.Incr(ctx, "nothing", 1); !errors.Is(err, djcache.ErrNotFound) { // errors{incr, not_found}
		t.Fatalf("Incr of a missing key: %v", err)
	}
	// GetOrSet: a fill, a hit, a failed fill.
	fill := func(v any, err error) func(context.Context) (any, error) {
		return func(context.Context) (any, error) { return v, err }
	}
	must(c.GetOrSet(ctx, "g", &s, fill("filled", nil)))                            // misses{get_or_set} 1, fills 1
	must(c.GetOrSet(ctx, "g", &s, fill("unused", nil)))                            // hits{get_or_set} 1
	if err := c.GetOrSet(ctx, "bad", &s, fill(nil, boom)); !errors.Is(err, boom) { // misses 2, fills 2, fill errors 1, errors{get_or_set, other}
		t.Fatalf("GetOrSet with a failing fill: %v", err)
	}
	// A stale value served, and its background refresh failing.
	stale := []djcache.Option{djcache.Timeout(0), djcache.Stale(time.Hour)}
	must(c.GetOrSet(ctx, "st", &s, fill("old", nil), stale...)) // misses 3, fills 3
	refreshFailed := sig.on(djcache.EventRefreshError)
	must(c.GetOrSet(ctx, "st", &s, fill(nil, boom), stale...)) // hits 2, stale 1, fills 4, fill errors 2 (background)
	wait(t, refreshFailed, "refresh_error")
	if s != "old" {
		t.Fatalf("stale GetOrSet = %q, want old", s)
	}
	// An early refresh.
	early := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e18)}
	must(c.GetOrSet(ctx, "e", &s, func(context.Context) (any, error) {
		time.Sleep(time.Millisecond) // EarlyRefresh scales with the fill's time
		return "v1", nil
	}, early...)) // misses 4, fills 5
	refilled := sig.on(djcache.EventFill)
	must(c.GetOrSet(ctx, "e", &s, fill("v2", nil), early...)) // hits 3, early 1, fills 6 (background)
	wait(t, refilled, "fill")
	// GetOrSetMany: one fill for two keys.
	must(c.GetOrSetMany(ctx, []string{"g", "m1", "m2"}, &m, func(_ context.Context, missing []string) (map[string]any, error) {
		out := map[string]any{}
		for _, k := range missing {
			out[k] = k
		}
		return out, nil
	})) // hits{get_or_set_many} 1, misses 2, fills{get_or_set_many} 1
	return map[string]map[string]int64{
		"djcache.hits":            {"get": 2, "has_key": 1, "get_many": 2, "get_or_set": 3, "get_or_set_many": 1},
		"djcache.misses":          {"get": 1, "get_many": 1, "get_or_set": 4, "get_or_set_many": 2},
		"djcache.sets":            {"set": 2, "add": 1, "set_many": 2},
		"djcache.deletes":         {"delete": 1, "delete_many": 2},
		"djcache.errors":          {"get": 1, "incr": 1, "get_or_set": 1},
		"djcache.fills":           {"get_or_set": 6, "get_or_set_many": 1},
		"djcache.fill.errors":     {"get_or_set": 2},
		"djcache.stale_served":    {"get_or_set": 1},
		"djcache.early_refreshes": {"get_or_set": 1},
		"djcache.refresh_errors":  {"get_or_set": 1},
	}
}

var allOps = []string{"get", "set", "add", "has_key", "delete", "get_many", "set_many", "delete_many", "incr", "get_or_set", "get_or_set_many"}

// checkScript compares the metrics with what script said, and with the
// cache's Stats.
func checkScript(t *testing.T, snap snapshot, want map[string]map[string]int64, c *djcache.Cache, attrs ...attribute.KeyValue) {
	t.Helper()
	for name, byOp := range want {
		for _, o := range allOps {
			if got := snap.sum(name, append(attrs, op(o))...); got != byOp[o] {
				t.Errorf("%s{operation=%s} = %d, want %d", name, o, got, byOp[o])
			}
		}
	}
	if got := snap.sum("djcache.errors", append(attrs, op("get"), djcacheotel.AttrErrorType.String("decode"))...); got != 1 {
		t.Errorf("djcache.errors{get, decode} = %d, want 1", got)
	}
	if got := snap.sum("djcache.errors", append(attrs, op("incr"), djcacheotel.AttrErrorType.String("not_found"))...); got != 1 {
		t.Errorf("djcache.errors{incr, not_found} = %d, want 1", got)
	}
	st := c.Stats()
	for _, cmp := range []struct {
		name  string
		stats uint64
	}{
		{"djcache.hits", st.Hits}, {"djcache.misses", st.Misses}, {"djcache.fills", st.Fills},
		{"djcache.fill.errors", st.FillErrors}, {"djcache.stale_served", st.StaleServed},
		{"djcache.early_refreshes", st.EarlyRefreshes}, {"djcache.refresh_errors", st.RefreshErrors},
	} {
		if got := snap.sum(cmp.name, attrs...); got != int64(cmp.stats) {
			t.Errorf("%s = %d, Stats says %d", cmp.name, got, cmp.stats)
		}
	}
	// One latency per call; one fill duration per fill; sizes of the values
	// read and written.
	calls := map[string]uint64{"get": 3, "set": 2, "add": 2, "has_key": 1, "delete": 1, "get_many": 1, "set_many": 1, "delete_many": 1, "incr": 1, "get_or_set": 7, "get_or_set_many": 1}
	for o, n := range calls {
		if got := snap.count("djcache.operation.duration", append(attrs, op(o))...); got != n {
			t.Errorf("djcache.operation.duration{%s} has %d measurements, want %d", o, got, n)
		}
	}
	if got := snap.count("djcache.fill.duration", attrs...); got != 7 {
		t.Errorf("djcache.fill.duration has %d measurements, want 7", got)
	}
	// "hello" is a tag byte and 5 bytes, "not a number" 13: each written
	// once and read once (the second read failed to decode).
	if got := snap.histSum("djcache.value.size", append(attrs, op("set"))...); got != 6+13 {
		t.Errorf("djcache.value.size{set} sums %d bytes, want %d", got, 6+13)
	}
	if got := snap.histSum("djcache.value.size", append(attrs, op("get"))...); got != 6+13 {
		t.Errorf("djcache.value.size{get} sums %d bytes, want %d", got, 6+13)
	}
}

// TestMetricsLocmem: after a scripted sequence of calls on locmem, every
// metric holds the count of what happened, under the cache's alias,
// backend and operation.
func TestMetricsLocmem(t *testing.T) {
	h := newHarness()
	c, err := djcache.Open("locmem://"+t.Name(), &djcache.Options{Alias: "main", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := djcacheotel.Instrument(c, h.opts); err != nil {
		t.Fatal(err)
	}
	sig := &signal{}
	c.Observe(sig)
	want := script(t, c, sig)
	base := []attribute.KeyValue{djcacheotel.AttrAlias.String("main"), djcacheotel.AttrBackend.String("locmem")}
	checkScript(t, h.collect(t), want, c, base...)
}

// TestLockWaitMetric: a fill that waits for another process's fill lock
// counts one lock wait.
func TestLockWaitMetric(t *testing.T) {
	h := newHarness()
	ctx := t.Context()
	holder, err := djcache.Open("locmem://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	waiter, err := djcache.Open("locmem://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	if _, err := djcacheotel.Instrument(waiter, h.opts); err != nil {
		t.Fatal(err)
	}
	sig := &signal{}
	waiter.Observe(sig)
	waited := sig.on(djcache.EventLockWait)
	lock := djcache.FillLock(time.Minute)
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 2)
	var s1, s2 string
	go func() {
		done <- holder.GetOrSet(ctx, "k", &s1, func(context.Context) (any, error) {
			close(entered)
			<-release
			return "holder's", nil
		}, lock)
	}()
	<-entered
	go func() {
		done <- waiter.GetOrSet(ctx, "k", &s2, func(context.Context) (any, error) { return "waiter's", nil }, lock)
	}()
	wait(t, waited, "lock_wait")
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	snap := h.collect(t)
	if got := snap.sum("djcache.lock_waits", op("get_or_set")); got != 1 {
		t.Errorf("djcache.lock_waits = %d, want 1", got)
	}
	if s2 != "holder's" {
		t.Errorf("the waiter got %q, want the holder's value", s2)
	}
}

// TestSpans: one span per call, a child of the caller's span, with the
// operation, the outcome and, on an error, its kind and status; keys only
// with Options.Keys.
func TestSpans(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprint("keys=", keys), func(t *testing.T) {
			h := newHarness()
			h.opts.Keys = keys
			c, err := djcache.Open("locmem://" + t.Name())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := djcacheotel.Instrument(c, h.opts); err != nil {
				t.Fatal(err)
			}
			tracer := h.opts.TracerProvider.Tracer("test")
			ctx, parent := tracer.Start(t.Context(), "request")
			var n int
			c.Set(ctx, "k", 1)
			c.Get(ctx, "k", &n)
			c.Get(ctx, "missing", &n)
			c.GetMany(ctx, []string{"k", "missing"}, &map[string]int{})
			c.Incr(ctx, "missing", 1)
			parent.End()

			spans := h.spans.Ended()
			if len(spans) != 6 {
				t.Fatalf("%d spans, want 6", len(spans))
			}
			type seen struct {
				name   string
				hit    string
				errTyp string
				key    string
			}
			var got []seen
			for _, sp := range spans[:5] {
				if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("span %s is not a child of the caller's span", sp.Name())
				}
				if !sp.EndTime().After(sp.StartTime()) && !sp.EndTime().Equal(sp.StartTime()) {
					t.Errorf("span %s ends before it starts", sp.Name())
				}
				var s seen
				s.name = sp.Name()
				for _, kv := range sp.Attributes() {
					switch kv.Key {
					case djcacheotel.AttrHit:
						s.hit = kv.Value.Emit()
					case djcacheotel.AttrHits:
						s.hit += "hits=" + kv.Value.Emit()
					case djcacheotel.AttrErrorType:
						s.errTyp = kv.Value.Emit()
					case djcacheotel.AttrKey:
						s.key = kv.Value.Emit()
					case djcacheotel.AttrDBSystem:
						t.Errorf("span %s of a locmem cache has db.system %s", sp.Name(), kv.Value.Emit())
					}
				}
				if (s.errTyp != "") != (sp.Status().Code == codes.Error) {
					t.Errorf("span %s: error.type %q, status %v", sp.Name(), s.errTyp, sp.Status())
				}
				got = append(got, s)
			}
			key := func(k string) string {
				if keys {
					return k
				}
				return ""
			}
			want := []seen{
				{name: "djcache.set", key: key("k")},
				{name: "djcache.get", hit: "true", key: key("k")},
				{name: "djcache.get", hit: "false", key: key("missing")},
				{name: "djcache.get_many", hit: "hits=1"},
				{name: "djcache.incr", errTyp: "not_found", key: key("missing")},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("spans\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestInstrumentCaches: one call instruments every alias; the metrics tell
// the aliases apart and a DatabaseCache's spans name its database.
func TestInstrumentCaches(t *testing.T) {
	dir := t.TempDir()
	s, err := djcache.ParseSettings(fmt.Appendf(nil, `{
		"CACHES": {
			"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": %q},
			"sql": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table"}},
		"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": %q}}}`,
		t.Name(), filepath.Join(dir, "db.sqlite3")))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djcache.NewCaches(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	h := newHarness()
	if _, err := djcacheotel.InstrumentCaches(cs, h.opts); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, alias := range cs.Aliases() {
		c, err := cs.Cache(alias)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := c.Set(ctx, "k", "v"); err != nil {
			t.Fatal(err)
		}
		c.Get(ctx, "k", &v)
		c.Get(ctx, "k", &v)
		c.Get(ctx, "nope", &v)
	}
	snap := h.collect(t)
	for alias, backend := range map[string]string{"default": "locmem", "sql": "db"} {
		a := []attribute.KeyValue{djcacheotel.AttrAlias.String(alias), djcacheotel.AttrBackend.String(backend), op("get")}
		if h, m := snap.sum("djcache.hits", a...), snap.sum("djcache.misses", a...); h != 2 || m != 1 {
			t.Errorf("alias %s: %d hits and %d misses, want 2 and 1", alias, h, m)
		}
	}
	systems := map[string]string{}
	for _, sp := range h.spans.Ended() {
		var alias, sys string
		for _, kv := range sp.Attributes() {
			switch kv.Key {
			case djcacheotel.AttrAlias:
				alias = kv.Value.AsString()
			case djcacheotel.AttrDBSystem:
				sys = kv.Value.AsString()
			}
		}
		systems[alias] = sys
	}
	if systems["sql"] != "sqlite" || systems["default"] != "" {
		t.Errorf("db.system by alias: %v, want sql: sqlite and none for locmem", systems)
	}
}

// TestMetricsSQLiteAndRedis: the scripted sequence gives the same metrics
// on network and SQL backends, whose spans carry db.system.
func TestMetricsSQLiteAndRedis(t *testing.T) {
	for _, tc := range []struct{ name, url, system string }{
		{"sqlite", "sqlite:///" + filepath.Join(t.TempDir(), "c.db") + "?table=cache", "sqlite"},
		{"redis", "redis://127.0.0.1:6379/0?key_prefix=djcacheotel-" + fmt.Sprint(time.Now().UnixNano()), "redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "redis" {
				testenv.NeedTCP(t, "Redis", "127.0.0.1:6379", "run .ci/services")
			}
			c, err := djcache.Open(tc.url, &djcache.Options{Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			h := newHarness()
			if _, err := djcacheotel.Instrument(c, h.opts); err != nil {
				t.Fatal(err)
			}
			sig := &signal{}
			c.Observe(sig)
			want := script(t, c, sig)
			backend := map[string]string{"sqlite": "db", "redis": "redis"}[tc.name]
			checkScript(t, h.collect(t), want, c, djcacheotel.AttrBackend.String(backend))
			c.Clear(t.Context())
			for _, sp := range h.spans.Ended() {
				var sys string
				for _, kv := range sp.Attributes() {
					if kv.Key == djcacheotel.AttrDBSystem {
						sys = kv.Value.AsString()
					}
				}
				if sys != tc.system {
					t.Fatalf("span %s has db.system %q, want %q", sp.Name(), sys, tc.system)
				}
			}
		})
	}
}
