package djcacheprom_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/djcacheotel/djcacheprom"
)

// value sums the samples of the metric family name whose labels include
// labels (a counter's value or a histogram's count).
func value(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for k, want := range labels {
				if labelValue(m, k) != want {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				v += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				v += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return v
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// events is an Observer that tells when an event of a kind arrived.
type events struct {
	mu   sync.Mutex // protects subs
	subs map[djcache.EventKind]chan struct{}
}

func (s *events) on(k djcache.EventKind) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		s.subs = map[djcache.EventKind]chan struct{}{}
	}
	ch := make(chan struct{})
	s.subs[k] = ch
	return ch
}

func (s *events) Observe(_ context.Context, e djcache.Event) {
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

// TestCollector: after a scripted sequence of calls on the caches of a
// Caches handler, every metric holds the count of what happened, by
// alias, backend and operation, and the collector passes Prometheus'
// lint.
func TestCollector(t *testing.T) {
	s, err := djcache.ParseSettings([]byte(`{
		"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "prom-default"},
		"sessions": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "prom-sessions"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djcache.NewCaches(s, &djcache.CachesOptions{Options: &djcache.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	col := djcacheprom.NewCollector(nil)
	cs.Observe(col)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)

	ctx := t.Context()
	c, _ := cs.Default()
	sess, _ := cs.Cache("sessions")
	sig := &events{}
	c.Observe(sig)
	var str string
	var n int
	boom := errors.New("down")
	fill := func(v any, err error) func(context.Context) (any, error) {
		return func(context.Context) (any, error) { return v, err }
	}
	c.Set(ctx, "a", "x")                                       // sets{set} 1
	c.Get(ctx, "a", &str)                                      // hits{get} 1
	c.Get(ctx, "b", &str)                                      // misses{get} 1
	c.Get(ctx, "a", &n)                                        // hits{get} 2, errors{get, decode} 1
	c.Add(ctx, "c", 1)                                         // sets{add} 1
	c.SetMany(ctx, map[string]any{"d": 1, "e": 2})             // sets{set_many} 2
	c.GetMany(ctx, []string{"d", "e", "f"}, &map[string]int{}) // hits{get_many} 2, misses 1
	c.Delete(ctx, "a")                                         // deletes{delete} 1
	c.DeleteMany(ctx, []string{"d", "e"})                      // deletes{delete_many} 2
	c.GetOrSet(ctx, "g", &str, fill("v", nil))                 // misses{get_or_set} 1, fills 1
	c.GetOrSet(ctx, "h", &str, fill(nil, boom))                // misses 2, fills 2, fill errors 1, errors{get_or_set, other}
	stale := []djcache.Option{djcache.Timeout(0), djcache.Stale(time.Hour)}
	c.GetOrSet(ctx, "s", &str, fill("old", nil), stale...) // misses 3, fills 3
	failed := sig.on(djcache.EventRefreshError)
	c.GetOrSet(ctx, "s", &str, fill(nil, boom), stale...) // hits 1, stale 1, fills 4, fill errors 2, refresh errors 1
	wait(t, failed, "refresh_error")
	early := []djcache.Option{djcache.Timeout(time.Hour), djcache.EarlyRefresh(1e18)}
	c.GetOrSet(ctx, "e", &str, func(context.Context) (any, error) { time.Sleep(time.Millisecond); return "v1", nil }, early...) // misses 4, fills 5
	refilled := sig.on(djcache.EventFill)
	c.GetOrSet(ctx, "e", &str, fill("v2", nil), early...) // hits 2, early 1, fills 6
	wait(t, refilled, "fill")
	sess.Set(ctx, "k", "v")  // sets{sessions, set} 1
	sess.Get(ctx, "k", &str) // hits{sessions, get} 1

	def := func(op string) map[string]string {
		return map[string]string{"alias": "default", "backend": "locmem", "op": op}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"djcache_hits_total", def("get"), 2},
		{"djcache_hits_total", def("get_many"), 2},
		{"djcache_hits_total", def("get_or_set"), 2},
		{"djcache_misses_total", def("get"), 1},
		{"djcache_misses_total", def("get_many"), 1},
		{"djcache_misses_total", def("get_or_set"), 4},
		{"djcache_sets_total", def("set"), 1},
		{"djcache_sets_total", def("add"), 1},
		{"djcache_sets_total", def("set_many"), 2},
		{"djcache_deletes_total", def("delete"), 1},
		{"djcache_deletes_total", def("delete_many"), 2},
		{"djcache_errors_total", map[string]string{"alias": "default", "op": "get", "kind": "decode"}, 1},
		{"djcache_errors_total", map[string]string{"alias": "default", "op": "get_or_set", "kind": "other"}, 1},
		{"djcache_fills_total", def("get_or_set"), 6},
		{"djcache_fill_errors_total", def("get_or_set"), 2},
		{"djcache_stale_served_total", def("get_or_set"), 1},
		{"djcache_early_refreshes_total", def("get_or_set"), 1},
		{"djcache_refresh_errors_total", def("get_or_set"), 1},
		{"djcache_lock_waits_total", def("get_or_set"), 0},
		{"djcache_operation_duration_seconds", def("get"), 3},
		{"djcache_operation_duration_seconds", def("get_or_set"), 6},
		{"djcache_fill_duration_seconds", def("get_or_set"), 6},
		{"djcache_value_size_bytes", def("set"), 1},
		{"djcache_value_size_bytes", def("get"), 2},
		{"djcache_sets_total", map[string]string{"alias": "sessions", "op": "set"}, 1},
		{"djcache_hits_total", map[string]string{"alias": "sessions", "op": "get"}, 1},
	} {
		if got := value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	st := c.Stats()
	for name, want := range map[string]uint64{"djcache_hits_total": st.Hits, "djcache_misses_total": st.Misses, "djcache_fills_total": st.Fills,
		"djcache_fill_errors_total": st.FillErrors, "djcache_stale_served_total": st.StaleServed, "djcache_early_refreshes_total": st.EarlyRefreshes} {
		if got := value(t, reg, name, map[string]string{"alias": "default"}); got != float64(want) {
			t.Errorf("%s = %v, Stats says %d", name, got, want)
		}
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(`
# HELP djcache_errors_total Calls that returned an error, by kind.
# TYPE djcache_errors_total counter
djcache_errors_total{alias="default",backend="locmem",kind="decode",op="get"} 1
djcache_errors_total{alias="default",backend="locmem",kind="other",op="get_or_set"} 1
`), "djcache_errors_total"); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(col)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectorLockWait: a fill that waits for another process's fill
// lock counts one lock wait.
func TestCollectorLockWait(t *testing.T) {
	ctx := t.Context()
	col := djcacheprom.NewCollector(&djcacheprom.Options{Namespace: "app", ConstLabels: prometheus.Labels{"service": "shop"}})
	holder, err := djcache.Open("locmem://" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	sig := &events{}
	waiter, err := djcache.Open("locmem://"+t.Name(), &djcache.Options{Observer: col, Alias: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
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
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	if got := value(t, reg, "app_lock_waits_total", map[string]string{"alias": "shared", "service": "shop", "op": "get_or_set"}); got != 1 {
		t.Errorf("app_lock_waits_total = %v, want 1", got)
	}
}
