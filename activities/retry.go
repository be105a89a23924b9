package activities

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/nexsalto/nexsalto/internal/pause"
	"github.com/nexsalto/nexsalto/salto"
)

// How a Salto call that failed is tried again. A Salto call is only made while its grant or revoke is due, so
// the next try is never far away: the delay doubles from saltoRetryFirst to saltoRetryCap (a few seconds,
// however long the outage lasts), and each is drawn between half and all of that, so that the calls that
// failed together do not all come back in the same instant. When Salto returns, what is due is therefore
// tried again within saltoRetryCap, and the client's rate limit drains it in the order it fell due (see
// salto.WithDue), at the rate and no faster. Salto's own Retry-After, when it gives one, wins.
const (
	saltoRetryFirst = 500 * time.Millisecond
	saltoRetryCap   = 2 * time.Second
	// saltoHeartbeatEvery is well inside the workflows' heartbeat timeout for Salto calls (10 s).
	saltoHeartbeatEvery = 3 * time.Second
)

// An idempotent Salto call (a read; a tag or subscription set to what it may already be; adding a member who
// already is one or removing one who is not, both of which succeed) that fails with a 5xx, a 429 or no answer
// is made again inside the same attempt, while the attempt's deadline
// leaves room, instead of failing the attempt: a retry then costs no round trip through Temporal (a local
// attempt handing over to a regular activity, a retry timer, a new task), which after an outage is most of a
// short step's time. Each try asks the rate limit again with the same due instant, so the order and the rate
// hold. Outside an activity (no deadline) at most inPlaceTries are made.
const (
	inPlaceTries = 8
	// inPlaceRoom is what a try needs before the deadline: a call at Salto's usual latency and a little more.
	inPlaceRoom = 750 * time.Millisecond
)

// idempotent runs call, and runs it again in place as above.
func idempotent(ctx context.Context, call func() error) error {
	err := call()
	for try := int32(1); err != nil && salto.IsRetryable(err) && try < inPlaceTries; try++ {
		d := saltoRetryDelay(try)
		var se *salto.Error
		if errors.As(err, &se) && se.SaltoUp { // other calls go through: this failure is the call's own
			d = saltoRetryDelay(1)
		}
		if ra, ok := salto.RetryAfter(err); ok {
			d = ra
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+inPlaceRoom {
			return err
		}
		if pause.For(ctx, d) != nil {
			return err
		}
		err = call()
	}
	return err
}

// saltoRetryDelay is the delay after the failed attempt n (1 for the first).
func saltoRetryDelay(attempt int32) time.Duration {
	d := saltoRetryCap
	if attempt >= 1 && attempt < 16 {
		d = min(saltoRetryFirst<<(attempt-1), saltoRetryCap)
	}
	return d/2 + rand.N(d/2+1)
}

// attemptOf is the activity's attempt, 1 outside an activity.
func attemptOf(ctx context.Context) int32 {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).Attempt
	}
	return 1
}

// saltoActivity prepares a Salto activity: its calls are due since the activity was first scheduled (its
// retries keep that instant), so that a backlog after an outage drains oldest first, and it keeps itself
// alive (keepAlive) until done is called.
// due, when set, is when the workflow's change fell due (all its steps keep it), earlier than the scheduling;
// serveBy, when set, is when the access the change grants ends (salto.WithDue).
func saltoActivity(ctx context.Context, due, serveBy time.Time) (_ context.Context, done func()) {
	if !activity.IsActivity(ctx) {
		return ctx, func() {}
	}
	if salto.IsBackground(ctx) {
		// Sent to the background queue (BackgroundInterceptor): due when it asks, after the changes due.
		return ctx, keepAlive(ctx)
	}
	return salto.WithDue(ctx, dueSince(ctx, due), serveBy), keepAlive(ctx)
}

// dueSince is when an activity's Salto call fell due: due, unless it is zero or later than the activity's
// scheduling, which then counts. Inside an activity only; elsewhere due as given.
func dueSince(ctx context.Context, due time.Time) time.Time {
	if activity.IsActivity(ctx) {
		if s := activity.GetInfo(ctx).ScheduledTime; due.IsZero() || s.Before(due) {
			return s
		}
	}
	return due
}

// keepAlive heartbeats a Salto activity every saltoHeartbeatEvery once it has run that long, until the returned
// func is called: an attempt queued behind a burst stays alive, and one whose worker died is retried after the
// workflow's heartbeat timeout instead of its minute-long attempt timeout. Attempts shorter than that (nearly
// all) send no heartbeat at all, so they cost the Temporal service nothing more.
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) || activity.GetInfo(ctx).IsLocalActivity || activity.GetInfo(ctx).HeartbeatTimeout == 0 {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(saltoHeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
