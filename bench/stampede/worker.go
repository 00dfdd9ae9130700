package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/djcache/djcache"
)

// job is what the parent tells each worker process (as JSON in the
// environment variable workerEnv).
type job struct {
	URL        string        // with key_prefix (and table) already set
	Key        string        // the hot key
	Control    string        // the plain key of the Get baseline, stored Forever by the parent
	Goroutines int           // G
	Start      int64         // Unix ns: when every worker starts hammering
	Duration   time.Duration // D
	Timeout    time.Duration // the entries' timeout (1 s)
	Fill       time.Duration // how long the fill sleeps (100 ms)
	FailFrom   int64         // Unix ns: the fill fails from FailFrom ...
	FailTo     int64         // ... to FailTo; both 0: never
	Warmup     time.Duration // calls starting this long after Start are "steady"
	GetEvery   int           // every GetEvery-th call of a goroutine is a plain Get (0: none)
	CallLimit  time.Duration // each call's context deadline: a stuck call shows as a failure
	Opts       hotOpts
}

// hotOpts are the hot-key options of a run.
type hotOpts struct {
	Stale      time.Duration `json:",omitempty"`
	Lock       time.Duration `json:",omitempty"`
	Early      float64       `json:",omitempty"`
	RetryAfter time.Duration `json:",omitempty"`
}

func (o hotOpts) options(timeout time.Duration) []djcache.Option {
	opts := []djcache.Option{djcache.Timeout(timeout)}
	if o.Stale > 0 {
		opts = append(opts, djcache.Stale(o.Stale))
	}
	if o.Lock > 0 {
		opts = append(opts, djcache.FillLock(o.Lock))
	}
	if o.Early > 0 {
		opts = append(opts, djcache.EarlyRefresh(o.Early))
	}
	if o.RetryAfter > 0 {
		opts = append(opts, djcache.RetryAfter(o.RetryAfter))
	}
	return opts
}

func (o hotOpts) String() string {
	var s []string
	for _, opt := range o.options(0)[1:] {
		s = append(s, opt.String())
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "+")
}

// fillRec is one call of the fill function.
type fillRec struct {
	Start, End int64 // Unix ns
	Err        bool  // the fill returned an error (the fail window, or a cancelled context)
	Cancelled  bool  // its context ended (Close cancels a refresh in flight)
	Sync       bool  // it ended before the GetOrSet call that passed it returned
}

// result is what a worker prints on stdout when it is done.
type result struct {
	Pid       int
	StartLag  time.Duration // how late this worker began (it opened the cache after Start)
	Calls     uint64        // GetOrSet calls
	Failed    uint64        // GetOrSet calls that returned an error
	FailedIn  uint64        // ... that started inside the fail window
	Errors    map[string]uint64
	BadValues uint64 // GetOrSet values that are not a fill's value
	// Blocked counts GetOrSet calls that returned a value whose fill ended
	// after the call started, BlockedBy by that fill's end; the parent
	// keeps those whose fill ran inside a call (see the package doc).
	Blocked   uint64
	BlockedBy map[string]uint64
	// RanInside counts calls whose own fill function ran and ended inside
	// the call; LockGrew calls during which Stats().LockWaits grew (only
	// measured with FillLock). Together they are the coarser definition of
	// a blocked call (Flagged: either one).
	RanInside, LockGrew, Flagged uint64
	Gets, GetMisses, GetErrors   uint64
	Seen                         []int64 // the ends of the fills whose values GetOrSet returned: the stored generations
	Fills                        []fillRec
	Stats                        djcache.Stats
	Hist                         map[string]sparse // "gos", "steady", "get"
	Logged                       int64             // records logged by the cache (failed refreshes)
	Slow                         []slowCall        // the slowest steady GetOrSet calls (at most 10 per process)
	Leaked                       int               // goroutines after Close minus before the first GetOrSet
	Stuck                        bool              // goroutines still in calls 30 s after the end
}

const workerEnv = "STAMPEDE_WORKER"

var errDown = errors.New("stampede: the database is down (injected fault)")

// worker is the state of one worker process.
type worker struct {
	j     job
	c     *djcache.Cache
	opts  []djcache.Option
	pid   int
	seq   atomic.Int64
	mu    sync.Mutex // protects fills
	fills []fillRec
}

// perCall is the state of one GetOrSet call, shared with its fill.
type perCall struct {
	returned  atomic.Bool
	ranInside atomic.Bool
}

// value is a fill's value: its end time first, so that a caller can tell
// whether it waited for it, then who made it; padded to 64 bytes.
func value(end int64, pid int, seq int64) string {
	s := fmt.Sprintf("e=%d;p=%d;s=%d;", end, pid, seq)
	if len(s) < 64 {
		s += strings.Repeat(".", 64-len(s))
	}
	return s
}

// fillEnd reads the end time out of a fill's value.
func fillEnd(v string) (int64, bool) {
	if !strings.HasPrefix(v, "e=") {
		return 0, false
	}
	i := strings.IndexByte(v, ';')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(v[2:i], 10, 64)
	return n, err == nil
}

// fill is the expensive query: it sleeps j.Fill and counts itself.
func (w *worker) fill(ctx context.Context, pc *perCall) (any, error) {
	start := time.Now()
	t := time.NewTimer(w.j.Fill)
	var err error
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		err = ctx.Err()
	}
	end := time.Now()
	if err == nil && w.j.FailTo != 0 && start.UnixNano() >= w.j.FailFrom && start.UnixNano() < w.j.FailTo {
		err = errDown
	}
	inside := !pc.returned.Load()
	if inside {
		pc.ranInside.Store(true)
	}
	w.mu.Lock()
	w.fills = append(w.fills, fillRec{Start: start.UnixNano(), End: end.UnixNano(), Err: err != nil, Cancelled: err != nil && err != errDown, Sync: inside})
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return value(end.UnixNano(), w.pid, w.seq.Add(1)), nil
}

// slowCall describes one slow GetOrSet call, to explain a latency tail.
type slowCall struct {
	Start     int64         // Unix ns
	Latency   time.Duration //
	FillEnd   int64         // the end of the fill whose value it returned (0: an error)
	RanInside bool          // its own fill ran inside it
	Err       string        `json:",omitempty"`
}

// gstate is one goroutine's tally, merged at the end.
type gstate struct {
	calls, failed, failedIn, bad, blocked uint64
	ranInside, lockGrew, flagged          uint64
	gets, getMisses, getErrors            uint64
	blockedBy                             map[int64]uint64
	seen                                  map[int64]bool // the fills whose values this goroutine returned
	errs                                  map[string]uint64
	gos, steady, get                      hist
	slow                                  []slowCall // steady calls over slowAt
}

// slowAt is the latency above which a steady call is recorded.
const slowAt = 20 * time.Millisecond

func (w *worker) hammer(g *gstate, end time.Time) {
	ctx := context.Background()
	j := w.j
	steadyFrom := time.Unix(0, j.Start).Add(j.Warmup)
	lock := j.Opts.Lock > 0
	for i := 0; ; i++ {
		t0 := time.Now()
		if !t0.Before(end) {
			return
		}
		if j.GetEvery > 0 && i%j.GetEvery == j.GetEvery-1 {
			var s string
			cctx, cancel := context.WithTimeout(ctx, j.CallLimit)
			found, err := w.c.Get(cctx, j.Control, &s)
			lat := time.Since(t0)
			cancel()
			switch {
			case err != nil:
				g.getErrors++
			case !found:
				g.getMisses++
			default:
				g.gets++
				g.get.add(lat)
			}
			continue
		}
		pc := &perCall{}
		fill := func(ctx context.Context) (any, error) { return w.fill(ctx, pc) }
		var lw0 uint64
		if lock {
			lw0 = w.c.Stats().LockWaits
		}
		var s string
		cctx, cancel := context.WithTimeout(ctx, j.CallLimit)
		t0 = time.Now()
		err := w.c.GetOrSet(cctx, j.Key, &s, fill, w.opts...)
		lat := time.Since(t0)
		pc.returned.Store(true)
		cancel()
		g.calls++
		g.gos.add(lat)
		if !t0.Before(steadyFrom) {
			g.steady.add(lat)
		}
		ran := pc.ranInside.Load()
		if lat >= slowAt && !t0.Before(steadyFrom) && len(g.slow) < 10 {
			sc := slowCall{Start: t0.UnixNano(), Latency: lat, RanInside: ran}
			if err != nil {
				sc.Err = err.Error()
			} else {
				sc.FillEnd, _ = fillEnd(s)
			}
			g.slow = append(g.slow, sc)
		}
		grew := lock && w.c.Stats().LockWaits > lw0
		if ran {
			g.ranInside++
		}
		if grew {
			g.lockGrew++
		}
		if ran || grew {
			g.flagged++
		}
		if err != nil {
			g.failed++
			if j.FailTo != 0 && t0.UnixNano() >= j.FailFrom && t0.UnixNano() < j.FailTo {
				g.failedIn++
			}
			msg := err.Error()
			if len(msg) > 160 {
				msg = msg[:160]
			}
			if len(g.errs) < 5 || g.errs[msg] > 0 {
				g.errs[msg]++
			}
			continue
		}
		e, ok := fillEnd(s)
		if !ok {
			g.bad++
			continue
		}
		if !g.seen[e] {
			g.seen[e] = true
		}
		if e > t0.UnixNano() {
			g.blocked++
			g.blockedBy[e]++
		}
	}
}

// runWorker is the worker process: it hammers the key and prints its result.
func runWorker(spec string) error {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return err
	}
	logged := &countingHandler{}
	c, err := djcache.Open(j.URL, &djcache.Options{Logger: slog.New(logged)})
	if err != nil {
		return err
	}
	w := &worker{j: j, c: c, opts: j.Opts.options(j.Timeout), pid: os.Getpid()}
	// The parent stored the control key; a locmem store is this process's
	// own, so store it here too (Add: the same value either way).
	if _, err := c.Add(context.Background(), j.Control, value(0, 0, 0), djcache.Forever); err != nil {
		return err
	}
	// Warm a connection per goroutine before the start, so that dialling
	// is not measured.
	var wg sync.WaitGroup
	for range j.Goroutines {
		wg.Go(func() {
			var s string
			c.Get(context.Background(), j.Control, &s)
		})
	}
	wg.Wait()
	// The goroutines running now (the driver's pool, a locmem store's
	// clock) may stay; any more after Close outlived it.
	before := runtime.NumGoroutine()
	start := time.Unix(0, j.Start)
	lag := time.Duration(0)
	if d := time.Until(start); d > 0 {
		time.Sleep(d)
	} else {
		lag = -d
	}
	end := start.Add(j.Duration)
	gs := make([]*gstate, j.Goroutines)
	for i := range gs {
		g := &gstate{blockedBy: map[int64]uint64{}, seen: map[int64]bool{}, errs: map[string]uint64{}}
		gs[i] = g
		wg.Go(func() { w.hammer(g, end) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	r := result{Pid: w.pid, StartLag: lag, Errors: map[string]uint64{}, BlockedBy: map[string]uint64{}, Hist: map[string]sparse{}}
	select {
	case <-done:
	case <-time.After(time.Until(end) + 30*time.Second):
		// A call that outlives its own deadline by this much is stuck:
		// show where, and report what was counted.
		r.Stuck = true
		buf := make([]byte, 1<<22)
		fmt.Fprintf(os.Stderr, "worker %d: calls still running 30 s after the end:\n%s\n", w.pid, buf[:runtime.Stack(buf, true)])
	}
	if !r.Stuck {
		c.Close() // waits for background refreshes
	}
	r.Stats = c.Stats()
	r.Logged = logged.n.Load()
	var gos, steady, get hist
	for _, g := range gs {
		r.Calls += g.calls
		r.Failed += g.failed
		r.FailedIn += g.failedIn
		r.BadValues += g.bad
		r.Blocked += g.blocked
		r.RanInside += g.ranInside
		r.LockGrew += g.lockGrew
		r.Flagged += g.flagged
		r.Gets += g.gets
		r.GetMisses += g.getMisses
		r.GetErrors += g.getErrors
		for e, n := range g.blockedBy {
			r.BlockedBy[strconv.FormatInt(e, 10)] += n
		}
		r.Slow = append(r.Slow, g.slow...)
		for e := range g.seen {
			if !slices.Contains(r.Seen, e) {
				r.Seen = append(r.Seen, e)
			}
		}
		for m, n := range g.errs {
			r.Errors[m] += n
		}
		for i := range gos {
			gos[i] += g.gos[i]
			steady[i] += g.steady[i]
			get[i] += g.get[i]
		}
	}
	slices.SortFunc(r.Slow, func(a, b slowCall) int { return cmp.Compare(b.Latency, a.Latency) })
	r.Slow = r.Slow[:min(len(r.Slow), 10)]
	r.Hist["gos"], r.Hist["steady"], r.Hist["get"] = gos.sparse(), steady.sparse(), get.sparse()
	w.mu.Lock()
	r.Fills = w.fills
	w.mu.Unlock()
	if !r.Stuck {
		// Idle connections and timers wind down; give them a moment.
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		r.Leaked = runtime.NumGoroutine() - before
		if r.Leaked > 0 {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "worker %d: %d goroutines after Close:\n%s\n", w.pid, r.Leaked, buf[:runtime.Stack(buf, true)])
		}
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// countingHandler counts the cache's log records (the failed background
// refreshes) instead of printing one line each.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
