package httpobs

import (
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/nexsalto/nexsalto/metrics"
)

// StatusError is the status label of a request that got no answer (refused, timed out, cancelled).
const StatusError = "error"

// Transport observes the requests sent through base (nil: http.DefaultTransport).
//
// Spans come from the tracer provider of the span in the request's context, else the global one. Only the W3C
// trace context is sent to the vendor, never baggage: baggage may carry whatever an upstream put in it, and
// Salto and Nexudus are third parties. otelhttp's own metrics are switched off: the Prometheus metrics above
// are the ones the dashboard reads, and a second set would only double the series.
func (a API) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(observed{api: a, next: base},
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return a.Operation(r.Method, r.URL.Path) }),
		otelhttp.WithSpanOptions(trace.WithAttributes(semconv.ServicePeerName(a.Vendor))),
		otelhttp.WithPropagators(propagation.TraceContext{}),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

// Client is a copy of hc (nil: a zero http.Client: no timeout, the default transport) whose transport is
// observed. Timeouts, redirect policy and cookie jar stay as hc has them; hc is not modified.
func (a API) Client(hc *http.Client) *http.Client {
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	c.Transport = a.Transport(c.Transport)
	return c
}

// observed runs inside otelhttp's transport, so the request's context holds the client span.
type observed struct {
	api  API
	next http.RoundTripper
}

func (o observed) RoundTrip(r *http.Request) (*http.Response, error) {
	tmpl := o.api.Template(r.URL.Path)
	op := o.api.Operation(r.Method, r.URL.Path)
	// otelhttp records the whole URL as url.full, query included, and OData filters and Nexudus searches hold
	// e-mail addresses. Setting the attribute again replaces it before the span is exported.
	trace.SpanFromContext(r.Context()).SetAttributes(
		semconv.URLFull(r.URL.Scheme+"://"+r.URL.Host+tmpl),
		semconv.URLTemplate(tmpl),
	)
	start := time.Now()
	resp, err := o.next.RoundTrip(r)
	// Until the answer's headers: the body is read by the caller, and a slow reader is not a slow vendor.
	elapsed := time.Since(start).Seconds()
	status := StatusError
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	metrics.VendorRequests.WithLabelValues(o.api.Vendor, op, status).Inc()
	metrics.VendorRequestDuration.WithLabelValues(o.api.Vendor, op).Observe(elapsed)
	return resp, err
}
