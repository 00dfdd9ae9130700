package redis

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
)

// roundTrips is a go-redis hook that records, while it is on, the command
// names of each round trip: one command sent alone, or one pipeline. It
// leaves out the commands that set up a new connection.
type roundTrips struct {
	mu    sync.Mutex // protects on and trips
	on    bool
	trips [][]string
}

func (r *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.record([]goredis.Cmder{cmd})
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.record(cmds)
		return next(ctx, cmds)
	}
}

// setup are the commands go-redis sends on a new connection.
var setup = []string{"hello", "client", "auth", "select", "ping", "readonly", "cluster", "command"}

func (r *roundTrips) record(cmds []goredis.Cmder) {
	names := make([]string, 0, len(cmds))
	for _, c := range cmds {
		if n := c.Name(); !slices.Contains(setup, n) {
			names = append(names, n)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on && len(names) > 0 {
		r.trips = append(r.trips, names)
	}
}

func (r *roundTrips) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on, r.trips = true, nil
}

func (r *roundTrips) stop() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.trips
}

// only reports whether every name of trip is one of names.
func only(trip []string, names ...string) bool {
	for _, n := range trip {
		if !slices.Contains(names, n) {
			return false
		}
	}
	return true
}

// TestGetOrSetManyRoundTrips counts, with a go-redis hook, the round trips
// of a GetOrSetMany of 100 keys of which 10 are missing: exactly one to
// read (an MGET, or on the Cluster one pipeline of an MGET per slot, sent
// to the nodes at once), one fill call for the 10 keys, and one to write
// (a pipeline of 10 SETs).
func TestGetOrSetManyRoundTrips(t *testing.T) {
	for _, topo := range []struct {
		name   string
		client func(t *testing.T) goredis.UniversalClient
	}{
		{"single", func(t *testing.T) goredis.UniversalClient {
			singleClient(t) // skips when the server is unreachable
			return goredis.NewClient(&goredis.Options{Addr: singleAddr, ContextTimeoutEnabled: true})
		}},
		{"cluster", func(t *testing.T) goredis.UniversalClient {
			clusterClient(t)
			return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: clusterAddrs, ContextTimeoutEnabled: true})
		}},
	} {
		t.Run(topo.name, func(t *testing.T) {
			ctx := t.Context()
			// A client of the test's own: the hook sees no other test's
			// commands. It closes after the cache and the namespace's
			// cleanup (cleanups run last-in first-out).
			rdb := topo.client(t)
			t.Cleanup(func() { rdb.Close() })
			rt := &roundTrips{}
			rdb.AddHook(rt)
			c, _ := newCache(t, rdb, nil, nil)

			keys := make([]string, 100)
			cached := map[string]any{}
			var missing []string
			for i := range keys {
				keys[i] = fmt.Sprintf("item:%d", i)
				if i%10 == 3 {
					missing = append(missing, keys[i])
				} else {
					cached[keys[i]] = "cached-" + keys[i]
				}
			}
			if failed, err := c.SetMany(ctx, cached); err != nil || len(failed) > 0 {
				t.Fatalf("SetMany = %v, %v", failed, err)
			}

			var asked [][]string
			fill := func(_ context.Context, miss []string) (map[string]string, error) {
				asked = append(asked, slices.Clone(miss))
				m := map[string]string{}
				for _, k := range miss {
					m[k] = "filled-" + k
				}
				return m, nil
			}
			rt.start()
			got, err := djcache.GetOrSetMany(ctx, c, keys, fill)
			trips := rt.stop()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 100 {
				t.Errorf("GetOrSetMany returned %d keys, want 100", len(got))
			}
			for _, k := range keys {
				want := "cached-" + k
				if slices.Contains(missing, k) {
					want = "filled-" + k
				}
				if got[k] != want {
					t.Errorf("GetOrSetMany[%q] = %q, want %q", k, got[k], want)
				}
			}
			if !reflect.DeepEqual(asked, [][]string{missing}) {
				t.Errorf("fill asked for %v, want one call for the 10 missing keys %v", asked, missing)
			}
			if len(trips) != 2 || !only(trips[0], "mget") || !only(trips[1], "set") || len(trips[1]) != len(missing) {
				t.Errorf("round trips: %v\nwant two: one of MGETs (the read), one pipeline of %d SETs (the write)", trips, len(missing))
			} else {
				t.Logf("read: one round trip of %d MGET(s); write: one pipeline of %d SETs", len(trips[0]), len(trips[1]))
			}

			// The filled keys are stored: a second call is one read and no fill.
			asked = nil
			rt.start()
			again, err := djcache.GetOrSetMany(ctx, c, keys, fill)
			trips = rt.stop()
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("GetOrSetMany again = %d keys, %v; want the same 100", len(again), err)
			}
			if asked != nil || len(trips) != 1 || !only(trips[0], "mget") {
				t.Errorf("GetOrSetMany again: fill asked for %v, round trips %v; want no fill and one read", asked, trips)
			}
		})
	}
}
