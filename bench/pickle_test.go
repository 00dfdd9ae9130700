package bench

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	ogórek "github.com/kisielk/og-rek"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/backends/locmem"
	"github.com/djcache/djcache/pickle"
)

// The values of the pickle benchmarks, as a Django view caches them: a
// short string, and a query result (a list of 20 rows, each a dict of a
// str, an int, a float, a None and a list of strs).
func pickleValues() map[string]func() any {
	return map[string]func() any{
		"str": func() any { return "a cached fragment of a page" },
		"rows20": func() any {
			rows := make([]any, 20)
			for i := range rows {
				rows[i] = map[string]any{
					"id": int64(i), "name": fmt.Sprintf("product-%04d", i), "price": float64(i) * 2.5,
					"discount": nil, "tags": []any{"new", "sale"},
				}
			}
			return rows
		},
	}
}

// ogValue converts a value of pickleValues to og-rek's types (its dicts are
// map[any]any).
func ogValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ogValue(e)
		}
		return out
	case map[string]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[k] = ogValue(e)
		}
		return out
	}
	return v
}

// BenchmarkPickleMarshal: encoding a value. djcache's pickle writes what
// CPython writes (protocol 5, FRAME, MEMOIZE, sorted keys); og-rek writes
// protocol 5 without either.
func BenchmarkPickleMarshal(b *testing.B) {
	for name, mk := range pickleValues() {
		v := mk()
		b.Run("value="+name+"/codec=djcache", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = pickle.Append(buf[:0], v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		ov := ogValue(v)
		b.Run("value="+name+"/codec=ogrek", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := ogórek.NewEncoderWithConfig(&buf, &ogórek.EncoderConfig{Protocol: 5, StrictUnicode: true}).Encode(ov); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}

// BenchmarkPickleUnmarshal: decoding the bytes Django stores (CPython's,
// which djcache's Marshal reproduces) into an *any.
func BenchmarkPickleUnmarshal(b *testing.B) {
	for name, mk := range pickleValues() {
		data, err := pickle.Marshal(mk())
		if err != nil {
			b.Fatal(err)
		}
		b.Run("value="+name+"/codec=djcache", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var v any
				if err := pickle.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("value="+name+"/codec=ogrek", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ogórek.NewDecoder(bytes.NewReader(data)).Decode(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSerializer: Set and Get on locmem with djcache's own
// serializer (JSON for structures) and with the pickle serializer, to show
// what sharing with Django costs.
func BenchmarkSerializer(b *testing.B) {
	ctx := context.Background()
	for name, mk := range pickleValues() {
		v := mk()
		for _, sz := range []djcache.Serializer{djcache.NativeSerializer, djcache.PickleSerializer} {
			d, err := locmem.New(fmt.Sprintf("bench-serializer-%s-%s-%d", name, sz, time.Now().UnixNano()), &locmem.Options{MaxEntries: 1024})
			if err != nil {
				b.Fatal(err)
			}
			c, err := djcache.New(d, &djcache.Options{Serializer: sz})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("op=set/value="+name+"/serializer="+string(sz), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Set(ctx, "k", v); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("op=get/value="+name+"/serializer="+string(sz), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var got any
					if found, err := c.Get(ctx, "k", &got); !found || err != nil {
						b.Fatal(found, err)
					}
				}
			})
			c.Close()
		}
	}
}
