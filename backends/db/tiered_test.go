package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/tiered"
)

var _ tiered.Watcher = (*Driver)(nil)

// tieredHarness makes tiers (package tiered) over one table. Every driver
// has its own L1, and its own invalidation channel (PostgreSQL: LISTEN on
// the table's triggers; SQLite: PRAGMA data_version), but they share one
// group: the kit reads through one Cache, at once, what it wrote through
// another, and a channel delivers a moment later, which the kit would see
// as a stale read. The group makes them share invalidations as the Caches
// of one URL in one process do; TestTieredCoherence covers tiers that only
// the channel connects.
type tieredHarness struct {
	harness
}

func (h *tieredHarness) MakeDriver(ctx context.Context) (driver.Driver, error) {
	l2, err := h.harness.MakeDriver(ctx)
	if err != nil {
		return nil, err
	}
	d, err := tiered.NewDriver(nil, l2, &tiered.Options{MaxEntries: 1000, Group: h.p.url})
	if err != nil {
		l2.Close()
		return nil, err
	}
	return d, nil
}

// TestTieredConformance runs the kit on tiers over PostgreSQL (with the
// notify triggers installed) and SQLite.
func TestTieredConformance(t *testing.T) {
	for _, e := range engines {
		if e.dialect == MySQL {
			continue // no channel in this step: the tier is the same as over SQLite without one
		}
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.need(t)
			djcachetest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (djcachetest.Harness, error) {
				e.need(t)
				p := newPlace(t, e)
				d := p.open(t, "")
				defer d.Close()
				if err := d.ensureReady(ctx); err != nil {
					return nil, err
				}
				if e.dialect == PostgreSQL {
					if err := d.InstallNotify(ctx); err != nil {
						return nil, err
					}
				}
				return &tieredHarness{harness{p: p}}, nil
			}, &djcachetest.Options{ExpiryResolution: time.Second})
		})
	}
}

// tierOn opens a tier over the place's table, as its own process would
// (no group), and its Cache.
func tierOn(t *testing.T, p *place, o *tiered.Options) (*djcache.Cache, *tiered.Driver) {
	t.Helper()
	d, err := tiered.NewDriver(nil, p.open(t, ""), o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := djcache.New(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tiered.Of(d)
}

// eventually polls cond until it holds or a generous deadline passes (the
// machine may be busy: the deadline is a failure bound, not a measure).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not the case after 30s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inL1 reports whether the tier's L1 holds the made key.
func inL1(td *tiered.Driver, made string) bool {
	_, found, _ := td.L1().Get(context.Background(), made)
	return found
}

func getString(t *testing.T, c *djcache.Cache, key string) string {
	t.Helper()
	v, found, err := djcache.Get[string](t.Context(), c, key)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return "<miss>"
	}
	return v
}

// TestTieredCoherence: a write through one tier (or straight to the table,
// as Django would write) drops the entry from another tier's L1 over the
// same table, through the channel alone; on PostgreSQL, losing the channel
// empties the L1, which works again once the channel is back.
func TestTieredCoherence(t *testing.T) {
	for _, e := range engines {
		if e.dialect == MySQL {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.need(t)
			ctx := t.Context()
			p := newPlace(t, e)
			admin := p.open(t, "")
			t.Cleanup(func() { admin.Close() })
			if e.dialect == PostgreSQL {
				if err := admin.InstallNotify(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// local_timeout far above the test's length: only the channel
			// can make B see A's writes.
			o := &tiered.Options{Timeout: time.Hour}
			a, _ := tierOn(t, p, o)
			b, tb := tierOn(t, p, o)

			if err := a.Set(ctx, "k", "v1"); err != nil {
				t.Fatal(err)
			}
			getString(t, b, "k") // starts B's channel
			eventually(t, "B's channel is up", tb.Watching)
			if got := getString(t, b, "k"); got != "v1" {
				t.Fatalf("B read %q, want v1", got)
			}
			if !inL1(tb, ":1:k") {
				t.Fatal("B's L1 does not hold k after B read it")
			}

			// A write through A reaches B's L1 through the channel.
			if err := a.Set(ctx, "k", "v2"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "B's L1 drops k after A's Set", func() bool { return !inL1(tb, ":1:k") })
			if got := getString(t, b, "k"); got != "v2" {
				t.Fatalf("after the invalidation B read %q, want v2", got)
			}

			// So does a write by another client straight to the table
			// (Django's DatabaseCache writes this way): a row update.
			if !inL1(tb, ":1:k") {
				t.Fatal("B's L1 does not hold k after B read it again")
			}
			update := e.dialect.placeholders("UPDATE " + e.dialect.quote(p.table) + " SET " + e.dialect.quote("value") + " = ? WHERE " + e.dialect.quote("cache_key") + " = ?")
			if _, err := admin.db.ExecContext(ctx, update, encodeValue([]byte("\x02v3")), ":1:k"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "B's L1 drops k after a foreign UPDATE", func() bool { return !inL1(tb, ":1:k") })
			if got := getString(t, b, "k"); got != "v3" {
				t.Fatalf("after a foreign UPDATE B read %q, want v3", got)
			}

			// Clear through A empties B's L1.
			if got := getString(t, b, "k"); got != "v3" || !inL1(tb, ":1:k") {
				t.Fatalf("B read %q (in L1: %v), want v3 from its L1", got, inL1(tb, ":1:k"))
			}
			if err := a.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			eventually(t, "B's L1 drops k after A's Clear", func() bool { return !inL1(tb, ":1:k") })
			if got := getString(t, b, "k"); got != "<miss>" {
				t.Fatalf("after Clear B read %q, want a miss", got)
			}

			if e.dialect != PostgreSQL {
				return
			}
			// Losing the channel empties the L1; it comes back by itself.
			if err := a.Set(ctx, "k", "v4"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "B reads v4 into its L1", func() bool { return getString(t, b, "k") == "v4" && inL1(tb, ":1:k") })
			res, err := admin.db.ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = $1",
				"LISTEN "+`"`+admin.NotifyChannel()+`"`)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				// A has only written: its channel starts at its first read.
				t.Fatalf("terminated %d listening connections, want B's", n)
			}
			eventually(t, "B's L1 is emptied when its channel is lost", func() bool { return !inL1(tb, ":1:k") })
			eventually(t, "B's channel comes back", tb.Watching)
			if got := getString(t, b, "k"); got != "v4" {
				t.Fatalf("after the channel came back B read %q, want v4", got)
			}
			eventually(t, "B fills its L1 again", func() bool { getString(t, b, "k"); return inL1(tb, ":1:k") })
			if err := a.Set(ctx, "k", "v5"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "B's L1 drops k through the new channel", func() bool { return !inL1(tb, ":1:k") })
		})
	}
}

// TestTieredNoTrigger: on a PostgreSQL table without the notify triggers,
// and on MySQL, the tier works without a channel, bounded by its
// local_timeout.
func TestTieredNoTrigger(t *testing.T) {
	for _, e := range engines {
		if e.dialect == SQLite {
			continue
		}
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			e.need(t)
			p := newPlace(t, e)
			d := p.open(t, "")
			defer d.Close()
			err := d.Watch(t.Context(), func() { t.Error("ready called") }, func([]string) { t.Error("changed called") })
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Fatalf("Watch = %v, want an error wrapping errors.ErrUnsupported", err)
			}

			c, td := tierOn(t, p, &tiered.Options{Timeout: time.Hour})
			if err := c.Set(t.Context(), "k", "v"); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the tier fills its L1 without a channel", func() bool { getString(t, c, "k"); return inL1(td, ":1:k") })
			if td.Watching() {
				t.Error("Watching() = true without a channel")
			}
		})
	}
}

// TestNotifiedKeys: payloads decode to the callers' keys, escapes undone;
// "*" and anything unreadable mean "everything".
func TestNotifiedKeys(t *testing.T) {
	d := &Driver{dialect: PostgreSQL}
	nul := PostgreSQL.storedKey(":1:a\x00b\xffc\uffff")
	for _, tc := range []struct {
		payload string
		want    []string
	}{
		{`[":1:a", ":1:b"]`, []string{":1:a", ":1:b"}},
		{`["` + nul + `"]`, []string{":1:a\x00b\xffc\uffff"}},
		{`*`, nil},
		{`not json`, nil},
		{`["\uffffq"]`, nil},
	} {
		got := d.notifiedKeys(tc.payload)
		if len(got) != len(tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("notifiedKeys(%q) = %q, want %q", tc.payload, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("notifiedKeys(%q) = %q, want %q", tc.payload, got, tc.want)
			}
		}
	}
}
