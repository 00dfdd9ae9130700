//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package filebased

import (
	"context"
	"os"
	"syscall"
	"time"
)

// CrossProcessLocking reports whether Add, Incr, Touch, Set and Delete are
// atomic across processes on this platform. It is true on Linux, macOS and
// the BSDs, where each operation holds flock(2) on the key's file; see the
// package documentation.
const CrossProcessLocking = true

// closeBeforeReplace is false: a file held open (and locked) can be renamed
// over or removed.
const closeBeforeReplace = false

// flockFile takes an exclusive flock on f, the file of one key. Flock locks
// belong to an open file description, so two opens of one file exclude each
// other even within one process. A context that can be cancelled is
// honoured by polling with a growing pause (flock cannot be interrupted);
// one that cannot (context.Background) waits in the kernel.
func flockFile(ctx context.Context, f *os.File) error {
	fd := int(f.Fd())
	err := flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if err != syscall.EWOULDBLOCK {
		return wrapFlock(f, err)
	}
	if ctx.Done() == nil {
		return wrapFlock(f, flock(fd, syscall.LOCK_EX))
	}
	pause := 20 * time.Microsecond
	t := time.NewTimer(pause)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		err := flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EWOULDBLOCK {
			return wrapFlock(f, err)
		}
		pause = min(2*pause, time.Millisecond)
		t.Reset(pause)
	}
}

func flock(fd, how int) error {
	for {
		err := syscall.Flock(fd, how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func wrapFlock(f *os.File, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
}

// sameFile reports whether path still names f's file: whoever replaces or
// removes a key's file holds its lock, so a lock taken on a file that has
// since been replaced is stale and must be taken again on the new one.
func sameFile(f *os.File, path string) (bool, error) {
	var a, b syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &a); err != nil {
		return false, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	if err := syscall.Stat(path, &b); err != nil {
		if err == syscall.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}
