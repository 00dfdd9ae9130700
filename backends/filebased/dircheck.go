package filebased

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A cache directory must be the cache's own: a mistyped or half-filled-in
// URL ("file:///", "file:///home/me") would otherwise scatter cache files
// among a user's files. New refuses the root directory and the user's home
// directory (no I/O: the path is compared after cleaning), and the first
// call that touches the directory lists it once and refuses a directory
// that holds anything but what Django and djcache write there, unless
// Options.AllowForeignFiles is set.

// checkRoots returns an error if dir (clean and absolute) is the root of a
// file system, or the user's home directory and foreign files are not
// allowed.
func checkRoots(dir string, allowForeign bool) error {
	if filepath.Dir(dir) == dir {
		return fmt.Errorf("djcache: filebased: directory %q is the root of the file system: give the cache a directory of its own, such as %s", dir, filepath.Join(dir, "var", "cache", "myapp"))
	}
	if allowForeign {
		return nil
	}
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) || filepath.Clean(home) != dir {
		return nil
	}
	return fmt.Errorf("djcache: filebased: directory %q is the home directory: give the cache a directory of its own, such as %s, or set allow_foreign_files=true (Options.AllowForeignFiles) to share this one with the files in it", dir, filepath.Join(dir, ".cache", "myapp"))
}

// ForeignFilesError is the error of every call of a Driver whose directory
// holds files that are neither cache entries nor temporary files of Django
// or djcache (see Options.AllowForeignFiles).
type ForeignFilesError struct {
	Dir    string // the cache directory
	File   string // the first foreign name, in sorted order
	Others int    // the number of other foreign names
}

// Error names the directory, the first foreign file and the remedy.
func (e *ForeignFilesError) Error() string {
	what := fmt.Sprintf("%q, which is not a cache entry", e.File)
	if e.Others > 0 {
		what = fmt.Sprintf("%q and %d other files that are not cache entries", e.File, e.Others)
	}
	return fmt.Sprintf("cache directory %q holds %s: give the cache a directory of its own, or set allow_foreign_files=true (Options.AllowForeignFiles) to share this one", e.Dir, what)
}

// checkDir returns nil if the directory may be used: foreign files are
// allowed, or the directory held none (or did not exist) when first
// checked. The first call of a Driver that touches the directory lists it;
// later calls return the first outcome, unless that was an I/O error,
// which the next call retries.
func (d *Driver) checkDir() error {
	if p := d.dirErr.Load(); p != nil {
		return *p
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if p := d.dirErr.Load(); p != nil {
		return *p
	}
	err := foreignFiles(d.dir)
	var fe *ForeignFilesError
	if err != nil && !errors.As(err, &fe) {
		return err
	}
	d.dirErr.Store(&err)
	return err
}

// foreignFiles lists dir and returns a *ForeignFilesError if it holds
// foreign names; a directory that does not exist holds none.
func foreignFiles(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	var foreign []string
	for _, name := range names {
		if !ownName(name) {
			foreign = append(foreign, name)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return &ForeignFilesError{Dir: dir, File: slices.Min(foreign), Others: len(foreign) - 1}
}

// ownName reports whether name is one Django or djcache puts in a cache
// directory: a cache entry (32 lower-case hex digits, md5, and ".djcache"),
// a temporary file of djcache ("tmp-djcache-*") or of Django (Python's
// tempfile.mkstemp: "tmp" and 8 characters of [a-z0-9_]), or lost+found,
// which a file system created for the cache holds at its top.
func ownName(name string) bool {
	if strings.HasPrefix(name, tmpPrefix) || name == "lost+found" {
		return true
	}
	if hexPart, ok := strings.CutSuffix(name, Suffix); ok {
		return len(hexPart) == 32 && strings.Trim(hexPart, "0123456789abcdef") == ""
	}
	if rest, ok := strings.CutPrefix(name, "tmp"); ok {
		return len(rest) == 8 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
	}
	return false
}
