// Package metrics holds every Prometheus metric the worker exports, under one registry, so that names,
// labels and buckets are decided in one place and the dashboard and alert rules (deploy/) can be checked
// against them. Our own metrics use the Prometheus Go client directly: histograms with buckets chosen for
// door lateness, and no translation layer between what we name and what Prometheus shows. The Temporal SDK's
// metrics come through its OpenTelemetry handler and OTel's Prometheus exporter into the same registry (see
// TemporalHandler), prefixed nexsalto_temporal_.
//
// The metrics are process-wide, as Prometheus collectors usually are: every worker, listener and activity
// of the process counts into the same series.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "nexsalto"

// Registry holds every metric below, the Go runtime's and the process's, and the Temporal SDK's once a
// client uses TemporalHandler.
var Registry = prometheus.NewRegistry()

// Label values shared by the instrumentation points.
const (
	VendorSalto   = "salto"
	VendorNexudus = "nexudus"

	ChangeGrant  = "grant"
	ChangeRevoke = "revoke"
)

var (
	// Webhooks counts Nexudus webhook deliveries by action (the URL's) and outcome: accepted, duplicate,
	// bad_signature, malformed, wrong_action, unknown_action, too_large, rate_limited, unavailable.
	Webhooks = counterVec("webhooks_total", "Nexudus webhook deliveries by action and outcome.", "action", "outcome")
	// SignatureFailures counts deliveries refused because their signature or token did not verify.
	SignatureFailures = counter("webhook_signature_failures_total",
		"Webhook deliveries refused because the signature or token did not verify.")

	// VendorRequests counts HTTP requests to Salto KS and Nexudus by operation (method and path template)
	// and status code ("error" when no answer came).
	VendorRequests = counterVec("vendor_requests_total", "HTTP requests to Salto KS and Nexudus.",
		"vendor", "operation", "status")
	// VendorRequestDuration is each such request's latency.
	VendorRequestDuration = histogramVec("vendor_request_duration_seconds",
		"Latency of HTTP requests to Salto KS and Nexudus.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "vendor", "operation")

	// AccessLateness is how late a grant or revoke was applied in Salto: the instant Salto confirmed it
	// minus the instant it fell due. Early changes count as 0.
	AccessLateness = histogramVec("access_lateness_seconds",
		"Applied instant minus due instant of grants and revokes in Salto KS.",
		[]float64{.25, .5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}, "change")
	// AccessChangeFailures counts failed attempts to apply a grant or revoke in Salto (each is retried) by
	// whether the failure was final.
	AccessChangeFailures = counterVec("access_change_failures_total",
		"Failed attempts to apply a grant or revoke in Salto KS.", "change", "final")

	// Entitlements is how many entitlement and customer workflows are open, by kind and state, as
	// Temporal's visibility counts them (see package metrics' VisibilityCollector).
	Entitlements = gaugeVec("entitlements_open", "Open access workflows by kind and state.", "kind", "state")
	// CustomersInTrouble is how many customers cannot get access: no_seat (Salto licence full),
	// unmatched (no Nexudus coworker for the Salto user, or the reverse) and final_error (a 4xx that
	// retrying will not fix).
	CustomersInTrouble = gaugeVec("customers_in_trouble", "Customers who cannot get access, by reason.", "reason")

	// DriftFound and DriftRepaired count what reconciliation found different between Nexudus, our
	// workflows and Salto, and what it repaired, by kind of difference.
	DriftFound    = counterVec("reconcile_drift_found_total", "Differences reconciliation found.", "kind")
	DriftRepaired = counterVec("reconcile_drift_repaired_total", "Differences reconciliation repaired.", "kind")

	// NexudusBudgetUsed and NexudusBudgetLimit are the account's Nexudus budget as the budget workflow
	// reports it, by window: reads_minute, writes_minute, writes_day.
	NexudusBudgetUsed  = gaugeVec("nexudus_budget_used", "Nexudus calls spent in the budget's window.", "window")
	NexudusBudgetLimit = gaugeVec("nexudus_budget_limit", "Nexudus calls allowed in the budget's window.", "window")
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the registry in Prometheus' text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

func counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})
	Registry.MustRegister(c)
	return c
}

func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	Registry.MustRegister(g)
	return g
}

func histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help,
		Buckets: buckets}, labels)
	Registry.MustRegister(h)
	return h
}
