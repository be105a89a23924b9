package metrics

import (
	"sync"

	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

var temporalHandler = sync.OnceValues(func() (client.MetricsHandler, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(Registry), otelprom.WithNamespace(Namespace),
		otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{
		Meter: provider.Meter("go.temporal.io/sdk"),
	}), nil
})

// TemporalHandler is the Temporal SDK's metrics handler for client.Options: the SDK's metrics (workflow and
// activity task latencies, pollers, slots, request failures) as nexsalto_temporal_* in Registry. One handler
// per process, so that several clients of one process share the series instead of registering them twice.
func TemporalHandler() (client.MetricsHandler, error) { return temporalHandler() }
