package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/djcache/djcache/driver"
)

// TestDeadlineNotAppliedLater: a write that returns the context's deadline
// error never takes effect afterwards. Another client holds the row's lock
// (SELECT … FOR UPDATE; on SQLite, the write lock), so the write waits
// until its deadline; the lock holder then rolls back, and once the
// server has no session left from the write's connection, the row is as
// it was. Before the fix, MySQL, MariaDB and PostgreSQL (whose Sync, sent
// with the statement, commits it) kept the abandoned statement waiting on
// the lock and committed it once the lock was free. The last case is
// MySQL's readTimeout, which abandons a statement under a context that
// cannot end.
func TestDeadlineNotAppliedLater(t *testing.T) {
	type op struct {
		name string
		run  func(ctx context.Context, d *Driver) error
	}
	exp := time.Now().Add(2 * time.Hour)
	ops := []op{
		{"Set", func(ctx context.Context, d *Driver) error { return d.Set(ctx, ":1:k", []byte("new"), exp) }},
		{"SetExpired", func(ctx context.Context, d *Driver) error {
			return d.Set(ctx, ":1:k", []byte("new"), time.Now().Add(-time.Hour))
		}},
		{"Add", func(ctx context.Context, d *Driver) error {
			_, err := d.Add(ctx, ":1:k", []byte("new"), exp)
			return err
		}},
		{"Touch", func(ctx context.Context, d *Driver) error { _, err := d.Touch(ctx, ":1:k", exp); return err }},
		{"Delete", func(ctx context.Context, d *Driver) error { _, err := d.Delete(ctx, ":1:k"); return err }},
		{"Incr", func(ctx context.Context, d *Driver) error { _, err := d.Incr(ctx, ":1:k", 1); return err }},
		{"SetMany", func(ctx context.Context, d *Driver) error {
			_, err := d.SetMany(ctx, []driver.Item{{Key: ":1:k", Value: []byte("new"), Expires: exp}, {Key: ":1:other", Value: []byte("new")}})
			return err
		}},
		{"DeleteMany", func(ctx context.Context, d *Driver) error { return d.DeleteMany(ctx, []string{":1:k", ":1:other"}) }},
		{"Clear", func(ctx context.Context, d *Driver) error { return d.Clear(ctx, driver.Scope{}) }},
		{"SetReadTimeout", func(_ context.Context, d *Driver) error {
			return d.Set(context.Background(), ":1:k", []byte("new"), exp)
		}},
	}
	forEngine(t, func(t *testing.T, e engine) {
		for _, o := range ops {
			t.Run(o.name, func(t *testing.T) {
				extra := ""
				if o.name == "SetReadTimeout" {
					if e.dialect != MySQL {
						t.Skip("MySQL's readTimeout")
					}
					extra = "&readTimeout=200ms"
				}
				ctx := t.Context()
				p := newPlace(t, e)
				admin := p.admin(t)
				d := p.open(t, extra)
				defer d.Close()
				// One connection, so that the write's is the one we watch.
				d.db.SetMaxOpenConns(1)
				// Add only writes over an expired entry; the others find a
				// live one. The value is a number, for Incr.
				before := time.Now().Add(time.Hour)
				if o.name == "Add" {
					before = time.Now().Add(-time.Hour)
				}
				if _, err := d.execStmtReady(ctx, stSet, ":1:k", encodeValue([]byte("7")), d.expArg(before)); err != nil {
					t.Fatal(err)
				}
				value, expires, _ := rawRow(t, admin, e, p.table, ":1:k")
				conn := serverConnID(t, e, d.db)

				holder, err := admin.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer holder.Rollback()
				lock := "SELECT 1 FROM %s WHERE %s = ? FOR UPDATE"
				if e.dialect == SQLite {
					lock = "UPDATE %s SET %[2]s = %[2]s WHERE %[2]s = ?"
				}
				lock = e.dialect.placeholders(fmt.Sprintf(lock, e.dialect.quote(p.table), e.dialect.quote("cache_key")))
				if _, err := holder.ExecContext(ctx, lock, ":1:k"); err != nil {
					t.Fatalf("locking the row: %v", err)
				}

				wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
				err = o.run(wctx, d)
				cancel()
				if extra != "" && err == nil || extra == "" && !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("%s while another client holds the row's lock: %v, want an error wrapping context.DeadlineExceeded (or, with readTimeout, an error)", o.name, err)
				}
				if err := holder.Rollback(); err != nil {
					t.Fatal(err)
				}
				waitConnGone(t, e, admin, conn)

				gotValue, gotExpires, found := rawRow(t, admin, e, p.table, ":1:k")
				if !found || gotValue != value || gotExpires != expires {
					t.Errorf("after %s failed with %v and the lock holder rolled back: row = %q, %q, found %v; want it unchanged, %q, %q",
						o.name, err, gotValue, gotExpires, found, value, expires)
				}
				if _, _, found := rawRow(t, admin, e, p.table, ":1:other"); found {
					t.Errorf("after %s failed: a row for :1:other was written", o.name)
				}
			})
		}
	})
}

// execStmtReady is execStmt after the table check.
func (d *Driver) execStmtReady(ctx context.Context, id int, args ...any) (int64, error) {
	if err := d.ensureReady(ctx); err != nil {
		return 0, err
	}
	return d.execStmt(ctx, id, args...)
}

// serverConnID returns the server's id of db's one connection (0 on
// SQLite).
func serverConnID(t *testing.T, e engine, db *sql.DB) int64 {
	t.Helper()
	var q string
	switch e.dialect {
	case PostgreSQL:
		q = "SELECT pg_backend_pid()"
	case MySQL:
		q = "SELECT CONNECTION_ID()"
	default:
		return 0
	}
	var id int64
	if err := db.QueryRowContext(t.Context(), q).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitConnGone polls the server's process list until the connection id
// is gone (its statement finished and its session ended), for at most
// 500 polls.
func waitConnGone(t *testing.T, e engine, admin *sql.DB, id int64) {
	t.Helper()
	var q string
	switch e.dialect {
	case PostgreSQL:
		q = "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1"
	case MySQL:
		q = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?"
	default:
		return // in process: the call has finished with the statement
	}
	for range 500 {
		var n int
		if err := admin.QueryRowContext(t.Context(), q, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the server still runs connection %d, which the driver dropped at the deadline", id)
}

// TestDeadlineWhileConnecting: a deadline that passes while a fresh
// Driver connects (for its table check or its statement) fails the call
// with an error that matches context.DeadlineExceeded. pgx, and more
// rarely the MySQL driver, reported only their dialer's "i/o timeout"
// (about one call in five on PostgreSQL with a 2 ms deadline). Many fresh
// Drivers, with deadlines from 20 µs to 2 ms, so that some end in the
// dial, some in the handshake, some in the statements and some not at all
// (pgx reports the dialer's error in a few calls in a hundred here, the
// MySQL driver in a few in ten).
func TestDeadlineWhileConnecting(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		p := newPlace(t, e)
		admin := p.open(t, "")
		defer admin.Close()
		if _, err := admin.CreateTable(t.Context()); err != nil {
			t.Fatal(err)
		}
		const calls = 400
		var failed, bad int
		for i := range calls {
			d := p.open(t, "")
			ctx, cancel := context.WithTimeout(t.Context(), time.Duration(20+i%100*20)*time.Microsecond)
			_, _, err := d.Get(ctx, ":1:k")
			cancel()
			d.Close()
			if err == nil {
				continue
			}
			failed++
			if !errors.Is(err, context.DeadlineExceeded) {
				if bad++; bad <= 3 {
					t.Errorf("Get on a fresh Driver under a deadline: %v; want an error matching context.DeadlineExceeded", err)
				}
			}
		}
		if bad > 3 {
			t.Errorf("... %d such errors of %d", bad, calls)
		}
		t.Logf("%d of %d calls failed under their deadline", failed, calls)
	})
}
