// Command outage measures how long a djcache Redis call takes to fail when
// the server is down. It starts a throwaway redis-server of its own (never
// a shared one), opens a cache on it through a redis:// URL, and times
// sequential Gets without a deadline in two outages:
//
//   - stopped: the server is SIGSTOPped, so it accepts connections (the
//     kernel does) but never answers: the read timeout decides;
//   - killed: the server is SIGKILLed, so every dial is refused: the dial
//     retries and the pool's dial circuit breaker decide.
//
// It prints the p50, p90, p99 and maximum latency of each, and what the errors
// were. The numbers in the package documentation of backends/redis come
// from
//
//	go run ./backends/redis/internal/outage
//
// Flags: -n (calls per outage, default 200), -port (default: a free one),
// -params (more URL parameters, such as "read_timeout=5s&max_retries=3",
// to measure other settings), -cluster (a one-node Redis Cluster that
// serves every slot, opened with cluster=true, instead of one server),
// -only (stopped or killed: measure one outage only).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/djcache/djcache"
	_ "github.com/djcache/djcache/backends/redis"
)

func main() {
	n := flag.Int("n", 200, "Get calls per outage")
	port := flag.Int("port", 0, "port of the throwaway redis-server (0: a free one)")
	params := flag.String("params", "", "more URL parameters, such as read_timeout=5s")
	cluster := flag.Bool("cluster", false, "measure a one-node Redis Cluster (cluster=true) instead of one server")
	only := flag.String("only", "", `"stopped" or "killed" to measure one outage only`)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("outage: ")
	if err := run(*n, *port, *params, *cluster, *only); err != nil {
		log.Fatal(err)
	}
}

// run starts the server, measures both outages and stops the server.
func run(n, port int, params string, cluster bool, only string) error {
	if port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	dir, err := os.MkdirTemp("", "djcache-outage")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", ""}
	if cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	}
	srv := exec.Command("redis-server", args...)
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGCONT)
		srv.Process.Kill()
		srv.Wait()
	}()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if !waitUp(addr) {
		return fmt.Errorf("redis-server did not come up on %s", addr)
	}
	raw := "redis://" + addr + "/0?key_prefix=outage"
	if cluster {
		if err := ownAllSlots(addr); err != nil {
			return err
		}
		raw = "redis://" + addr + "?cluster=true&key_prefix=outage"
	}
	if params != "" {
		raw += "&" + params
	}
	fmt.Printf("%s, %d sequential Gets without a deadline per outage, GOMAXPROCS=%d\n", raw, n, runtime.GOMAXPROCS(0))

	// Stopped: the server takes connections but does not answer.
	if only != "killed" {
		c, err := open(raw)
		if err != nil {
			return err
		}
		srv.Process.Signal(syscall.SIGSTOP)
		report("stopped (SIGSTOP)", measure(c, n))
		srv.Process.Signal(syscall.SIGCONT)
		c.Close()
	}
	if only == "stopped" {
		return nil
	}

	// Killed: every dial is refused.
	c, err := open(raw)
	if err != nil {
		return err
	}
	srv.Process.Kill()
	srv.Wait()
	report("killed (connection refused)", measure(c, n))
	return c.Close()
}

// ownAllSlots makes the server at addr a one-node cluster that serves
// every hash slot, and waits until it reports cluster_state:ok.
func ownAllSlots(addr string) error {
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if info, err := c.ClusterInfo(ctx).Result(); err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
	}
	return fmt.Errorf("the cluster node at %s did not reach cluster_state:ok", addr)
}

// waitUp waits up to 10s for addr to take connections.
func waitUp(addr string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			return true
		}
	}
	return false
}

// open opens a cache on raw and makes one successful call, so that the
// pool holds a connection when the outage starts.
func open(raw string) (*djcache.Cache, error) {
	c, err := djcache.Open(raw)
	if err != nil {
		return nil, err
	}
	if err := c.Set(context.Background(), "k", "v"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

type result struct {
	times []time.Duration
	kinds map[string]int
	first error
}

// measure makes n sequential Gets and times each.
func measure(c *djcache.Cache, n int) result {
	r := result{kinds: map[string]int{}}
	for range n {
		var v string
		start := time.Now()
		_, err := c.Get(context.Background(), "k", &v)
		r.times = append(r.times, time.Since(start))
		r.kinds[kind(err)]++
		if err != nil && r.first == nil {
			r.first = err
		}
	}
	return r
}

// kind classifies an error.
func kind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

func report(name string, r result) {
	t := slices.Clone(r.times)
	slices.Sort(t)
	pct := func(p float64) time.Duration { return t[min(len(t)-1, int(p*float64(len(t))))] }
	fmt.Printf("%-28s p50 %-8v p90 %-8v p99 %-8v max %-8v first call %-8v errors %v\n", name+":",
		pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), t[len(t)-1].Round(time.Millisecond),
		r.times[0].Round(time.Millisecond), r.kinds)
	if r.first != nil {
		fmt.Printf("%-28s first error: %v\n", "", r.first)
	}
}
