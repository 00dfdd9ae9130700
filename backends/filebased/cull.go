package filebased

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Culling. Django lists the directory on every set, which costs a read of
// every directory entry per write. A Driver instead keeps an approximate
// count: the number of cache files it saw at its last scan (less those it
// culled), plus the files it has created since (a write knows whether it
// created a file: creation is a link, replacement a rename). It lists the
// directory only when that count reaches max_entries or after
// max_entries/8 creations, so the listing costs a constant amortized
// number of directory entries per write. In one process the count is
// exact, and culls happen exactly when Django's would; other processes'
// writes are seen at the next scan, so a directory shared by P writing
// processes may exceed max_entries by up to about P×max_entries/8 between
// scans.

// maybeCull scans the directory if the count says it may be full or is due
// a refresh, and culls it if it is full.
func (d *Driver) maybeCull(ctx context.Context) error {
	known, created := d.known.Load(), d.created.Load()
	if known >= 0 && known+created < d.maxEntries && created < d.rescanEvery {
		return nil
	}
	if !d.scanMu.TryLock() {
		return nil // another goroutine is scanning
	}
	defer d.scanMu.Unlock()
	return d.scan(ctx)
}

// scan lists the directory, culls it if it holds max_entries cache files
// or more (a random 1/cull_frequency of them, or all with
// cull_frequency=0, as Django), refreshes the count, and removes temporary
// files that crashed writers left behind.
func (d *Driver) scan(ctx context.Context) error {
	d.scans.Add(1)
	before := d.created.Load()
	names, temps, err := d.list()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			d.known.Store(0)
			d.created.Add(-before)
			return nil
		}
		return err
	}
	count := int64(len(names))
	if count >= d.maxEntries {
		victims := names
		if d.cullFrequency > 0 {
			// A uniform random sample of len/cull_frequency names, by a
			// partial Fisher-Yates shuffle (Django: random.sample).
			n := len(names) / d.cullFrequency
			for i := range n {
				j := i + rand.IntN(len(names)-i)
				names[i], names[j] = names[j], names[i]
			}
			victims = names[:n]
		}
		for _, name := range victims {
			if err := d.removeFile(ctx, name); err != nil {
				return err
			}
			count--
		}
	}
	d.known.Store(count)
	d.created.Add(-before)
	d.removeStaleTemps(temps)
	return nil
}

// list returns the names of the cache files in the directory (Django's
// glob "*.djcache", which skips hidden names) and of djcache's temporary
// files.
func (d *Driver) list() (cache, temps []string, err error) {
	f, err := os.Open(d.dir)
	if err != nil {
		return nil, nil, err
	}
	all, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, nil, err
	}
	cache = all[:0]
	for _, name := range all {
		switch {
		case strings.HasPrefix(name, tmpPrefix):
			temps = append(temps, name)
		case strings.HasSuffix(name, Suffix) && !strings.HasPrefix(name, "."):
			cache = append(cache, name)
		}
	}
	return cache, temps, nil
}

// removeFile removes the cache file name under its key's lock, so that it
// cannot remove a file that an Incr or Touch is replacing.
func (d *Driver) removeFile(ctx context.Context, name string) error {
	stripe := 0
	var b [1]byte
	if len(name) >= 2 {
		if _, err := hex.Decode(b[:], []byte(name[:2])); err == nil {
			stripe = int(b[0]) % numStripes
		}
	}
	l, err := d.lock(ctx, filepath.Join(d.dir, name), stripe)
	if err != nil {
		return err
	}
	defer l.unlock()
	return l.remove()
}

// staleTemp is the age after which a temporary file is taken for the
// leftover of a crashed writer. No write takes that long.
const staleTemp = time.Hour

// removeStaleTemps removes the temporary files older than staleTemp.
func (d *Driver) removeStaleTemps(temps []string) {
	for _, name := range temps {
		p := filepath.Join(d.dir, name)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > staleTemp {
			os.Remove(p)
		}
	}
}
