// Package memcached is djcache's memcached backend, Django's
// PyMemcacheCache, on [github.com/bradfitz/gomemcache]: entries live on one
// or more memcached servers, spread over them the way pymemcache spreads
// them, stored with pymemcache's flags, under Django's key and timeout
// rules, so that a Go service and a Django app can share the servers and
// the entries.
//
//	import _ "github.com/djcache/djcache/backends/memcached"
//
//	c, err := djcache.Open("memcached://10.0.0.1:11211,10.0.0.2:11211?key_prefix=shop")
//
// From Go, with a server list or a gomemcache client of your own:
//
//	d, err := memcached.New([]string{"10.0.0.1:11211", "10.0.0.2:11211"}, &memcached.Options{Timeout: time.Second})
//	c, err := djcache.New(d, &djcache.Options{KeyPrefix: "shop"})
//
//	d, err := memcached.New(servers, &memcached.Options{Client: myClient}) // its dialer (TLS), pool, selector
//
// The URL parameters are listed on [URLOpener]: namespace, socket_timeout,
// connect_timeout, max_idle_conns, max_value_size and clear, besides djcache's timeout,
// key_prefix and version. The servers are Django's LOCATION, separated by
// "," or ";". Go's URL parser refuses some lists after "//" (several IPv6
// literals, a host without a port before the last server, a socket path
// after a host); the opaque form memcached:LOCATION takes any of them, as
// in memcached:[::1]:11211,[::2]:11211.
//
// # Servers
//
// A key's server is chosen by pymemcache's rendezvous hashing ([Selector]):
// murmur3 of "host:port-key" for every server, highest score wins. Adding or
// removing one of N servers moves about 1/N of the keys (the tests measure
// 32% when a third server joins two), where gomemcache's default crc32 % N
// moves about two thirds; and a Django app listing the same servers finds
// every key where djcache put it. Server names must be written alike on
// both sides ("localhost:11211" and "127.0.0.1:11211" hash differently).
//
// A server that is down is not taken out of the ring: calls on its keys
// fail with an error (wrapping the connection error) rather than missing
// silently, and the other servers' keys keep working. When it comes back
// (empty) its keys work again at once: a Get or Set that meets a pooled
// connection the server closed is tried once more on a new one. pymemcache
// ejects a failing server after some retries, which moves its keys to the
// others and back; djcache does not, so that the two never disagree on
// where a key lives.
//
// # Keys
//
// The driver implements driver.KeyChecker: a made key over 250 bytes (in
// UTF-8, as pymemcache counts, namespace included) or holding a space, a
// control character or DEL fails every operation with ErrInvalidKey and
// Django's InvalidCacheKey message, before any I/O. Other non-ASCII keys
// are allowed, as in Django.
//
// Options.Namespace (URL namespace=) is pymemcache's client key_prefix: it
// is put in front of every made key on the wire, counts toward the 250
// bytes, and takes no part in choosing the server. It gives an application
// a key space of its own on shared servers (the tests use one per test),
// and it is what Clear empties for a Cache with a custom KeyFunc.
//
// # Values
//
// Values are stored with pymemcache's flags, so that Django reads what
// djcache writes and djcache reads what Django writes. With the pickle
// serializer (URL serializer=pickle, or a pasted Django CACHES; see
// "Sharing a cache with Django" in package djcache) every value is stored
// exactly as Django's PyMemcacheCache stores it:
//
//	string          flag 16 (FlagText), UTF-8
//	[]byte          flag 0 (FlagBytes), as is
//	integers        flag 2 (FlagInteger), decimal text
//	anything else   flag 1 (FlagPickle), a protocol-5 pickle
//
// With djcache's own serializer (the default for a URL), strings, []byte
// and integers are stored the same way, and
//
//	bool, nil       flag 1 (FlagPickle), the pickles of True, False, None
//	float           flag 1, the pickle of a Python float (exact: 8 bytes)
//	codec values    flag 256 (FlagCodec), the codec's bytes
//	other           flag 512 (FlagEncoded), djcache's encoded bytes
//
// Django reads the last two as raw bytes. On reading, flag 4 is an integer
// too, flag 1 a pickle (decoded by package pickle, whatever the
// serializer), and unknown flags raw bytes. With djcache's own serializer
// one exception keeps Incr honest: a string, []byte or codec value that
// memcached's incr would take for a number ("12", " 7 apples") is stored
// with FlagEncoded, so Incr on it fails with ErrNotInteger instead of
// rewriting it; Django reads such a value as bytes, with djcache's kind
// byte first. With the pickle serializer such values keep Django's flags,
// and memcached's incr counts them, as it does for Django.
//
// # Expiry
//
// Django's rules: Forever is exptime 0; a timeout of up to 30 days is sent
// as relative seconds, rounded up (so a sub-second timeout lives one
// second, and 1.5 s becomes 2 s); a longer one as an absolute Unix time,
// capped at 2038-01-19, the end of memcached's 32-bit exptime. A timeout of
// 0 or less leaves nothing: Set deletes the key, Add sends exptime -1 (the
// server reports whether the key was absent and keeps nothing), Touch
// sends -1 (the entry expires, and Touch reports whether it existed).
// memcached counts time in whole seconds on a clock that ticks once a
// second, so an entry may expire up to a second before its timeout, as it
// does under Django. gomemcache cannot read an entry's remaining lifetime,
// so the driver is no driver.ExpiryReader: IncrVersion gives the moved
// entry the default timeout, as Django does.
//
// # Counters
//
// Incr and Decr are memcached's incr and decr (Decr and negative deltas
// use decr), atomic and keeping the entry's expiry. memcached's counters
// are unsigned 64-bit numbers: decr stops at 0 (Decr(100) of 50 gives 0),
// and a stored negative integer, which Set can write, gives
// ErrNotInteger. A missing key gives ErrNotFound. A result beyond int64
// (possible only with values written by other programs) is taken back with
// the opposite command and gives ErrOverflow. memcached pads a decremented
// number that got shorter with spaces ("9 "); the driver trims them.
//
// # Value size
//
// memcached refuses items over its item size (-I, 1 MB by default), key
// and header included. The driver refuses an encoded value over
// Options.MaxValueSize (DefaultMaxValueSize, 1 MB less 512 bytes, which
// fits with any key) before sending it; Set then deletes the key's old
// value, as Django's set does when the server refuses one, and SetMany
// reports the key as failed. With MaxValueSize -1 the server decides, and
// its refusal does the same.
//
// # Clear
//
// Django's clear() sends flush_all, which empties the whole server, every
// application's data with it. djcache does not by default. Clear lists each
// server's keys with "lru_crawler metadump hash" (a walk of the hash table,
// in recent 1.6 releases; "metadump all", a walk of the LRU lists, on older
// servers from 1.5.4, with the LRU crawler enabled, as it is by default)
// and deletes the keys of the calling cache: those under the namespace that continue with the
// cache's key prefix, ":", a version number and ":" (Django's key shape).
// A cache with a custom KeyFunc cannot be told apart by shape: Clear then
// empties the namespace, and without a namespace it refuses with an error.
//
// The trade-offs, plainly:
//
//   - Clear costs a listing of every key on every server, its time
//     proportional to the servers' item counts (milliseconds for thousands
//     of items, seconds for millions), not to the cache's. memcached runs
//     one listing at a time; concurrent Clears wait their turn. Its crawler
//     pauses as it walks, and more so on a busy machine, so Clear waits up
//     to 10 s (or the client's timeout, if longer) for each part of a
//     listing; give it a context deadline to bound it.
//   - It is not a snapshot: an entry written while Clear runs may stay.
//     memcached's crawler also skips an item another connection holds at
//     that instant (and, walking LRU lists, one that moves behind it), so
//     Clear lists each server again after deleting, until a listing finds
//     nothing of the cache (at most four listings).
//   - Caches with no namespace and the same key prefix share one key
//     space, as they do in Django: Clear of one clears the other, and a
//     cache with no prefix and no namespace clears every ":N:..." key,
//     Django's default key space.
//
// The alternative, a namespace generation folded into every key, would
// make Clear one increment, at the cost of a read of the generation on
// every call (or a cache of it, stale across processes) and of keys Django
// would no longer find. With clear=flush (ClearFlushAll), Clear sends
// flush_all to every server, Django's behaviour: fast, and destructive for
// everyone else on the servers.
//
// # Context
//
// gomemcache takes no context, and its calls cannot be interrupted: each
// ends when it completes or fails on the client's timeout
// (Options.Timeout, 500 ms by default, for each dial, write and read).
// Every call checks its context before any I/O. Beyond that:
//
//   - A single-key call whose context has a deadline it could outlive
//     (sooner than three client timeouts) runs the gomemcache call in a
//     goroutine of its own and returns the context's error as soon as the
//     deadline passes or the context is cancelled. The gomemcache call goes
//     on in the background until it completes or times out, its result
//     discarded: a Set cut short may still be stored. Its value is copied
//     first, so the caller may reuse its buffers.
//   - Other single-key calls (no deadline, or a distant one) run in the
//     calling goroutine: a goroutine and its wake-ups cost about a third of
//     a loopback round trip on a busy machine (see bench/memcached.md), and
//     the client's timeout already bounds the call. A cancellation during
//     the call is seen when it ends, and a call that failed then reports
//     the context's error wrapped around its own.
//   - Many-key calls (GetMany, Clear with clear=flush) detach whenever the
//     context can end, since their length grows with the keys. SetMany and
//     DeleteMany check the context before each key.
//   - Clear's listing and deletes use connections of their own, whose
//     deadlines follow the context: they are interrupted at once.
//
// # Many keys
//
// GetMany is one multi-get per server, the servers in parallel. SetMany
// and DeleteMany send one command per key (gomemcache has no multi-set),
// each server's keys in turn, the servers in parallel; SetMany reports the
// keys it could not store.
//
// # Limits
//
// The text protocol has no authentication (no SASL), so URLs with a user
// name or password are refused. TLS needs a client of your own
// (Options.Client with a DialContext). memcached's keys are bytes and
// pymemcache's hashing sees code points: both agree for valid UTF-8, which
// Django's keys always are.
package memcached
