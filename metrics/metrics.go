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

	TroubleNoSeat     = "no_seat"
	TroubleUnmatched  = "unmatched"
	TroubleFinalError = "final_error"

	BudgetCallsMinute  = "calls_minute"
	BudgetWritesMinute = "writes_minute"
	BudgetWritesDay    = "writes_day"
)

// Webhook outcomes. Each is one answer of the receiver.
const (
	OutcomeAccepted         = "accepted"           // 200: signalled
	OutcomeIgnored          = "ignored"            // 200: nothing to do (a check-in, a delete of nothing running)
	OutcomeDuplicate        = "duplicate"          // 200: accepted before (replay window)
	OutcomeBadSignature     = "bad_signature"      // 401: signature or token did not verify
	OutcomeMalformed        = "malformed"          // 400: unreadable body or record
	OutcomeTooLarge         = "too_large"          // 413
	OutcomeTimeout          = "timeout"            // 408: body not received in time
	OutcomeMethodNotAllowed = "method_not_allowed" // 405
	OutcomeUnknownAction    = "unknown_action"     // 404: no such Nexudus action
	OutcomeRateLimited      = "rate_limited"       // 429: over the per-source rate
	OutcomeOverloaded       = "overloaded"         // 503: too many requests in flight
	OutcomeUnavailable      = "unavailable"        // 503: Temporal did not take the signal
)

// Kinds of reconciliation drift.
const (
	DriftAdded       = "missing_membership" // Nexudus gives a group the Salto user lacks
	DriftRemoved     = "extra_membership"   // the Salto user has an owned group Nexudus no longer gives
	DriftSuspend     = "suspend_due"        // nothing left and the policy is suspend
	DriftDelete      = "delete_due"         // nothing left and the policy is delete
	DriftResubscribe = "suspended_user"     // suspended in Salto while Nexudus gives access
	DriftRefresh     = "workflow_stale"     // an entitlement workflow out of line with Nexudus
	DriftUnmatched   = "unmatched_member"   // a member of an owned group no coworker matches
)

// DriftKinds are every kind above, in a fixed order.
var DriftKinds = []string{DriftAdded, DriftRemoved, DriftSuspend, DriftDelete, DriftResubscribe, DriftRefresh,
	DriftUnmatched}

var (
	// Webhooks counts Nexudus webhook deliveries by action (the URL's, "unknown" for any other name) and
	// outcome (the Outcome* constants).
	Webhooks = counterVec("webhooks_total", "Nexudus webhook deliveries by action and outcome.", "action", "outcome")
	// SignatureFailures counts deliveries refused because their signature or token did not verify (each is
	// also a webhooks_total{outcome="bad_signature"}).
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

	// RateWait is how long each vendor request waited for its rate limit before it went out (Salto: the
	// client's own limit; Nexudus: the account's budget), by vendor and the priority of the work that made it
	// (urgent, poll, background; none when unmarked): where the time of a slow door goes when the budget, not
	// the vendor, is the bottleneck.
	RateWait = histogramVec("rate_wait_seconds", "Wait of vendor requests for the rate limit, by priority.",
		[]float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 120, 300}, "vendor", "priority")

	// AccessLateness is how late a grant or revoke was applied in Salto: the instant Salto confirmed it
	// minus the instant it fell due, one sample per access-group change (a grant of two groups is two
	// samples). The due instant is the one the activity is given (access.GroupChange.DueSince: the
	// entitlement's instant, access.ChangeDue, carried through the customer workflow), else the activity's
	// scheduled time. Early changes count as 0.
	AccessLateness = histogramVec("access_lateness_seconds",
		"Applied instant minus due instant of grants and revokes in Salto KS.",
		[]float64{.25, .5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}, "change")
	// AccessChangeFailures counts failed attempts to apply a grant or revoke in Salto by whether the failure
	// was final ("true": a 4xx retrying will not fix, recorded as a problem; "false": retried).
	AccessChangeFailures = counterVec("access_change_failures_total",
		"Failed attempts to apply a grant or revoke in Salto KS.", "change", "final")

	// Entitlements is how many entitlement and customer workflows are running, by kind and state, as
	// Temporal's visibility counts them (state "none": not published yet). Namespace-wide: every worker
	// reports the same figures, so aggregate with max, not sum.
	Entitlements = gaugeVec("entitlements_open", "Open access workflows by kind and state.", "kind", "state")
	// CustomersInTrouble counts, by reason: no_seat, the running customer workflows in state no-seat (Salto
	// keeps the user suspended for want of a licence seat; namespace-wide, from visibility); unmatched, the
	// members of owned Salto groups that match no Nexudus coworker at each location's last completed
	// reconciliation (namespace-wide); final_error, the customers whose latest Salto call on this worker
	// failed with an error retrying will not fix, within the last TroubleWindow (per worker).
	CustomersInTrouble = gaugeVec("customers_in_trouble", "Customers who cannot get access, by reason.", "reason")

	// DriftFound and DriftRepaired count what reconciliation found different between Nexudus, our
	// workflows and Salto, and what it handed to the owning workflows to repair, by kind (the Drift*
	// constants). Unmatched members are found, never repaired: no coworker owns them.
	DriftFound    = counterVec("reconcile_drift_found_total", "Differences reconciliation found.", "kind")
	DriftRepaired = counterVec("reconcile_drift_repaired_total", "Differences reconciliation repaired.", "kind")

	// NexudusBudgetUsed and NexudusBudgetLimit are the Nexudus budget by window: calls_minute (every call,
	// reads and writes, in the last minute), writes_minute, writes_day (the UTC day). With nexudus.budget
	// shared they are the account's, from the budget workflow; with local, this process's own calls.
	NexudusBudgetUsed  = gaugeVec("nexudus_budget_used", "Nexudus calls spent in the budget's window.", "window")
	NexudusBudgetLimit = gaugeVec("nexudus_budget_limit", "Nexudus calls allowed in the budget's window.", "window")
	// NexudusBudgetDegraded is 1 while the shared budget refuses presence check-ins and reconciliation's
	// writes for the rest of the UTC day (80% of writes_per_day spent): presence then writes no check-ins.
	NexudusBudgetDegraded = gauge("nexudus_budget_degraded",
		"1 while the shared Nexudus budget refuses background writes (presence check-ins) for the rest of the UTC day.")
)

func init() {
	// The runtime's GC figures (go_gc_heap_live_bytes, go_gc_heap_goal_bytes, go_gc_scan_stack_bytes, ...) tell
	// a leak (the live heap grows) from the collector's pacing (the goal grows with the heap live flat).
	Registry.MustRegister(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that alerts and rates compare against exist from the start, at zero: a series that appears
	// only with its first event makes increase() miss that event, and absent() look like an outage.
	for _, c := range []string{ChangeGrant, ChangeRevoke} {
		AccessLateness.WithLabelValues(c)
		for _, final := range []string{"true", "false"} {
			AccessChangeFailures.WithLabelValues(c, final)
		}
	}
	for _, k := range DriftKinds {
		DriftFound.WithLabelValues(k)
		if k != DriftUnmatched {
			DriftRepaired.WithLabelValues(k)
		}
	}
	for _, r := range []string{TroubleNoSeat, TroubleUnmatched, TroubleFinalError} {
		CustomersInTrouble.WithLabelValues(r)
	}
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

func gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help})
	Registry.MustRegister(g)
	return g
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
