package db

import (
	"context"
	"database/sql"

	"github.com/djcache/djcache/driver"
)

var _ driver.Sizer = (*Driver)(nil)

// sizeSumLimit is the most rows for which Size adds up the values' lengths:
// above it, the sum would read too much of the table for a quick look.
const sizeSumLimit = 100_000

// Size implements driver.Sizer. Entries is the table's row count (SELECT
// COUNT(*)), expired rows included until a cull or a read removes them, as
// Django counts them for culling. Bytes is the total length of the stored
// values (Django's base64 text, so about 4/3 of the encoded values), added
// up only when the table has at most 100,000 rows, and -1 above. A table
// that does not exist holds no entries: Size does not create it.
func (d *Driver) Size(ctx context.Context, _ driver.Scope) (driver.Size, error) {
	if d.closed.Load() {
		return driver.Size{}, errClosed
	}
	exists, err := d.TableExists(ctx)
	if err != nil || !exists {
		return driver.Size{}, err
	}
	table := d.dialect.quote(d.table)
	s := driver.Size{Bytes: -1}
	if err := d.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&s.Entries); err != nil {
		return driver.Size{}, d.redact(err)
	}
	if s.Entries > sizeSumLimit {
		return s, nil
	}
	var sum sql.NullInt64 // NULL for an empty table
	if err := d.db.QueryRowContext(ctx, "SELECT SUM(LENGTH("+d.dialect.quote("value")+")) FROM "+table).Scan(&sum); err != nil {
		return driver.Size{}, d.redact(err)
	}
	s.Bytes = sum.Int64
	return s, nil
}
