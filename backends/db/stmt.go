package db

// Statements, retries, redaction, and the encoding of values and times.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// stmt returns the prepared statement id, preparing it on first use.
func (d *Driver) stmt(ctx context.Context, id int) (*sql.Stmt, error) {
	if s := d.stmts[id].Load(); s != nil {
		return s, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return nil, errClosed
	}
	if s := d.stmts[id].Load(); s != nil {
		return s, nil
	}
	s, err := d.db.PrepareContext(ctx, d.sql.byID(id))
	if err != nil {
		return nil, d.redact(err)
	}
	d.stmts[id].Store(s)
	return s, nil
}

// The statements of variable shape: a kind and a number of keys or rows.
const (
	dynGetMany        = iota // now, keys...
	dynDeleteMany            // keys...
	dynDeleteExpiredM        // now, keys...
	dynSetMany               // (key, value, exp)...
)

type dynKey struct{ kind, n int }

// dynStmt is one statement of variable shape: its text, and its prepared
// form unless too many were prepared already.
type dynStmt struct {
	text string
	stmt *sql.Stmt
}

// maxDynStmts bounds the statements of variable shape kept prepared.
const maxDynStmts = 48

// dyn returns the statement of kind for n keys or rows, preparing it on
// first use while fewer than maxDynStmts are prepared.
func (d *Driver) dyn(ctx context.Context, kind, n int) *dynStmt {
	k := dynKey{kind, n}
	if s, ok := d.dyns.Load(k); ok {
		return s.(*dynStmt)
	}
	var text string
	switch kind {
	case dynGetMany:
		text = d.dialect.getManySQL(d.table, n)
	case dynDeleteMany:
		text = d.dialect.deleteManySQL(d.table, n, false)
	case dynDeleteExpiredM:
		text = d.dialect.deleteManySQL(d.table, n, true)
	case dynSetMany:
		text = d.dialect.setManySQL(d.table, n)
	}
	ds := &dynStmt{text: text}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.dyns.Load(k); ok {
		return s.(*dynStmt)
	}
	if d.closed.Load() {
		return ds
	}
	if d.nDyn < maxDynStmts {
		s, err := d.db.PrepareContext(ctx, text)
		if err != nil {
			return ds // run unprepared, which reports the error; prepare next time
		}
		ds.stmt = s
		d.nDyn++
	}
	d.dyns.Store(k, ds)
	return ds
}

func (d *Driver) queryDyn(ctx context.Context, kind int, args []any) (*sql.Rows, error) {
	n := len(args) - 1 // after now
	ds := d.dyn(ctx, kind, n)
	if ds.stmt != nil {
		return ds.stmt.QueryContext(ctx, args...)
	}
	return d.db.QueryContext(ctx, ds.text, args...)
}

// exec runs ds, in tx if not nil.
func (ds *dynStmt) exec(ctx context.Context, d *Driver, tx *sql.Tx, args []any) (sql.Result, error) {
	if ds.stmt != nil {
		return on(ctx, tx, ds.stmt).ExecContext(ctx, args...)
	}
	return d.execer(tx).ExecContext(ctx, ds.text, args...)
}

// on returns s for use in tx, or s itself when tx is nil. s must have
// been prepared before tx began: preparing takes a connection of the
// pool, which a transaction holding one must not wait for.
func on(ctx context.Context, tx *sql.Tx, s *sql.Stmt) *sql.Stmt {
	if tx == nil {
		return s
	}
	return tx.StmtContext(ctx, s)
}

// execer returns tx, or the database handle when tx is nil.
func (d *Driver) execer(tx *sql.Tx) interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
} {
	if tx == nil {
		return d.db
	}
	return tx
}

// execN runs s and returns the number of rows it affected.
func execN(ctx context.Context, s *sql.Stmt, args ...any) (int64, error) {
	res, err := s.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execStmt runs the prepared statement id on its own, with retries, and
// returns the number of rows it affected. It serves housekeeping (and
// tests): the writes of calls go through write.
func (d *Driver) execStmt(ctx context.Context, id int, args ...any) (int64, error) {
	s, err := d.stmt(ctx, id)
	if err != nil {
		return 0, err
	}
	var n int64
	err = d.retry(ctx, func() error {
		var err error
		n, err = execN(ctx, s, args...)
		return err
	})
	return n, d.redact(err)
}

// queryFlag runs the prepared statement id, a read that returns at most
// one row of one boolean, with retries, and reports (found, flag).
func (d *Driver) queryFlag(ctx context.Context, id int, args ...any) (found, flag bool, err error) {
	s, err := d.stmt(ctx, id)
	if err != nil {
		return false, false, err
	}
	err = d.retry(ctx, func() error {
		found, flag, err = queryFlagOn(ctx, s, args...)
		return err
	})
	return found, flag, d.redact(err)
}

// queryFlagOn runs s, which returns at most one row of one boolean, and
// reports (found, flag).
func queryFlagOn(ctx context.Context, s *sql.Stmt, args ...any) (found, flag bool, err error) {
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return false, false, err
	}
	defer rows.Close()
	if rows.Next() {
		found = true
		if err := rows.Scan(&flag); err != nil {
			return false, false, err
		}
	}
	return found, flag, rows.Close()
}

// ------------------------------------------------------------------ writes

// write runs f, the statements of one write, so that a call that fails
// with its context's error never takes effect later (see "Deadlines and
// cancellation" in the package documentation).
//
// On PostgreSQL and MySQL, under a context that can end, f runs in a
// transaction that inTx commits only while the context is live. Under one
// that cannot (ctx.Done() is nil), the database's Go driver never abandons
// a statement on its own (unless ownTimeouts), so f runs without a
// transaction, in one round trip. SQLite runs in this process: when a
// statement returns, it has committed or rolled back, and nothing of it
// runs later, so f runs without a transaction there too (a transaction
// would double the time of a write). With several set, f's statements run
// in a transaction anyway, to be atomic. f gets a nil tx outside a
// transaction. Deadlocks, serialization failures and SQLite's "database is
// locked" run f again (in a new transaction).
func (d *Driver) write(ctx context.Context, several bool, f func(tx *sql.Tx) error) error {
	if several || d.ownTimeouts || ctx.Done() != nil && d.dialect != SQLite {
		return d.retry(ctx, func() error { return d.inTx(ctx, f) })
	}
	return d.retry(ctx, func() error { return f(nil) })
}

// inTx runs f in a transaction and commits it only if ctx has not ended.
//
// When ctx ends, the database's Go driver abandons the statement under way
// (it closes the connection, or interrupts SQLite), but a server goes on
// with it: a statement waiting for a row lock runs once the lock is free
// and, on its own, commits. Inside a transaction it cannot: nothing commits
// before the COMMIT that only a live ctx sends, and the server rolls back
// the transaction of a closed connection.
//
// The transaction's own context, txCtx, ends with ctx (context.AfterFunc)
// until the decision to commit, so that BEGIN waits no longer than ctx and
// database/sql rolls the transaction back when ctx ends. Stopping the
// AfterFunc is the decision. If it stops, ctx was live: txCtx can no longer
// end, and the COMMIT (which pgx runs under txCtx) goes to its outcome,
// which is returned even if ctx ends meanwhile: it takes no locks and
// only waits for the log to be written. If it does not stop, ctx has ended:
// the transaction is rolled back and the call fails with ctx's error.
func (d *Driver) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	conn, err := d.db.Conn(ctx) // connecting waits no longer than ctx
	if err != nil {
		return err
	}
	defer conn.Close()
	txCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	tx, err := conn.BeginTx(txCtx, nil)
	if err == nil {
		err = f(tx)
	}
	if !stop() {
		// ctx has ended and txCtx with it: database/sql rolls tx back (and
		// so does this call, whichever comes first).
		if tx != nil {
			tx.Rollback()
		}
		if err == nil || errors.Is(err, context.Canceled) {
			err = ctx.Err() // rather than txCtx's context.Canceled
		}
		return err
	}
	if err != nil {
		if tx != nil {
			tx.Rollback()
		}
		return err
	}
	return tx.Commit()
}

// retry runs f again, after a short random pause, while it fails with a
// deadlock, a serialization failure or SQLite's "database is locked": the
// failed statement or transaction was rolled back whole.
func (d *Driver) retry(ctx context.Context, f func() error) error {
	const attempts = 6
	for i := 1; ; i++ {
		err := f()
		if err == nil || i == attempts || !d.dialect.transient(err) || ctx.Err() != nil {
			return err
		}
		pause := time.Duration(1<<i)*time.Millisecond + rand.N(2*time.Millisecond)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// transient reports errors after which the same statement may succeed.
func (d Dialect) transient(err error) bool {
	switch d {
	case MySQL:
		var me *mysql.MySQLError
		// 1213 deadlock; 1020 record changed (MariaDB snapshot isolation).
		return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1020)
	case PostgreSQL:
		var pe *pgconn.PgError
		return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
	}
	var se interface{ Code() int } // *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}

// redact removes the URL's password from an error's text, keeping the
// error for errors.Is and errors.As.
func (d *Driver) redact(err error) error { return redactSecret(err, d.secret) }

func redactSecret(err error, secret string) error {
	if err == nil || secret == "" {
		return err
	}
	msg := err.Error()
	for _, s := range secretForms(secret) {
		if strings.Contains(msg, s) {
			return &redactedError{err: err, secret: secret}
		}
	}
	return err
}

// secretForms are the ways a password may be written in an error: as it
// is, and escaped as in a URL.
func secretForms(secret string) []string {
	forms := []string{secret}
	for _, f := range []string{url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range secretForms(e.secret) {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}
func (e *redactedError) Unwrap() error { return e.err }

// ------------------------------------------------------------------ values

// encodeValue returns the value column of v: standard base64, built in one
// allocation (EncodeToString takes two).
func encodeValue(v []byte) string {
	b := make([]byte, base64.StdEncoding.EncodedLen(len(v)))
	base64.StdEncoding.Encode(b, v)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// decodeValue decodes a value column. Like Python's b64decode (Django's
// reader), it ignores characters outside the base64 alphabet, such as the
// line breaks some tools add.
func decodeValue(s []byte) ([]byte, error) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err == nil {
		return out[:n], nil
	}
	clean := make([]byte, 0, len(s))
	for _, c := range s {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
			clean = append(clean, c)
		}
	}
	n, err = base64.StdEncoding.Decode(out, clean)
	if err != nil {
		return nil, fmt.Errorf("djcache: db: the value column does not hold base64: %w", err)
	}
	return out[:n], nil
}

// ------------------------------------------------------------------- times

const timeLayout = "2006-01-02 15:04:05"

// foreverUnix is Django's "never", 9999-12-31 23:59:59 (datetime.max
// without microseconds).
var foreverUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()

// pgForever is the instant a Driver stores for Django's "never" on
// PostgreSQL. Django sends datetime.max as a naive 9999-12-31 23:59:59,
// which PostgreSQL reads in the session's zone: TIME_ZONE with USE_TZ =
// False (or the database's TIME_ZONE), UTC otherwise. A reader whose
// session is east of the writer's sees it in year 10000, which psycopg2
// cannot parse ("year 10000 is out of range": Django's get fails). So the
// earlier of 9999-12-31 23:59:59 in loc and in UTC, which is in year 9999
// in both zones; djcache reads any year from 9999 on as "never".
func pgForever(loc *time.Location) time.Time {
	utc := time.Unix(foreverUnix, 0).UTC()
	if t := time.Date(9999, 12, 31, 23, 59, 59, 0, loc); t.Before(utc) {
		return t.UTC()
	}
	return utc
}

// timeArg is the statement argument for the whole second sec: a time.Time
// for PostgreSQL's timestamptz, Django's naive text in d.loc otherwise.
func (d *Driver) timeArg(sec int64) any {
	if sec >= foreverUnix {
		if d.dialect == PostgreSQL {
			return pgForever(d.loc)
		}
		return "9999-12-31 23:59:59"
	}
	t := time.Unix(sec, 0)
	if d.dialect == PostgreSQL {
		return t.UTC()
	}
	return t.In(d.loc).Format(timeLayout)
}

// expArg is the stored form of exp: rounded up to a whole second, or
// Django's "never" for a zero exp.
func (d *Driver) expArg(exp time.Time) any {
	sec := foreverUnix
	if !exp.IsZero() {
		sec = exp.Unix()
		if exp.Nanosecond() > 0 {
			sec++
		}
	}
	// Writes with the default timeout in one second share an expiry.
	if n := d.exp.Load(); n != nil && n.sec == sec {
		return n.arg
	}
	n := &nowArg{sec: sec, arg: d.timeArg(sec)}
	d.exp.Store(n)
	return n.arg
}

// nowArg is a whole second and its statement argument.
type nowArg struct {
	sec int64
	arg any
}

// nowArg returns the current second as a statement argument (cached per
// second: formatting it is a measurable part of a SQLite hit). An entry is
// live when expires > nowArg, which for whole-second expiries is
// expires > now.
func (d *Driver) nowArg() any {
	sec := time.Now().Unix()
	if n := d.now.Load(); n != nil && n.sec == sec {
		return n.arg
	}
	n := &nowArg{sec: sec, arg: d.timeArg(sec)}
	d.now.Store(n)
	return n.arg
}

// parseExpires reads an expires column: a time.Time (PostgreSQL; SQLite
// and MySQL drivers that parse times, whose wall clock is read in d.loc) or
// text. Django's "never" (any time in year 9999) is the zero time.
func (d *Driver) parseExpires(src any) (time.Time, error) {
	var t time.Time
	switch v := src.(type) {
	case time.Time:
		t = v
		if d.dialect != PostgreSQL {
			t = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), d.loc)
		}
	case string:
		return d.parseExpiresText(v)
	case []byte:
		return d.parseExpiresText(string(v))
	default:
		return time.Time{}, fmt.Errorf("djcache: db: unexpected expires value %T", src)
	}
	if t.Year() >= 9999 {
		return time.Time{}, nil
	}
	return t, nil
}

var expiresLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

func (d *Driver) parseExpiresText(s string) (time.Time, error) {
	for _, layout := range expiresLayouts {
		if t, err := time.ParseInLocation(layout, s, d.loc); err == nil {
			if t.Year() >= 9999 {
				return time.Time{}, nil
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("djcache: db: cannot read expires value %q", s)
}
