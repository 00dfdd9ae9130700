// Package djcacheotel instruments djcache caches with OpenTelemetry
// metrics and spans, in one call: [Instrument] for a *djcache.Cache,
// [InstrumentCaches] for every cache of a *djcache.Caches handler (the
// aliases opened now and later). Its subpackage djcacheprom exports the
// same metrics to Prometheus with client_golang, for services that expose
// /metrics themselves.
//
// Both live in the module github.com/djcache/djcache/djcacheotel, apart
// from djcache's own module, so that an application that does not import
// them gains no OpenTelemetry or Prometheus dependency. They build on one
// hook of package djcache, the djcache.Observer interface: a Cache sends
// it a djcache.Event, a small value, when a call returns and at each
// hot-key event of GetOrSet (a fill, a stale value served, an early
// refresh, a fill-lock wait, a failed background refresh). A Cache with no
// observer pays an atomic load and a branch per call, and allocates
// nothing for it. The example of package djcacheprom is a net/http service
// that serves /metrics.
//
//	c, err := djcache.Open("redis://cache:6379/0")
//	…
//	if _, err := djcacheotel.Instrument(c, nil); err != nil { // the global MeterProvider and TracerProvider
//		…
//	}
//
// # Metrics
//
// Counters (Int64Counter), each with the attributes djcache.alias,
// djcache.backend and djcache.operation (Django's name of the call: get,
// set, add, get_or_set, get_many, get_or_set_many, set_many, delete,
// delete_many, has_key, touch, incr, decr, incr_version, decr_version,
// clear, ping, ttl):
//
//	djcache.hits             keys looked up and found (get, has_key, get_many, get_or_set, get_or_set_many)
//	djcache.misses           keys looked up and not found
//	djcache.sets             entries stored by set, add (when it stored) and set_many
//	djcache.deletes          keys removed by delete and delete_many
//	djcache.errors           calls that returned an error, with error.type: timeout, canceled,
//	                         invalid_key, encode, decode, not_found, closed, connection, other
//	                         (see djcache.ErrorKind)
//	djcache.fills            calls of fill functions (get_or_set, get_or_set_many)
//	djcache.fill.errors      fill calls that failed
//	djcache.stale_served     keys answered with a stale value (djcache.Stale)
//	djcache.early_refreshes  background refreshes started early (djcache.EarlyRefresh)
//	djcache.lock_waits       fills that waited for another caller's fill lock (djcache.FillLock)
//	djcache.refresh_errors   keys whose background refresh failed
//
// Histograms, with the same attributes:
//
//	djcache.operation.duration  seconds per call, from 1 µs to 10 s
//	djcache.fill.duration       seconds per fill call, from 100 µs to 60 s
//	djcache.value.size          bytes of the encoded values a call read (on a hit) or wrote;
//	                            the sum over the keys of a call on many
//
// Hits, misses and the hot-key counters add up to the cache's
// djcache.Stats. The key is never a metric attribute: keys are unbounded
// in number.
//
// # Spans
//
// Each call is a span named "djcache.OPERATION" (djcache.get, …), a child
// of the span in the call's context, of kind client, with the three
// attributes above, db.operation.name, and db.system (and db.system.name)
// for the backends that are databases: redis, memcached, and for the db
// backend its dialect, postgresql, mysql or sqlite. Single-key lookups
// carry djcache.hit (true or false), calls on many keys djcache.hits and
// djcache.misses, and calls that moved values djcache.value.size. A failed
// call has the status Error, the error recorded as an event and its kind
// as error.type. Fills are spans named "djcache.fill". The key is added,
// as djcache.key, only with [Options].Keys.
//
// The Observer hears of a call when it returns, so a span is recorded
// after the fact, with the call's start and end times: the spans that a
// backend's own client makes during the call (redisotel, otelsql) are its
// siblings, not its children.
//
// # Dashboards
//
// Three panels answer most questions about a cache; here in PromQL, over
// djcacheprom's metric names (an OpenTelemetry pipeline that exports to
// Prometheus gives the same names, with djcache_alias for alias and
// djcache_operation for op):
//
// The hit ratio, by alias: the rate of hits divided by the rate of hits
// plus misses, each summed by alias. A ratio that falls after a deploy
// means new keys or a new version; one that falls slowly means an
// undersized cache (locmem culls) or timeouts that are too short.
//
//	sum by (alias) (rate(djcache_hits_total[5m]))
//	  / (sum by (alias) (rate(djcache_hits_total[5m])) + sum by (alias) (rate(djcache_misses_total[5m])))
//
// The 99th percentile latency, by operation: the 0.99 quantile of the
// duration histogram's bucket rates summed by op and le (add alias to the
// by clause to compare caches). A get that slows while its hit ratio holds
// points at the backend or the network; large djcache_value_size_bytes
// explain slow gets too.
//
//	histogram_quantile(0.99, sum by (op, le) (rate(djcache_operation_duration_seconds_bucket[5m])))
//
// The error rate, by kind: the rate of djcache_errors_total summed by
// kind, or divided by the rate of calls (the duration histogram's count)
// for a fraction. timeout and connection point at the backend; decode
// follows a change of a cached type or of the serializer; not_found is
// Incr on missing keys, usually expected.
//
//	sum by (kind) (rate(djcache_errors_total[5m]))
//	sum by (kind) (rate(djcache_errors_total[5m])) / ignoring(kind) group_left sum(rate(djcache_operation_duration_seconds_count[5m]))
//
// Under load, watch the hot-key counters beside them: fills per second
// against misses (a fill per miss means no single flight is shared),
// fill errors and refresh errors (the source of the values is failing,
// and stale_served shows that callers are still answered), and the p99 of
// djcache_fill_duration_seconds (what a miss costs the caller).
package djcacheotel
