package filebased

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/djcache/djcache/driver"
)

var _ driver.Pinger = (*Driver)(nil)

// Ping implements driver.Pinger: the cache's path must be a directory (or
// not exist yet) in which this process can write, which Ping checks by
// writing and removing an empty temporary file, as every write of an entry
// starts, after the check every call makes that the directory holds only
// cache entries (see ForeignFilesError). Like the first write, it creates the directory, and any missing
// parent, if it does not exist (mode 0700). It writes no entry.
func (d *Driver) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Stat(d.dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", d.dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := d.checkDir(); err != nil {
		return err // a directory holding other files than cache entries
	}
	tmp, err := d.writeTemp(nil)
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", d.dir, err)
	}
	return os.Remove(tmp)
}
