// Package receiverfuzz fuzzes the webhook receiver (service.Webhooks). It is a package of its own so that the
// fuzzing build instruments the receiver and the Nexudus code, not the Temporal server the service package's
// end-to-end tests link.
package receiverfuzz
