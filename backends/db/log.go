package db

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// mysqlLog receives the MySQL driver's log lines: this package installs it
// as the driver's logger when it is imported.
var mysqlLog slogPrinter

func init() { mysql.SetLogger(&mysqlLog) }

// SetLogger sends the MySQL driver's own log lines to l, at level Debug;
// nil means slog.Default(), looked up at each line.
//
// go-sql-driver/mysql logs some events rather than returning them (such as
// "[mysql] … unexpected EOF" when a server closed a pooled connection, or
// "busy buffer"), by default to stderr. Importing this package replaces
// that logger, once, with one that forwards each line to slog.Default() at
// level Debug with the attribute logger=mysql: the calls that failed return
// their own errors, so the lines are details for debugging, hidden at
// slog's default level and shown by a handler at Debug (the command-line
// tool's -v). The logger is the driver's, so this applies to every MySQL
// connection of the process; a program that calls mysql.SetLogger itself
// after this package's init keeps its own. SetLogger is safe for
// concurrent use.
func SetLogger(l *slog.Logger) {
	mysqlLog.l.Store(l)
	mysql.SetLogger(&mysqlLog)
}

// slogPrinter implements mysql.Logger over a *slog.Logger.
type slogPrinter struct {
	l atomic.Pointer[slog.Logger] // nil: slog.Default()
}

// Print implements mysql.Logger.
func (p *slogPrinter) Print(v ...any) {
	l := p.l.Load()
	if l == nil {
		l = slog.Default()
	}
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := strings.TrimSpace(strings.TrimPrefix(fmt.Sprint(v...), "[mysql] "))
	l.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("logger", "mysql"))
}
