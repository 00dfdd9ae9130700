package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	sqldriver "database/sql/driver"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/urlparam"
)

// The URL schemes of this backend.
const (
	SchemeSQLite     = "sqlite"
	SchemePostgres   = "postgres"
	SchemePostgreSQL = "postgresql"
	SchemeMySQL      = "mysql"
)

func init() {
	o := &URLOpener{}
	for _, s := range []string{SchemeSQLite, SchemePostgres, SchemePostgreSQL, SchemeMySQL} {
		djcache.Register(s, o)
	}
}

// URLOpener opens URLs of three forms:
//
//	sqlite:///ABS/PATH/FILE.db?table=NAME   (or sqlite:////ABS/PATH/FILE.db)
//	postgres://USER:PASSWORD@HOST:PORT/DATABASE?table=NAME   (or postgresql://)
//	mysql://USER:PASSWORD@HOST:PORT/DATABASE?table=NAME      (MySQL and MariaDB)
//
// Parameters, besides djcache's portable ones (timeout, key_prefix,
// version):
//
//   - table: the cache table (default djcache_table, Django's LOCATION).
//   - max_entries: the number of rows above which a write culls the table
//     (default 300).
//   - cull_frequency: a cull deletes 1/cull_frequency of the rows (default
//     3); 0 deletes them all.
//   - django_time_zone: the zone of the naive expires times Django writes:
//     for a Django project with USE_TZ = False, its TIME_ZONE (pasted
//     settings set it; see djcache.ParseSettings, which also takes a
//     database's own TIME_ZONE under USE_TZ = True). An IANA name such as
//     Europe/Paris, or UTC, or Local (the Go process's own zone); an
//     unknown zone is an error. On SQLite and MySQL it sets
//     [Options.Location]; on MySQL it also sets the driver's loc, and a loc
//     naming another zone is an error. On PostgreSQL, where expires is
//     absolute and Django's naive times are read in the session zone that
//     Django sets to TIME_ZONE, it changes no expiry: it only places
//     Django's "never" where a Django session in that zone can read it (see
//     Options.Location). Without it, naive times are UTC (USE_TZ = True).
//     Django's process must run in TIME_ZONE too: see "Expiry and time
//     zones" in the package documentation for settings.configure().
//
// and the parameters that the database's Go driver documents, passed on to
// it (the four above are djcache's own and are not); any other parameter
// is an error, so that a misspelling fails at Open.
//
// SQLite (modernc.org/sqlite): the path must be absolute, after three
// slashes (sqlite:///srv/cache.db; on Windows sqlite:///C:/dir/file.db) or
// four, the form of dj-database-url and SQLAlchemy (sqlite:////srv/cache.db
// is the same file). A URL with a host, user information, a fragment, more
// slashes, or a path that is relative or ends with a slash is an error at
// Open, which says what is wrong. The file is created by the first write if
// missing (reads do not create it), but not its directory. Accepted: _pragma
// (repeatable, one pragma each, such as _pragma=cache_size(-20000); the
// driver runs it as SQL, so anything more is refused), _busy_timeout (or
// _timeout), _journal_mode (_journal), _synchronous (_sync), _auto_vacuum
// (_vacuum), _foreign_keys (_fk), _query_only, _txlock, _time_format,
// _time_integer_format, _inttotime, _texttotime, _timezone, _dqs,
// _defensive, _error_rc, vfs and SQLite's URI parameters mode, cache,
// immutable, nolock, psow, modeof. By default each connection runs
// busy_timeout 5000, journal_mode WAL and synchronous NORMAL (see the
// package documentation); the URL's own settings of the same pragmas replace
// them.
//
// PostgreSQL (pgx): the URL is pgx's (libpq's), with the host, port (5432),
// user, password and database in their places. Accepted: libpq's keywords
// that pgx reads (sslmode, sslcert, sslkey, sslrootcert, sslpassword,
// sslsni, sslnegotiation, sslcertmode, connect_timeout, target_session_attrs,
// service, servicefile, passfile, krbspn, krbsrvname, channel_binding,
// require_auth, min_protocol_version, max_protocol_version, host, port,
// user, password, database, dbname), pgx's statement_cache_capacity,
// description_cache_capacity and default_query_exec_mode, and the
// run-time settings application_name, options, search_path, timezone,
// statement_timeout, lock_timeout and idle_in_transaction_session_timeout.
//
// MySQL and MariaDB (go-sql-driver/mysql): TCP, port 3306 by default (for
// a Unix socket, open the *sql.DB yourself and use New). Accepted:
// the driver's allowAllFiles, allowCleartextPasswords,
// allowFallbackToPlaintext, allowNativePasswords, allowOldPasswords,
// charset, checkConnLiveness, clientFoundRows (false only: Add needs
// MySQL's changed-row counts), collation, columnsWithAlias, compress,
// connectionAttributes, interpolateParams (default true here: one round trip
// per statement of variable shape), loc (also the time zone of the naive
// expires values, as django_time_zone; see Options.Location),
// maxAllowedPacket, multiStatements,
// parseTime, readTimeout, rejectReadOnly, serverPubKey, timeTruncate,
// timeout, tls, writeTimeout, and the system variables sql_mode, time_zone,
// transaction_isolation, tx_isolation, innodb_lock_wait_timeout,
// lock_wait_timeout, wait_timeout and max_execution_time.
//
// The database handle a URL opens belongs to the Driver, which closes it.
// PostgreSQL and MySQL pools keep at most 16 connections. Passwords never
// appear in errors.
type URLOpener struct{}

// OpenDriverURL implements djcache.DriverURLOpener. It does not connect.
func (*URLOpener) OpenDriverURL(_ context.Context, u *url.URL) (driver.Driver, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("djcache: db: invalid URL query: %v", err)
	}
	// Our own parameters go through urlparam; the rest belong to the
	// database's driver.
	own := url.Values{}
	for _, k := range []string{"table", "max_entries", "cull_frequency", "django_time_zone"} {
		if vs, ok := q[k]; ok {
			own[k] = vs
			delete(q, k)
		}
	}
	r := urlparam.New("db", &url.URL{RawQuery: own.Encode()})
	o := &Options{
		Table:      r.String("table", DefaultTable),
		MaxEntries: r.Int("max_entries", DefaultMaxEntries, 1, 1<<40),
	}
	cull := r.Int("cull_frequency", 3, 0, 1<<30)
	tzName, hasTZ := r.String("django_time_zone", ""), own.Has("django_time_zone")
	if err := r.Done(); err != nil {
		return nil, err
	}
	var zone *time.Location // nil: UTC, Django's USE_TZ = True
	if hasTZ {
		if zone, err = djangoTimeZone(tzName); err != nil {
			return nil, err
		}
	}
	o.CullFrequency, o.ClearWhenFull = cull, cull == 0
	if err := checkTable(o.Table); err != nil {
		return nil, err
	}
	var (
		sqlDB   *sql.DB
		dialect Dialect
		secret  string
		file    string
	)
	if pw, ok := u.User.Password(); ok {
		secret = pw
	}
	switch strings.ToLower(u.Scheme) {
	case SchemeSQLite:
		dialect = SQLite
		o.Location = zone
		sqlDB, file, err = openSQLite(u, q)
	case SchemePostgres, SchemePostgreSQL:
		dialect = PostgreSQL
		o.Location = zone // only Django's "never" depends on it
		sqlDB, err = openPostgres(u, q)
	case SchemeMySQL:
		dialect = MySQL
		if hasTZ {
			// The driver's loc is the zone of the naive times too: one
			// zone, given by either parameter or by both alike.
			if q.Has("loc") && q.Get("loc") != tzName {
				return nil, fmt.Errorf("djcache: db: URL parameters loc=%q and django_time_zone=%q name different time zones (the naive expires times have one; give one of them, or both alike)", q.Get("loc"), tzName)
			}
			q.Set("loc", tzName)
		}
		sqlDB, o.Location, err = openMySQL(u, q)
	default:
		return nil, fmt.Errorf("djcache: db: unknown scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, redactSecret(err, secret)
	}
	d, err := New(sqlDB, dialect, o)
	if err != nil {
		sqlDB.Close()
		return nil, err
	}
	d.ownDB, d.secret = true, secret
	switch dialect {
	case SQLite:
		d.where = "the SQLite file " + file
		if !strings.EqualFold(q.Get("mode"), "memory") && !q.Has("vfs") {
			d.file = file
		}
	case PostgreSQL:
		d.where = "PostgreSQL at " + u.Host + u.Path
	case MySQL:
		d.where = "MySQL at " + u.Host + u.Path
		d.ownTimeouts = q.Has("readTimeout") || q.Has("writeTimeout")
	}
	return d, nil
}

// djangoTimeZone loads the zone of the URL parameter django_time_zone.
func djangoTimeZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, errors.New("djcache: db: URL parameter django_time_zone is empty (want Django's TIME_ZONE: an IANA name such as Europe/Paris, or UTC or Local)")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("djcache: db: URL parameter django_time_zone=%q: %v (want Django's TIME_ZONE: an IANA name such as Europe/Paris, or UTC or Local)", name, err)
	}
	return loc, nil
}

// unknownParams returns an error naming the parameters of q that are not
// in allowed, or nil.
func unknownParams(scheme string, q url.Values, allowed map[string]bool) error {
	var bad []string
	for k := range q {
		if !allowed[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	if len(bad) == 1 {
		return fmt.Errorf("djcache: db: unknown URL parameter %q for %s (see the documentation of db.URLOpener)", bad[0], scheme)
	}
	return fmt.Errorf("djcache: db: unknown URL parameters %q for %s (see the documentation of db.URLOpener)", bad, scheme)
}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// ------------------------------------------------------------------ SQLite

var sqliteParams = setOf("_pragma", "_busy_timeout", "_timeout", "_journal_mode", "_journal",
	"_synchronous", "_sync", "_auto_vacuum", "_vacuum", "_foreign_keys", "_fk", "_query_only",
	"_txlock", "_time_format", "_time_integer_format", "_inttotime", "_texttotime", "_timezone",
	"_dqs", "_defensive", "_error_rc", "vfs", "mode", "cache", "immutable", "nolock", "psow", "modeof")

// pragmaRE matches one PRAGMA setting, name(value) or name=value: the
// driver runs _pragma values as SQL, so a URL must not smuggle more.
var pragmaRE = regexp.MustCompile(`^\s*[A-Za-z_]+\s*(\(\s*-?[A-Za-z0-9_.]*\s*\)|=\s*-?[A-Za-z0-9_.]+)?\s*$`)

// sqliteForms is the remedy of the errors about a SQLite URL's form.
const sqliteForms = "want sqlite:///ABSOLUTE/PATH/FILE.db, three slashes, or the four of dj-database-url and SQLAlchemy, sqlite:////ABSOLUTE/PATH/FILE.db"

// sqlitePath returns the file path of a sqlite:// URL, or an error that
// names what is wrong with the URL. Three slashes and four give the same
// absolute path: sqlite:////tmp/c.db, the form of dj-database-url and
// SQLAlchemy, parses as an empty host and the path //tmp/c.db, which SQLite
// would read as a URI with the authority "tmp".
func sqlitePath(u *url.URL) (string, error) {
	bad := func(what string) error {
		return fmt.Errorf("djcache: db: SQLite URL %q %s (%s)", u.Redacted(), what, sqliteForms)
	}
	switch {
	case u.Opaque != "":
		return "", bad("has a relative path, " + strconv.Quote(u.Opaque) + ", after the colon: the path must be absolute")
	case u.Host != "":
		return "", bad("has a host, " + strconv.Quote(u.Host) + ": a relative path, or only two slashes, after the scheme? The path must be absolute")
	case u.User != nil:
		return "", bad("has user information, which a file has no use for")
	case u.Fragment != "":
		return "", bad("has a fragment, #" + u.Fragment + " (write # in a file name as %23)")
	}
	path := u.Path
	if strings.HasPrefix(path, "//") {
		path = path[1:] // sqlite:////ABSOLUTE/PATH
		if strings.HasPrefix(path, "//") {
			return "", bad("has more than four slashes before the path")
		}
	}
	if len(path) >= 3 && path[0] == '/' && path[2] == ':' && runtime.GOOS == "windows" {
		path = path[1:] // sqlite:///C:/dir/file.db
	}
	switch {
	case path == "" || path == "/" || path[0] != '/' && runtime.GOOS != "windows":
		return "", bad("has no absolute file path")
	case strings.HasSuffix(path, "/"):
		return "", bad("ends with a slash, so it names a directory, not a file")
	case strings.IndexByte(path, 0) >= 0:
		return "", bad("holds a NUL byte in its path")
	}
	return path, nil
}

// sqliteDSN returns the modernc.org/sqlite DSN of a sqlite:// URL, its file
// path, and the connections' busy timeout.
func sqliteDSN(u *url.URL, q url.Values) (dsn, path string, busy time.Duration, err error) {
	if path, err = sqlitePath(u); err != nil {
		return "", "", 0, err
	}
	if err := unknownParams("sqlite", q, sqliteParams); err != nil {
		return "", "", 0, err
	}
	for _, p := range q["_pragma"] {
		if !pragmaRE.MatchString(p) {
			return "", "", 0, fmt.Errorf("djcache: db: URL parameter _pragma=%q: want one pragma such as cache_size(-20000)", p)
		}
	}
	q = cloneValues(q)
	has := func(pragma string, keys ...string) bool {
		for _, k := range keys {
			if q.Has(k) {
				return true
			}
		}
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), pragma) {
				return true
			}
		}
		return false
	}
	var defaults []string
	busy = defaultBusyTimeout
	if !has("busy_timeout", "_busy_timeout", "_timeout") {
		defaults = append(defaults, "busy_timeout(5000)")
	} else {
		busy = urlBusyTimeout(q)
	}
	if !has("journal_mode", "_journal_mode", "_journal") {
		defaults = append(defaults, "journal_mode(WAL)")
	}
	if !has("synchronous", "_synchronous", "_sync") {
		defaults = append(defaults, "synchronous(NORMAL)")
	}
	q["_pragma"] = append(defaults, q["_pragma"]...)
	// A file: URI, so that SQLite's own parameters (mode, cache, ...)
	// apply and any character of the path is escaped.
	dsn = (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode(), OmitHost: true}).String()
	return dsn, path, busy, nil
}

// defaultBusyTimeout is the busy timeout of the connections of a sqlite://
// URL that sets none.
const defaultBusyTimeout = 5 * time.Second

var busyPragmaRE = regexp.MustCompile(`(?i)^\s*busy_timeout\s*(?:\(\s*|=\s*)(\d+)`)

// urlBusyTimeout reads the busy timeout a URL sets, in milliseconds, as
// the driver applies it: _busy_timeout, or its alias _timeout, which wins,
// and then the _pragma list, whose last busy_timeout wins. Zero if
// unreadable: the driver refuses the URL anyway.
func urlBusyTimeout(q url.Values) time.Duration {
	ms := q.Get("_busy_timeout")
	if q.Has("_timeout") {
		ms = q.Get("_timeout")
	}
	for _, p := range q["_pragma"] {
		if m := busyPragmaRE.FindStringSubmatch(p); m != nil {
			ms = m[1]
		}
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
}

func openSQLite(u *url.URL, q url.Values) (*sql.DB, string, error) {
	dsn, path, busy, err := sqliteDSN(u, q)
	if err != nil {
		return nil, "", err
	}
	db := sql.OpenDB(sqliteConnector{dsn: dsn, busy: busy})
	n := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, path, nil
}

// sqliteConnector opens modernc.org/sqlite connections without the
// package-level name registry.
//
// Opening a connection runs the URL's pragmas, busy_timeout first. On a
// new file, journal_mode = WAL then writes the file's header, and SQLite
// asks for that write lock from within the read transaction that found
// the file in rollback mode; such an upgrade never waits under the busy
// timeout, so while another connection (of this process or another) opens
// the file at the same moment, it fails at once with "database is locked".
// Connect retries the opening then, with a short random backoff, for up to
// busy (the connections' busy timeout) and no longer than ctx.
type sqliteConnector struct {
	dsn  string
	busy time.Duration
}

var sqliteDriver = &sqlite.Driver{}

// Connect implements driver.Connector.
func (c sqliteConnector) Connect(ctx context.Context) (sqldriver.Conn, error) {
	end := time.Now().Add(c.busy)
	pause := time.Millisecond
	for {
		conn, err := sqliteDriver.Open(c.dsn)
		if err == nil || !SQLite.transient(err) || time.Now().After(end) {
			return conn, err
		}
		t := time.NewTimer(pause + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err // Driver.fail adds ctx's error
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Driver implements driver.Connector.
func (c sqliteConnector) Driver() sqldriver.Driver { return sqliteDriver }

// -------------------------------------------------------------- PostgreSQL

var postgresParams = setOf(
	// libpq keywords that pgconn reads
	"host", "port", "user", "password", "database", "dbname", "passfile", "connect_timeout",
	"sslmode", "sslkey", "sslcert", "sslcertmode", "sslrootcert", "sslnegotiation", "sslpassword",
	"sslsni", "krbspn", "krbsrvname", "target_session_attrs", "service", "servicefile",
	"min_protocol_version", "max_protocol_version", "channel_binding", "require_auth",
	// pgx
	"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode",
	// run-time settings
	"application_name", "options", "search_path", "timezone", "statement_timeout",
	"lock_timeout", "idle_in_transaction_session_timeout")

func openPostgres(u *url.URL, q url.Values) (*sql.DB, error) {
	if err := unknownParams("postgres", q, postgresParams); err != nil {
		return nil, err
	}
	cu := *u
	cu.Scheme = "postgres"
	cu.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(cu.String())
	if err != nil {
		// pgx redacts the password in its message; OpenDriverURL makes sure.
		return nil, fmt.Errorf("djcache: db: invalid PostgreSQL URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// ------------------------------------------------------------------- MySQL

var mysqlParams = setOf("allowAllFiles", "allowCleartextPasswords", "allowFallbackToPlaintext",
	"allowNativePasswords", "allowOldPasswords", "charset", "checkConnLiveness", "clientFoundRows",
	"collation", "columnsWithAlias", "compress", "connectionAttributes", "interpolateParams", "loc",
	"maxAllowedPacket", "multiStatements", "parseTime", "readTimeout", "rejectReadOnly",
	"serverPubKey", "timeTruncate", "timeout", "tls", "writeTimeout",
	// system variables
	"sql_mode", "time_zone", "transaction_isolation", "tx_isolation", "innodb_lock_wait_timeout",
	"lock_wait_timeout", "wait_timeout", "max_execution_time")

// mysqlConfig returns the go-sql-driver configuration of a mysql:// URL.
func mysqlConfig(u *url.URL, q url.Values) (*mysql.Config, error) {
	if err := unknownParams("mysql", q, mysqlParams); err != nil {
		return nil, err
	}
	if v := q.Get("clientFoundRows"); v != "" && v != "false" && v != "0" {
		return nil, fmt.Errorf("djcache: db: URL parameter clientFoundRows=%s is not supported: Add tells an insert from a live row by MySQL's changed-row count", v)
	}
	q = cloneValues(q)
	if !q.Has("interpolateParams") {
		q.Set("interpolateParams", "true")
	}
	cfg, err := mysql.ParseDSN("/?" + q.Encode())
	if err != nil {
		return nil, fmt.Errorf("djcache: db: invalid MySQL URL parameters: %v", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("djcache: db: MySQL URL %q has no host (want mysql://USER:PASSWORD@HOST:PORT/DATABASE)", u.Redacted())
	}
	cfg.Net = "tcp"
	// The driver logs what it then reports as errors or handles itself
	// (a dropped idle connection); a library must not write to stderr.
	cfg.Logger = &mysql.NopLogger{}
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if cfg.DBName == "" || strings.Contains(cfg.DBName, "/") {
		return nil, fmt.Errorf("djcache: db: MySQL URL %q needs one database name as its path (mysql://USER:PASSWORD@HOST:PORT/DATABASE)", u.Redacted())
	}
	return cfg, nil
}

func openMySQL(u *url.URL, q url.Values) (*sql.DB, *time.Location, error) {
	cfg, err := mysqlConfig(u, q)
	if err != nil {
		return nil, nil, err
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("djcache: db: invalid MySQL URL: %v", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, cfg.Loc, nil
}

func cloneValues(q url.Values) url.Values {
	c := make(url.Values, len(q))
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	return c
}
