package db

import (
	"context"
	"fmt"

	"github.com/djcache/djcache/driver"
)

var _ driver.Pinger = (*Driver)(nil)

// Ping implements driver.Pinger: a round trip to the database
// (sql.DB.PingContext, which also checks the credentials), then the cache
// table, read only, as a read finds it: it must exist (a missing table is
// an error wrapping ErrNoTable, which says how to create it; Ping never
// creates it), pass the checks the first call makes (on MySQL and MariaDB,
// that cache_key compares keys exactly), and have the columns cache_key,
// value and expires, readable by this user.
func (d *Driver) Ping(ctx context.Context) error {
	if d.closed.Load() {
		return errClosed
	}
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("cannot reach %s: %w", d.describe(), d.redact(err))
	}
	if err := d.ensureExists(ctx); err != nil {
		return d.redact(err)
	}
	// The columns unquoted: SQLite reads a double-quoted name that is no
	// column as a string, which would hide a missing column.
	q := "SELECT cache_key, value, expires FROM " + d.dialect.quote(d.table) + " WHERE 1 = 0"
	rows, err := d.db.QueryContext(ctx, q)
	if err == nil {
		err = rows.Close()
	}
	if err != nil {
		return fmt.Errorf("cannot read %s as a cache table: %w", d.describe(), d.redact(err))
	}
	return nil
}
