package djcacheotel

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/djcache/djcache"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/djcache/djcache/djcacheotel"

// The attribute keys of the metrics and spans. Metrics carry the first
// three (and error.type on djcache.errors); spans carry them all where
// they apply.
const (
	AttrAlias           = attribute.Key("djcache.alias")      // the cache's alias ("" outside a Caches handler without Options.Alias)
	AttrBackend         = attribute.Key("djcache.backend")    // "locmem", "filebased", "db", "redis", "memcached", "dummy", …
	AttrOperation       = attribute.Key("djcache.operation")  // Django's name of the call: "get", "set", "get_many", …
	AttrErrorType       = attribute.Key("error.type")         // the djcache.ErrorKind of an error: "timeout", "connection", …
	AttrHit             = attribute.Key("djcache.hit")        // spans of get, has_key and get_or_set: whether the key was found
	AttrHits            = attribute.Key("djcache.hits")       // spans of calls on many keys: keys found
	AttrMisses          = attribute.Key("djcache.misses")     // spans of calls on many keys: keys missed
	AttrSize            = attribute.Key("djcache.value.size") // spans: bytes of the values read or written
	AttrKeys            = attribute.Key("djcache.keys")       // fill spans: keys the fill was asked for
	AttrKey             = attribute.Key("djcache.key")        // spans, only with Options.Keys: the key
	AttrDBSystem        = attribute.Key("db.system")          // spans: redis, memcached, postgresql, mysql or sqlite
	AttrDBSystemName    = attribute.Key("db.system.name")     // spans: the same, under the newer semantic conventions' name
	AttrDBOperationName = attribute.Key("db.operation.name")  // spans: the same as djcache.operation
)

// Options configures the instrumentation. A nil *Options means the
// defaults (djcache's house style: one nil-safe struct, not functional
// options).
type Options struct {
	// MeterProvider makes the meter; nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider makes the tracer; nil means
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// NoSpans turns spans off: metrics only.
	NoSpans bool
	// Keys puts the caller's key in spans, as djcache.key (and the made
	// key in fill spans). Off by default: keys may be personal, and a
	// span attribute is exported as it is. Keys are never metric
	// attributes (their number is unbounded).
	Keys bool
	// DBSystem, if not empty, is the db.system of every span, overriding
	// what the backend says. Without it, Instrument and InstrumentCaches
	// find the dialect of a "db" cache (postgresql, mysql, sqlite); an
	// Observer made by NewObserver and attached by hand cannot, and gives
	// such a cache's spans db.system "other_sql".
	DBSystem string
}

// Observer turns a Cache's events into OpenTelemetry metrics and spans. It
// implements [djcache.Observer]; attach it with Cache.Observe,
// Caches.Observe or djcache.Options.Observer, or let Instrument and
// InstrumentCaches do it. An Observer is safe for concurrent use and may
// serve any number of caches: the alias and the backend come with each
// event.
type Observer struct {
	opts   Options
	tracer trace.Tracer // nil with NoSpans

	hits, misses, sets, deletes, errors                 metric.Int64Counter
	fills, fillErrors, stale, early, lockWaits, refresh metric.Int64Counter
	duration, fillDuration                              metric.Float64Histogram
	size                                                metric.Int64Histogram

	// entries holds the reusable attributes per alias, backend, operation
	// (and error kind): a map that is never modified, replaced whole under
	// mu when a new key appears, so that an event reads it without a lock.
	entries atomic.Pointer[map[entryKey]*entry]
	mu      sync.Mutex        // serialises the replacements of entries
	systems map[string]string // db.system by alias, for "db" caches; set before the Observer is attached
}

// entryKey identifies the attributes of a measurement.
type entryKey struct {
	alias, backend, op string
	kind               djcache.ErrorKind
}

// entry holds what the measurements of one entryKey reuse, so that an
// event allocates nothing for its attributes.
type entry struct {
	add      []metric.AddOption    // the attribute set, as the options of Add
	rec      []metric.RecordOption // and of Record (a slice, so that a call allocates none)
	spanName string
	spanAttr []attribute.KeyValue
}

// Duration buckets, in seconds: from a microsecond (an in-process hit) to
// ten seconds (a server that times out).
var durationBuckets = []float64{1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Fill duration buckets, in seconds: fills are queries, renders, calls.
var fillBuckets = []float64{1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Size buckets, in bytes: powers of 4 from 64 B to 16 MiB.
var sizeBuckets = []float64{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20}

// NewObserver returns an Observer with its instruments made from o's
// MeterProvider. It attaches to no cache: Instrument and InstrumentCaches
// do that.
func NewObserver(o *Options) (*Observer, error) {
	ob := &Observer{systems: map[string]string{}}
	ob.entries.Store(&map[entryKey]*entry{})
	if o != nil {
		ob.opts = *o
	}
	mp := ob.opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if !ob.opts.NoSpans {
		tp := ob.opts.TracerProvider
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
		ob.tracer = tp.Tracer(ScopeName)
	}
	m := mp.Meter(ScopeName)
	var err error
	counter := func(dst *metric.Int64Counter, name, unit, desc string) {
		if err == nil {
			*dst, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
	}
	counter(&ob.hits, "djcache.hits", "{key}", "Keys looked up and found.")
	counter(&ob.misses, "djcache.misses", "{key}", "Keys looked up and not found.")
	counter(&ob.sets, "djcache.sets", "{entry}", "Entries stored by set, add and set_many.")
	counter(&ob.deletes, "djcache.deletes", "{key}", "Keys removed by delete and delete_many.")
	counter(&ob.errors, "djcache.errors", "{error}", "Calls that returned an error, by error.type.")
	counter(&ob.fills, "djcache.fills", "{fill}", "Calls of get_or_set and get_or_set_many fill functions.")
	counter(&ob.fillErrors, "djcache.fill.errors", "{fill}", "Fill function calls that failed.")
	counter(&ob.stale, "djcache.stale_served", "{key}", "Keys answered with a stale value (Stale).")
	counter(&ob.early, "djcache.early_refreshes", "{key}", "Background refreshes started early (EarlyRefresh).")
	counter(&ob.lockWaits, "djcache.lock_waits", "{wait}", "Fills that waited for another caller's fill lock (FillLock).")
	counter(&ob.refresh, "djcache.refresh_errors", "{key}", "Keys whose background refresh failed.")
	if err != nil {
		return nil, fmt.Errorf("djcacheotel: %w", err)
	}
	if ob.duration, err = m.Float64Histogram("djcache.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of cache calls."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, fmt.Errorf("djcacheotel: %w", err)
	}
	if ob.fillDuration, err = m.Float64Histogram("djcache.fill.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of fill function calls."), metric.WithExplicitBucketBoundaries(fillBuckets...)); err != nil {
		return nil, fmt.Errorf("djcacheotel: %w", err)
	}
	if ob.size, err = m.Int64Histogram("djcache.value.size", metric.WithUnit("By"),
		metric.WithDescription("Size of the encoded values a call read or wrote (the sum for calls on many keys)."),
		metric.WithExplicitBucketBoundaries(sizeBuckets...)); err != nil {
		return nil, fmt.Errorf("djcacheotel: %w", err)
	}
	return ob, nil
}

// Instrument attaches a new Observer to c: from now on, c's calls and
// hot-key events produce metrics and spans. The spans of a "db" cache get
// the db.system of its SQL dialect.
func Instrument(c *djcache.Cache, o *Options) (*Observer, error) {
	ob, err := NewObserver(o)
	if err != nil {
		return nil, err
	}
	if ob.opts.DBSystem == "" {
		ob.opts.DBSystem = dialectOf(c.Driver())
	}
	c.Observe(ob)
	return ob, nil
}

// InstrumentCaches attaches a new Observer to every cache of cs, opened or
// not, as Caches.Observe does. Each alias's URL gives the db.system of
// its spans.
func InstrumentCaches(cs *djcache.Caches, o *Options) (*Observer, error) {
	ob, err := NewObserver(o)
	if err != nil {
		return nil, err
	}
	for _, alias := range cs.Aliases() {
		raw, err := cs.URL(alias)
		if err != nil {
			continue
		}
		if u, err := url.Parse(raw); err == nil {
			if sys := systemOfScheme(u.Scheme); sys != "" {
				ob.systems[alias] = sys
			}
		}
	}
	cs.Observe(ob)
	return ob, nil
}

// dialectOf returns the SQL dialect of a db backend's driver, the String
// of its Dialect method ("sqlite", "postgresql", "mysql"), found by
// reflection so that this package does not import the db backend and its
// database drivers; "" for other drivers.
func dialectOf(d any) string {
	m := reflect.ValueOf(d).MethodByName("Dialect")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return ""
	}
	if s, ok := m.Call(nil)[0].Interface().(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}

// systemOfScheme maps a cache URL's scheme to db.system.
func systemOfScheme(scheme string) string {
	switch s := strings.ToLower(scheme); {
	case strings.HasPrefix(s, "redis"), s == "rediss", s == "valkey":
		return "redis"
	case s == "memcached":
		return "memcached"
	case s == "sqlite":
		return "sqlite"
	case s == "postgres", s == "postgresql":
		return "postgresql"
	case s == "mysql":
		return "mysql"
	}
	return ""
}

// system returns the db.system of an event's spans, or "" for backends
// that are no database (locmem, filebased, dummy).
func (ob *Observer) system(alias, backend string) string {
	if ob.opts.DBSystem != "" {
		return ob.opts.DBSystem
	}
	switch backend {
	case "redis", "memcached":
		return backend
	case "db":
		if sys := ob.systems[alias]; sys != "" {
			return sys
		}
		return "other_sql"
	}
	return ""
}

// entry returns the reusable attributes of k, making them once.
func (ob *Observer) entry(k entryKey) *entry {
	if en := (*ob.entries.Load())[k]; en != nil {
		return en
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	old := *ob.entries.Load()
	if en := old[k]; en != nil {
		return en
	}
	attrs := []attribute.KeyValue{AttrAlias.String(k.alias), AttrBackend.String(k.backend), AttrOperation.String(k.op)}
	if k.kind != djcache.ErrorNone {
		attrs = append(attrs, AttrErrorType.String(k.kind.String()))
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs...))
	en := &entry{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}, spanName: "djcache." + k.op}
	if k.kind == djcache.ErrorNone {
		en.spanAttr = append(attrs, AttrDBOperationName.String(k.op))
		if sys := ob.system(k.alias, k.backend); sys != "" {
			en.spanAttr = append(en.spanAttr, AttrDBSystem.String(sys), AttrDBSystemName.String(sys))
		}
	}
	next := make(map[entryKey]*entry, len(old)+1)
	maps.Copy(next, old)
	next[k] = en
	ob.entries.Store(&next)
	return en
}

// Observe records e: it implements djcache.Observer.
func (ob *Observer) Observe(ctx context.Context, e djcache.Event) {
	en := ob.entry(entryKey{alias: e.Alias, backend: e.Backend, op: e.Op})
	switch e.Kind {
	case djcache.EventOp:
		add(ctx, ob.hits, e.Hits, en.add)
		add(ctx, ob.misses, e.Misses, en.add)
		add(ctx, ob.sets, e.Sets, en.add)
		add(ctx, ob.deletes, e.Deletes, en.add)
		ob.duration.Record(ctx, e.Duration.Seconds(), en.rec...)
		if e.Size > 0 {
			ob.size.Record(ctx, int64(e.Size), en.rec...)
		}
		if e.Err != nil {
			ek := ob.entry(entryKey{alias: e.Alias, backend: e.Backend, op: e.Op, kind: e.ErrorKind})
			ob.errors.Add(ctx, 1, ek.add...)
		}
		ob.span(ctx, en, en.spanName, e)
	case djcache.EventFill:
		ob.fills.Add(ctx, 1, en.add...)
		ob.fillDuration.Record(ctx, e.Duration.Seconds(), en.rec...)
		if e.Err != nil {
			ob.fillErrors.Add(ctx, 1, en.add...)
		}
		ob.span(ctx, en, "djcache.fill", e)
	case djcache.EventStaleServed:
		add(ctx, ob.stale, e.Keys, en.add)
	case djcache.EventEarlyRefresh:
		add(ctx, ob.early, e.Keys, en.add)
	case djcache.EventLockWait:
		ob.lockWaits.Add(ctx, 1, en.add...)
	case djcache.EventRefreshError:
		add(ctx, ob.refresh, e.Keys, en.add)
	}
}

func add(ctx context.Context, c metric.Int64Counter, n int, opts []metric.AddOption) {
	if n > 0 {
		c.Add(ctx, int64(n), opts...)
	}
}

// span records e as a span that started at e.Start and lasted
// e.Duration, a child of ctx's span. It is made after the fact (the
// Observer hears of a call when it returns), so spans that the backend's
// own client makes during the call are its siblings, not its children.
func (ob *Observer) span(ctx context.Context, en *entry, name string, e djcache.Event) {
	if ob.tracer == nil {
		return
	}
	_, span := ob.tracer.Start(ctx, name, trace.WithTimestamp(e.Start), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(en.spanAttr...))
	if span.IsRecording() {
		switch {
		case e.Kind == djcache.EventFill:
			span.SetAttributes(AttrKeys.Int(e.Keys))
		case e.Key != "" && e.Hits+e.Misses == 1:
			span.SetAttributes(AttrHit.Bool(e.Hits == 1))
		case e.Hits+e.Misses > 0:
			span.SetAttributes(AttrHits.Int(e.Hits), AttrMisses.Int(e.Misses))
		}
		if e.Size > 0 {
			span.SetAttributes(AttrSize.Int(e.Size))
		}
		if ob.opts.Keys && e.Key != "" {
			span.SetAttributes(AttrKey.String(e.Key))
		}
		if e.Err != nil {
			span.SetAttributes(AttrErrorType.String(e.ErrorKind.String()))
			span.RecordError(e.Err, trace.WithTimestamp(e.Start.Add(e.Duration)))
			span.SetStatus(codes.Error, e.Err.Error())
		}
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}
