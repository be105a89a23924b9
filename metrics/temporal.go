package metrics

import (
	"sync"

	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// temporalBuckets are the SDK's latency histograms' bounds, in seconds. OTel's default bounds (0 to 10,000)
// suit milliseconds; the SDK records seconds, so they would put every task latency in the first two buckets.
var temporalBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

var temporalHandler = sync.OnceValues(func() (client.MetricsHandler, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(Registry), otelprom.WithNamespace(Namespace),
		otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: temporalBuckets}})))
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: provider.Meter("go.temporal.io/sdk"),
		// The SDK's counters only ever grow: as OTel counters they export as Prometheus counters (_total),
		// which rate() and increase() expect, instead of the up-down counters (gauges) of the default.
		UseMonotonicCounters: true,
	}), nil
})

// TemporalHandler is the Temporal SDK's metrics handler for client.Options: the SDK's metrics (workflow and
// activity task latencies, pollers, slots, request failures) as nexsalto_temporal_* in Registry. One handler
// per process, so that several clients of one process share the series instead of registering them twice.
func TemporalHandler() (client.MetricsHandler, error) { return temporalHandler() }
