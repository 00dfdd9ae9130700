package djcachetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"testing"

	"github.com/djcache/djcache"
)

// set stores value or ends the case.
func set(t *testing.T, ctx context.Context, c *djcache.Cache, key string, value any, opts ...djcache.Option) {
	t.Helper()
	if err := c.Set(ctx, key, value, opts...); err != nil {
		t.Fatalf("Set(%q, %s, %v): %v", key, show(value), opts, err)
	}
}

// get reads key into a new T or ends the case on an error.
func get[T any](t *testing.T, ctx context.Context, c *djcache.Cache, key string, opts ...djcache.Option) (T, bool) {
	t.Helper()
	v, found, err := djcache.Get[T](ctx, c, key, opts...)
	if err != nil {
		t.Fatalf("Get[%v](%q, %v): %v", reflect.TypeFor[T](), key, opts, err)
	}
	return v, found
}

// wantValue checks that key holds want (read into want's type).
func wantValue(t *testing.T, ctx context.Context, c *djcache.Cache, key string, want any, opts ...djcache.Option) {
	t.Helper()
	dst := reflect.New(reflect.TypeOf(want))
	found, err := c.Get(ctx, key, dst.Interface(), opts...)
	switch {
	case err != nil:
		t.Errorf("Get(%q, %v): %v, want %s", key, opts, err, show(want))
	case !found:
		t.Errorf("Get(%q, %v): not found, want %s", key, opts, show(want))
	case !reflect.DeepEqual(dst.Elem().Interface(), want):
		t.Errorf("Get(%q, %v) = %s, want %s", key, opts, show(dst.Elem().Interface()), show(want))
	}
}

// wantMiss checks that Get of key misses.
func wantMiss(t *testing.T, ctx context.Context, c *djcache.Cache, key string, opts ...djcache.Option) {
	t.Helper()
	var v any
	found, err := c.Get(ctx, key, &v, opts...)
	switch {
	case err != nil:
		t.Errorf("Get(%q, %v): %v, want a miss", key, opts, err)
	case found:
		t.Errorf("Get(%q, %v) = %s, want a miss", key, opts, show(v))
	}
}

// show formats v for a message, cut short if it is long.
func show(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 120 {
		s = s[:120] + fmt.Sprintf("… (%d characters)", len(s))
	}
	return s
}

// has reports Has(key) or ends the case on an error.
func has(t *testing.T, ctx context.Context, c *djcache.Cache, key string, opts ...djcache.Option) bool {
	t.Helper()
	ok, err := c.Has(ctx, key, opts...)
	if err != nil {
		t.Fatalf("Has(%q, %v): %v", key, opts, err)
	}
	return ok
}

// wantErr checks that err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one that wraps %q", what, err, target)
	}
}

// logRecorder is a slog.Handler that keeps the records it handles. It is
// safe for concurrent use.
type logRecorder struct {
	mu      sync.Mutex // protects records
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// take returns the records so far and forgets them.
func (r *logRecorder) take() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.records
	r.records = nil
	return recs
}

// messages returns the messages of recs.
func messages(recs []slog.Record) []string {
	m := make([]string, len(recs))
	for i, r := range recs {
		m[i] = r.Message
	}
	return m
}

// logger returns a logger that writes to r.
func (r *logRecorder) logger() *slog.Logger { return slog.New(r) }
