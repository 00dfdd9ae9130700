package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/djcache/djcache/driver"
)

// Options configures a Driver. A nil *Options means the defaults.
type Options struct {
	// Table is the cache table's name (Django's LOCATION). Empty means
	// DefaultTable, "djcache_table". Names are quoted in SQL; letters,
	// digits, spaces and _ - $ are allowed, up to 55 bytes.
	Table string

	// MaxEntries is the number of rows above which a write culls the table
	// (Django's MAX_ENTRIES). Zero means 300, Django's default.
	MaxEntries int

	// CullFrequency sets the share of rows a cull deletes, 1/CullFrequency
	// (Django's CULL_FREQUENCY). Zero means 3, Django's default.
	CullFrequency int

	// ClearWhenFull is Django's CULL_FREQUENCY 0: a cull deletes every row.
	ClearWhenFull bool

	// Location is the time zone of the naive expires values of SQLite and
	// MySQL tables. Nil means UTC, Django's USE_TZ = True; for a Django
	// project with USE_TZ = False, use its TIME_ZONE (the URL parameter
	// django_time_zone sets it; see URLOpener and the package
	// documentation). PostgreSQL stores absolute times, and there
	// Location only places Django's "never", 9999-12-31 23:59:59, so that
	// a Django process whose session zone is Location reads it in year
	// 9999.
	Location *time.Location
}

// DefaultMaxEntries is the MaxEntries of Options that leave it zero.
const DefaultMaxEntries = 300

// Driver is a cache table in a database. It is safe for concurrent use.
type Driver struct {
	db      *sql.DB
	ownDB   bool // Close closes db (the Driver opened it from a URL)
	dialect Dialect
	table   string
	sql     sqlText
	loc     *time.Location
	secret  string // the password of the URL, kept out of errors
	where   string // the database, for errors ("" if unknown)
	file    string // the SQLite file of a URL, looked for before connecting ("" if none)

	// ownTimeouts is set when the database's Go driver abandons
	// connections on timeouts of its own (MySQL's readTimeout and
	// writeTimeout): then writes run in transactions even under a context
	// that cannot end (see write).
	ownTimeouts bool

	maxEntries int64
	cullFreq   int64 // 0: clear when full
	recount    int64 // count at least every recount writes

	ready atomic.Bool // the table was found (or created) and checked

	sharedWithDjango bool       // UsePickle was called: take Django's table as it is
	readyMu          sync.Mutex // serializes the check

	closed atomic.Bool
	mu     sync.Mutex // protects nDyn and the preparation of stmts and dyns, against Close
	stmts  [numStmts]atomic.Pointer[sql.Stmt]
	dyns   sync.Map // dynKey -> *dynStmt
	nDyn   int      // prepared statements in dyns, at most maxDynStmts

	now atomic.Pointer[nowArg] // the current second as a statement argument
	exp atomic.Pointer[nowArg] // the last expiry written, likewise

	// Culling state (see the package documentation).
	upper  atomic.Int64 // upper bound of the rows in the table
	since  atomic.Int64 // rows written since the last count
	cullMu sync.Mutex   // held while counting and culling
	counts atomic.Int64 // COUNT queries run, for tests
}

var (
	_ driver.Driver           = (*Driver)(nil)
	_ driver.GetManyDriver    = (*Driver)(nil)
	_ driver.SetManyDriver    = (*Driver)(nil)
	_ driver.DeleteManyDriver = (*Driver)(nil)
	_ driver.HasDriver        = (*Driver)(nil)
	_ driver.ExpiryReader     = (*Driver)(nil)
	_ driver.Pickler          = (*Driver)(nil)
)

// UsePickle implements driver.Pickler. Django's DatabaseCache pickles every
// value, integers included, so no kind stays outside pickle. It also tells
// the Driver that the table is shared with Django: a MySQL or MariaDB table
// made by Django's createcachetable, whose cache_key compares keys
// case-insensitively, is then used as Django uses it (keys that differ only
// in case share one row, for both) with a warning logged through
// slog.Default() that gives the ALTER TABLE statement that makes keys exact,
// instead of being refused with ErrCaseInsensitiveTable.
func (d *Driver) UsePickle() driver.Kinds {
	d.sharedWithDjango = true
	return 0
}

// unknownRows is the upper bound before the first count: it forces one.
const unknownRows = math.MaxInt64 / 4

// New returns a Driver on the table of o (nil means the defaults) in db,
// which speaks dialect. It does no I/O: the table is checked before the
// first call, and created by the first write if it is missing (see the
// package documentation). db stays the caller's: Close does not
// close it. For SQLite, db should set a busy timeout and WAL mode (see the
// package documentation); for MySQL, db must not set clientFoundRows,
// which changes the row counts Add relies on.
func New(db *sql.DB, dialect Dialect, o *Options) (*Driver, error) {
	if db == nil {
		return nil, errors.New("djcache: db: New: *sql.DB is nil")
	}
	if !dialect.valid() {
		return nil, fmt.Errorf("djcache: db: New: unknown %v (use db.SQLite, db.PostgreSQL or db.MySQL)", dialect)
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if err := checkTable(opts.Table); err != nil {
		return nil, err
	}
	switch {
	case opts.MaxEntries < 0:
		return nil, fmt.Errorf("djcache: db: MaxEntries %d is negative", opts.MaxEntries)
	case opts.MaxEntries == 0:
		opts.MaxEntries = DefaultMaxEntries
	}
	switch {
	case opts.CullFrequency < 0:
		return nil, fmt.Errorf("djcache: db: CullFrequency %d is negative (for Django's 0, set ClearWhenFull)", opts.CullFrequency)
	case opts.CullFrequency == 0:
		opts.CullFrequency = 3
	}
	if opts.ClearWhenFull {
		opts.CullFrequency = 0
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	d := &Driver{
		db:         db,
		dialect:    dialect,
		table:      opts.Table,
		sql:        dialect.statements(opts.Table),
		loc:        opts.Location,
		maxEntries: int64(opts.MaxEntries),
		cullFreq:   int64(opts.CullFrequency),
		recount:    max(int64(opts.MaxEntries)/10, 1),
	}
	d.upper.Store(unknownRows)
	return d, nil
}

// DB returns the database handle under d, for queries of your own.
func (d *Driver) DB() *sql.DB { return d.db }

// Dialect returns d's dialect.
func (d *Driver) Dialect() Dialect { return d.dialect }

// Table returns the name of d's table.
func (d *Driver) Table() string { return d.table }

// Close closes d's prepared statements, and its database handle if d
// opened it from a URL. It is idempotent.
func (d *Driver) Close() error {
	d.mu.Lock()
	if d.closed.Swap(true) {
		d.mu.Unlock()
		return nil
	}
	var errs []error
	for i := range d.stmts {
		if s := d.stmts[i].Swap(nil); s != nil {
			errs = append(errs, s.Close())
		}
	}
	d.dyns.Range(func(k, v any) bool {
		if s := v.(*dynStmt).stmt; s != nil {
			errs = append(errs, s.Close())
		}
		d.dyns.Delete(k)
		return true
	})
	d.mu.Unlock()
	if d.ownDB {
		errs = append(errs, d.db.Close())
	}
	return d.redact(errors.Join(errs...))
}

var errClosed = errors.New("djcache: db: driver is closed")

// ----------------------------------------------------------------- helpers

// begin starts every keyed call: the table is ready (created if missing
// when create is set, for writes) and the key fits.
func (d *Driver) begin(ctx context.Context, key string, create bool) (string, error) {
	if err := d.prepare(ctx, create); err != nil {
		return "", err
	}
	return d.storedKey(key)
}

func (d *Driver) storedKey(key string) (string, error) {
	sk := d.dialect.storedKey(key)
	if len(sk) > maxKeyLen && utf8.RuneCountInString(sk) > maxKeyLen {
		return "", fmt.Errorf("%w: the key is %d characters long, and the cache_key column holds at most %d", driver.ErrInvalidKey, utf8.RuneCountInString(sk), maxKeyLen)
	}
	return sk, nil
}

// ensureReady makes the table ready for a write: found or created, and
// checked.
func (d *Driver) ensureReady(ctx context.Context) error { return d.prepare(ctx, true) }

// ensureExists makes the table ready for a read: found and checked; a
// missing table is an error wrapping ErrNoTable, and nothing is created.
func (d *Driver) ensureExists(ctx context.Context) error { return d.prepare(ctx, false) }

func (d *Driver) prepare(ctx context.Context, create bool) error {
	if d.closed.Load() {
		return errClosed
	}
	if d.ready.Load() {
		return nil
	}
	d.readyMu.Lock()
	defer d.readyMu.Unlock()
	if d.ready.Load() {
		return nil
	}
	if err := d.prepareTable(ctx, create); err != nil {
		return err
	}
	d.ready.Store(true)
	return nil
}

// fail gives a call's error its final form, in the one place every
// exported method returns through: the URL's password is removed, and
// when ctx has ended, the error also matches ctx's error with errors.Is. A
// deadline that passes while connecting reaches us as the dialer's "i/o
// timeout" (the dialer turns ctx's deadline into the socket's), and
// possibly before ctx's own timer has fired, so a deadline already passed
// counts as ended even while ctx.Err() is still nil.
func (d *Driver) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	err = d.redact(err)
	ce := ctx.Err()
	if dl, ok := ctx.Deadline(); ce == nil && ok && !time.Now().Before(dl) {
		ce = context.DeadlineExceeded
	}
	if ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w: %w", ce, err)
	}
	return err
}

// ----------------------------------------------------------------- culling

// beforeWrite runs before a write of n rows: it culls the table when it may
// hold more than maxEntries rows (see the package documentation).
func (d *Driver) beforeWrite(ctx context.Context, n int) {
	rows := int64(n)
	before := d.upper.Add(rows) - rows
	written := d.since.Add(rows)
	if before <= d.maxEntries && written <= d.recount {
		return
	}
	if !d.cullMu.TryLock() {
		return // another goroutine is counting right now
	}
	defer d.cullMu.Unlock()
	count, err := d.cull(ctx)
	if err != nil {
		d.upper.Store(unknownRows) // count again at the next write
		return
	}
	d.upper.Store(count + rows)
	d.since.Store(0)
}

// cull counts the rows and, if there are more than maxEntries, deletes the
// expired ones and then, if still too many remain, 1/cullFreq of the rest,
// soonest to expire first (or all of them with cullFreq 0). It returns the
// number of rows left.
func (d *Driver) cull(ctx context.Context) (int64, error) {
	var count int64
	d.counts.Add(1)
	if err := d.db.QueryRowContext(ctx, d.sql.count).Scan(&count); err != nil {
		return 0, err
	}
	if count <= d.maxEntries {
		return count, nil
	}
	if d.cullFreq == 0 {
		_, err := d.db.ExecContext(ctx, d.sql.clear)
		return 0, err
	}
	res, err := d.db.ExecContext(ctx, d.sql.cullExpired, d.nowArg())
	if err != nil {
		return 0, err
	}
	gone, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	count -= gone
	if count <= d.maxEntries {
		return count, nil
	}
	res, err = d.db.ExecContext(ctx, d.sql.cullN, count/d.cullFreq)
	if err != nil {
		return 0, err
	}
	gone, err = res.RowsAffected()
	return count - gone, err
}

// deleted records rows deleted by this Driver.
func (d *Driver) deleted(n int64) {
	if n > 0 {
		d.upper.Add(-n)
	}
}

// -------------------------------------------------------------- operations

// Get implements driver.Driver. An expired row it meets is deleted.
func (d *Driver) Get(ctx context.Context, key string) (_ []byte, _ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, false)
	if err != nil {
		return nil, false, err
	}
	s, err := d.stmt(ctx, stGet)
	if err != nil {
		return nil, false, err
	}
	rows, err := s.QueryContext(ctx, d.nowArg(), sk)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	var (
		raw  sql.RawBytes
		live bool
	)
	if err := rows.Scan(&raw, &live); err != nil {
		return nil, false, err
	}
	if !live {
		rows.Close()
		d.removeExpired(ctx, sk)
		return nil, false, nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		return nil, false, err
	}
	return v, true, rows.Close()
}

// removeExpired deletes the row of sk if it has expired. It is
// housekeeping: its failure fails nothing.
func (d *Driver) removeExpired(ctx context.Context, sk string) {
	n, err := d.execStmt(ctx, stDelExpired, sk, d.nowArg())
	if err == nil {
		d.deleted(n)
	}
}

// GetWithExpiry implements driver.ExpiryReader.
func (d *Driver) GetWithExpiry(ctx context.Context, key string) (_ []byte, _ time.Time, _ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, false)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	s, err := d.stmt(ctx, stGetExp)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	rows, err := s.QueryContext(ctx, sk)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, time.Time{}, false, rows.Err()
	}
	var (
		raw sql.RawBytes
		src any
	)
	if err := rows.Scan(&raw, &src); err != nil {
		return nil, time.Time{}, false, err
	}
	exp, err := d.parseExpires(src)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	if driver.Expired(exp, time.Now()) {
		rows.Close()
		d.removeExpired(ctx, sk)
		return nil, time.Time{}, false, nil
	}
	v, err := decodeValue(raw)
	if err != nil {
		return nil, time.Time{}, false, err
	}
	return v, exp, true, rows.Close()
}

// Has implements driver.HasDriver.
func (d *Driver) Has(ctx context.Context, key string) (_ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, false)
	if err != nil {
		return false, err
	}
	found, _, err := d.queryFlag(ctx, stHas, sk, d.nowArg())
	return found, err
}

// Set implements driver.Driver: an upsert, or a delete when exp has
// already passed.
func (d *Driver) Set(ctx context.Context, key string, value []byte, exp time.Time) (err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, true)
	if err != nil {
		return err
	}
	if driver.Expired(exp, time.Now()) {
		n, err := d.deleteKeys(ctx, []string{sk})
		d.deleted(n)
		return err
	}
	s, err := d.stmt(ctx, stSet)
	if err != nil {
		return err
	}
	d.beforeWrite(ctx, 1)
	args := []any{sk, encodeValue(value), d.expArg(exp)}
	return d.write(ctx, false, func(tx *sql.Tx) error {
		_, err := on(ctx, tx, s).ExecContext(ctx, args...)
		return err
	})
}

// Add implements driver.Driver with a conditional upsert: the row is
// written if it is absent or its entry has expired.
func (d *Driver) Add(ctx context.Context, key string, value []byte, exp time.Time) (_ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, true)
	if err != nil {
		return false, err
	}
	now := d.nowArg()
	if driver.Expired(exp, time.Now()) {
		// Nothing visible is stored: Add succeeds exactly when there is no
		// live entry.
		found, _, err := d.queryFlag(ctx, stHas, sk, now)
		return !found && err == nil, err
	}
	s, err := d.stmt(ctx, stAdd)
	if err != nil {
		return false, err
	}
	d.beforeWrite(ctx, 1)
	args := []any{sk, encodeValue(value), d.expArg(exp), now}
	if d.dialect == MySQL {
		args = append(args, now)
	}
	// MySQL reports 1 for an insert, 2 for an update and 0 for a row left
	// as it was; the others 1 or 0.
	var n int64
	err = d.write(ctx, false, func(tx *sql.Tx) error {
		var err error
		n, err = execN(ctx, on(ctx, tx, s), args...)
		return err
	})
	return n > 0 && err == nil, err
}

// Touch implements driver.Driver: expires changes only where the entry is
// live.
func (d *Driver) Touch(ctx context.Context, key string, exp time.Time) (_ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, true)
	if err != nil {
		return false, err
	}
	touch, err := d.stmt(ctx, stTouch)
	if err != nil {
		return false, err
	}
	var check *sql.Stmt
	if d.dialect == MySQL {
		if check, err = d.stmt(ctx, stTouchCheck); err != nil {
			return false, err
		}
	}
	now, e := d.nowArg(), d.expArg(exp)
	var touched bool
	err = d.write(ctx, false, func(tx *sql.Tx) error {
		n, err := execN(ctx, on(ctx, tx, touch), e, sk, now)
		touched = n > 0
		if err != nil || touched || check == nil {
			return err
		}
		// MySQL counts changed rows, not matched ones: a live row that
		// already had this expiry reports 0.
		touched, _, err = queryFlagOn(ctx, on(ctx, tx, check), sk, e, now)
		return err
	})
	return touched && err == nil, err
}

// Delete implements driver.Driver. The row goes whether or not it has
// expired; deleted reports a live one.
func (d *Driver) Delete(ctx context.Context, key string) (_ bool, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, true)
	if err != nil {
		return false, err
	}
	s, err := d.stmt(ctx, stDel)
	if err != nil {
		return false, err
	}
	now := d.nowArg()
	var found, live bool
	err = d.write(ctx, false, func(tx *sql.Tx) error {
		if d.dialect == MySQL {
			n, err := execN(ctx, on(ctx, tx, s), sk, now) // live rows only
			found, live = n > 0, n > 0
			return err
		}
		var err error
		found, live, err = queryFlagOn(ctx, on(ctx, tx, s), sk, now)
		return err
	})
	if err != nil {
		return false, err
	}
	if found {
		d.deleted(1)
	} else if d.dialect == MySQL {
		d.removeExpired(ctx, sk)
	}
	return live, nil
}

// Incr implements driver.Driver in a transaction that locks the row.
func (d *Driver) Incr(ctx context.Context, key string, delta int64) (_ int64, err error) {
	defer func() { err = d.fail(ctx, err) }()
	sk, err := d.begin(ctx, key, true)
	if err != nil {
		return 0, err
	}
	lock, err := d.stmt(ctx, stIncrLock)
	if err != nil {
		return 0, err
	}
	update, err := d.stmt(ctx, stIncrUpdate)
	if err != nil {
		return 0, err
	}
	var sum int64
	err = d.write(ctx, true, func(tx *sql.Tx) error {
		var err error
		sum, err = d.incr(ctx, tx, lock, update, sk, delta)
		return err
	})
	return sum, err
}

func (d *Driver) incr(ctx context.Context, tx *sql.Tx, lock, update *sql.Stmt, sk string, delta int64) (int64, error) {
	args := []any{d.nowArg(), sk}
	if d.dialect == SQLite {
		args[0], args[1] = sk, args[0]
	}
	rows, err := tx.StmtContext(ctx, lock).QueryContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	var (
		raw   []byte
		live  bool
		found = rows.Next()
	)
	if found {
		err = rows.Scan(&raw, &live)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if !found || !live {
		return 0, driver.ErrNotFound
	}
	v, err := decodeValue(raw)
	if err != nil {
		return 0, err
	}
	nv, sum, err := driver.AddInt(v, delta)
	if err != nil {
		return 0, err
	}
	if _, err := tx.StmtContext(ctx, update).ExecContext(ctx, encodeValue(nv), sk); err != nil {
		return 0, err
	}
	return sum, nil
}

// Clear implements driver.Driver: it deletes every row of the table. The
// scope does not matter: a table is one cache's storage.
func (d *Driver) Clear(ctx context.Context, _ driver.Scope) (err error) {
	defer func() { err = d.fail(ctx, err) }()
	if err := d.ensureReady(ctx); err != nil {
		return err
	}
	err = d.write(ctx, false, func(tx *sql.Tx) error {
		_, err := d.execer(tx).ExecContext(ctx, d.sql.clear)
		return err
	})
	if err == nil {
		d.upper.Store(0)
	}
	return err
}

// Batch sizes: keys per IN list, rows per multi-row upsert.
const (
	maxInKeys  = 512
	maxSetRows = 300
)

// inSize is the length of the IN list for n keys: n itself up to 128 (the
// common batch sizes; padding them measurably slows GetMany), then a
// multiple of 64, so that large IN lists take few shapes.
func inSize(n int) int {
	if n <= 128 {
		return n
	}
	return (n + 63) &^ 63
}

// paddedKeys returns prefix followed by keys, padded to inSize by
// repeating the last key (a key twice in an IN list changes nothing).
func paddedKeys(keys []string, prefix []any) []any {
	n := inSize(len(keys))
	args := make([]any, 0, len(prefix)+n)
	args = append(args, prefix...)
	for _, k := range keys {
		args = append(args, k)
	}
	for len(args) < len(prefix)+n {
		args = append(args, keys[len(keys)-1])
	}
	return args
}

// storedKeys maps keys to their stored forms (keys itself when none
// changes); back maps stored keys to the caller's when some differ (nil
// otherwise).
func (d *Driver) storedKeys(keys []string) (stored []string, back map[string]string, err error) {
	stored = keys
	for i, k := range keys {
		sk, err := d.storedKey(k)
		if err != nil {
			return nil, nil, err
		}
		if sk == k {
			continue
		}
		if back == nil {
			stored = slices.Clone(keys)
			back = make(map[string]string)
		}
		stored[i] = sk
		back[sk] = k
	}
	return stored, back, nil
}

// GetMany implements driver.GetManyDriver: one SELECT … IN per 512 keys,
// and one DELETE of the expired rows it met, if any.
func (d *Driver) GetMany(ctx context.Context, keys []string) (_ map[string][]byte, err error) {
	defer func() { err = d.fail(ctx, err) }()
	if err := d.ensureExists(ctx); err != nil {
		return nil, err
	}
	stored, back, err := d.storedKeys(keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(keys))
	var expired []string
	now := d.nowArg()
	for start := 0; start < len(stored); start += maxInKeys {
		chunk := stored[start:min(start+maxInKeys, len(stored))]
		args := paddedKeys(chunk, []any{now})
		rows, err := d.queryDyn(ctx, dynGetMany, args)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var (
				k    string
				raw  sql.RawBytes
				live bool
			)
			if err := rows.Scan(&k, &raw, &live); err != nil {
				rows.Close()
				return nil, err
			}
			if !live {
				expired = append(expired, k)
				continue
			}
			v, err := decodeValue(raw)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if orig, ok := back[k]; ok {
				k = orig
			}
			out[k] = v
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	// Housekeeping: a failure fails nothing.
	for start := 0; start < len(expired); start += maxInKeys {
		chunk := expired[start:min(start+maxInKeys, len(expired))]
		args := paddedKeys(chunk, []any{now})
		if res, err := d.dyn(ctx, dynDeleteExpiredM, len(args)-1).exec(ctx, d, nil, args); err == nil {
			n, _ := res.RowsAffected()
			d.deleted(n)
		}
	}
	return out, nil
}

// batch is one statement of variable shape and its arguments.
type batch struct {
	ds   *dynStmt
	args []any
}

// runBatches runs batches, in tx if not nil, and returns the number of
// rows they affected.
func (d *Driver) runBatches(ctx context.Context, tx *sql.Tx, batches []batch) (int64, error) {
	var total int64
	for _, b := range batches {
		res, err := b.ds.exec(ctx, d, tx, b.args)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// deleteKeys deletes stored keys, one DELETE … IN per 512, and returns the
// number of rows deleted.
func (d *Driver) deleteKeys(ctx context.Context, stored []string) (int64, error) {
	batches := make([]batch, 0, (len(stored)+maxInKeys-1)/maxInKeys)
	for start := 0; start < len(stored); start += maxInKeys {
		args := paddedKeys(stored[start:min(start+maxInKeys, len(stored))], nil)
		batches = append(batches, batch{d.dyn(ctx, dynDeleteMany, len(args)), args})
	}
	var total int64
	err := d.write(ctx, false, func(tx *sql.Tx) error {
		var err error
		total, err = d.runBatches(ctx, tx, batches)
		return err
	})
	return total, err
}

// DeleteMany implements driver.DeleteManyDriver: one DELETE … IN per 512
// keys.
func (d *Driver) DeleteMany(ctx context.Context, keys []string) (err error) {
	defer func() { err = d.fail(ctx, err) }()
	if err := d.ensureReady(ctx); err != nil {
		return err
	}
	stored, _, err := d.storedKeys(keys)
	if err != nil {
		return err
	}
	n, err := d.deleteKeys(ctx, stored)
	d.deleted(n)
	return err
}

// SetMany implements driver.SetManyDriver: one multi-row upsert per 300
// items, all in one transaction when there are more than 300. Either every
// item is stored or, with an error, none is and all are reported failed.
func (d *Driver) SetMany(ctx context.Context, items []driver.Item) (failed []string, err error) {
	if len(items) == 0 {
		return nil, nil
	}
	fail := func(err error) ([]string, error) {
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Key
		}
		return keys, d.fail(ctx, err)
	}
	if err := d.ensureReady(ctx); err != nil {
		return fail(err)
	}
	args := make([]any, 0, 3*len(items))
	for _, it := range items {
		sk, err := d.storedKey(it.Key)
		if err != nil {
			return fail(err)
		}
		args = append(args, sk, encodeValue(it.Value), d.expArg(it.Expires))
	}
	batches := make([]batch, 0, (len(items)+maxSetRows-1)/maxSetRows)
	for start := 0; start < len(items); start += maxSetRows {
		n := min(maxSetRows, len(items)-start)
		batches = append(batches, batch{d.dyn(ctx, dynSetMany, n), args[3*start : 3*(start+n)]})
	}
	d.beforeWrite(ctx, len(items))
	err = d.write(ctx, len(batches) > 1, func(tx *sql.Tx) error {
		_, err := d.runBatches(ctx, tx, batches)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return nil, nil
}
