package service

import (
	"net/http"
	"strings"

	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
)

// unknownAction is the action label of a path that names no Nexudus action: the label must not take
// whatever a sender puts in the URL.
const unknownAction = "unknown"

// countWebhook counts one answer of the receiver: the status it gave says the outcome.
func countWebhook(action string, status int, answered string) {
	if action == "" {
		action = unknownAction
	}
	outcome := webhookOutcome(status, answered)
	metrics.Webhooks.WithLabelValues(action, outcome).Inc()
	if outcome == metrics.OutcomeBadSignature {
		metrics.SignatureFailures.Inc()
	}
}

// webhookOutcome names an answer; answered is Outcome.Status (accepted, ignored, duplicate) for a 200.
func webhookOutcome(status int, answered string) string {
	switch status {
	case http.StatusOK:
		switch answered {
		case metrics.OutcomeIgnored, metrics.OutcomeDuplicate:
			return answered
		}
		return metrics.OutcomeAccepted
	case http.StatusUnauthorized:
		return metrics.OutcomeBadSignature
	case http.StatusRequestEntityTooLarge:
		return metrics.OutcomeTooLarge
	case http.StatusRequestTimeout:
		return metrics.OutcomeTimeout
	case http.StatusMethodNotAllowed:
		return metrics.OutcomeMethodNotAllowed
	case http.StatusNotFound:
		return metrics.OutcomeUnknownAction
	case http.StatusTooManyRequests:
		return metrics.OutcomeRateLimited
	case http.StatusServiceUnavailable:
		return metrics.OutcomeUnavailable
	}
	return metrics.OutcomeMalformed
}

// webhookAction is the action label of a request to the listener, "" when the path is no webhook's (the
// health checks and /metrics share the listener and are not counted).
func webhookAction(prefix, path string) string {
	name, ok := strings.CutPrefix(path, strings.TrimSuffix(prefix, "/")+"/")
	if !ok {
		return ""
	}
	if a, ok := nexudus.ActionByName(name); ok && !strings.Contains(name, "/") {
		return a.String()
	}
	return unknownAction
}
