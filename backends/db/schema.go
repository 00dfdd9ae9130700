package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// Django's createcachetable, and the checks a Driver makes of its table
// before first use.

// CreateTableSQL returns the statements that create table in dialect,
// exactly as Django's "manage.py createcachetable --dry-run" prints them:
// the CREATE TABLE statement (several lines) and then the CREATE INDEX
// statement. Django's column types are kept (cache_key varchar(255)
// primary key; value text, or longtext on MySQL; expires datetime,
// timestamp with time zone on PostgreSQL, datetime(6) on MySQL), so a table
// made by Django works with djcache and the reverse.
//
// On MySQL the cache_key column also gets the utf8mb4 character set and the
// binary collation utf8mb4_bin, so that keys are exact (Django's table takes
// the database's default collation, usually case-insensitive). The
// (*Driver).CreateTableSQL method asks the server for its NO PAD binary
// collation instead, which also keeps keys that differ only in trailing
// spaces apart.
func CreateTableSQL(dialect Dialect, table string) ([]string, error) {
	if !dialect.valid() {
		return nil, fmt.Errorf("djcache: db: unknown %v", dialect)
	}
	if err := checkTable(table); err != nil {
		return nil, err
	}
	return dialect.createTableSQL(table, "utf8mb4_bin"), nil
}

// createTableSQL builds Django's statements; collation is used on MySQL.
func (d Dialect) createTableSQL(table, collation string) []string {
	q := d.quote
	keyType, valueType, expiresType := "varchar(255)", "text", "datetime"
	switch d {
	case PostgreSQL:
		expiresType = "timestamp with time zone"
	case MySQL:
		keyType = "varchar(255) CHARACTER SET utf8mb4 COLLATE " + collation
		valueType, expiresType = "longtext", "datetime(6)"
	}
	create := strings.Join([]string{
		"CREATE TABLE " + q(table) + " (",
		"    " + q("cache_key") + " " + keyType + " NOT NULL PRIMARY KEY,",
		"    " + q("value") + " " + valueType + " NOT NULL,",
		"    " + q("expires") + " " + expiresType + " NOT NULL",
		");",
	}, "\n")
	index := "CREATE INDEX " + q(table+"_expires") + " ON " + q(table) + " (" + q("expires") + ");"
	return []string{create, index}
}

// CreateTable creates the Driver's table and its index, as Django's
// createcachetable does, unless the table exists; it reports whether it
// created it. On SQLite and PostgreSQL both statements run in one
// transaction; MySQL commits DDL at once. If another process creates the
// table at the same moment, CreateTable reports false and no error.
func (d *Driver) CreateTable(ctx context.Context) (created bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	if exists, err := d.TableExists(ctx); err != nil || exists {
		return false, err
	}
	stmts, err := d.CreateTableSQL(ctx)
	if err != nil {
		return false, err
	}
	err = d.runDDL(ctx, stmts)
	if err != nil {
		// Lost a race with another creator? Then the table is there.
		if exists, xerr := d.TableExists(ctx); xerr == nil && exists {
			return false, nil
		}
		return false, fmt.Errorf("djcache: db: %s could not be created: %w", d.tableIn(), d.redact(err))
	}
	return true, nil
}

func (d *Driver) runDDL(ctx context.Context, stmts []string) error {
	if d.dialect == MySQL {
		for _, s := range stmts {
			if _, err := d.db.ExecContext(ctx, strings.TrimSuffix(s, ";")); err != nil {
				return err
			}
		}
		return nil
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, strings.TrimSuffix(s, ";")); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// CreateTableSQL returns the statements that CreateTable runs, for a dry
// run (Django's createcachetable --dry-run). They are those of the
// package's [CreateTableSQL], except that on MySQL and MariaDB the server is
// asked for its NO PAD binary collation (utf8mb4_nopad_bin on MariaDB,
// utf8mb4_0900_bin on MySQL 8), under which keys differing only in
// trailing spaces stay apart; utf8mb4_bin is the fallback. That query is
// the only I/O: on SQLite and PostgreSQL, CreateTableSQL connects to
// nothing (and creates no SQLite file), and it never looks for the table.
func (d *Driver) CreateTableSQL(ctx context.Context) (_ []string, err error) {
	defer func() { err = d.fail(ctx, err) }()
	collation := "utf8mb4_bin"
	if d.dialect == MySQL {
		var name string
		err := d.db.QueryRowContext(ctx, "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_0900_bin', 'utf8mb4_nopad_bin') ORDER BY COLLATION_NAME LIMIT 1").Scan(&name)
		switch {
		case err == nil:
			collation = name
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
	}
	return d.dialect.createTableSQL(d.table, collation), nil
}

// TableExists reports whether the Driver's table exists (in the current
// schema on PostgreSQL, through the search_path; in the current database on
// MySQL). It creates nothing: for a Driver opened from a sqlite:// URL whose
// file does not exist, it reports false without opening the file, which
// would create it.
func (d *Driver) TableExists(ctx context.Context) (_ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	if d.file != "" {
		if _, err := os.Stat(d.file); errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	var (
		q   string
		arg any = d.table
	)
	switch d.dialect {
	case SQLite:
		q = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	case PostgreSQL:
		q = "SELECT COUNT(*) FROM (SELECT to_regclass($1) AS r) x WHERE r IS NOT NULL"
		arg = d.dialect.quote(d.table)
	case MySQL:
		q = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	}
	var n int
	if err := d.db.QueryRowContext(ctx, q, arg).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// CreateTable creates table in db, as Django's createcachetable does,
// unless it exists, and reports whether it created it. See
// [Driver.CreateTable]. It does not close db.
func CreateTable(ctx context.Context, db *sql.DB, dialect Dialect, table string) (created bool, err error) {
	d, err := New(db, dialect, &Options{Table: table})
	if err != nil {
		return false, err
	}
	defer d.Close()
	return d.CreateTable(ctx)
}

// tableIn names the Driver's table and its database for errors: "table
// "t" in the SQLite file /srv/c.db".
func (d *Driver) tableIn() string {
	if d.where != "" {
		return fmt.Sprintf("table %q in %s", d.table, d.where)
	}
	return fmt.Sprintf("the %v table %q", d.dialect, d.table)
}

// describe names the Driver's database and table for errors.
func (d *Driver) describe() string {
	if d.where != "" {
		return fmt.Sprintf("%s (table %q)", d.where, d.table)
	}
	return fmt.Sprintf("the %v table %q", d.dialect, d.table)
}

// ErrCaseInsensitiveTable reports a MySQL or MariaDB table whose cache_key
// column compares keys case-insensitively (the default collation of
// Django's createcachetable), where "Key" and "key" would share one row.
// The error that wraps it gives the ALTER TABLE statement that fixes it.
var ErrCaseInsensitiveTable = errors.New("djcache: db: the cache_key column is not case-sensitive")

// ErrNoTable reports to a read (Get, GetMany, Has) that the cache table
// does not exist: reads create nothing, and fail on a missing table as
// Django's do. The error that wraps it names the table and the database,
// and says how to create the table.
var ErrNoTable = errors.New("djcache: db: the cache table does not exist")

// prepareTable runs before the first operation until it succeeds: it finds
// the table, or creates it if create is set (with CreateTable's
// statements; writes set it), and, on MySQL, checks that cache_key compares
// keys exactly. Without create, a missing table is an error wrapping
// ErrNoTable, and nothing is created.
func (d *Driver) prepareTable(ctx context.Context, create bool) error {
	var exists bool
	err := d.retry(ctx, func() error {
		var err error
		exists, err = d.TableExists(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("djcache: db: cannot use %s: %w", d.describe(), d.redact(err))
	}
	if !exists && !create {
		return fmt.Errorf("%w: no %s; create it with `djcache createcachetable` (or Django's `manage.py createcachetable`, or db.CreateTable), or write first (the first write creates it), or check the URL's table parameter", ErrNoTable, d.tableIn())
	}
	if !exists {
		if _, err := d.CreateTable(ctx); err != nil {
			return fmt.Errorf("%w (create it with `djcache createcachetable` or db.CreateTable, or check the URL's table parameter)", err)
		}
	}
	if d.dialect != MySQL {
		return nil
	}
	var charset, collation sql.NullString
	err = d.db.QueryRowContext(ctx, "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'cache_key'", d.table).Scan(&charset, &collation)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("djcache: db: table %s has no cache_key column: it is not a cache table", d.dialect.quote(d.table))
	}
	if err != nil {
		return d.redact(err)
	}
	if exactCollation(charset.String, collation.String) {
		return nil
	}
	stmts, err := d.CreateTableSQL(ctx)
	if err != nil {
		return err
	}
	want := stmts[0][strings.Index(stmts[0], "COLLATE ")+len("COLLATE "):]
	want = want[:strings.IndexByte(want, ' ')]
	err = fmt.Errorf("%w: table %s has cache_key in %s with collation %s, under which keys that differ only in case (or in trailing spaces) share one row; make it exact with: ALTER TABLE %s MODIFY %s varchar(255) CHARACTER SET utf8mb4 COLLATE %s NOT NULL",
		ErrCaseInsensitiveTable, d.dialect.quote(d.table), charset.String, collation.String, d.dialect.quote(d.table), d.dialect.quote("cache_key"), want)
	if d.sharedWithDjango {
		// Django uses this table as it is; so does a Cache that shares it
		// with Django (the pickle serializer), and says how to do better.
		slog.Default().Warn(err.Error() + " (used as it is, as Django uses it, since this cache shares the table with Django)")
		return nil
	}
	return err
}

// exactCollation accepts the binary collations of utf8mb4 (the only
// character set that holds every key) and the binary character set.
func exactCollation(charset, collation string) bool {
	if charset == "binary" || collation == "binary" {
		return true
	}
	return charset == "utf8mb4" && strings.HasSuffix(collation, "_bin")
}
