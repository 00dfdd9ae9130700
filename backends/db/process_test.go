package db

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// The first-call test: processes that make their first calls on a new
// SQLite file at the same instant.
const (
	firstCallEnv        = "DJCACHE_DB_FIRSTCALL_CHILD" // "<dir>|<trials>|<start, Unix ns>|<step, ns>|<child id>"
	firstCallTrials     = 120
	firstCallGoroutines = 50
	firstCallStep       = 50 * time.Millisecond
)

// TestSQLiteFirstCallProcesses: processes whose first calls on a new
// SQLite file come at the same instant (the table check and creation, the
// switch to WAL) wait for each other instead of failing with "database is
// locked", and each Add key has one winner. Each trial is a new file,
// which processes × goroutines Add to at once; the trials are spread on a
// schedule that the children share.
func TestSQLiteFirstCallProcesses(t *testing.T) {
	if os.Getenv(processEnv) != "" || os.Getenv(firstCallEnv) != "" {
		t.Skip("running as a child")
	}
	dir := t.TempDir()
	// The children start their first trial together, after they all had
	// time to start.
	start := time.Now().Add(time.Second).UnixNano()
	cmds := make([]*exec.Cmd, processes)
	outs := make([]*bytes.Buffer, processes)
	for i := range cmds {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSQLiteFirstCallChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d|%d|%d", firstCallEnv, dir, firstCallTrials, start, firstCallStep, i))
		outs[i] = new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	wins := make([]int, firstCallTrials)
	var failures []string
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			line = strings.TrimSpace(line)
			if k, ok := strings.CutPrefix(line, "WON "); ok {
				n, _ := strconv.Atoi(k)
				wins[n]++
			}
			if msg, ok := strings.CutPrefix(line, "FAILED "); ok {
				failures = append(failures, fmt.Sprintf("child %d: %s", i, msg))
			}
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d first calls failed, such as:\n%s", len(failures), strings.Join(failures[:min(len(failures), 5)], "\n"))
	}
	for k, n := range wins {
		if n != 1 {
			t.Errorf("trial %d: %d winners of Add across processes, want 1", k, n)
		}
	}
}

// TestSQLiteFirstCallChild is a child of TestSQLiteFirstCallProcesses. It
// reports each failed call as a line "FAILED <trial>: <error>" and its
// wins as "WON <trial>".
func TestSQLiteFirstCallChild(t *testing.T) {
	env := os.Getenv(firstCallEnv)
	if env == "" {
		t.Skip("run by TestSQLiteFirstCallProcesses")
	}
	f := strings.Split(env, "|")
	dir := f[0]
	trials, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseInt(f[2], 10, 64)
	step, _ := strconv.ParseInt(f[3], 10, 64)
	ctx := context.Background()
	for trial := range trials {
		c, err := djcache.Open(fmt.Sprintf("sqlite://%s/trial%d.db", dir, trial))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Unix(0, start+int64(trial)*step)))
		var (
			wg  sync.WaitGroup
			won atomic.Int32
		)
		errs := make(chan error, firstCallGoroutines)
		for range firstCallGoroutines {
			wg.Go(func() {
				added, err := c.Add(ctx, "k", f[4])
				if err != nil {
					errs <- err
				}
				if added {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			fmt.Printf("FAILED %d: %v\n", trial, err)
		}
		for range won.Load() {
			fmt.Printf("WON %d\n", trial)
		}
		c.Close()
	}
}
