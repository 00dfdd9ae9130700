package djcacheotel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/djcache/djcache"
	"github.com/djcache/djcache/djcacheotel"
)

// Instrument a cache with an OpenTelemetry MeterProvider (here one whose
// reader is read by hand; a service would use an OTLP or Prometheus
// exporter) and read the counters back.
func ExampleInstrument() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	c, err := djcache.Open("locmem://example-otel", &djcache.Options{Alias: "default"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := djcacheotel.Instrument(c, &djcacheotel.Options{MeterProvider: mp, NoSpans: true}); err != nil {
		panic(err)
	}

	ctx := context.Background()
	var s string
	c.Set(ctx, "greeting", "hello")
	c.Get(ctx, "greeting", &s)
	c.Get(ctx, "farewell", &s)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range sum.DataPoints {
				op, _ := p.Attributes.Value(djcacheotel.AttrOperation)
				fmt.Printf("%s{operation=%s} %d\n", m.Name, op.AsString(), p.Value)
			}
		}
	}
	// Unordered output:
	// djcache.sets{operation=set} 1
	// djcache.hits{operation=get} 1
	// djcache.misses{operation=get} 1
}
