package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func benchFlags(fs *flag.FlagSet) {
	fs.Duration("duration", 5*time.Second, "how long to run")
	fs.Int("concurrency", 4, "goroutines issuing calls")
	fs.Int("keys", 1000, "distinct keys")
	fs.Int("value-size", 100, "value size in bytes")
	fs.Float64("reads", 0.9, "fraction of calls that are gets (the rest are sets)")
}

func flagValue[T any](fs *flag.FlagSet, name string) T {
	return fs.Lookup(name).Value.(flag.Getter).Get().(T)
}

// latencies collects one goroutine's call times.
type latencies struct{ get, set []time.Duration }

func cmdBench(ctx context.Context, e *env, fs *flag.FlagSet) error {
	if err := nargs(fs, 0, 0); err != nil {
		return err
	}
	duration := flagValue[time.Duration](fs, "duration")
	conc := flagValue[int](fs, "concurrency")
	nkeys := flagValue[int](fs, "keys")
	size := flagValue[int](fs, "value-size")
	reads := flagValue[float64](fs, "reads")
	if duration <= 0 || conc < 1 || nkeys < 1 || size < 0 || reads < 0 || reads > 1 {
		return usagef("want -duration > 0, -concurrency >= 1, -keys >= 1, -value-size >= 0, 0 <= -reads <= 1")
	}
	c, err := e.cache()
	if err != nil {
		return err
	}
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = "djcache-bench:" + strconv.Itoa(i)
	}
	value := make([]byte, size)
	rand.Read(value)
	defer c.DeleteMany(context.WithoutCancel(ctx), keys)

	// Fill the keys so that gets hit.
	for _, k := range keys {
		if err := c.Set(ctx, k, value); err != nil {
			return fmt.Errorf("filling the keys: %w", err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var (
		ops      atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
		results  = make([]latencies, conc)
	)
	start := time.Now()
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(g), 42))
			var dst []byte
			lat := &results[g]
			for ctx.Err() == nil {
				k := keys[r.IntN(len(keys))]
				t0 := time.Now()
				var err error
				isGet := r.Float64() < reads
				if isGet {
					_, err = c.Get(ctx, k, &dst)
				} else {
					err = c.Set(ctx, k, value)
				}
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ops.Add(1)
				if isGet {
					lat.get = append(lat.get, d)
				} else {
					lat.set = append(lat.set, d)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	progress(e, start, duration, &ops, done)
	elapsed := time.Since(start)

	var all latencies
	for _, l := range results {
		all.get = append(all.get, l.get...)
		all.set = append(all.set, l.set...)
	}
	total := ops.Load()
	u, _ := e.caches.URL(e.global.alias)
	if e.global.json {
		return writeJSON(e.stdout, map[string]any{
			"url": u, "seconds": elapsed.Seconds(), "ops": total, "ops_per_second": float64(total) / elapsed.Seconds(),
			"errors": errs.Load(), "get": percentiles(all.get), "set": percentiles(all.set),
		})
	}
	fmt.Fprintf(e.stdout, "%s: %d goroutines, %d keys, %d-byte values, %.0f%% gets, %v\n",
		u, conc, nkeys, size, reads*100, elapsed.Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "throughput: %.0f ops/s (%d ops, %d errors)\n", float64(total)/elapsed.Seconds(), total, errs.Load())
	fmt.Fprintf(e.stdout, "%-4s %10s %10s %10s %10s %10s %10s\n", "op", "calls", "p50", "p90", "p99", "p99.9", "max")
	for _, row := range []struct {
		name string
		d    []time.Duration
	}{{"get", all.get}, {"set", all.set}} {
		p := percentiles(row.d)
		fmt.Fprintf(e.stdout, "%-4s %10d %10v %10v %10v %10v %10v\n", row.name, len(row.d), p["p50"], p["p90"], p["p99"], p["p99.9"], p["max"])
	}
	if err, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(e.stdout, "first error: %v\n", err)
	}
	return nil
}

// percentiles returns the latency percentiles of d, rounded for reading.
func percentiles(d []time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	if len(d) == 0 {
		return out
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Microsecond / 10)
	}
	out["p50"], out["p90"], out["p99"], out["p99.9"], out["max"] = at(0.5), at(0.9), at(0.99), at(0.999), d[len(d)-1].Round(time.Microsecond/10)
	return out
}

// progress shows a progress bar on stderr until done: redrawn in place on
// a terminal, a line a second otherwise.
func progress(e *env, start time.Time, duration time.Duration, ops *atomic.Int64, done <-chan struct{}) {
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	interval := time.Second
	if tty {
		interval = 100 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	const width = 30
	line := func() string {
		el := time.Since(start)
		frac := min(1, float64(el)/float64(duration))
		bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
		return fmt.Sprintf("[%s] %4.1fs %d ops (%.0f ops/s)", bar, el.Seconds(), ops.Load(), float64(ops.Load())/el.Seconds())
	}
	for {
		select {
		case <-done:
			if tty {
				fmt.Fprintf(e.stderr, "\r%s\r", strings.Repeat(" ", width+40))
			} else {
				fmt.Fprintln(e.stderr, line())
			}
			return
		case <-tick.C:
			if tty {
				fmt.Fprintf(e.stderr, "\r%s", line())
			} else {
				fmt.Fprintln(e.stderr, line())
			}
		}
	}
}
