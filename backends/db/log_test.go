package db

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestMySQLLogThroughSlog: the MySQL driver's log lines reach slog at
// Debug, without the driver's "[mysql]" prefix, instead of stderr.
func TestMySQLLogThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer SetLogger(nil)
	// The driver's own logger, as the driver calls it.
	if err := mysql.SetLogger(&mysqlLog); err != nil {
		t.Fatal(err)
	}
	mysqlLog.Print("[mysql] ", "packets.go:58 unexpected EOF")
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "logger=mysql") || !strings.Contains(out, "packets.go:58 unexpected EOF") || strings.Contains(out, "[mysql]") {
		t.Errorf("slog got %q, want the line at DEBUG with logger=mysql and no [mysql] prefix", out)
	}
	buf.Reset()
	SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	mysqlLog.Print("[mysql] hidden")
	if buf.Len() != 0 {
		t.Errorf("at level Info slog got %q, want nothing", buf.String())
	}
}
