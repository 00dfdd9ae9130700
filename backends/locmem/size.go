package locmem

import (
	"context"

	"github.com/djcache/djcache/driver"
)

var _ driver.Sizer = (*Driver)(nil)

// Size implements driver.Sizer: Entries is the store's entry count (see
// Len), shared by every Driver of the store's name and counting expired
// entries not yet removed. Bytes is -1: the store does not track the size
// of its values, and adding them up would read every entry.
func (d *Driver) Size(context.Context, driver.Scope) (driver.Size, error) {
	return driver.Size{Entries: int64(d.Len()), Bytes: -1}, nil
}
