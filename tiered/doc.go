// Package tiered puts a process-local tier (an L1) in front of any djcache
// backend (the L2): a hot key read a million times a minute costs a map
// lookup instead of a network round trip, and the L1 follows the L2's
// expiry and the writes made to it.
//
// Importing the package registers the tier with package djcache, so that
// the URL parameters local and local_timeout work on every backend's URL,
// and the same names in Django's OPTIONS:
//
//	import _ "github.com/djcache/djcache/tiered"
//
//	c, err := djcache.Open("postgres://app@db/app?table=cache&local=10000&local_timeout=30")
//
//	// CACHES = {"default": {..., "OPTIONS": {"LOCAL": 10000, "LOCAL_TIMEOUT": 30}}}
//
// The parameters:
//
//   - local=N: the L1 keeps at most N entries, in a private locmem store
//     (locmem's engine, W-TinyLFU eviction).
//   - local_timeout=SECONDS: an entry stays at most that long in the L1.
//     Without it, an entry stays as long as it lives in the L2. It is
//     required over memcached, which cannot tell when an entry expires.
//
// In Go, [NewDriver] wraps a driver, and [New] makes a Cache of two Caches
// (an L1 and an L2).
//
// # What the L1 guarantees
//
// An L1 entry never outlives its L2 entry: a read that misses the L1 reads
// the entry and its expiry from the L2 (driver.ExpiryReader) and keeps it
// in the L1 until that expiry or local_timeout, whichever comes first.
// (Over memcached the expiry is unknown, and local_timeout alone bounds
// the L1 entry, which may then outlive the L2's by up to local_timeout.)
//
// Every write goes to the L2 first and then drops the key from the L1:
// Set, Add (when it stores), Delete, Incr, Touch, SetMany, DeleteMany, and
// IncrVersion and GetOrSet, which package djcache builds from them; Clear
// empties the whole L1. So a process reads its own writes at once. The
// tiers over one storage in a process share these invalidations when they
// are in one group ([Options.Group]): [djcache.Open] puts the tiers of one
// URL in one group, so that two Caches opened from the same URL see each
// other's writes at once.
//
// A read that fills the L1 and a write of the same key can cross: the
// read gets the old value from the L2, the write lands and drops the key
// from the L1, and then the read stores the old value in the L1, where it
// would stay until it expires. The tier closes that race: a fill notes a
// per-key generation counter (striped) and a global epoch before it reads
// the L2, and stores its value only if neither has moved, under the same
// lock that invalidations take.
//
// # Other processes, and Django
//
// Another process's writes (another djcache process, a Django application,
// redis-cli) reach the L1 through the L2's invalidation channel, where the
// backend has one (see [Watcher]); elsewhere they show when the L1's entry
// expires, after local_timeout at most. In this step:
//
//	L2 backend                channel                                  another process's write shows here
//	------------------------  ---------------------------------------  ---------------------------------------
//	PostgreSQL, with the      LISTEN/NOTIFY: triggers on the table     when its notification arrives (every
//	notify triggers           (db.Driver.InstallNotify) announce the   write notifies, Django's included)
//	                          keys each statement changed
//	PostgreSQL, without them  none                                     after local_timeout, else the TTL
//	SQLite                    PRAGMA data_version, read every 50 ms;   within about 50 ms (the whole L1 is
//	                          any other connection's commit empties    emptied: SQLite does not say which
//	                          the L1                                   rows changed)
//	MySQL, MariaDB            none (messages between djcache           after local_timeout, else the TTL
//	                          processes: next step)
//	Redis (single, Cluster,   none (CLIENT TRACKING: next step)        after local_timeout, else the TTL
//	Sentinel)
//	file                      none (fsnotify on the directory: next    after local_timeout, else the TTL
//	                          step)
//	memcached                 none (messages between djcache           after local_timeout (required)
//	                          processes: next step)
//	locmem, dummy             one process, or nothing stored: a tier   -
//	                          adds nothing
//
// "Else the TTL": without local_timeout, an L1 entry lives as long as the
// L2's entry, so over a backend without a channel another process's write
// may go unseen here for the whole timeout of the entry. Set local_timeout
// to the staleness you accept whenever several processes write.
//
// A channel starts at the tier's first read (NewDriver and djcache.Open do
// no I/O). Until it is up, and whenever it is lost (a server restart, a
// dropped connection), the L1 is emptied and neither read nor filled:
// reads go to the L2, never to entries that a lost notification could
// have left stale. The channel is set up again by itself, after a pause
// that grows from 100 ms to 5 s, and the L1 serves again once it is.
// [Driver.Watching] reports whether it is up. A PostgreSQL table without
// the triggers (or a *sql.DB not opened with pgx) has no channel: the tier
// logs a warning once and works as over a backend without one.
//
// # Costs and limits
//
// A hit copies nothing: the L1 lends its bytes to the Cache's decoding, as
// locmem does. A write costs the L2's write plus a lock and a map delete,
// and the next read of the key goes to the L2 again (writing the new bytes
// into the L1 instead would save that read, but the L1 would then keep the
// expiry asked for, which an L2 that keeps whole seconds does not store
// exactly). GetMany serves what the L1 holds and reads the rest from the
// L2 in one call, without filling the L1 (a batch read returns no
// expiries); Has answers from the L1 when it holds the key, and otherwise
// from the L2 without filling. TTL, and IncrVersion's read, go to the L2.
// Errors name the backend "tiered".
//
// A hit through a tier over Redis costs about what a plain locmem hit
// costs, and about 1/160 of a Redis Get on loopback (BenchmarkGetHit in
// this package; numbers in bench/tiered.md).
package tiered
