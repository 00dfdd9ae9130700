package db

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/djcache/djcache"
)

// The multi-process test runs this test binary again as child processes
// (TestProcessChild, told what to do by processEnv) that share one SQLite
// file, the way several workers of a service would.
const (
	processEnv   = "DJCACHE_DB_PROCESS_CHILD" // "<url>|<child id>"
	processes    = 4
	processIncrs = 100
	processAdds  = 20
)

// TestSQLiteProcesses: processes sharing a SQLite file never fail with
// "database is locked", every Incr counts, and each Add key has exactly one
// winner.
func TestSQLiteProcesses(t *testing.T) {
	if os.Getenv(processEnv) != "" {
		t.Skip("running as a child")
	}
	ctx := t.Context()
	url := "sqlite://" + t.TempDir() + "/shared.db?max_entries=100000"
	c, err := djcache.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "counter", 0, djcache.Forever); err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, processes)
	outs := make([]*bytes.Buffer, processes)
	for i := range cmds {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProcessChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", processEnv, url, i))
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	wins := make([]int, processAdds)
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(line), "WON "); ok {
				n, _ := strconv.Atoi(k)
				wins[n]++
			}
		}
	}
	got, _, err := djcache.Get[int](ctx, c, "counter")
	if err != nil || got != processes*processIncrs {
		t.Errorf("counter = %d, %v; want %d", got, err, processes*processIncrs)
	}
	for k, n := range wins {
		if n != 1 {
			t.Errorf("Add key %d: %d winners across processes, want 1", k, n)
		}
	}
}

// TestProcessChild is the child of TestSQLiteProcesses.
func TestProcessChild(t *testing.T) {
	env := os.Getenv(processEnv)
	if env == "" {
		t.Skip("run by TestSQLiteProcesses")
	}
	url, _, _ := strings.Cut(env, "|")
	c, err := djcache.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range processIncrs {
		if _, err := c.Incr(ctx, "counter", 1); err != nil {
			t.Fatalf("Incr %d: %v", i, err)
		}
		if i%(processIncrs/processAdds) == 0 {
			k := i / (processIncrs / processAdds)
			added, err := c.Add(ctx, "add"+strconv.Itoa(k), env)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if added {
				fmt.Printf("WON %d\n", k)
			}
		}
	}
}
