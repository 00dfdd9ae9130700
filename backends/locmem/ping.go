package locmem

import (
	"context"

	"github.com/djcache/djcache/driver"
)

var _ driver.Pinger = (*Driver)(nil)

// Ping implements driver.Pinger: the store is this process's memory, which
// is always reachable, so Ping returns nil.
func (d *Driver) Ping(context.Context) error { return nil }
