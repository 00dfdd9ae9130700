package bench

// Benchmarks of the filebased backend (results in filebased.md). Each
// operation is measured through *djcache.Cache and next to its floor: the
// same file operation done with plain os calls (read the file; write a
// temporary file and rename it), so that the ratio shows what djcache adds
// (hashing, the container, zlib, locking) to the system calls it cannot
// avoid.

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	kzlib "github.com/klauspost/compress/zlib"
	"golang.org/x/sys/unix"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/filebased"
	"github.com/djcache/djcache/djcachetest"
	"github.com/djcache/djcache/driver"
)

// fbText returns n bytes of text-like data (words from a small
// vocabulary, fixed seed), which zlib compresses about 3x, like HTML or
// JSON fragments.
func fbText(n int) []byte {
	words := []string{"the", "cache", "django", "value", "<div>", "</div>", "class=\"row\"", "user", "id", "42", "name", "\"title\":", "{", "}", "lorem", "ipsum", "item", "price", "9.99", "\n"}
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

// fbRandom returns n incompressible bytes (fixed seed).
func fbRandom(n int) []byte {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var fbSizes = []struct {
	name  string
	value []byte
}{
	{"100B", fbText(100)},
	{"100KB", fbText(100 << 10)},
	{"100KB-random", fbRandom(100 << 10)},
}

func fbOpen(b *testing.B, query string) *djcache.Cache {
	b.Helper()
	c, err := djcache.Open("file://" + filepath.Join(b.TempDir(), "cache") + query)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// fbLevels are the compression settings compared: the default (Django's
// level 6), level 1, and none (zlib stored blocks).
var fbLevels = []struct{ name, query string }{
	{"", ""},
	{"/level1", "?compress_level=1"},
	{"/stored", "?compress_level=0"},
}

// BenchmarkFilebasedGetHit: Get of a present key into a reused []byte.
func BenchmarkFilebasedGetHit(b *testing.B) {
	ctx := context.Background()
	for _, sz := range fbSizes {
		for _, lv := range fbLevels {
			if sz.name == "100B" && lv.name != "" {
				continue
			}
			b.Run(sz.name+lv.name, func(b *testing.B) {
				c := fbOpen(b, lv.query)
				if err := c.Set(ctx, "k", sz.value, djcache.Forever); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(sz.value)))
				b.ReportAllocs()
				var v []byte
				for b.Loop() {
					if found, err := c.Get(ctx, "k", &v); err != nil || !found {
						b.Fatal(found, err)
					}
				}
			})
		}
		b.Run(sz.name+"/floor-readfile", func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "f")
			if err := os.WriteFile(p, sz.value, 0o600); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(sz.value)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := os.ReadFile(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFilebasedSet: Set of one key, overwritten each time.
func BenchmarkFilebasedSet(b *testing.B) {
	ctx := context.Background()
	for _, sz := range fbSizes {
		for _, lv := range fbLevels {
			if sz.name == "100B" && lv.name != "" {
				continue
			}
			b.Run(sz.name+lv.name, func(b *testing.B) {
				c := fbOpen(b, lv.query)
				b.SetBytes(int64(len(sz.value)))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Set(ctx, "k", sz.value); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(sz.name+"/floor-write-rename", func(b *testing.B) {
			dir := b.TempDir()
			dst := filepath.Join(dir, "f")
			b.SetBytes(int64(len(sz.value)))
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.CreateTemp(dir, "tmp")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Write(sz.value); err != nil {
					b.Fatal(err)
				}
				f.Close()
				if err := os.Rename(f.Name(), dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFilebasedSetNew: Set of a new key each time (creation by link,
// and the amortized directory scans of culling), with max_entries large
// enough that nothing is culled, and with the default 300 (steady culling).
func BenchmarkFilebasedSetNew(b *testing.B) {
	ctx := context.Background()
	value := fbText(100)
	for _, q := range []struct{ name, query string }{
		{"no-cull", "?max_entries=10000000"},
		{"max_entries=300", ""},
	} {
		b.Run(q.name, func(b *testing.B) {
			c := fbOpen(b, q.query)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := c.Set(ctx, "k"+strconv.Itoa(i), value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFilebasedGetMany: GetMany of 100 keys of 100 bytes, through the
// driver's GetMany (parallel reads) and through djcache's fallback (one
// Get after another).
func BenchmarkFilebasedGetMany(b *testing.B) {
	ctx := context.Background()
	value := fbText(100)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	for _, mode := range []string{"driver", "fallback"} {
		b.Run(mode, func(b *testing.B) {
			d, err := filebased.New(filepath.Join(b.TempDir(), "cache"), nil)
			if err != nil {
				b.Fatal(err)
			}
			var drv driver.Driver = d
			if mode == "fallback" {
				drv = struct{ driver.Driver }{d} // hides GetMany
			}
			c, err := djcache.New(drv, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for _, k := range keys {
				if err := c.Set(ctx, k, value, djcache.Forever); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			m := map[string][]byte{}
			for b.Loop() {
				clear(m)
				if err := c.GetMany(ctx, keys, &m); err != nil || len(m) != len(keys) {
					b.Fatal(len(m), err)
				}
			}
		})
	}
	// Cold: before each call, the 100 files are dropped from the page
	// cache (posix_fadvise DONTNEED on these files only), so every read
	// goes to the disk.
	for _, mode := range []string{"driver", "fallback"} {
		b.Run("cold/"+mode, func(b *testing.B) {
			d, err := filebased.New(filepath.Join(b.TempDir(), "cache"), nil)
			if err != nil {
				b.Fatal(err)
			}
			var drv driver.Driver = d
			if mode == "fallback" {
				drv = struct{ driver.Driver }{d}
			}
			c, err := djcache.New(drv, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for _, k := range keys {
				if err := c.Set(ctx, k, value, djcache.Forever); err != nil {
					b.Fatal(err)
				}
			}
			files := make([]*os.File, len(keys))
			for i, k := range keys {
				if files[i], err = os.Open(d.Path(":1:" + k)); err != nil {
					b.Fatal(err)
				}
				defer files[i].Close()
				if err := files[i].Sync(); err != nil {
					b.Fatal(err)
				}
			}
			m := map[string][]byte{}
			for b.Loop() {
				b.StopTimer()
				for _, f := range files {
					if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
						b.Fatal(err)
					}
				}
				clear(m)
				b.StartTimer()
				if err := c.GetMany(ctx, keys, &m); err != nil || len(m) != len(keys) {
					b.Fatal(len(m), err)
				}
			}
		})
	}
}

// BenchmarkFilebasedIncr: Incr of one counter (lock, read, write, rename).
func BenchmarkFilebasedIncr(b *testing.B) {
	ctx := context.Background()
	c := fbOpen(b, "")
	if err := c.Set(ctx, "n", 0, djcache.Forever); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Incr(ctx, "n", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilebasedKit runs the conformance kit's standard benchmarks.
func BenchmarkFilebasedKit(b *testing.B) {
	djcachetest.RunBenchmarks(b, fbOpen(b, "?max_entries=100000"))
}

// BenchmarkFilebasedZlib is the cost of compression alone for a 100-KB
// text value, by library and level: the input to the choice of
// github.com/klauspost/compress over compress/zlib, and of the default
// level. The "bytes" metric is the compressed size.
func BenchmarkFilebasedZlib(b *testing.B) {
	value := fbText(100 << 10)
	type writer interface {
		Reset(w io.Writer)
		Write(p []byte) (int, error)
		Close() error
	}
	type reader interface {
		io.Reader
		Reset(r io.Reader, dict []byte) error
	}
	libs := []struct {
		name string
		w    func(int) writer
		r    func(io.Reader) reader
	}{
		{"stdlib", func(l int) writer { w, _ := zlib.NewWriterLevel(nil, l); return w },
			func(r io.Reader) reader { zr, _ := zlib.NewReader(r); return zr.(reader) }},
		{"klauspost", func(l int) writer { w, _ := kzlib.NewWriterLevel(nil, l); return w },
			func(r io.Reader) reader { zr, _ := kzlib.NewReader(r); return zr.(reader) }},
	}
	for _, lib := range libs {
		for _, level := range []int{0, 1, 6} {
			var buf bytes.Buffer
			zw := lib.w(level)
			b.Run(lib.name+"/deflate/level"+strconv.Itoa(level), func(b *testing.B) {
				b.SetBytes(int64(len(value)))
				for b.Loop() {
					buf.Reset()
					zw.Reset(&buf)
					zw.Write(value)
					zw.Close()
				}
				b.ReportMetric(float64(buf.Len()), "bytes")
			})
			stream := bytes.Clone(buf.Bytes())
			b.Run(lib.name+"/inflate/level"+strconv.Itoa(level), func(b *testing.B) {
				br := bytes.NewReader(stream)
				zr := lib.r(br)
				var out bytes.Buffer
				b.SetBytes(int64(len(value)))
				for b.Loop() {
					br.Reset(stream)
					zr.Reset(br, nil)
					out.Reset()
					if _, err := out.ReadFrom(zr); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
