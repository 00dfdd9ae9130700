package driver

import "context"

// Pinger is a capability: a Driver that can check that its storage is
// reachable and usable implements it, and djcache's Cache.Ping calls it
// (health checks and readiness probes; djcache.Open does no I/O, so a wrong
// address otherwise shows only at the first call).
//
// Ping makes a round trip to every server the driver uses (each node of a
// Redis Cluster, each memcached server, the database) and checks there what
// the driver's other methods need (the cache table, a writable directory).
// It returns nil when everything answers, and otherwise an error that names
// what did not (the server's address, the table, the directory). It never
// stores, changes or removes an entry, and never creates a database table.
// When ctx ends during the call, the error must wrap ctx's error
// (package djcache adds it if a driver's I/O error does not).
//
// If a Driver does not implement Pinger, Cache.Ping reads one key that no
// Cache makes (a Has, or a Get), which reaches the one server that key maps
// to, and reports that read's error.
type Pinger interface {
	Ping(ctx context.Context) error
}
