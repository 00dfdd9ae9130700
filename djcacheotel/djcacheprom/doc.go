// Package djcacheprom exports the metrics of djcache caches to Prometheus
// with client_golang: a [Collector] is both a prometheus.Collector and a
// djcache.Observer. Attach it to a Cache (Cache.Observe or
// djcache.Options.Observer) or to every cache of a Caches handler at once
// (Caches.Observe), and register it:
//
//	col := djcacheprom.NewCollector(nil)
//	caches.Observe(col)
//	prometheus.MustRegister(col)
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics are those of package djcacheotel under Prometheus names,
// with the labels alias, backend and op (Django's name of the call):
//
//	djcache_hits_total, djcache_misses_total        keys looked up, found or not
//	djcache_sets_total, djcache_deletes_total       entries stored by set, add and set_many; keys deleted
//	djcache_errors_total{kind}                      calls that failed, by djcache.ErrorKind: timeout, canceled,
//	                                                invalid_key, encode, decode, not_found, closed, connection, other
//	djcache_fills_total, djcache_fill_errors_total  fill function calls, and those that failed
//	djcache_stale_served_total                      keys answered with a stale value
//	djcache_early_refreshes_total                   background refreshes started early
//	djcache_lock_waits_total                        fills that waited for another caller's fill lock
//	djcache_refresh_errors_total                    keys whose background refresh failed
//	djcache_operation_duration_seconds              histogram of call durations
//	djcache_fill_duration_seconds                   histogram of fill durations
//	djcache_value_size_bytes                        histogram of the bytes a call read or wrote
//
// Package djcacheotel's documentation, section Dashboards, gives the
// queries of the usual panels: hit ratio by alias, 99th percentile latency
// by operation, error rate by kind.
package djcacheprom
