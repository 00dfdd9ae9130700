// Package filebased is djcache's file-system backend, Django's
// FileBasedCache: one file per key in a directory that any number of
// processes, djcache's or Django's, may share.
//
//	import _ "github.com/djcache/djcache/backends/filebased"
//
//	c, err := djcache.Open("file:///var/cache/myapp?max_entries=10000")
//
// or, from Go values:
//
//	d, err := filebased.New("/var/cache/myapp", &filebased.Options{MaxEntries: 10000})
//	c, err := djcache.New(d, &djcache.Options{KeyPrefix: "shop"})
//
// The URL's path is the directory, and must be absolute; its parameters
// (max_entries, cull_frequency, fsync, compress_level,
// allow_foreign_files) are documented on [URLOpener], and the same
// settings in Go on [Options].
//
// # The directory is the cache's
//
// The directory should hold the cache's files and nothing else. So that a
// mistyped URL ("file:///", or a project or home directory) does not scatter
// cache files among others, Open and New refuse the root directory and the
// user's home directory (os.UserHomeDir, compared after cleaning the path,
// with no I/O), and the first call that touches the directory lists it once:
// if it holds any name other than a cache entry (32 lower-case hex digits
// and ".djcache"), a temporary file of djcache ("tmp-djcache-*") or of
// Django ("tmp" and 8 characters of [a-z0-9_], Python's tempfile.mkstemp) or
// lost+found, that call and every later call of the Driver fail with a
// [*ForeignFilesError] naming the directory, the first such file (in sorted
// order) and the parameter to set. allow_foreign_files=true
// ([Options].AllowForeignFiles; OPTIONS {"ALLOW_FOREIGN_FILES": True} in a
// pasted Django CACHES) accepts such a directory, home included; the root is
// always refused. A directory shared with Django passes: Django's
// FileBasedCache writes nothing else. A directory that does not exist yet
// passes too, and files that appear after the first call are not looked for.
//
// # Files
//
// The layout is Django's, so that djcache and Django find each other's
// entries. The made key K (such as ":1:foo") lives in the file
// md5hex(K) + ".djcache"; a key never becomes part of a path otherwise.
// The file holds Django's pickled expiry (the 21-byte float form, seconds
// since the Unix epoch, or the 4-byte None form for an entry that never
// expires) immediately followed by a zlib stream of the value bytes.
// Readers stop at the end of the zlib stream, so the stale bytes that
// Django's touch leaves after it are ignored. The value bytes are
// djcache's encoding (see package driver), or, with the pickle serializer
// (URL serializer=pickle, or a pasted Django CACHES), the protocol-5
// pickles Django stores, integers included; Django's pickles are read
// whatever the serializer. See "Sharing a cache with Django" in package
// djcache.
//
// The directory, and every missing level above it, is created with mode
// 0700 by the first write (New does no I/O), and again by any write after
// someone deletes it; files are created with mode 0600. Clear removes the
// files whose names end with ".djcache" (not hidden ones, as Django's glob)
// and keeps the directory and every other file (which the directory holds
// only with allow_foreign_files=true).
//
// # Reads and writes
//
// A write goes to a temporary file in the directory (named
// "tmp-djcache-*", which neither Django nor djcache counts as a cache
// file), which is then renamed into place, or hard-linked into place when
// the key has no file yet. Readers therefore see a whole old file or a
// whole new one, and take no lock. A file that is expired, empty (Django's
// rule), or not a valid container is a miss, never an error: it is
// removed, after a second look under the key's lock in case it was being
// replaced. Any other I/O error, such as permission denied or a full disk,
// is returned.
//
// Touch writes a new file with the new expiry and the old zlib stream
// (without Django's stale tail). Incr keeps the expiry's bytes. The Driver
// reads expiries (driver.ExpiryReader), so IncrVersion keeps an entry's
// remaining lifetime.
//
// GetMany reads one file after another while reads are fast, and spreads
// the rest over up to 4 goroutines once they turn out slow (a cold page
// cache, large values), so that reads from the disk overlap.
//
// An entry is expired when its expiry is at or before now (package
// driver's rule; Django's filebased backend uses a strict "before", which
// differs only at the exact instant). Expiries keep sub-second precision.
//
// # Atomicity across processes
//
// Every change to a key's file (by Set, Add, Incr, Touch, Delete, and the
// removals by culling, Clear and readers) happens under the key's lock, so
// Add and Incr are atomic across goroutines and across processes sharing
// the directory, and Incr keeps the entry's expiry byte for byte.
// The lock is flock(2) on the key's file itself, the same lock Django's
// touch takes, so djcache also waits for a Django touch that is rewriting a
// file in place. Because the file is replaced by rename, a locker checks
// after locking that the path still names the file it locked, and locks
// again otherwise. A key with no file needs no flock: its file is created
// by link(2), which fails if another process created one meanwhile. Inside
// one process, a Driver also serializes goroutines on 64 stripes of keys,
// so that waiting honours the context; while a context that can be
// cancelled waits for another process's flock, the lock is polled (every
// 20 µs at first, then every millisecond) rather than waited for in the
// kernel.
//
// Django's own add and incr are not atomic (they read, then write without
// a lock), so a Django process sharing the directory can still lose a race
// against djcache, as it can against itself.
//
// # Culling
//
// Django lists the whole directory on every set. A Driver keeps an
// approximate count instead: the cache files it saw at its last listing,
// less those it culled, plus those it created since (creation by link
// tells it exactly). It lists the directory only when that count reaches
// max_entries or after max_entries/8 creations, so listing costs a
// constant amortized number of directory entries per write and overwrites
// cost none. When a listing finds max_entries files or more, the write
// first removes a uniformly random 1/cull_frequency of them (Django's
// random.sample), or all of them with cull_frequency=0, as Django does.
// With one Driver writing, culls happen exactly when Django's would; other processes'
// files are seen at the next listing, so a directory shared by P writing
// processes may hold up to about P×max_entries/8 files more than
// max_entries between listings. Listings also remove temporary files more
// than an hour old, left by writers that crashed.
//
// # Compression
//
// Values are compressed with github.com/klauspost/compress's zlib, a
// drop-in for compress/zlib that deflates two (level 1) to ten (level
// 6) times faster on a 100-KB text value, in the repository's bench
// module, at Django's level 6 by default: reads outnumber writes in a
// cache, and level 6 files are smaller, and inflate no slower, than level
// 1 ones. The zlib stream then starts with 78 9c, as in Django's files.
// compress_level=1 makes large writes cheaper; compress_level=0 writes
// zlib's stored blocks, for values that are already compressed. Django
// reads every level, and djcache reads whatever Django writes.
//
// # Platforms
//
// Cross-process locking ([CrossProcessLocking]) works on Linux, macOS and
// the BSDs. On other platforms (Windows, ...) the backend builds and is
// atomic among the goroutines of one Driver only, and Windows may refuse
// to replace a file that another goroutine is reading. On NFS, Linux
// emulates flock with POSIX record locks, which do not exclude one
// another within a process: use one Driver per directory per process
// there. Hard links are used where the file system has them; elsewhere a
// key's file is created empty and locked first (an empty file reads as a
// miss). Deleting the directory while processes write to it loses what it
// held, and an Add or Incr racing the deletion may act on the old
// directory.
//
// A Driver is safe for concurrent use and holds no open file between
// calls; Close releases nothing.
package filebased
