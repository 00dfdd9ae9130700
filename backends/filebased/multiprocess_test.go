package filebased_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
)

// The multi-process test runs this test binary again as mpChildren child
// processes (TestMultiProcessChild, told what to do by mpEnv) that hammer
// one directory at once.
const (
	mpEnv      = "DJCACHE_FILEBASED_MP_CHILD" // "<work dir>|<child id>"
	mpChildren = 4
	mpCounters = 4   // keys every child increments
	mpIncrs    = 200 // Incr calls per child
	mpAddKeys  = 100 // keys every child tries to Add
	mpSGKeys   = 8   // keys every child sets and reads
	mpSGOps    = 300 // Set or Get calls per child
)

// mpResult is what a child reports.
type mpResult struct {
	Sums   map[string]int64 // the deltas it added, by counter
	Won    []int            // the Add keys it won
	Reads  int              // Gets of the set/get keys that found a value
	Torn   int              // values read that were not whole
	Errors []string
}

func mpURL(work string) string {
	return "file://" + filepath.Join(work, "cache") + "?max_entries=100000"
}

// TestMultiProcess proves that processes sharing a directory see whole
// values only, that exactly one Add wins each key, and that every Incr
// counts.
func TestMultiProcess(t *testing.T) {
	if os.Getenv(mpEnv) != "" {
		t.Skip("running as a child")
	}
	if !filebased.CrossProcessLocking {
		t.Skip("no cross-process locking on this platform")
	}
	ctx := t.Context()
	work := t.TempDir()
	c, err := djcache.Open(mpURL(work))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for k := range mpCounters {
		if err := c.Set(ctx, fmt.Sprintf("counter-%d", k), 1000, djcache.Forever); err != nil {
			t.Fatal(err)
		}
	}

	cmds := make([]*exec.Cmd, mpChildren)
	outs := make([]*bytes.Buffer, mpChildren)
	for i := range cmds {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMultiProcessChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", mpEnv, work, i))
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	// All children are running: let them go at once.
	if err := os.WriteFile(filepath.Join(work, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		if !strings.Contains(outs[i].String(), "--- PASS: TestMultiProcessChild") {
			t.Fatalf("child %d did not run the child test:\n%s", i, outs[i])
		}
	}

	sums := map[string]int64{}
	winners := map[int][]int{}
	reads, torn := 0, 0
	for i := range mpChildren {
		b, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("result-%d.json", i)))
		if err != nil {
			t.Fatal(err)
		}
		var r mpResult
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		for _, e := range r.Errors {
			t.Errorf("child %d: %s", i, e)
		}
		for k, s := range r.Sums {
			sums[k] += s
		}
		for _, j := range r.Won {
			winners[j] = append(winners[j], i)
		}
		reads += r.Reads
		torn += r.Torn
	}

	if torn != 0 {
		t.Errorf("%d of %d reads saw a torn value; want 0", torn, reads)
	}
	if reads < mpChildren*mpSGOps/4 {
		t.Errorf("only %d reads found a value: the test did not exercise readers", reads)
	}
	for k := range mpCounters {
		key := fmt.Sprintf("counter-%d", k)
		got, found, err := djcache.Get[int64](ctx, c, key)
		if want := 1000 + sums[key]; err != nil || !found || got != want {
			t.Errorf("%s = %d, %v, %v; want %d (1000 + every child's deltas)", key, got, found, err, want)
		}
	}
	for j := range mpAddKeys {
		key := fmt.Sprintf("add-%d", j)
		w := winners[j]
		if len(w) != 1 {
			t.Errorf("%s: Add won by children %v; want exactly one", key, w)
			continue
		}
		got, found, err := djcache.Get[int](ctx, c, key)
		if err != nil || !found || got != w[0] {
			t.Errorf("%s = %d, %v, %v; want the winner %d", key, got, found, err, w[0])
		}
	}
	// Only cache files are left: no temporary file, no lock file.
	entries, err := os.ReadDir(filepath.Join(work, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), filebased.Suffix) {
			t.Errorf("left in the directory: %s", e.Name())
		}
	}
	if want := mpCounters + mpAddKeys + mpSGKeys; len(entries) != want {
		t.Errorf("%d files in the directory, want %d", len(entries), want)
	}
}

// TestMultiProcessChild is one child of TestMultiProcess; alone, it skips.
func TestMultiProcessChild(t *testing.T) {
	spec := os.Getenv(mpEnv)
	if spec == "" {
		t.Skip("run by TestMultiProcess")
	}
	work, idText, _ := strings.Cut(spec, "|")
	id, err := strconv.Atoi(idText)
	if err != nil {
		t.Fatal(err)
	}
	c, err := djcache.Open(mpURL(work))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(work, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never told to go")
		}
	}

	res := mpResult{Sums: map[string]int64{}}
	var mu sync.Mutex // protects res
	fail := func(format string, args ...any) {
		mu.Lock()
		res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	// Incr and Decr on shared counters, with a context that can be
	// cancelled (flock is polled).
	wg.Go(func() {
		ctx := t.Context()
		for i := range mpIncrs {
			key := fmt.Sprintf("counter-%d", (i+id)%mpCounters)
			delta := int64(1 + (id*7+i)%5)
			var err error
			if i%4 == 3 {
				_, err = c.Decr(ctx, key, delta)
				delta = -delta
			} else {
				_, err = c.Incr(ctx, key, delta)
			}
			if err != nil {
				fail("Incr(%s, %d): %v", key, delta, err)
				continue
			}
			mu.Lock()
			res.Sums[key] += delta
			mu.Unlock()
		}
	})
	// Add on shared keys, with a context that cannot be cancelled (flock
	// waits in the kernel).
	wg.Go(func() {
		ctx := context.Background()
		for j := range mpAddKeys {
			added, err := c.Add(ctx, fmt.Sprintf("add-%d", j), id, djcache.Forever)
			if err != nil {
				fail("Add(add-%d): %v", j, err)
			}
			if added {
				mu.Lock()
				res.Won = append(res.Won, j)
				mu.Unlock()
			}
		}
	})
	// Set, Get and Touch of values from 256 B to 32 KB on shared keys.
	wg.Go(func() {
		ctx := t.Context()
		for i := range mpSGOps {
			key := fmt.Sprintf("sg-%d", (i*5+id)%mpSGKeys)
			switch i % 3 {
			case 0:
				if err := c.Set(ctx, key, pattern(byte(id*16+i), 1<<(8+(i+id)%8))); err != nil {
					fail("Set(%s): %v", key, err)
				}
			case 1:
				if _, err := c.Touch(ctx, key, djcache.Timeout(time.Hour)); err != nil {
					fail("Touch(%s): %v", key, err)
				}
				fallthrough
			default:
				v, found, err := djcache.Get[[]byte](ctx, c, key)
				switch {
				case err != nil:
					fail("Get(%s): %v", key, err)
				case found:
					mu.Lock()
					res.Reads++
					if !checkPattern(v) {
						res.Torn++
					}
					mu.Unlock()
				}
			}
		}
	})
	wg.Wait()
	b, err := json.Marshal(res)
	if err == nil {
		err = os.WriteFile(filepath.Join(work, fmt.Sprintf("result-%d.json", id)), b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}
