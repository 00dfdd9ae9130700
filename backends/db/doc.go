// Package db is djcache's SQL backend, Django's DatabaseCache, on SQLite,
// PostgreSQL and MySQL/MariaDB: entries are rows of one table, in Django's
// schema, so a Go service and a Django project can share it.
//
//	import _ "github.com/djcache/djcache/backends/db"
//
//	c, err := djcache.Open("sqlite:///var/cache/myapp/cache.db")
//	c, err := djcache.Open("postgres://app:secret@db.internal:5432/app?table=my_cache_table&sslmode=require")
//	c, err := djcache.Open("mysql://app:secret@127.0.0.1:3306/app?max_entries=10000")
//
// With a *sql.DB already in hand, use [New] and [djcache.New]:
//
//	d, err := db.New(sqlDB, db.PostgreSQL, &db.Options{Table: "my_cache_table"})
//	c, err := djcache.New(d, nil)
//
// The drivers are pure Go, so the package builds without cgo:
// modernc.org/sqlite, github.com/jackc/pgx/v5 (through its database/sql
// adapter) and github.com/go-sql-driver/mysql. The package registers the
// URL schemes sqlite, postgres, postgresql and mysql; see [URLOpener] for
// every URL parameter.
//
// # Schema
//
// The table is Django's (see [CreateTableSQL]): cache_key varchar(255)
// primary key holding the made key unchanged, value text holding the
// standard base64 (with padding) of djcache's encoded value bytes, and
// expires, indexed as "<table>_expires". A table made by Django's
// createcachetable works with djcache and the reverse, and both can use it
// at once. With the pickle serializer (URL serializer=pickle, or a pasted
// Django CACHES) the values are the protocol-5 pickles Django writes,
// integers included, and Django reads every value djcache writes; djcache
// reads Django's pickles whatever its serializer. See "Sharing a cache with
// Django" in package djcache.
//
// Django's createcachetable is [Driver.CreateTable] (the CLI's "djcache
// createcachetable"), [Driver.CreateTableSQL] for its --dry-run and
// [Driver.TableExists] for its "already exists" message; [CreateTable] and
// [CreateTableSQL] do the same without a Driver. None of them but
// CreateTable creates anything, and on SQLite and PostgreSQL
// Driver.CreateTableSQL does no I/O at all (on MySQL it asks the server for
// a collation), so a dry run touches nothing.
//
// A Driver whose table is missing creates it at its first write (Set, Add,
// SetMany, Touch, Delete, DeleteMany, Incr, Clear), so that
// sqlite:///path works at once (this needs the CREATE privilege). Reads
// (Get, GetMany, Has) create nothing: on a missing table they fail, as
// Django's do, with an error wrapping [ErrNoTable] that names the table and
// its database and says how to create it; a read of a SQLite file that does
// not exist does not create the file either. A read after the table is
// created, by a write or by createcachetable, finds it.
//
// MySQL and MariaDB compare varchar columns with the table's collation,
// which for a table made by Django is the database default, usually
// case-insensitive: "Key" and "key" would share one row. The table djcache
// creates gives cache_key a binary collation, so keys are exact bytes. A
// Driver checks the collation before its first call and, on a
// case-insensitive table, fails every call with [ErrCaseInsensitiveTable]
// and the ALTER TABLE statement that fixes the table (Django keeps working
// after it). A Cache with the pickle serializer shares the table with
// Django, so it takes Django's table as Django does: keys that differ only
// in case share one row, for both programs, and a warning through
// slog.Default() gives the same ALTER TABLE statement.
//
// Keys longer than 255 characters do not fit cache_key and fail with an
// error wrapping djcache.ErrInvalidKey. PostgreSQL cannot store NUL or
// invalid UTF-8 in a varchar, and MySQL refuses invalid UTF-8, so there a
// key holding NUL, invalid UTF-8 or U+FFFF is stored escaped (U+FFFF
// followed by "0", "x" and two hex digits, or U+FFFF); such keys work from
// djcache but Django could not make them anyway.
//
// # Expiry and time zones
//
// expires holds whole seconds, as Django writes it, and never the
// fractional part: a Driver rounds each expiry up to the next second, so an
// entry lives at least as long as asked and at most one second longer
// (hence the kit's ExpiryResolution of 1s). Forever is Django's
// 9999-12-31 23:59:59. An entry is expired when expires <= now, for every
// operation. Django compares a little differently from call to call (get:
// expires < now with microseconds; has_key: expires > now truncated; add:
// expires < now truncated), so at the very second an entry expires Django's
// add may still see it as live when djcache sees it gone; the two agree
// everywhere else. The clock is the client's, as in Django, so the machines
// sharing a table should keep their clocks in sync.
//
// On PostgreSQL, expires is a timestamp with time zone: an absolute time.
// SQLite (text "YYYY-MM-DD HH:MM:SS") and MySQL (datetime(6)) keep naive
// times: djcache writes and reads them in UTC, as Django does with USE_TZ =
// True (its default since Django 5.0 and in every project template since
// 1.4). A Django project with USE_TZ = False (Django's global default
// before 5.0, so also a settings file that leaves USE_TZ out) writes its
// local time; give djcache that zone, its TIME_ZONE, with the URL parameter
// django_time_zone (or [Options.Location]; on MySQL, the driver's loc
// parameter does the same):
//
//	sqlite:///srv/app/db.sqlite3?table=my_cache_table&django_time_zone=Europe/Paris
//
// Pasted Django settings with "USE_TZ": false and their "TIME_ZONE" set it
// themselves (see djcache.ParseSettings). Django's local time is TIME_ZONE
// only because Django sets the process's TZ environment variable to
// TIME_ZONE when it loads a settings module (manage.py, WSGI and ASGI
// servers, anything with DJANGO_SETTINGS_MODULE). settings.configure() does
// not: a program that configures Django that way writes the machine's local
// time, so start it with TZ set to TIME_ZONE in its environment (or give
// djcache the machine's zone). On PostgreSQL, Django sends its naive times
// through a session whose time zone it sets to TIME_ZONE, so the stored
// instants are right as long as the Django process's local zone is
// TIME_ZONE (the same condition on TZ) and djcache needs nothing; there
// django_time_zone only places Django's "never", stored as the earlier of
// 9999-12-31 23:59:59 in that zone and in UTC, because a Django session in
// a zone east of UTC would read 9999-12-31 23:59:59 UTC in year 10000,
// which it cannot parse. Naive local times repeat an hour when clocks go
// back, so entries may then live an hour longer or shorter, as they do in
// Django. Zone names need the system's time zone database (or a program
// that imports time/tzdata).
//
// # Atomicity
//
// Every operation is one statement, or one transaction, and the database
// decides every race, never a read-then-write in Go:
//
//   - Set is an upsert (INSERT … ON CONFLICT DO UPDATE, or ON DUPLICATE KEY
//     UPDATE on MySQL); with an expiry already passed it deletes the row.
//   - Add is the same upsert with a condition, updating the row only if its
//     entry has expired; the database reports whether a row was written.
//   - Incr runs in a transaction that locks the row (SELECT … FOR UPDATE;
//     on SQLite, a no-op UPDATE … RETURNING that takes the database's write
//     lock), decodes the base64 value, adds in Go, and writes the value back
//     without touching expires, so the entry keeps its expiry.
//   - Touch updates expires only where the entry is live, so it never
//     revives an expired row (Django's does).
//   - Delete and Get remove the expired rows they meet (Django's get_many
//     does the same), with a condition on expires so that a fresh row
//     written meanwhile survives.
//   - GetMany is one SELECT … IN (per 512 keys), DeleteMany one DELETE … IN,
//     SetMany one multi-row upsert (per 300 rows; several such statements
//     run in one transaction).
//   - Clear deletes every row of the table, and nothing outside it: a table
//     is one cache's storage, as in Django (give each cache its own table).
//
// Two operations read after their write on MySQL, whose row counts cannot
// tell every case apart: Delete, having found no live row to delete, then
// deletes the key's expired row, if any; and Touch, when MySQL reports no
// changed row, checks for a live row that already had the new expiry. Add
// with an expiry already passed stores nothing and only reads whether a
// live entry exists.
//
// Deadlocks and serialization failures (MySQL's InnoDB can report them
// when many clients upsert one key) and SQLite's "database is locked" are
// retried a few times with a short random backoff: the statement or
// transaction that failed was rolled back whole, so retrying it is safe.
//
// # Deadlines and cancellation
//
// A call whose context ends fails with an error that matches the context's
// error (errors.Is(err, context.DeadlineExceeded) or context.Canceled),
// wherever it ended, connecting included (where the database's Go driver
// reports only its dialer's "i/o timeout").
//
// A write that fails with the context's error never takes effect later. This
// needs care on PostgreSQL and MySQL: when the context ends, their Go
// drivers drop the connection, but the server goes on with the statement,
// which may be waiting for a row lock held by another client, and on its own
// a statement commits when it ends (on PostgreSQL, the Sync sent with it
// does); so a Set that reported context.DeadlineExceeded would be applied
// once the lock was released. Under a context that can end (ctx.Done() is
// not nil), a write there therefore runs in a transaction, BEGIN, the
// statements, COMMIT, and the COMMIT is sent only if the context is still
// live once the statements are done; the server rolls back the transaction
// of a dropped connection, so a write abandoned at any point before the
// COMMIT never takes effect. Once sent, the COMMIT is waited for even if the
// context ends meanwhile (it takes no lock; it waits only for the log), and
// the call reports its outcome. This costs two more round trips per write
// (BEGIN and COMMIT; the commit's own wait for the log is paid either way):
// on this project's test machine, a Set that changes a row took about 1.5
// times as long on PostgreSQL. Under a context that cannot end (such as
// context.Background()), nothing abandons a statement, and writes keep to
// one round trip (on MySQL, not when the URL sets readTimeout or
// writeTimeout, after which the driver drops connections on its own).
//
// The other ways to bound the server's wait were rejected because each
// leaves a window in which a write reported as failed still commits. A
// server-side limit (innodb_lock_wait_timeout, lock_timeout, MariaDB's
// max_statement_time, MySQL's max_execution_time, which covers SELECT
// only) runs on the server's clock, so a statement may commit between the
// client's deadline and the server's limit; the limits are whole seconds
// for innodb_lock_wait_timeout, and statement_timeout or lock_timeout set
// per call costs a round trip of its own anyway. KILL QUERY (or
// PostgreSQL's cancel request) on cancellation, from another connection,
// comes too late for a statement that commits while the request travels.
// With a transaction, the commit is decided by the client alone, before it
// reports anything.
//
// SQLite runs in this process: a statement has committed or rolled back
// when the call returns, and nothing runs later, so writes there stay
// single statements. A context that ends at the very moment a SQLite write
// commits may still fail the call with the context's error
// (modernc.org/sqlite reports the context's error once it ended during the
// statement) although the write took effect.
//
// The fixed statements are prepared once per connection (database/sql's
// *sql.Stmt), and so are the statements of GetMany, DeleteMany and SetMany
// for the first 48 batch sizes a Driver meets (IN lists longer than 128
// keys are padded to a multiple of 64 by repeating the last key, so that
// large batches take few sizes); other sizes run unprepared (pgx caches
// them itself).
//
// # Culling
//
// When the table holds more than max_entries rows, a write first deletes
// the expired rows and then, if still too many remain, the 1/cull_frequency
// share of the rest that expires soonest (with cull_frequency 0, every row),
// as Django does, except that Django deletes the keys that sort first (an
// arbitrary choice) where djcache deletes those closest to expiry, through
// the expires index.
//
// Django counts the rows (SELECT COUNT(*)) on every write. A Driver keeps
// an upper bound instead: the rows counted last time, plus one per row
// written since, minus the rows it deleted. It counts when the bound passes
// max_entries, and otherwise once every max_entries/10 rows written, to
// notice rows written by other processes (a COUNT reads about max_entries
// rows, so that costs about ten row reads per write). Django's
// check (more than max_entries rows before a write) can only be true when
// the bound passes max_entries, so a single process culls exactly when
// Django would (Django's test_cull and test_zero_cull numbers hold), with a
// tenth of the COUNTs or fewer while the table has room. The trade-off: a
// table written by several processes may exceed max_entries by about a
// tenth of it per process between counts. A cull that fails (a deadlock
// with another writer, say) does not fail the write; the next write tries
// again.
//
// # SQLite
//
// URLs opened by the package run SQLite in WAL mode with a busy timeout, so
// goroutines and processes sharing the file wait for each other instead of
// failing with "database is locked": each connection runs PRAGMA
// busy_timeout = 5000 (milliseconds), before any other statement, then
// journal_mode = WAL (readers never block the writer, nor the writer
// readers) and synchronous = NORMAL (safe from corruption in WAL mode; a
// power loss may lose the last transactions, which a cache can afford). A
// URL's own _pragma, _busy_timeout, _journal_mode or _synchronous parameters
// replace these. Switching a new file to WAL takes a write lock that SQLite
// does not wait for under the busy timeout, so when several connections (of
// one process or of several) open a new file at once, opening one can fail
// with "database is locked"; the package then opens it again after a short
// random pause, for up to the busy timeout, so processes whose first calls
// on a new file come together wait for each other too. The pool holds at
// most max(4, 2×GOMAXPROCS) connections: SQLite has one writer at a time,
// and queuing in Go is cheaper than contending for the file lock. Every
// transaction starts with a write, so none fails by upgrading a read
// snapshot. With [New], these settings are the caller's: set a busy timeout.
// The file must be on a local file system (WAL needs shared memory).
//
// # Limits
//
// A value takes a third more room as base64. SQLite and PostgreSQL hold up
// to about 1 GB in a value column; MySQL and MariaDB are bounded by the
// server's max_allowed_packet (16 MB by default on MariaDB, 64 MB on MySQL
// 8), and a larger value fails with the server's error, leaving the old
// one.
//
// modernc.org/sqlite, a translation of SQLite's C code to Go, builds for the
// common operating systems and architectures (Linux, macOS, Windows,
// FreeBSD and others on amd64 and arm64, and several more); the package
// does not build where it does not. PostgreSQL 9.5 or later (ON CONFLICT),
// MySQL 5.7 or later and MariaDB 10.2 or later are needed; SQLite is
// built in (3.35 or later is needed for RETURNING, and the bundled one is
// newer).
package db
