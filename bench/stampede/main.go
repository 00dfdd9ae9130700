// Command stampede measures GetOrSet's hot-key options under load, across
// processes, on any djcache backend: the measurements of djcache issue 12,
// written up with their results in ../stampede.md.
//
// It starts P worker processes (itself, re-executed), each running G
// goroutines that hammer ONE key with GetOrSet (timeout 1 s, a fill that
// sleeps 100 ms) for D seconds, every second call of a goroutine being a
// plain Get of another key (the baseline a Stale GetOrSet is held to).
// Each worker prints its counts as JSON; the parent merges and reports
// them.
//
//	go run ./stampede -url redis://127.0.0.1:6379 -scenario all
//	go run ./stampede -url postgres://postgres@127.0.0.1:5432/test -scenario fills -duration 20s
//
// Scenarios (-scenario, a comma-separated list of these or of run names):
//
//   - fills: fills against expiries, without options (fills/none) and with
//     FillLock(2s) (fills/lock). Targets: ≤ 1.1 fills per expiry with
//     the lock, ~P without.
//   - stale: Stale(30s), alone (stale) and with FillLock(2s)
//     (stale+lock). Targets: p99 of GetOrSet after the first second within
//     2× the p99 of the Get hit, and no call blocked on a fill after the
//     first one.
//   - errors: the fill fails for 5 s in the middle of the run, with
//     Stale(30s) (errors/stale; target 0 failed calls) and without options
//     (errors/none; failures counted).
//   - early: EarlyRefresh(1), alone (early; target: ≤ 1 % of calls
//     blocked on a fill) and with Stale(30s) (early+stale), where the
//     entry's fresh end is stored and XFetch can be seen at work, and
//     with FillLock(2s) (early+lock).
//
// A call is blocked on a fill when the value it returns was made by a fill
// that ended after the call started, and that fill ran inside a GetOrSet
// call (after a miss: the caller's own fill, a flight it joined, or the
// lock holder's fill in another process). It cannot have read that value
// without waiting for that fill. A call that returns the value of a
// background refresh stored after it started did not wait (without
// FillTimeout nothing waits for a refresh): it is counted apart, as a
// late reader. The coarser definition (the call's own fill ran inside it,
// or Stats().LockWaits grew during it) is reported too; it misses the
// callers that joined another goroutine's flight. Fills are grouped into expiries: a fill
// that starts later than timeout/2 after the end of the first fill of the
// current group starts a new one (the value it stored lives a whole
// timeout, so any fill of the same expiry starts before it is stored).
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/db"
	_ "github.com/djcache/djcache/backends/filebased"
	_ "github.com/djcache/djcache/backends/locmem"
	_ "github.com/djcache/djcache/backends/memcached"
	_ "github.com/djcache/djcache/backends/redis"
)

// run is one configuration of the hot-key options.
type run struct {
	name string
	opts hotOpts
	fail bool // the fill fails for -fail-for in the middle of the run
}

func runs(stale, lock time.Duration, early float64) map[string][]run {
	return map[string][]run{
		"fills":  {{name: "fills/none"}, {name: "fills/lock", opts: hotOpts{Lock: lock}}},
		"stale":  {{name: "stale", opts: hotOpts{Stale: stale}}, {name: "stale+lock", opts: hotOpts{Stale: stale, Lock: lock}}},
		"errors": {{name: "errors/stale", opts: hotOpts{Stale: stale}, fail: true}, {name: "errors/none", fail: true}},
		"early":  {{name: "early", opts: hotOpts{Early: early}}, {name: "early+stale", opts: hotOpts{Early: early, Stale: stale}}, {name: "early+lock", opts: hotOpts{Early: early, Lock: lock}}},
	}
}

var scenarioOrder = []string{"fills", "stale", "errors", "early"}

func main() {
	if spec := os.Getenv(workerEnv); spec != "" {
		if err := runWorker(spec); err != nil {
			fmt.Fprintln(os.Stderr, "stampede worker:", err)
			os.Exit(1)
		}
		return
	}
	var (
		rawURL    = flag.String("url", "", "the cache URL: redis://127.0.0.1:6379, memcached://127.0.0.1:11211, postgres://postgres@127.0.0.1:5432/test, mysql://root@127.0.0.1:3306/test, sqlite:///tmp/stampede.db, file:///tmp/stampede, locmem://")
		scenario  = flag.String("scenario", "all", "comma-separated: fills, stale, errors, early, all, or run names such as fills/lock")
		procs     = flag.Int("procs", 4, "worker processes P (1 for locmem, whose store is per process)")
		gor       = flag.Int("goroutines", 32, "goroutines G per process")
		duration  = flag.Duration("duration", 10*time.Second, "how long each run hammers the key (the issue says 20s)")
		timeout   = flag.Duration("timeout", time.Second, "the entries' timeout")
		fillTime  = flag.Duration("fill", 100*time.Millisecond, "how long a fill takes")
		failFor   = flag.Duration("fail-for", 5*time.Second, "errors scenario: how long the fill fails, centred in the run")
		stale     = flag.Duration("stale", 30*time.Second, "Stale(d) of the stale and errors scenarios")
		lock      = flag.Duration("lock", 2*time.Second, "FillLock(d) of the lock runs")
		early     = flag.Float64("early", 1, "EarlyRefresh(beta) of the early scenario")
		getEvery  = flag.Int("get-every", 2, "every n-th call of a goroutine is a plain Get of a stored key (0: none)")
		warmup    = flag.Duration("warmup", time.Second, "calls starting this long after the start count as steady")
		startWait = flag.Duration("start-delay", 2*time.Second, "time given to the workers to start and connect")
		jsonOut   = flag.String("json", "", "append each run's merged counts to this file, one JSON object a line")
	)
	flag.Parse()
	if *rawURL == "" {
		flag.Usage()
		os.Exit(2)
	}
	all := runs(*stale, *lock, *early)
	var todo []run
	for _, s := range strings.Split(*scenario, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "all":
			for _, name := range scenarioOrder {
				todo = append(todo, all[name]...)
			}
		case all[s] != nil:
			todo = append(todo, all[s]...)
		default:
			found := false
			for _, rs := range all {
				for _, r := range rs {
					if r.name == s {
						todo = append(todo, r)
						found = true
					}
				}
			}
			if !found {
				fatalf("unknown scenario or run %q", s)
			}
		}
	}
	u, err := url.Parse(*rawURL)
	if err != nil {
		fatalf("%v", err)
	}
	backend := strings.ToLower(u.Scheme)
	p := *procs
	if backend == "locmem" && p != 1 {
		fmt.Fprintf(os.Stderr, "locmem is per process: running 1 process instead of %d\n", p)
		p = 1
	}
	cfg := config{url: u, backend: backend, procs: p, goroutines: *gor, duration: *duration, timeout: *timeout,
		fill: *fillTime, failFor: *failFor, getEvery: *getEvery, warmup: *warmup, startDelay: *startWait}
	var rows []summary
	for _, r := range todo {
		s, err := cfg.do(r)
		if err != nil {
			fatalf("%s: %v", r.name, err)
		}
		s.print(os.Stdout)
		rows = append(rows, s)
		if *jsonOut != "" {
			appendJSON(*jsonOut, s)
		}
	}
	fmt.Println()
	printTable(os.Stdout, rows)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "stampede: "+format+"\n", args...)
	os.Exit(1)
}

type config struct {
	url                         *url.URL
	backend                     string
	procs, goroutines, getEvery int
	duration, timeout, fill     time.Duration
	failFor, warmup, startDelay time.Duration
}

var dbSchemes = map[string]bool{db.SchemeSQLite: true, db.SchemePostgres: true, db.SchemePostgreSQL: true, db.SchemeMySQL: true}

// do runs r: it prepares the storage, starts the workers, merges their
// results and cleans up.
func (cfg *config) do(r run) (summary, error) {
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix := "stampede-" + id
	u := *cfg.url
	q := u.RawQuery
	add := func(k, v string) {
		if q != "" {
			q += "&"
		}
		q += k + "=" + url.QueryEscape(v)
	}
	add("key_prefix", prefix)
	isDB := dbSchemes[cfg.backend]
	if isDB && !u.Query().Has("table") {
		add("table", "stampede_"+id)
		add("max_entries", "100000")
	}
	u.RawQuery = q
	ctx := context.Background()
	c, err := djcache.Open(u.String())
	if err != nil {
		return summary{}, err
	}
	defer c.Close()
	if isDB {
		d := c.Driver().(*db.Driver)
		if _, err := d.CreateTable(ctx); err != nil {
			return summary{}, fmt.Errorf("create table: %w", err)
		}
		defer func() {
			name := `"` + d.Table() + `"`
			if d.Dialect() == db.MySQL {
				name = "`" + d.Table() + "`"
			}
			if _, err := d.DB().Exec("DROP TABLE " + name); err != nil {
				fmt.Fprintln(os.Stderr, "drop table:", err)
			}
		}()
	}
	const key, control = "hot", "control"
	if err := c.Set(ctx, control, value(0, 0, 0), djcache.Forever); err != nil {
		return summary{}, fmt.Errorf("set the control key: %w", err)
	}
	defer func() {
		// Only this run's keys: never Clear a shared server.
		c.Delete(ctx, key)
		c.Delete(ctx, control)
		made := prefix + ":1:" + key
		c.Driver().Delete(ctx, made+":djcache-fill-lock")
	}()
	start := time.Now().Add(cfg.startDelay)
	j := job{URL: u.String(), Key: key, Control: control, Goroutines: cfg.goroutines, Start: start.UnixNano(),
		Duration: cfg.duration, Timeout: cfg.timeout, Fill: cfg.fill, Warmup: cfg.warmup, GetEvery: cfg.getEvery,
		CallLimit: 10 * time.Second, Opts: r.opts}
	if r.fail {
		mid := start.Add(cfg.duration / 2)
		j.FailFrom = mid.Add(-cfg.failFor / 2).UnixNano()
		j.FailTo = mid.Add(cfg.failFor / 2).UnixNano()
	}
	spec, err := json.Marshal(j)
	if err != nil {
		return summary{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return summary{}, err
	}
	results := make([]result, cfg.procs)
	errs := make([]error, cfg.procs)
	var wg sync.WaitGroup
	for i := range cfg.procs {
		wg.Go(func() {
			var out bytes.Buffer
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), workerEnv+"="+string(spec))
			cmd.Stdout = &out
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("worker %d: %w", i, err)
				return
			}
			errs[i] = json.Unmarshal(out.Bytes(), &results[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return summary{}, err
		}
	}
	return cfg.analyse(r, j, results), nil
}

// summary is one run's merged result.
type summary struct {
	Backend, Run, Options        string
	Procs, Goroutines            int
	Duration, Timeout, Fill      time.Duration
	MaxStartLag                  time.Duration
	Calls, Failed, FailedIn      uint64
	FailedOut                    uint64
	Errors                       map[string]uint64
	BadValues                    uint64
	Fills, SyncFills, FillErrors uint64 // counted by the fill function
	CancelledFills               uint64 // fills whose context ended (Close cancels a refresh in flight)
	Logged                       int64  // records the caches logged
	Expiries                     int    // groups of fills (see the package doc)
	Generations                  int    // distinct fill values that GetOrSet calls returned
	FillsPerGeneration           float64
	ExpectedExpiries             float64
	FillsPerExpiry               float64
	MaxFillsInExpiry             int
	Blocked, BlockedAfterFirst   uint64
	LateReaders                  uint64 // calls that read a refresh's value stored after they started (not blocked)
	BlockedShare, AfterShare     float64
	RanInside, LockGrew, Flagged uint64
	FlaggedShare                 float64
	Gets, GetMisses, GetErrors   uint64
	P50, P99, P999, Max          time.Duration // GetOrSet, every call
	SteadyP99, SteadyMax         time.Duration // GetOrSet calls starting after the warmup
	GetP50, GetP99, GetP999      time.Duration
	GetMax                       time.Duration
	SteadyP99OverGetP99          float64
	Stats                        djcache.Stats // summed over the workers
	Slow                         []slowCall    // the slowest steady calls, Start relative to the run's start
	Leaked                       int
	Stuck                        bool
}

func (cfg *config) analyse(r run, j job, rs []result) summary {
	s := summary{Backend: cfg.backend, Run: r.name, Options: r.opts.String(), Procs: cfg.procs, Goroutines: cfg.goroutines,
		Duration: cfg.duration, Timeout: cfg.timeout, Fill: cfg.fill, Errors: map[string]uint64{}}
	var fills []fillRec
	var gos, steady, get hist
	blockedBy := map[int64]uint64{}
	seen := map[int64]bool{}
	for _, x := range rs {
		s.MaxStartLag = max(s.MaxStartLag, x.StartLag)
		s.Calls += x.Calls
		s.Failed += x.Failed
		s.FailedIn += x.FailedIn
		s.BadValues += x.BadValues
		s.Blocked += x.Blocked
		s.RanInside += x.RanInside
		s.LockGrew += x.LockGrew
		s.Flagged += x.Flagged
		s.Gets += x.Gets
		s.GetMisses += x.GetMisses
		s.GetErrors += x.GetErrors
		for m, n := range x.Errors {
			s.Errors[m] += n
		}
		for e, n := range x.BlockedBy {
			t, _ := strconv.ParseInt(e, 10, 64)
			blockedBy[t] += n
		}
		fills = append(fills, x.Fills...)
		for _, e := range x.Seen {
			seen[e] = true
		}
		for _, sc := range x.Slow {
			sc.Start -= j.Start
			if sc.FillEnd != 0 {
				sc.FillEnd -= j.Start
			}
			s.Slow = append(s.Slow, sc)
		}
		gos.merge(x.Hist["gos"])
		steady.merge(x.Hist["steady"])
		get.merge(x.Hist["get"])
		s.Stats.Hits += x.Stats.Hits
		s.Stats.Misses += x.Stats.Misses
		s.Stats.Sets += x.Stats.Sets
		s.Stats.Errors += x.Stats.Errors
		s.Stats.Fills += x.Stats.Fills
		s.Stats.FillErrors += x.Stats.FillErrors
		s.Stats.StaleServed += x.Stats.StaleServed
		s.Stats.RefreshErrors += x.Stats.RefreshErrors
		s.Stats.EarlyRefreshes += x.Stats.EarlyRefreshes
		s.Stats.LockWaits += x.Stats.LockWaits
		s.Logged += x.Logged
		s.Leaked = max(s.Leaked, x.Leaked)
		s.Stuck = s.Stuck || x.Stuck
	}
	slices.SortFunc(s.Slow, func(a, b slowCall) int { return cmp.Compare(b.Latency, a.Latency) })
	s.Slow = s.Slow[:min(len(s.Slow), 5)]
	s.FailedOut = s.Failed - s.FailedIn
	slices.SortFunc(fills, func(a, b fillRec) int { return cmp.Compare(a.Start, b.Start) })
	s.Fills = uint64(len(fills))
	firstEnd := int64(0) // the end of the first expiry's last fill
	groupEnd, inGroup := int64(0), 0
	for i, f := range fills {
		if f.Sync {
			s.SyncFills++
		}
		if f.Err {
			s.FillErrors++
		}
		if f.Cancelled {
			s.CancelledFills++
		}
		if i == 0 || f.Start > groupEnd {
			s.Expiries++
			groupEnd = f.End + int64(cfg.timeout/2)
			inGroup = 0
		}
		inGroup++
		s.MaxFillsInExpiry = max(s.MaxFillsInExpiry, inGroup)
		if s.Expiries == 1 {
			firstEnd = max(firstEnd, f.End)
		}
	}
	if s.Expiries > 0 {
		s.FillsPerExpiry = float64(s.Fills) / float64(s.Expiries)
	}
	s.ExpectedExpiries = float64(cfg.duration) / float64(cfg.timeout+cfg.fill)
	s.Generations = len(seen)
	if s.Generations > 0 {
		s.FillsPerGeneration = float64(s.Fills) / float64(s.Generations)
	}
	// A call that returned a value made by a background refresh read it
	// after the refresh stored it: it did not wait for it (no run here
	// uses FillTimeout, the one way to wait for a refresh), it only
	// started before the refresh ended and read after. Only values of
	// fills that ran inside a call (a miss: its own, a flight's, or the
	// lock holder's in another process) mean a wait.
	inside := map[int64]bool{}
	for _, f := range fills {
		if f.Sync && !f.Err {
			inside[f.End] = true
		}
	}
	s.Blocked = 0
	for e, n := range blockedBy {
		if !inside[e] {
			s.LateReaders += n
			continue
		}
		s.Blocked += n
		if e > firstEnd {
			s.BlockedAfterFirst += n
		}
	}
	if s.Calls > 0 {
		s.BlockedShare = float64(s.Blocked) / float64(s.Calls)
		s.AfterShare = float64(s.BlockedAfterFirst) / float64(s.Calls)
		s.FlaggedShare = float64(s.Flagged) / float64(s.Calls)
	}
	s.P50, s.P99, s.P999, s.Max = gos.quantile(.5), gos.quantile(.99), gos.quantile(.999), gos.quantile(1)
	s.SteadyP99, s.SteadyMax = steady.quantile(.99), steady.quantile(1)
	s.GetP50, s.GetP99, s.GetP999, s.GetMax = get.quantile(.5), get.quantile(.99), get.quantile(.999), get.quantile(1)
	if s.GetP99 > 0 {
		s.SteadyP99OverGetP99 = float64(s.SteadyP99) / float64(s.GetP99)
	}
	return s
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s %s: %s; P=%d G=%d D=%v timeout=%v fill=%v (max start lag %v)\n",
		s.Backend, s.Run, s.Options, s.Procs, s.Goroutines, s.Duration, s.Timeout, s.Fill, s.MaxStartLag.Round(time.Millisecond))
	fmt.Fprintf(w, "GetOrSet calls %d (%.0f/s), failed %d (%d inside the fail window, %d outside), bad values %d\n",
		s.Calls, float64(s.Calls)/s.Duration.Seconds(), s.Failed, s.FailedIn, s.FailedOut, s.BadValues)
	for m, n := range s.Errors {
		fmt.Fprintf(w, "  error ×%d: %s\n", n, m)
	}
	fmt.Fprintf(w, "fills %d (inside a call %d, in the background %d, failed %d of which cancelled %d; Stats.Fills %d), expiries %d (D/(timeout+fill) = %.1f): %.2f fills per expiry, at most %d in one; values returned %d: %.2f fills per value\n",
		s.Fills, s.SyncFills, s.Fills-s.SyncFills, s.FillErrors, s.CancelledFills, s.Stats.Fills, s.Expiries, s.ExpectedExpiries, s.FillsPerExpiry, s.MaxFillsInExpiry, s.Generations, s.FillsPerGeneration)
	fmt.Fprintf(w, "blocked on a fill %d (%.3f%%), after the first expiry %d (%.3f%%); own fill ran inside %d, LockWaits grew %d, either %d (%.3f%%); read a refresh stored after they started %d\n",
		s.Blocked, 100*s.BlockedShare, s.BlockedAfterFirst, 100*s.AfterShare, s.RanInside, s.LockGrew, s.Flagged, 100*s.FlaggedShare, s.LateReaders)
	fmt.Fprintf(w, "Stats: hits %d misses %d sets %d errors %d fill errors %d stale served %d refresh errors %d early refreshes %d lock waits %d; log records %d\n",
		s.Stats.Hits, s.Stats.Misses, s.Stats.Sets, s.Stats.Errors, s.Stats.FillErrors, s.Stats.StaleServed, s.Stats.RefreshErrors, s.Stats.EarlyRefreshes, s.Stats.LockWaits, s.Logged)
	fmt.Fprintf(w, "GetOrSet p50 %v p99 %v p99.9 %v max %v; after the warmup p99 %v max %v | Get hit (%d, %d misses, %d errors) p50 %v p99 %v p99.9 %v max %v | steady p99 / Get p99 = %.2f\n",
		rd(s.P50), rd(s.P99), rd(s.P999), rd(s.Max), rd(s.SteadyP99), rd(s.SteadyMax), s.Gets, s.GetMisses, s.GetErrors, rd(s.GetP50), rd(s.GetP99), rd(s.GetP999), rd(s.GetMax), s.SteadyP99OverGetP99)
	for _, sc := range s.Slow {
		fmt.Fprintf(w, "  slow steady call: started at +%v, took %v, value filled until +%v, own fill %v %s\n",
			time.Duration(sc.Start).Round(time.Millisecond), rd(sc.Latency), time.Duration(sc.FillEnd).Round(time.Millisecond), sc.RanInside, sc.Err)
	}
	if s.Leaked > 0 || s.Stuck {
		fmt.Fprintf(w, "PROBLEM: %d goroutines outlived Close; stuck calls: %v\n", s.Leaked, s.Stuck)
	}
}

// rd rounds a latency for display.
func rd(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

func printTable(w io.Writer, rows []summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "backend\trun\tcalls\tfailed\tfills\texpiries\tfills/exp\tvalues\tfills/value\tblocked\tafter 1st\tshare\tp50\tp99\tsteady p99\tGet p99\tratio\t")
	for _, s := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%.2f\t%d\t%.2f\t%d\t%d\t%.3f%%\t%v\t%v\t%v\t%v\t%.2f\t\n",
			s.Backend, s.Run, s.Calls, s.Failed, s.Fills, s.Expiries, s.FillsPerExpiry, s.Generations, s.FillsPerGeneration, s.Blocked, s.BlockedAfterFirst,
			100*s.BlockedShare, rd(s.P50), rd(s.P99), rd(s.SteadyP99), rd(s.GetP99), s.SteadyP99OverGetP99)
	}
	tw.Flush()
}

func appendJSON(path string, s summary) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fatalf("%v", err)
	}
	defer f.Close()
	if err := json.NewEncoder(f).Encode(s); err != nil {
		fatalf("%v", err)
	}
}
