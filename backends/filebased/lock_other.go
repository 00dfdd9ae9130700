//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package filebased

import (
	"context"
	"os"
)

// CrossProcessLocking reports whether Add, Incr, Touch, Set and Delete are
// atomic across processes on this platform. It is false here (Windows,
// Plan 9, Solaris, ...): djcache has no file lock for this platform, so
// those operations are atomic only among the goroutines of one Driver, and
// processes sharing a directory may lose an Add race or an Incr. Renames
// still make every write whole, so readers never see a torn file. See the
// package documentation.
const CrossProcessLocking = false

// closeBeforeReplace is true: some of these platforms (Windows) cannot
// rename over, or remove, a file that is open.
const closeBeforeReplace = true

// flockFile does nothing: there is no cross-process lock on this platform.
func flockFile(context.Context, *os.File) error { return nil }

// sameFile reports true: without cross-process locks there is no stale
// lock to detect.
func sameFile(*os.File, string) (bool, error) { return true, nil }
