package djcacheprom

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/djcache/djcache"
)

// Options configures a Collector. A nil *Options means the defaults.
type Options struct {
	// Namespace prefixes every metric name; "" means "djcache".
	Namespace string
	// ConstLabels are added to every metric, such as {"service": "shop"}.
	ConstLabels prometheus.Labels
	// DurationBuckets and SizeBuckets replace the buckets of the latency
	// histograms (seconds) and of the value size histogram (bytes); nil
	// keeps the defaults, from a microsecond to ten seconds and from 64 B
	// to 16 MiB.
	DurationBuckets, SizeBuckets []float64
}

// Collector is a prometheus.Collector of djcache metrics and the
// djcache.Observer that feeds it. Attach it to caches (Cache.Observe,
// Caches.Observe, djcache.Options.Observer) and register it once:
//
//	col := djcacheprom.NewCollector(nil)
//	caches.Observe(col) // every alias, opened now or later
//	prometheus.MustRegister(col)
//
// A Collector is safe for concurrent use and may serve any number of
// caches; the alias, backend and op labels tell them apart.
type Collector struct {
	hits, misses, sets, deletes, errors                 *prometheus.CounterVec
	fills, fillErrors, stale, early, lockWaits, refresh *prometheus.CounterVec
	duration, fillDuration, size                        *prometheus.HistogramVec

	// entries holds the children of each label set, and errs the error
	// counters by label set and kind: maps that are never modified,
	// replaced whole under mu when a new key appears, so that an event
	// reads them without a lock.
	entries atomic.Pointer[map[entryKey]*entry]
	errs    atomic.Pointer[map[errKey]prometheus.Counter]
	mu      sync.Mutex // serialises the replacements
}

type entryKey struct{ alias, backend, op string }

type errKey struct {
	entryKey
	kind djcache.ErrorKind
}

// entry holds the children of one label set, so that an event looks them
// up once and allocates nothing.
type entry struct {
	hits, misses, sets, deletes                         prometheus.Counter
	fills, fillErrors, stale, early, lockWaits, refresh prometheus.Counter
	duration, fillDuration, size                        prometheus.Observer
}

var (
	defaultDurationBuckets = []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	fillBuckets            = []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	defaultSizeBuckets     = prometheus.ExponentialBuckets(64, 4, 10)
)

// Labels are the labels of every metric; djcache_errors_total adds kind.
var labels = []string{"alias", "backend", "op"}

// NewCollector returns a Collector attached to no cache.
func NewCollector(o *Options) *Collector {
	var opts Options
	if o != nil {
		opts = *o
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "djcache"
	}
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: opts.ConstLabels}, append(labels[:len(labels):len(labels)], extra...))
	}
	histogram := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, ConstLabels: opts.ConstLabels, Buckets: buckets}, labels)
	}
	durations := opts.DurationBuckets
	if durations == nil {
		durations = defaultDurationBuckets
	}
	sizes := opts.SizeBuckets
	if sizes == nil {
		sizes = defaultSizeBuckets
	}
	c := &Collector{
		hits:         counter("hits_total", "Keys looked up and found."),
		misses:       counter("misses_total", "Keys looked up and not found."),
		sets:         counter("sets_total", "Entries stored by set, add and set_many."),
		deletes:      counter("deletes_total", "Keys removed by delete and delete_many."),
		errors:       counter("errors_total", "Calls that returned an error, by kind.", "kind"),
		fills:        counter("fills_total", "Calls of get_or_set and get_or_set_many fill functions."),
		fillErrors:   counter("fill_errors_total", "Fill function calls that failed."),
		stale:        counter("stale_served_total", "Keys answered with a stale value (Stale)."),
		early:        counter("early_refreshes_total", "Background refreshes started early (EarlyRefresh)."),
		lockWaits:    counter("lock_waits_total", "Fills that waited for another caller's fill lock (FillLock)."),
		refresh:      counter("refresh_errors_total", "Keys whose background refresh failed."),
		duration:     histogram("operation_duration_seconds", "Duration of cache calls.", durations),
		fillDuration: histogram("fill_duration_seconds", "Duration of fill function calls.", fillBuckets),
		size:         histogram("value_size_bytes", "Size of the encoded values a call read or wrote (the sum for calls on many keys).", sizes),
	}
	c.entries.Store(&map[entryKey]*entry{})
	c.errs.Store(&map[errKey]prometheus.Counter{})
	return c
}

func (c *Collector) vecs() []prometheus.Collector {
	return []prometheus.Collector{c.hits, c.misses, c.sets, c.deletes, c.errors, c.fills, c.fillErrors, c.stale, c.early, c.lockWaits, c.refresh, c.duration, c.fillDuration, c.size}
}

// Describe sends the descriptions of every metric: it implements
// prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, v := range c.vecs() {
		v.Describe(ch)
	}
}

// Collect sends the current value of every metric: it implements
// prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.vecs() {
		v.Collect(ch)
	}
}

// entry returns the children of k, making them once.
func (c *Collector) entry(k entryKey) *entry {
	if en := (*c.entries.Load())[k]; en != nil {
		return en
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.entries.Load()
	if en := old[k]; en != nil {
		return en
	}
	lv := []string{k.alias, k.backend, k.op}
	en := &entry{
		hits: c.hits.WithLabelValues(lv...), misses: c.misses.WithLabelValues(lv...),
		sets: c.sets.WithLabelValues(lv...), deletes: c.deletes.WithLabelValues(lv...),
		fills: c.fills.WithLabelValues(lv...), fillErrors: c.fillErrors.WithLabelValues(lv...),
		stale: c.stale.WithLabelValues(lv...), early: c.early.WithLabelValues(lv...),
		lockWaits: c.lockWaits.WithLabelValues(lv...), refresh: c.refresh.WithLabelValues(lv...),
		duration: c.duration.WithLabelValues(lv...), fillDuration: c.fillDuration.WithLabelValues(lv...),
		size: c.size.WithLabelValues(lv...),
	}
	next := make(map[entryKey]*entry, len(old)+1)
	maps.Copy(next, old)
	next[k] = en
	c.entries.Store(&next)
	return en
}

func (c *Collector) errorCounter(k errKey) prometheus.Counter {
	if ctr := (*c.errs.Load())[k]; ctr != nil {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.errs.Load()
	if ctr := old[k]; ctr != nil {
		return ctr
	}
	ctr := c.errors.WithLabelValues(k.alias, k.backend, k.op, k.kind.String())
	next := make(map[errKey]prometheus.Counter, len(old)+1)
	maps.Copy(next, old)
	next[k] = ctr
	c.errs.Store(&next)
	return ctr
}

// Observe counts e: it implements djcache.Observer.
func (c *Collector) Observe(_ context.Context, e djcache.Event) {
	k := entryKey{alias: e.Alias, backend: e.Backend, op: e.Op}
	en := c.entry(k)
	switch e.Kind {
	case djcache.EventOp:
		add(en.hits, e.Hits)
		add(en.misses, e.Misses)
		add(en.sets, e.Sets)
		add(en.deletes, e.Deletes)
		en.duration.Observe(e.Duration.Seconds())
		if e.Size > 0 {
			en.size.Observe(float64(e.Size))
		}
		if e.Err != nil {
			c.errorCounter(errKey{k, e.ErrorKind}).Inc()
		}
	case djcache.EventFill:
		en.fills.Inc()
		en.fillDuration.Observe(e.Duration.Seconds())
		if e.Err != nil {
			en.fillErrors.Inc()
		}
	case djcache.EventStaleServed:
		add(en.stale, e.Keys)
	case djcache.EventEarlyRefresh:
		add(en.early, e.Keys)
	case djcache.EventLockWait:
		en.lockWaits.Inc()
	case djcache.EventRefreshError:
		add(en.refresh, e.Keys)
	}
}

func add(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}
