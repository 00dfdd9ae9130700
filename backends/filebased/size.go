package filebased

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/djcache/djcache/driver"
)

var _ driver.Sizer = (*Driver)(nil)

// Size implements driver.Sizer. It lists the directory and counts the
// cache files (the names ending with ".djcache" that Clear and culling
// consider, expired ones included until something removes them); Bytes is
// the sum of their sizes on disk, headers and compression included. It
// costs one directory listing and one lstat per file, as a cull's scan. A
// directory that does not exist yet holds no entries; Size does not create
// it.
func (d *Driver) Size(ctx context.Context, _ driver.Scope) (driver.Size, error) {
	names, _, err := d.list()
	if errors.Is(err, fs.ErrNotExist) {
		return driver.Size{}, nil
	}
	if err != nil {
		return driver.Size{}, err
	}
	var s driver.Size
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return driver.Size{}, err
		}
		fi, err := os.Lstat(filepath.Join(d.dir, name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since the listing
			}
			return driver.Size{}, err
		}
		if fi.Mode().IsRegular() {
			s.Entries++
			s.Bytes += fi.Size()
		}
	}
	return s, nil
}
