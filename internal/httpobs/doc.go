// Package httpobs observes the HTTP requests to Salto KS and Nexudus, OAuth token requests included. Each
// request is an OpenTelemetry client span (otelhttp), a child of the span in the request's context (the
// Temporal activity's, so the request belongs to the trace of the webhook or schedule that caused it), and
// its trace context goes with it in the traceparent header. Each also counts into the Prometheus metrics
// metrics.VendorRequests and metrics.VendorRequestDuration.
//
// Requests are named by method and path template (API.Operation): ids, e-mail addresses and query strings
// never become a metric label, a span name or a span attribute, and the labels stay few.
package httpobs
