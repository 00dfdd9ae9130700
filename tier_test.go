package djcache_test

import (
	"strings"
	"testing"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/driver"
)

// TestTierNotRegistered: local without a registered tier fails at Open
// and names the package to import; without local nothing changes.
func TestTierNotRegistered(t *testing.T) {
	var mux djcache.URLMux
	mux.Register("locmem", &locmem.URLOpener{})
	_, err := mux.Open(t.Context(), "locmem://tier-not-registered?local=5", nil)
	if err == nil || !strings.Contains(err.Error(), `import _ "github.com/djcache/djcache/tiered"`) {
		t.Fatalf("Open with local and no tier = %v, want an error naming the import", err)
	}
	c, err := mux.Open(t.Context(), "locmem://tier-not-registered", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestRegisterTier: the registered tier receives the parameters and the
// backend's driver without them; a second registration panics.
func TestRegisterTier(t *testing.T) {
	var mux djcache.URLMux
	mux.Register("locmem", &locmem.URLOpener{})
	var got djcache.TierOptions
	mux.RegisterTier(func(l2 driver.Driver, o djcache.TierOptions) (driver.Driver, error) {
		got = o
		return l2, nil
	})
	c, err := mux.Open(t.Context(), "locmem://register-tier?local=7&local_timeout=1.5&max_entries=50&timeout=9", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got.MaxEntries != 7 || got.Timeout.Seconds() != 1.5 || got.Storage != "locmem://register-tier?max_entries=50" {
		t.Errorf("the tier got %+v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second RegisterTier did not panic")
		}
	}()
	mux.RegisterTier(func(l2 driver.Driver, o djcache.TierOptions) (driver.Driver, error) { return l2, nil })
}
