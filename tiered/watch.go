package tiered

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Watcher is implemented by L2 drivers that can tell a tier about the
// changes made to their storage, including those made by other processes
// (a Django application among them): the tier's invalidation channel.
// The db backend implements it for PostgreSQL (LISTEN/NOTIFY, once its
// notify trigger is installed) and SQLite (PRAGMA data_version).
//
// A tier calls Watch at its first call, from a goroutine of its own, and
// again after Watch returns an error, after a pause that grows from
// 100 ms to 5 s, until the tier is closed. While no Watch is ready, the
// tier's L1 is neither read nor filled, and it is emptied whenever a
// Watch ends, so that a lost channel never leaves stale entries behind.
type Watcher interface {
	// Watch subscribes to the changes of the storage, calls ready once
	// the subscription sees every later change, then calls changed for
	// each change until ctx ends or the subscription fails, and returns
	// ctx's error or the failure. changed receives the keys (as the
	// driver's methods receive them) whose entries changed, or nil when
	// it cannot tell which: every entry may have changed. Watch calls
	// ready and changed from its own goroutine, one call at a time.
	//
	// A Watch that finds no channel on this storage (a missing trigger, a
	// database without one) returns an error wrapping
	// errors.ErrUnsupported at once, and is not called again: the tier
	// then works as over an L2 without a channel.
	Watch(ctx context.Context, ready func(), changed func(keys []string)) error
}

// Pauses between two Watch calls after a failure.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// startWatch starts the invalidation channel, once, unless the tier is
// closed.
func (d *Driver) startWatch() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan struct{})
	d.mode.Store(modeOff)
	go d.watch(ctx)
}

func (d *Driver) log() *slog.Logger {
	if d.logger != nil {
		return d.logger
	}
	return slog.Default()
}

// watch runs the Watcher until ctx ends.
func (d *Driver) watch(ctx context.Context) {
	defer close(d.done)
	retry := minRetry
	quiet := false // a failure to set the channel up was logged; the next ones are not
	for {
		var readied atomic.Bool
		err := d.watcher.Watch(ctx, func() {
			d.flush()
			d.mode.Store(modeWatching)
			readied.Store(true)
		}, d.changed)
		// Off first, then empty: a fill that checks the mode after this
		// stores nothing, and one that checked it before is flushed.
		d.mode.Store(modeOff)
		d.flush()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errors.ErrUnsupported) {
			d.log().Warn("djcache: tiered: the L2 has no invalidation channel; other processes' writes show in this process's L1 when its entries expire (local_timeout)",
				"backend", backendName(d.l2), "err", err)
			d.mode.Store(modeBounded)
			return
		}
		switch {
		case readied.Load():
			retry, quiet = minRetry, false
			d.log().Warn("djcache: tiered: invalidation channel lost; the L1 is emptied and not used until the channel is back",
				"backend", backendName(d.l2), "err", err)
		case !quiet:
			quiet = true
			d.log().Warn("djcache: tiered: cannot set the invalidation channel up; the L1 is not used until it is (retrying)",
				"backend", backendName(d.l2), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, maxRetry)
	}
}

// changed is the Watcher's report of changed keys. Each tier of a group
// has a channel of its own, so it drops the keys from its own L1 only.
func (d *Driver) changed(keys []string) {
	if keys == nil {
		d.flush()
		return
	}
	for _, k := range keys {
		d.drop(k)
	}
}
