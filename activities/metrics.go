package activities

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/metrics"
)

// Metrics are recorded here, in the activities, because this is where Salto answers: workflow code replays,
// and a counter bumped there would count every replay again.

// observeChange records one attempt at a grant or revoke in Salto (change is metrics.ChangeGrant or
// ChangeRevoke): on success its lateness, on failure the failure; customer ("" for a visitor) is marked in or
// out of trouble. due is when the change fell due as the workflow knows it; zero or later than the
// activity's scheduling, the scheduling counts (as for the rate limit's order, see saltoActivity). Called
// deferred, with the activity's result.
func observeChange(ctx context.Context, change, customer string, due time.Time, errp *error) {
	now := time.Now()
	err := *errp
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return // the workflow no longer wants the change: not a failure of Salto's
	}
	final := err != nil && access.IsFinal(err)
	metrics.FinalErrors.Observe(customer, err, final, now)
	if err != nil {
		metrics.AccessChangeFailures.WithLabelValues(change, strconv.FormatBool(final)).Inc()
		return
	}
	if due = dueSince(ctx, due); due.IsZero() {
		return
	}
	metrics.AccessLateness.WithLabelValues(change).Observe(max(now.Sub(due), 0).Seconds())
}

// observeCustomer marks the customer in or out of trouble after a Salto call that is a step of its access
// but not a group change itself (linking, subscribing).
func observeCustomer(ctx context.Context, customer string, errp *error) {
	err := *errp
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return
	}
	metrics.FinalErrors.Observe(customer, err, err != nil && access.IsFinal(err), time.Now())
}
