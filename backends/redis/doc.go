// Package redis is djcache's Redis backend, Django's RedisCache, over
// go-redis v9: one server, a Redis Cluster, or a master found through
// Sentinel.
//
//	import _ "github.com/djcache/djcache/backends/redis"
//
//	c, err := djcache.Open("redis://127.0.0.1:6379/0?key_prefix=shop&timeout=300")
//
// A program that already has a go-redis client passes it in (any
// goredis.UniversalClient; Close then leaves it open unless
// [Options].CloseClient is set):
//
//	rdb := goredis.NewUniversalClient(&goredis.UniversalOptions{Addrs: addrs})
//	c, err := djcache.New(redis.New(rdb, nil), &djcache.Options{KeyPrefix: "shop"})
//
// # URLs
//
// One scheme, three forms, told apart by their parameters (see [URLOpener]
// for every parameter). Each form accepts exactly the parameters of the
// go-redis parser named, plus this backend's own and djcache's portable
// ones; anything else fails at Open.
//
// One server (go-redis ParseURL): user, password, database number, TLS with
// rediss://, timeouts and pool size as parameters:
//
//	redis://127.0.0.1:6379/0
//	redis://app:secret@cache.internal:6379/2?dial_timeout=2s&read_timeout=500ms&pool_size=20
//	rediss://:secret@cache.example.com:6380/0?key_prefix=shop
//
// A Redis Cluster (go-redis ParseClusterURL): the host is the first seed,
// each addr parameter one more; cluster=true when there is only one seed. A
// Cluster has database 0 only.
//
//	redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002
//	redis://10.0.0.1:7000?cluster=true&read_timeout=1s
//
// A master through Sentinel (go-redis ParseFailoverURL): master_name names
// the master; the host and each addr parameter are sentinels. The userinfo
// authenticates to the sentinels, the username and password parameters to
// the master. The client follows failovers by itself.
//
//	redis://127.0.0.1:26379/0?master_name=djcache&addr=127.0.0.1:26380&addr=127.0.0.1:26381
//	redis://127.0.0.1:26379?master_name=mymaster&password=masterpass
//
// djcache turns on go-redis's ContextTimeoutEnabled for URL-opened clients
// (context_timeout_enabled=false turns it off), so a context deadline bounds
// a call's network I/O (the earlier of the deadline and read_timeout
// wins); a context cancelled without a deadline is seen before the call
// and while it waits for a pooled connection. Errors never show the URL,
// and so no password.
//
// # Timeouts and outages
//
// A cache call should fail fast: an application waiting seconds for its
// cache is worse off than one that sees an error and computes the value.
// So the clients that URLs open do not take go-redis's defaults, made for
// a database (a 5s dial and read timeout, 3 retries, 3 redirects on a
// Cluster, 5 dial attempts 100ms apart per connection), but these, in every
// form, each overridden by the URL parameter of the same name (see
// [URLOpener]):
//
//	dial_timeout       500ms  (DefaultDialTimeout)
//	read_timeout       500ms  (DefaultReadTimeout; write_timeout follows it)
//	pool_timeout       1s     (DefaultPoolTimeout)
//	max_retries        1      (DefaultMaxRetries; one server and Sentinel)
//	max_redirects      1      (DefaultMaxRedirects; Cluster)
//	min_retry_backoff  10ms   (DefaultMinRetryBackoff)
//	max_retry_backoff  100ms  (DefaultMaxRetryBackoff)
//	dialer_retries     1      (DefaultDialerRetries: one dial attempt)
//
// How long a Get without a deadline takes to fail, measured with
// "go run ./backends/redis/internal/outage" (add -cluster for a one-node
// Cluster): 200 calls one after another, Redis 7.0 on the loopback of a
// shared 2-core Linux machine.
//
//	                                     p50     p99     max
//	one server stopped (SIGSTOP)         522ms   541ms   1.04s (the first call)
//	one server killed (refused)          20ms    30ms    30ms
//	Cluster node stopped (SIGSTOP)       1.02s   1.03s   1.06s
//	Cluster node killed (refused)        21ms    30ms    31ms
//
// A stopped server (or a network that drops packets) costs a call its read
// timeout, or its dial timeout for a new connection, once per attempt: one
// attempt on one server (the first call after a healthy period retries
// once), two on a Cluster. A refused connection fails at once; the time is
// the retry's backoff. With go-redis's defaults the same runs took 5.0s
// (p50) and 10s (p99) with a stopped server, 20s with a stopped Cluster
// node (20 calls each), and 105ms (p50) and 1.7s (p99) with a killed
// server or Cluster node. A context with a deadline shortens a call
// further, never lengthens it.
// read_timeout also bounds commands that take the server long, such as
// the transfer of values of many megabytes over a slow link or FLUSHDB of
// a large database (clear=flushdb): raise it for those, or the call
// reports a timeout while the server completes the command. A client
// passed to [New] keeps its own options.
//
// # Commands
//
// Keys are djcache's made keys ("prefix:version:key", as Django makes them)
// and values djcache's encoded bytes; integers are plain decimal text, so
// Django's RedisCache and django-redis read them as numbers and INCRBY works
// on them. With the pickle serializer (URL serializer=pickle, or a pasted
// Django CACHES) every other value, bool included, is the protocol-5 pickle
// Django writes, so the two share entries both ways; djcache reads
// Django's and django-redis's pickles whatever its serializer (see "Sharing
// a cache with Django" in package djcache). Each call is one round trip:
//
//   - Get: GET. Has: EXISTS. Delete: DEL.
//   - Set: SET key value PX ms (milliseconds, rounded up); with Forever a
//     plain SET, which also clears an earlier expiry; with Timeout(0) DEL.
//   - Add: SET NX PX. With Timeout(0) nothing is stored and Add reports
//     whether the key was absent (EXISTS).
//   - Touch: PEXPIRE; with Forever PERSIST and EXISTS in one pipeline, so
//     that a key already without expiry reports true (Django's RedisCache
//     reports false there); with Timeout(0) DEL, true if the key was live.
//   - Incr and Decr: a Lua script, EXISTS then INCRBY, atomic on the server
//     and keeping the key's TTL. Missing key: ErrNotFound. A value Redis does
//     not take as a 64-bit integer (text, a float, nil, "007"):
//     ErrNotInteger. A result outside int64, or a stored decimal beyond it:
//     ErrOverflow, value unchanged.
//   - IncrVersion keeps the remaining lifetime: the driver reads it with GET
//     and PTTL in one pipeline ([driver.ExpiryReader]).
//   - GetMany: MGET. SetMany: one pipeline of SETs (not a transaction: a key
//     whose SET failed is reported as failed). DeleteMany: one UNLINK.
//
// On a Cluster, GetMany sends one MGET per hash slot and DeleteMany one
// UNLINK per hash slot, all in one pipeline, which go-redis splits by node
// and sends to the nodes in parallel: one round trip per node. Keys spread
// over slots unless the prefix holds a hash tag ("{shop}"), which puts a
// cache in one slot (one node, single-command batches). On a Ring, batches
// are one command per key in a pipeline.
//
// # Clear
//
// Django's RedisCache clears with FLUSHDB, destroying every other
// application's keys in the database. Here Clear deletes only this cache's
// keys, found with SCAN MATCH and removed with UNLINK in batches of about
// 1000, on every master of a Cluster:
//
//   - with a key prefix, the keys "PREFIX:VERSION:*";
//   - without one, the keys ":VERSION:*", the shape of every key Django and
//     djcache make without a prefix, so other applications' keys survive
//     (their Django caches without a prefix share those keys anyway);
//   - with a custom key function, "PREFIX:*", or everything under
//     [Options].Namespace; with neither, Clear fails with [ErrClearScope]
//     rather than guess.
//
// [Options].ClearMatch (clear_match=GLOB) sets the pattern explicitly, and
// [Options].FlushDB (clear=flushdb) restores Django's FLUSHDB. The
// trade-offs: a scan reads the whole keyspace (SCAN is incremental and does
// not block the server, but Clear of a large database takes time), keys
// written during Clear may survive it, and a cache whose prefix is "a"
// also deletes the keys of a cache whose prefix is "a:1" (its keys look
// like version 1 of "a"). Pick prefixes that are not other prefixes plus
// ":NUMBER".
//
// # Namespaces
//
// [Options].Namespace (namespace=STR) is prepended to every key the driver
// sends, in front of the made key. It isolates caches (or tests) on a shared
// database without changing the made keys; Clear never reaches outside it.
// Leave it empty to share entries with a Django app.
//
// # Errors and reconnection
//
// Server errors, timeouts and cancelled contexts come back wrapped in a
// *djcache.OpError naming the operation and the key, with the go-redis error
// inside (and the context's error, when the context ended, for errors.Is).
// go-redis reconnects by itself: after a server restart, calls fail while it
// is down and succeed once it is back, without help (a call that meets a
// pooled connection the restart closed retries on a new one, max_retries).
// How long a call takes to fail during an outage is under "Timeouts and
// outages": from 20ms (connection refused) to one or two read timeouts (a
// server that does not answer). After pool_size failed dials, go-redis stops
// dialing for calls, returns the last dial error at once, and dials in the
// background once a second until the server is back. A restarted server
// without persistence has lost its entries: a cache sees misses. go-redis
// logs connection failures through its package logger, which this package
// routes to slog.Default() at Debug level; SetLogger chooses another
// *slog.Logger.
//
// # Read replicas
//
// Django's RedisCache (and django-redis) with several LOCATIONs writes to
// the first and reads (get, get_many, has_key) from one of the others,
// picked at random for each call. [Options].Replicas does the same: Get,
// GetMany and Has go to a random replica, every other command (and the
// reads of IncrVersion, TTL and the counters) to the client. A URL names
// them with replica parameters, HOST[:PORT] each, which share the URL's
// user, password, database, TLS and parameters:
//
//	redis://10.0.0.1:6379/0?replica=10.0.0.2:6379&replica=10.0.0.3:6379
//
// A pasted CACHES alias with a LOCATION list becomes that URL. A read may
// miss a write the replica has not received yet, or see an entry just
// deleted (replication is asynchronous), as Django's reads do; a replica
// that is down fails the reads sent to it, with no fallback to the leader,
// as in Django, and Ping checks every replica. Only the single-server form
// takes replicas: a Cluster (read_only, route_randomly) and Sentinel
// (replica_only) route reads themselves.
//
// # Limits
//
// Redis keeps expiry in milliseconds: timeouts are rounded up to the next
// millisecond. Values may be up to 512 MB (Redis's proto-max-bulk-len).
// Keys are binary-safe, so djcache only logs Django's key warnings. A
// Sentinel failover can lose the writes the old master had not yet sent to
// its replica (Redis replication is asynchronous).
package redis
