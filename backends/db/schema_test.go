package db

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
)

// djangoDDL is what Django 3.2's "createcachetable --dry-run" prints for
// table, vendor by vendor: the SQLite text is the one observed in
// DJANGO.md §3.5; the others follow from the same code
// (django/core/management/commands/createcachetable.py) with each
// backend's quote_name and field types (DJANGO.md §3.5).
func djangoDDL(d Dialect, table string) string {
	q := d.quote
	types := map[Dialect][3]string{
		SQLite:     {"varchar(255)", "text", "datetime"},
		PostgreSQL: {"varchar(255)", "text", "timestamp with time zone"},
		MySQL:      {"varchar(255)", "longtext", "datetime(6)"},
	}[d]
	return fmt.Sprintf("CREATE TABLE %s (\n    %s %s NOT NULL PRIMARY KEY,\n    %s %s NOT NULL,\n    %s %s NOT NULL\n);\nCREATE INDEX %s ON %s (%s);",
		q(table), q("cache_key"), types[0], q("value"), types[1], q("expires"), types[2],
		q(table+"_expires"), q(table), q("expires"))
}

// TestCreateTableSQLMatchesDjango compares the dry run with Django's,
// byte for byte (on MySQL, but for cache_key's binary collation).
func TestCreateTableSQLMatchesDjango(t *testing.T) {
	// DJANGO.md §3.5, observed from Django's SQLite dry run.
	const observed = `CREATE TABLE "my_cache_table" (
    "cache_key" varchar(255) NOT NULL PRIMARY KEY,
    "value" text NOT NULL,
    "expires" datetime NOT NULL
);
CREATE INDEX "my_cache_table_expires" ON "my_cache_table" ("expires");`
	got, err := CreateTableSQL(SQLite, "my_cache_table")
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, "\n"); s != observed {
		t.Errorf("SQLite dry run:\n%s\nwant Django's:\n%s", s, observed)
	}
	if djangoDDL(SQLite, "my_cache_table") != observed {
		t.Fatal("djangoDDL(SQLite) does not reproduce the observed text")
	}
	for _, d := range []Dialect{PostgreSQL, MySQL, SQLite} {
		for _, table := range []string{"my_cache_table", "test cache table"} {
			got, err := CreateTableSQL(d, table)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.Join(got, "\n")
			if d == MySQL {
				const col = " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
				if !strings.Contains(s, "varchar(255)"+col+" NOT NULL") {
					t.Errorf("MySQL dry run gives cache_key no binary collation:\n%s", s)
				}
				s = strings.Replace(s, col, "", 1)
			}
			if want := djangoDDL(d, table); s != want {
				t.Errorf("%v dry run for %q:\n%s\nwant Django's:\n%s", d, table, s, want)
			}
		}
	}
	for _, bad := range []string{"", `x"; DROP TABLE y; --`, "a`b", "a?b", "tab\tle", " lead", strings.Repeat("t", 56), "a'b", `a\b`, "a{t}b", "schema.table"} {
		if _, err := CreateTableSQL(SQLite, bad); err == nil {
			t.Errorf("CreateTableSQL(%q): no error", bad)
		}
	}
	if _, err := CreateTableSQL(Dialect(9), "t"); err == nil {
		t.Errorf("CreateTableSQL(Dialect(9)): no error")
	}
}

// column is one column as the database describes it.
type column struct {
	name, typ string
	notNull   bool
	pk        bool
}

// describe introspects a table: its columns and the columns of its
// non-unique indexes.
func describe(t *testing.T, db *sql.DB, e engine, table string) (cols []column, indexes []string, keyCollation string) {
	t.Helper()
	var q string
	switch e.dialect {
	case SQLite:
		q = `SELECT name, lower(type), "notnull", pk > 0 FROM pragma_table_info(?) ORDER BY cid`
	case PostgreSQL:
		q = `SELECT c.column_name,
			CASE WHEN c.data_type = 'character varying' THEN 'varchar(' || c.character_maximum_length || ')' ELSE c.data_type END,
			c.is_nullable = 'NO',
			EXISTS (SELECT 1 FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k
				ON tc.constraint_name = k.constraint_name AND tc.table_schema = k.table_schema
				WHERE tc.table_name = c.table_name AND tc.table_schema = c.table_schema AND tc.constraint_type = 'PRIMARY KEY' AND k.column_name = c.column_name)
			FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position`
	case MySQL:
		q = `SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'NO', COLUMN_KEY = 'PRI' FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`
	}
	rows, err := db.Query(q, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.pk); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()

	switch e.dialect {
	case SQLite:
		q = `SELECT il.name || ':' || ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii WHERE il."unique" = 0`
	case PostgreSQL:
		q = `SELECT i.relname || ':' || a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
			JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(x.indkey)
			WHERE c.relname = $1 AND NOT x.indisunique AND c.relnamespace = current_schema()::regnamespace`
	case MySQL:
		q = `SELECT CONCAT(INDEX_NAME, ':', COLUMN_NAME) FROM information_schema.STATISTICS
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 1`
	}
	rows, err = db.Query(q, table)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, strings.Replace(s, table+"_", "<table>_", 1))
	}
	rows.Close()
	slices.Sort(indexes)
	if e.dialect == MySQL {
		if err := db.QueryRow(`SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'cache_key'`, table).Scan(&keyCollation); err != nil {
			t.Fatal(err)
		}
	}
	return cols, indexes, keyCollation
}

// createDjangoTable runs Django's DDL for table.
func createDjangoTable(t *testing.T, db *sql.DB, d Dialect, table string) {
	t.Helper()
	for _, s := range strings.Split(djangoDDL(d, table), ";\n") {
		if _, err := db.Exec(strings.TrimSuffix(s, ";")); err != nil {
			t.Fatalf("Django's DDL: %v", err)
		}
	}
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + d.quote(table)) })
}

// TestTableLikeDjango: the table CreateTable makes has the columns, types,
// nullability, primary key and index of the one Django's DDL makes.
func TestTableLikeDjango(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		d, err := New(admin, e.dialect, &Options{Table: p.table})
		if err != nil {
			t.Fatal(err)
		}
		created, err := d.CreateTable(ctx)
		if err != nil || !created {
			t.Fatalf("CreateTable = %v, %v; want true", created, err)
		}
		if created, err := d.CreateTable(ctx); err != nil || created {
			t.Errorf("second CreateTable = %v, %v; want false, nil (Django: already exists)", created, err)
		}
		djangoTable := uniqueTable("djcache_django")
		createDjangoTable(t, admin, e.dialect, djangoTable)

		ours, ourIdx, ourColl := describe(t, admin, e, p.table)
		theirs, theirIdx, theirColl := describe(t, admin, e, djangoTable)
		if len(ours) != 3 || !slices.Equal(ours, theirs) {
			t.Errorf("columns:\n ours   %v\n Django %v", ours, theirs)
		}
		if len(ourIdx) != 1 || !slices.Equal(ourIdx, theirIdx) {
			t.Errorf("indexes: ours %v, Django %v; want <table>_expires:expires", ourIdx, theirIdx)
		}
		if e.dialect == MySQL {
			if !strings.HasSuffix(ourColl, "_bin") || strings.HasSuffix(theirColl, "_bin") {
				t.Errorf("cache_key collation: ours %q (want binary), Django's %q (the database default)", ourColl, theirColl)
			}
			if ourColl != "utf8mb4_nopad_bin" && ourColl != "utf8mb4_0900_bin" {
				t.Errorf("cache_key collation %q, want the server's NO PAD binary collation", ourColl)
			}
		}
	})
}

// TestDjangoTable: djcache works on a table made by Django's DDL; on MySQL
// it refuses Django's case-insensitive table, says how to fix it, and the
// fix works.
func TestDjangoTable(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		table := uniqueTable("djcache_django") + " x" // a name with a space, as Django's tests use
		createDjangoTable(t, admin, e.dialect, table)
		d, err := New(admin, e.dialect, &Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		c, err := djcache.New(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Set(ctx, "Key", "upper")
		if e.dialect == MySQL {
			if !errors.Is(err, ErrCaseInsensitiveTable) {
				t.Fatalf("Set on Django's MySQL table: %v, want ErrCaseInsensitiveTable", err)
			}
			m := regexp.MustCompile("ALTER TABLE .*").FindString(err.Error())
			if m == "" || !strings.Contains(err.Error(), "case") {
				t.Fatalf("the error does not say how to fix the table: %v", err)
			}
			if _, err := admin.Exec(m); err != nil {
				t.Fatalf("the suggested fix %q: %v", m, err)
			}
			if err := c.Set(ctx, "Key", "upper"); err != nil {
				t.Fatalf("Set after the fix: %v", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "key", "lower", djcache.Timeout(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"Key": "upper", "key": "lower"} {
			if got, _, err := djcache.Get[string](ctx, c, k); err != nil || got != want {
				t.Errorf("Get(%q) = %q, %v; want %q", k, got, err, want)
			}
		}
		if n, err := c.Incr(ctx, "n", 1); !errors.Is(err, djcache.ErrNotFound) {
			t.Errorf("Incr(missing) = %d, %v", n, err)
		}
	})
}

// TestCreateTableMissing: a Driver creates its missing table at the
// first call, and CreateTable reports an existing one.
func TestCreateTableMissing(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		d := p.open(t, "")
		defer d.Close()
		if ok, err := d.TableExists(ctx); err != nil || ok {
			t.Fatalf("TableExists of a new name = %v, %v", ok, err)
		}
		if _, err := d.Add(ctx, ":1:k", []byte("v"), time.Time{}); err != nil {
			t.Fatalf("first call on a missing table: %v", err)
		}
		if ok, err := d.TableExists(ctx); err != nil || !ok {
			t.Fatalf("TableExists after the first call = %v, %v", ok, err)
		}
		stmts, err := d.CreateTableSQL(ctx)
		if err != nil || len(stmts) != 2 {
			t.Fatalf("CreateTableSQL = %q, %v", stmts, err)
		}
		if created, err := CreateTable(ctx, d.db, e.dialect, p.table); err != nil || created {
			t.Errorf("CreateTable of an existing table = %v, %v; want false, nil", created, err)
		}
	})
}

// TestDjangoTableShared: a Cache with the pickle serializer shares the
// table with Django, so it uses Django's table as Django does. On MySQL,
// whose table compares keys case-insensitively, "Key" and "key" share one
// row (for both sides), and one warning gives the fix instead of an error;
// on SQLite and PostgreSQL keys stay exact and nothing is logged.
func TestDjangoTableShared(t *testing.T) {
	// The warning goes to slog.Default(): one logger for the three
	// subtests, which run in parallel, each finding its table's lines.
	logged := &lockedBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logged, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		admin := p.admin(t)
		table := uniqueTable("djcache_django_shared")
		createDjangoTable(t, admin, e.dialect, table)
		d, err := New(admin, e.dialect, &Options{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		c, err := djcache.New(d, &djcache.Options{Serializer: djcache.PickleSerializer})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Set(ctx, "Key", "upper"); err != nil {
			t.Fatalf("Set on Django's table with the pickle serializer: %v", err)
		}
		got, found, err := djcache.Get[string](ctx, c, "key")
		if e.dialect == MySQL {
			if err != nil || got != "upper" {
				t.Errorf("Get(key) after Set(Key) = %q, %v; want \"upper\", as Django reads that table", got, err)
			}
			if n := strings.Count(logged.String(), "ALTER TABLE "+e.dialect.quote(table)); n != 1 {
				t.Errorf("want one warning giving the ALTER TABLE fix for %s, got %d; logged:\n%s", table, n, logged.String())
			}
			return
		}
		if err != nil || found {
			t.Errorf("Get(key) after Set(Key) = %q, %v, %v; want a miss (keys are exact)", got, found, err)
		}
		if strings.Contains(logged.String(), table) {
			t.Errorf("logged about the %v table:\n%s", e.dialect, logged.String())
		}
	})
}

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReadsCreateNothing: reads of a missing table fail, as Django's do,
// with an error wrapping ErrNoTable that names the table and the
// createcachetable command, and create nothing (on SQLite, not even the
// file); TableExists and CreateTableSQL, a dry run's calls, create nothing
// either. The first write then creates the table, and reads find it.
func TestReadsCreateNothing(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		ctx := t.Context()
		p := newPlace(t, e)
		d := p.open(t, "")
		defer d.Close()
		noFile := func(when string) {
			t.Helper()
			if d.file == "" {
				return
			}
			if _, err := os.Stat(d.file); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("after %s, the SQLite file: %v; want it not created", when, err)
			}
		}
		if exists, err := d.TableExists(ctx); err != nil || exists {
			t.Fatalf("TableExists of a new table = %v, %v", exists, err)
		}
		noFile("TableExists")
		if _, err := d.CreateTableSQL(ctx); err != nil {
			t.Fatal(err)
		}
		noFile("CreateTableSQL")
		for name, read := range map[string]func() error{
			"Get":           func() error { _, _, err := d.Get(ctx, ":1:k"); return err },
			"GetWithExpiry": func() error { _, _, _, err := d.GetWithExpiry(ctx, ":1:k"); return err },
			"Has":           func() error { _, err := d.Has(ctx, ":1:k"); return err },
			"GetMany":       func() error { _, err := d.GetMany(ctx, []string{":1:k", ":1:j"}); return err },
		} {
			err := read()
			if !errors.Is(err, ErrNoTable) || !strings.Contains(err.Error(), fmt.Sprintf("%q", p.table)) || !strings.Contains(err.Error(), "djcache createcachetable") {
				t.Errorf("%s on a missing table: %v; want an error wrapping ErrNoTable that names the table and `djcache createcachetable`", name, err)
			}
			noFile(name)
		}
		if exists, err := d.TableExists(ctx); err != nil || exists {
			t.Fatalf("after the reads, TableExists = %v, %v; want no table", exists, err)
		}
		// A write creates the table (and the file), and reads find it,
		// through this Driver and through another (another process) whose
		// reads met the missing table before.
		other := p.open(t, "")
		defer other.Close()
		if _, err := other.Has(ctx, ":1:k"); !errors.Is(err, ErrNoTable) {
			t.Fatalf("Has on a missing table: %v", err)
		}
		if err := d.Set(ctx, ":1:k", []byte("v"), time.Time{}); err != nil {
			t.Fatalf("Set on a missing table: %v", err)
		}
		for _, r := range []*Driver{d, other} {
			if v, found, err := r.Get(ctx, ":1:k"); err != nil || !found || string(v) != "v" {
				t.Errorf("Get after the first Set = %q, %v, %v", v, found, err)
			}
		}
	})
}
