package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// goredisLog receives go-redis's log lines: this package installs it as
// go-redis's package logger when it is imported.
var goredisLog slogForwarder

func init() { goredis.SetLogger(&goredisLog) }

// SetLogger sends go-redis's own log lines to l, at level Debug; nil means
// slog.Default(), looked up at each line.
//
// go-redis logs some events through a logger of its package rather than
// returning them, such as "connection pool: failed to dial after 5
// attempts: …" while a server is down, and by default writes them to
// stderr, several lines per failing call. Importing this package replaces
// that logger, once, with one that forwards each line to slog.Default() at
// level Debug, without go-redis's "redis: " prefix and with the attribute
// logger=go-redis: the calls that failed return the same errors, so the
// lines are details for debugging, hidden by slog's default level (Info)
// and shown by a handler at Debug (the command-line tool's -v). SetLogger
// chooses another logger, and installs the forwarder again if the program
// had replaced it with goredis.SetLogger. The logger is go-redis's, so this
// applies to every go-redis client of the process, not only to djcache's;
// a program that calls goredis.SetLogger itself (after this package's
// init, so from main on) keeps its own logger. SetLogger is safe for
// concurrent use.
func SetLogger(l *slog.Logger) {
	goredisLog.l.Store(l)
	goredis.SetLogger(&goredisLog)
}

// slogForwarder implements go-redis's Logging interface over a
// *slog.Logger.
type slogForwarder struct {
	l atomic.Pointer[slog.Logger] // nil: slog.Default()
}

// Printf implements go-redis's Logging interface.
func (f *slogForwarder) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	l := f.l.Load()
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := strings.TrimSuffix(fmt.Sprintf(format, v...), "\n")
	l.LogAttrs(ctx, slog.LevelDebug, strings.TrimPrefix(msg, "redis: "), slog.String("logger", "go-redis"))
}
