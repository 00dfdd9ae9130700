package bench

import (
	"context"
	"database/sql"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/db"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
	"github.com/djcache/djcache/internal/testenv"
)

// The SQL benchmarks put djcache's db backend and database/sql side by side
// on the same *sql.DB, table and rows: each "X/djcache" has an "X/sql" twin
// that runs the same statement (prepared once, as a careful user would)
// with the same arguments and scans the same columns, without djcache's
// layers (key making, encoding, base64, culling bookkeeping). The ratio of
// the two is djcache's overhead (target: at most 1.2). See db.md.

const dbHowTo = "run .ci/services as root to start PostgreSQL on 5432 and MariaDB on 3306 (database test)"

const dbBenchValue = "a short value of about forty bytes......."

type dbEngine struct {
	name    string
	dialect db.Dialect
	addr    string
	url     func(b *testing.B, table string) string
}

var dbEngines = []dbEngine{
	{"sqlite", db.SQLite, "", func(b *testing.B, table string) string {
		return "sqlite://" + b.TempDir() + "/bench.db?table=" + table
	}},
	{"postgres", db.PostgreSQL, "127.0.0.1:5432", func(b *testing.B, table string) string {
		return "postgres://postgres@127.0.0.1:5432/test?table=" + table
	}},
	{"mysql", db.MySQL, "127.0.0.1:3306", func(b *testing.B, table string) string {
		return "mysql://root@127.0.0.1:3306/test?table=" + table
	}},
}

// openDBBench opens a cache on a new table of e (big enough never to
// cull), dropped when the benchmark ends.
func openDBBench(b *testing.B, e dbEngine) (*djcache.Cache, *db.Driver) {
	if e.addr != "" {
		testenv.NeedTCP(b, e.name, e.addr, dbHowTo)
	}
	table := "djcache_bench_" + strings.ReplaceAll(benchPrefix()[len("djcache-bench-"):], "-", "")
	c, err := djcache.Open(e.url(b, table) + "&max_entries=1000000")
	if err != nil {
		b.Fatal(err)
	}
	d := c.Driver().(*db.Driver)
	if _, err := d.CreateTable(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		d.DB().Exec("DROP TABLE " + quoteDB(e.dialect, table))
		c.Close()
	})
	return c, d
}

func quoteDB(d db.Dialect, name string) string {
	if d == db.MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}

// placeholders numbers the ? of a statement for PostgreSQL.
func placeholders(d db.Dialect, s string) string {
	if d != db.PostgreSQL {
		return s
	}
	var out strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			out.WriteString("$" + strconv.Itoa(n))
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}

// timeArg is how djcache passes a time to the database: a time.Time for
// PostgreSQL, Django's text for the others.
func timeArg(d db.Dialect, t time.Time) any {
	t = t.Truncate(time.Second).UTC()
	if d == db.PostgreSQL {
		return t
	}
	return t.Format("2006-01-02 15:04:05")
}

// BenchmarkDB runs each pair as ordinary benchmarks, X/djcache and X/sql,
// with allocations, for benchstat.
func BenchmarkDB(b *testing.B) {
	for _, e := range dbEngines {
		b.Run(e.name, func(b *testing.B) {
			pairs := newDBFixture(b, e).pairs(b)
			for _, name := range dbPairNames {
				for i, side := range []string{"djcache", "sql"} {
					f := pairs[name][i]
					b.Run(name+"/"+side, func(b *testing.B) {
						b.ReportAllocs()
						for b.Loop() {
							f()
						}
					})
				}
			}
		})
	}
}

// BenchmarkDBPaired makes one djcache call and its sql twin per iteration,
// alternating their order, and reports the median time of each and their
// ratio: on a shared machine, separate runs of the two sides drift far more
// than the overhead being measured.
func BenchmarkDBPaired(b *testing.B) {
	for _, e := range dbEngines {
		b.Run(e.name, func(b *testing.B) {
			pairs := newDBFixture(b, e).pairs(b)
			for _, name := range dbPairNames {
				dj, raw := pairs[name][0], pairs[name][1]
				b.Run(name, func(b *testing.B) {
					var tdj, traw []time.Duration
					odd := false
					for b.Loop() {
						first, second := dj, raw
						if odd {
							first, second = raw, dj
						}
						t0 := time.Now()
						first()
						t1 := time.Now()
						second()
						t2 := time.Now()
						if odd {
							traw, tdj = append(traw, t1.Sub(t0)), append(tdj, t2.Sub(t1))
						} else {
							tdj, traw = append(tdj, t1.Sub(t0)), append(traw, t2.Sub(t1))
						}
						odd = !odd
					}
					mdj, mraw := dbMedian(tdj), dbMedian(traw)
					b.ReportMetric(float64(mdj.Nanoseconds())/1e3, "djcache-µs")
					b.ReportMetric(float64(mraw.Nanoseconds())/1e3, "sql-µs")
					b.ReportMetric(float64(mdj)/float64(mraw), "ratio")
				})
			}
		})
	}
}

func dbMedian(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// dbFixture is a Cache on a table of its own holding 100 entries, and the
// *sql.DB under it.
type dbFixture struct {
	e     dbEngine
	c     *djcache.Cache
	d     *db.Driver
	sqlDB *sql.DB
	keys  []string // the caller's keys
	made  []any    // the same keys as stored (made keys)
	items map[string]any
}

func newDBFixture(b *testing.B, e dbEngine) *dbFixture {
	ctx := context.Background()
	c, d := openDBBench(b, e)
	f := &dbFixture{e: e, c: c, d: d, sqlDB: d.DB(), keys: make([]string, 100), made: make([]any, 100), items: map[string]any{}}
	for i := range f.keys {
		f.keys[i] = "k" + strconv.Itoa(i)
		f.made[i] = djcache.DefaultKeyFunc(f.keys[i], "", 1)
		f.items[f.keys[i]] = dbBenchValue
	}
	if _, err := c.SetMany(ctx, f.items, djcache.Timeout(time.Hour)); err != nil {
		b.Fatal(err)
	}
	// Warm up: SQLite's WAL file grows to its checkpoint size and the
	// servers fill their caches, so that whichever twin runs first does not
	// pay for it.
	for i := range 2000 {
		if err := c.Set(ctx, "set", dbBenchValue); err != nil {
			b.Fatal(err)
		}
		if i%20 == 0 {
			if _, err := c.SetMany(ctx, f.items, djcache.Timeout(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return f
}

// dbPairNames are the pairs, in the order they run.
var dbPairNames = []string{"Get", "Set", "GetMany100", "GetMany100-driver", "SetMany100", "SetMany100-driver"}

// pairs returns the calls of each pair, djcache's first. The sql twin runs
// the statement djcache runs (prepared once, as a careful user would), with
// the same arguments, and scans the same columns, without djcache's layers
// (key making, encoding, base64, culling bookkeeping).
func (f *dbFixture) pairs(b *testing.B) map[string][2]func() {
	ctx := context.Background()
	e := f.e
	q := func(s string) string {
		r := strings.NewReplacer("{t}", quoteDB(e.dialect, f.d.Table()), "{k}", quoteDB(e.dialect, "cache_key"),
			"{v}", quoteDB(e.dialect, "value"), "{e}", quoteDB(e.dialect, "expires"))
		return placeholders(e.dialect, r.Replace(s))
	}
	prepare := func(s string) *sql.Stmt {
		st, err := f.sqlDB.PrepareContext(ctx, q(s))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	const n = 100
	// The value column djcache writes for dbBenchValue (kind tag 0x02).
	stored := base64.StdEncoding.EncodeToString(append([]byte{2}, dbBenchValue...))
	now := func() any { return timeArg(e.dialect, time.Now()) }
	exp := func() any { return timeArg(e.dialect, time.Now().Add(301*time.Second)) }

	inList := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	upsert := " ON CONFLICT ({k}) DO UPDATE SET {v} = excluded.{v}, {e} = excluded.{e}"
	if e.dialect == db.MySQL {
		upsert = " ON DUPLICATE KEY UPDATE {v} = VALUES({v}), {e} = VALUES({e})"
	}
	getStmt := prepare("SELECT {v}, {e} > ? FROM {t} WHERE {k} = ?")
	setStmt := prepare("INSERT INTO {t} ({k}, {v}, {e}) VALUES (?, ?, ?)" + upsert)
	getManyStmt := prepare("SELECT {k}, {v}, {e} > ? FROM {t} WHERE {k} IN " + inList)
	setManyStmt := prepare("INSERT INTO {t} ({k}, {v}, {e}) VALUES " + strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", n), ", ") + upsert)
	setKey := djcache.DefaultKeyFunc("set", "", 1)
	madeStrings := make([]string, n)
	for i, k := range f.made {
		madeStrings[i] = k.(string)
	}

	sqlGetMany := func() {
		args := make([]any, 0, n+1)
		args = append(args, now())
		args = append(args, f.made...)
		rows, err := getManyStmt.QueryContext(ctx, args...)
		if err != nil {
			b.Fatal(err)
		}
		m := make(map[string][]byte, n)
		for rows.Next() {
			var (
				k    string
				v    []byte
				live bool
			)
			if err := rows.Scan(&k, &v, &live); err != nil {
				b.Fatal(err)
			}
			if live {
				m[k] = v
			}
		}
		if err := rows.Close(); err != nil || len(m) != n {
			b.Fatal(len(m), err)
		}
	}
	sqlSetMany := func() {
		args := make([]any, 0, 3*n)
		x := exp()
		for _, k := range f.made {
			args = append(args, k, stored, x)
		}
		if _, err := setManyStmt.ExecContext(ctx, args...); err != nil {
			b.Fatal(err)
		}
	}
	encoded := append([]byte{2}, dbBenchValue...) // djcache's encoding of dbBenchValue
	return map[string][2]func(){
		"Get": {
			func() {
				var s string
				if found, err := f.c.Get(ctx, f.keys[0], &s); err != nil || !found {
					b.Fatal(found, err)
				}
			},
			func() {
				var (
					v    []byte
					live bool
				)
				if err := getStmt.QueryRowContext(ctx, now(), f.made[0]).Scan(&v, &live); err != nil || !live {
					b.Fatal(live, err)
				}
			},
		},
		"Set": {
			func() {
				if err := f.c.Set(ctx, "set", dbBenchValue); err != nil {
					b.Fatal(err)
				}
			},
			func() {
				if _, err := setStmt.ExecContext(ctx, setKey, stored, exp()); err != nil {
					b.Fatal(err)
				}
			},
		},
		"GetMany100": {
			func() {
				m, err := djcache.GetMany[string](ctx, f.c, f.keys)
				if err != nil || len(m) != n {
					b.Fatal(len(m), err)
				}
			},
			sqlGetMany,
		},
		// The driver alone, on made keys, into a map[string][]byte: where
		// the time of GetMany100 goes.
		"GetMany100-driver": {
			func() {
				m, err := f.d.GetMany(ctx, madeStrings)
				if err != nil || len(m) != n {
					b.Fatal(len(m), err)
				}
			},
			sqlGetMany,
		},
		"SetMany100": {
			func() {
				if failed, err := f.c.SetMany(ctx, f.items); err != nil || len(failed) > 0 {
					b.Fatal(failed, err)
				}
			},
			sqlSetMany,
		},
		// The driver alone, on made keys and encoded values: where the time
		// of SetMany100 goes.
		"SetMany100-driver": {
			func() {
				items := make([]driver.Item, n)
				x := time.Now().Add(300 * time.Second)
				for i, k := range madeStrings {
					items[i] = driver.Item{Key: k, Value: encoded, Expires: x}
				}
				if failed, err := f.d.SetMany(ctx, items); err != nil || len(failed) > 0 {
					b.Fatal(failed, err)
				}
			},
			sqlSetMany,
		},
	}
}

// BenchmarkDBKit runs the conformance kit's standard benchmarks on each
// engine, for comparison with the other backends.
func BenchmarkDBKit(b *testing.B) {
	for _, e := range dbEngines {
		b.Run(e.name, func(b *testing.B) {
			c, _ := openDBBench(b, e)
			djcachetest.RunBenchmarks(b, c)
		})
	}
}
