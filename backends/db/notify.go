package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Invalidation channels for package tiered, which keeps a process-local
// copy (an L1) of a cache's entries and must learn when another process,
// a Django application among them, changes one. The Driver implements
// tiered's Watcher (Watch) on two dialects:
//
//   - PostgreSQL: LISTEN/NOTIFY. Triggers on the cache table, which
//     InstallNotify installs (djcache createcachetable --notify will
//     too), send the keys every statement changed on the channel
//     NotifyChannel names, so every write notifies, whoever makes it. One
//     notification per statement: a JSON array of the stored keys, or "*"
//     when they do not fit in PostgreSQL's 8000-byte payload (and for
//     TRUNCATE), which empties the L1s.
//   - SQLite: PRAGMA data_version, read every DataVersionInterval on a
//     connection of the Driver's pool kept for it; any commit by another
//     connection, in this process or another, changes it, and the L1 is
//     emptied (SQLite does not say which rows changed).
//
// MySQL and MariaDB have no channel in this step.

// NotifyChannel returns the name of the PostgreSQL channel on which the
// triggers that InstallNotify installs announce the changes of d's table.
func (d *Driver) NotifyChannel() string { return "djcache:" + d.table }

// notifyNames are the triggers InstallNotify puts on the table.
var notifyNames = []string{"djcache_notify_insert", "djcache_notify_update", "djcache_notify_delete", "djcache_notify_truncate"}

// NotifySQL returns the statements InstallNotify runs, for a dry run. It
// does no I/O. They need PostgreSQL 11 or later (statement triggers with
// transition tables, EXECUTE FUNCTION).
func (d *Driver) NotifySQL() ([]string, error) {
	if d.dialect != PostgreSQL {
		return nil, fmt.Errorf("djcache: db: change notifications need PostgreSQL (LISTEN/NOTIFY); %s has none", d.dialect)
	}
	table := d.dialect.quote(d.table)
	ch := "'" + d.NotifyChannel() + "'" // checkTable allows no quote in a table name
	stmts := []string{`CREATE OR REPLACE FUNCTION djcache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    payload := '*';
  ELSIF TG_OP = 'DELETE' THEN
    SELECT json_agg(cache_key)::text INTO payload FROM djcache_old;
  ELSE
    SELECT json_agg(cache_key)::text INTO payload FROM djcache_new;
  END IF;
  IF payload IS NULL THEN
    RETURN NULL;
  END IF;
  IF octet_length(payload) > 7999 THEN
    payload := '*';
  END IF;
  PERFORM pg_notify(TG_ARGV[0], payload);
  RETURN NULL;
END
$$;`}
	for _, name := range notifyNames {
		stmts = append(stmts, fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s;", name, table))
	}
	stmts = append(stmts,
		fmt.Sprintf("CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS djcache_new FOR EACH STATEMENT EXECUTE FUNCTION djcache_notify(%s);", notifyNames[0], table, ch),
		fmt.Sprintf("CREATE TRIGGER %s AFTER UPDATE ON %s REFERENCING NEW TABLE AS djcache_new FOR EACH STATEMENT EXECUTE FUNCTION djcache_notify(%s);", notifyNames[1], table, ch),
		fmt.Sprintf("CREATE TRIGGER %s AFTER DELETE ON %s REFERENCING OLD TABLE AS djcache_old FOR EACH STATEMENT EXECUTE FUNCTION djcache_notify(%s);", notifyNames[2], table, ch),
		fmt.Sprintf("CREATE TRIGGER %s AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION djcache_notify(%s);", notifyNames[3], table, ch),
	)
	return stmts, nil
}

// InstallNotify installs, in one transaction, the PostgreSQL triggers that
// announce every change of d's table on NotifyChannel (see NotifySQL),
// creating the table first if it is missing. Running it again replaces
// them, and concurrent runs wait for each other. Writes by any client then notify, Django's included, at the cost
// of one NOTIFY per statement. It needs the privileges to create a
// function and triggers on the table.
func (d *Driver) InstallNotify(ctx context.Context) (err error) {
	defer func() { err = d.fail(ctx, err) }()
	stmts, err := d.NotifySQL()
	if err != nil {
		return err
	}
	if err := d.ensureReady(ctx); err != nil {
		return err
	}
	// Installs running at once (several processes starting) would fail
	// with "tuple concurrently updated" on the shared function: one at a
	// time, under a transaction-scoped advisory lock.
	stmts = append([]string{"SELECT pg_advisory_xact_lock(hashtext('djcache_notify'))"}, stmts...)
	if err := d.runDDL(ctx, stmts); err != nil {
		return fmt.Errorf("djcache: db: notify triggers on %s: %w", d.tableIn(), err)
	}
	return nil
}

// notifyInstalled reports whether the table has InstallNotify's triggers.
func (d *Driver) notifyInstalled(ctx context.Context) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx,
		"SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = ANY($2)",
		d.dialect.quote(d.table), notifyNames).Scan(&n)
	return n == len(notifyNames), err
}

// DataVersionInterval is how often Watch reads SQLite's PRAGMA
// data_version: how long another connection's commit may go unseen by a
// tier's L1.
const DataVersionInterval = 50 * time.Millisecond

// Watch implements package tiered's Watcher: see the comment at the top of
// this file. It returns an error wrapping errors.ErrUnsupported on MySQL,
// on PostgreSQL when the table lacks InstallNotify's triggers (or the
// *sql.DB is not pgx's), and on SQLite when the pool allows fewer than
// three connections (Watch keeps one).
func (d *Driver) Watch(ctx context.Context, ready func(), changed func(keys []string)) error {
	switch d.dialect {
	case PostgreSQL:
		return d.watchPostgres(ctx, ready, changed)
	case SQLite:
		return d.watchSQLite(ctx, ready, changed)
	}
	return fmt.Errorf("djcache: db: %s has no change notifications: %w", d.dialect, errors.ErrUnsupported)
}

func (d *Driver) watchPostgres(ctx context.Context, ready func(), changed func(keys []string)) error {
	if d.closed.Load() {
		return errClosed
	}
	ok, err := d.notifyInstalled(ctx)
	if err != nil {
		return d.fail(ctx, err)
	}
	if !ok {
		return fmt.Errorf("djcache: db: %s has no notify triggers (install them with Driver.InstallNotify): %w", d.tableIn(), errors.ErrUnsupported)
	}
	// A connection of its own, outside the pool, with the pool's settings.
	var cfg *pgx.ConnConfig
	sc, err := d.db.Conn(ctx)
	if err != nil {
		return d.fail(ctx, err)
	}
	err = sc.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("djcache: db: LISTEN needs pgx's database/sql driver, not %T: %w", dc, errors.ErrUnsupported)
		}
		cfg = c.Conn().Config()
		// The copy would deliver to the pool connection's buffer.
		cfg.OnNotification = nil
		return nil
	})
	sc.Close()
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return d.fail(ctx, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{d.NotifyChannel()}.Sanitize()); err != nil {
		return d.fail(ctx, err)
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return d.fail(ctx, err)
		}
		if n != nil {
			changed(d.notifiedKeys(n.Payload))
		}
	}
}

// notifiedKeys decodes a notification's payload into the keys the
// Driver's callers use, or nil (everything may have changed).
func (d *Driver) notifiedKeys(payload string) []string {
	var stored []string
	if payload == "*" || json.Unmarshal([]byte(payload), &stored) != nil || stored == nil {
		return nil
	}
	keys := make([]string, len(stored))
	for i, sk := range stored {
		k, ok := unstoredKey(sk)
		if !ok {
			return nil
		}
		keys[i] = k
	}
	return keys
}

// unstoredKey is the inverse of Dialect.storedKey on PostgreSQL; ok is
// false for a stored key that storedKey cannot have made.
func unstoredKey(sk string) (string, bool) {
	if !strings.ContainsRune(sk, escapeMark) {
		return sk, true
	}
	var b strings.Builder
	for i := 0; i < len(sk); {
		r, size := utf8.DecodeRuneInString(sk[i:])
		i += size
		if r != escapeMark {
			b.WriteRune(r)
			continue
		}
		rest := sk[i:]
		switch {
		case strings.HasPrefix(rest, "0"):
			b.WriteByte(0)
			i++
		case strings.HasPrefix(rest, string(escapeMark)):
			b.WriteRune(escapeMark)
			i += utf8.RuneLen(escapeMark)
		case len(rest) >= 3 && rest[0] == 'x':
			c, err := strconv.ParseUint(rest[1:3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(c))
			i += 3
		default:
			return "", false
		}
	}
	return b.String(), true
}

func (d *Driver) watchSQLite(ctx context.Context, ready func(), changed func(keys []string)) error {
	if d.closed.Load() {
		return errClosed
	}
	if m := d.db.Stats().MaxOpenConnections; m > 0 && m < 3 {
		return fmt.Errorf("djcache: db: the pool allows %d connections, and watching PRAGMA data_version would keep one: %w", m, errors.ErrUnsupported)
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return d.fail(ctx, err)
	}
	defer conn.Close()
	version := func() (int64, error) {
		var v int64
		err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
		return v, err
	}
	last, err := version()
	if err != nil {
		return d.fail(ctx, err)
	}
	ready()
	tick := time.NewTicker(DataVersionInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		v, err := version()
		if err != nil {
			return d.fail(ctx, err)
		}
		if v != last {
			last = v
			changed(nil)
		}
	}
}
