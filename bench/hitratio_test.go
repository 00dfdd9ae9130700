package bench

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tracesDir is where the trace files are: $DJCACHE_TRACES, or the shared
// directory beside the repository (the files are never copied into it).
func tracesDir() string {
	if d := os.Getenv("DJCACHE_TRACES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "traces")
}

type traceData struct {
	keys []string // one request per element
	err  error
}

var (
	traceMu    sync.Mutex // protects traceCache
	traceCache = map[string]*traceData{}
)

// loadTrace returns the requests of a trace file, read once per process.
// A missing file skips the benchmark.
func loadTrace(b *testing.B, file string) []string {
	traceMu.Lock()
	t, ok := traceCache[file]
	if !ok {
		t = new(traceData)
		t.keys, t.err = readTrace(filepath.Join(tracesDir(), file))
		traceCache[file] = t
	}
	traceMu.Unlock()
	if errors.Is(t.err, fs.ErrNotExist) {
		b.Skipf("trace %s not found (set DJCACHE_TRACES to the directory holding it): %v", file, t.err)
	}
	if t.err != nil {
		b.Fatal(t.err)
	}
	return t.keys
}

// readTrace reads a gzipped trace in either format: ARC (oltp: "start
// count ignored reqno", the keys start..start+count-1) or LIRS (gli: one
// key per line). Equal keys share one string.
func readTrace(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names := map[uint64]string{}
	name := func(k uint64) string {
		s, ok := names[k]
		if !ok {
			s = strconv.FormatUint(k, 10)
			names[k] = s
		}
		return s
	}
	var keys []string
	sc := bufio.NewScanner(zr)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		start, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		count := uint64(1)
		if len(fields) >= 2 { // ARC
			if count, err = strconv.ParseUint(fields[1], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		for k := start; k < start+count; k++ {
			keys = append(keys, name(k))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, zr.Close()
}

// The synthetic stream: hitZipfRequests requests over hitZipfKeys keys,
// Zipf with exponent zipfS, fixed seed.
const (
	hitZipfKeys     = 100_000
	hitZipfRequests = 1_000_000
)

var hitZipf = sync.OnceValue(func() []string {
	names := make([]string, hitZipfKeys)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), zipfS, 1, hitZipfKeys-1)
	keys := make([]string, hitZipfRequests)
	for i := range keys {
		keys[i] = names[z.Uint64()]
	}
	return keys
})

// hitMinRequests is the least number of requests per measurement: a
// shorter trace (Glimpse) is replayed several times, each time into a new
// cache, and the ratios averaged, because otter's and ristretto's ratios
// vary from replay to replay.
const hitMinRequests = 500_000

// BenchmarkHitRatio replays a request stream through each bounded engine,
// from empty, on one goroutine: a Get, and on a miss a Set of a 64-byte
// value. Each iteration replays the stream (several times if it is short,
// see hitMinRequests) into new caches. Metrics: hit%, the mean hit ratio;
// fill%, the mean number of entries held, sampled after every 16th insert,
// as a percentage of the capacity (above 100 means the engine holds more
// than its bound for a while, which raises its hit ratio); ns/req, the time
// per request. Run it with -benchtime 1x: one measurement is enough.
func BenchmarkHitRatio(b *testing.B) {
	cases := []struct {
		trace    string // file, or "zipf"
		capacity int
	}{
		{"oltp.gz", 250}, {"oltp.gz", 1000}, {"oltp.gz", 2000},
		{"gli.gz", 1000},
		{"zipf", 1000}, {"zipf", 10000},
	}
	for _, tc := range cases {
		name := strings.TrimSuffix(tc.trace, ".gz")
		if name == "gli" {
			name = "glimpse"
		}
		b.Run(fmt.Sprintf("trace=%s/cap=%d", name, tc.capacity), func(b *testing.B) {
			for _, m := range hitMakers[[]byte]() {
				b.Run("engine="+m.name, func(b *testing.B) {
					var keys []string
					if tc.trace == "zipf" {
						keys = hitZipf()
					} else {
						keys = loadTrace(b, tc.trace)
					}
					benchHitRatio(b, m, tc.capacity, keys)
				})
			}
		})
	}
}

func benchHitRatio(b *testing.B, m maker[[]byte], capacity int, keys []string) {
	val := bytes64(0)
	reps := max(1, (hitMinRequests+len(keys)-1)/len(keys))
	var (
		hits, requests int
		fill, samples  int
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for range reps {
			e := m.new(capacity)
			g := e.getter()
			inserts := 0
			for _, k := range keys {
				if _, ok := g.get(k); ok {
					hits++
					continue
				}
				e.set(k, val)
				if inserts++; inserts%16 == 0 {
					fill += e.len()
					samples++
				}
			}
			requests += len(keys)
			b.StopTimer()
			e.close()
			b.StartTimer()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(hits)/float64(requests)*100, "hit%")
	b.ReportMetric(float64(fill)/float64(max(samples, 1))/float64(capacity)*100, "fill%")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(requests), "ns/req")
}
