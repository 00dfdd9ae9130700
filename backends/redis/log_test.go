package redis

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// lockedBuffer is a bytes.Buffer for concurrent writers: go-redis logs
// from its own goroutines.
type lockedBuffer struct {
	mu sync.Mutex // protects b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dialFailure makes go-redis log a dial failure: nothing listens on port 1.
func dialFailure(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	if err := c.Get(context.Background(), "k").Err(); err == nil {
		t.Fatal("Get from 127.0.0.1:1 succeeded")
	}
}

// TestLogThroughSlog: go-redis's log lines (connection failures) go to the
// logger SetLogger gives, at Debug level and without go-redis's "redis: "
// prefix, instead of straight to stderr.
func TestLogThroughSlog(t *testing.T) {
	var debug, info lockedBuffer
	defer SetLogger(nil)

	SetLogger(slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug})))
	dialFailure(t)
	got := debug.String()
	if !strings.Contains(got, `level=DEBUG msg="connection pool: failed to dial`) || !strings.Contains(got, "logger=go-redis") {
		t.Errorf("go-redis's log at Debug: %q, want its dial failure through slog", got)
	}

	SetLogger(slog.New(slog.NewTextHandler(&info, nil))) // Info: go-redis's lines are hidden
	dialFailure(t)
	if got := info.String(); got != "" {
		t.Errorf("go-redis's log at Info: %q, want nothing", got)
	}

	// nil: slog.Default(), looked up at each line.
	SetLogger(nil)
	var def lockedBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	dialFailure(t)
	if !strings.Contains(def.String(), "failed to dial") {
		t.Errorf("go-redis's log with SetLogger(nil): %q in slog.Default(), want its dial failure", def.String())
	}
}
