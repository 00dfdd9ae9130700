package djcacheotel_test

import (
	"context"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcacheotel"
	"github.com/djcache/djcache/djcacheotel/djcacheprom"
	"github.com/djcache/djcache/internal/testenv"
)

// BenchmarkGetHit: a Get hit on locmem and on Redis, bare and
// instrumented: the cost a service pays per call for its metrics (and
// spans).
func BenchmarkGetHit(b *testing.B) {
	for _, url := range []string{"locmem://bench", "redis://127.0.0.1:6379/0?key_prefix=djcacheotel-bench"} {
		b.Run(strings.SplitN(url, ":", 2)[0], func(b *testing.B) {
			if strings.HasPrefix(url, "redis") {
				testenv.NeedTCP(b, "Redis", "127.0.0.1:6379", "run .ci/services")
			}
			benchGetHit(b, url)
		})
	}
}

func benchGetHit(b *testing.B, url string) {
	for _, tc := range []struct {
		name       string
		instrument func(*djcache.Cache)
	}{
		{"bare", func(*djcache.Cache) {}},
		{"otel-metrics", func(c *djcache.Cache) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			djcacheotel.Instrument(c, &djcacheotel.Options{MeterProvider: mp, NoSpans: true})
		}},
		{"otel-metrics-spans", func(c *djcache.Cache) {
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
			djcacheotel.Instrument(c, &djcacheotel.Options{MeterProvider: mp, TracerProvider: tp})
		}},
		{"prometheus", func(c *djcache.Cache) { c.Observe(djcacheprom.NewCollector(nil)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := djcache.Open(url)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			tc.instrument(c)
			ctx := context.Background()
			c.Set(ctx, "n", 42)
			var n int
			b.ReportAllocs()
			for b.Loop() {
				if found, err := c.Get(ctx, "n", &n); !found || err != nil {
					b.Fatal(found, err)
				}
			}
		})
	}
}
