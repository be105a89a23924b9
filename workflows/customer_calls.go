package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// How the customer workflow makes its Salto calls: local first, then regular activities that retry without
// end, always taking signals meanwhile, and what it does with their outcome.

// outcome sorts the result of a Salto call.
type outcome int

const (
	done      outcome = iota
	final             // a failure retrying cannot fix: recorded as a problem for a person
	transient         // retries ran out or were cancelled: the step stays due and is tried again
)

// result classifies err; a final failure is recorded as a problem, a transient one pauses the loop so it is
// retried without spinning.
func (w *customerRun) result(ctx workflow.Context, err error, what string) outcome {
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return done
	case errors.As(err, &canceled):
		return transient
	case access.IsFinal(err):
		w.problem(ctx, what+": "+errText(err))
		return final
	}
	workflow.GetLogger(ctx).Warn("Salto call failed, will retry", "Customer", w.in.Customer.WorkflowID(),
		"Error", err)
	w.pause(ctx, saltoMaxInterval, what)
	return transient
}

func (w *customerRun) problem(ctx workflow.Context, desc string) {
	w.note(workflow.Now(ctx), access.Change{Action: access.ActionProblem, Reason: desc})
	w.problems.record(ctx, access.Problem{LocationID: w.in.Customer.LocationID, CoworkerID: w.in.Customer.CoworkerID,
		Description: desc})
}

// call runs one Salto activity while still taking signals into the ledger. When keep turns false (the group
// being added is no longer wanted) the activity is cancelled; removes, suspends and deletes pass no keep and
// always run to the end.
//
// Since changeLocalCalls, the call is tried first as a local activity: a grant then costs no
// workflow task of its own, which is most of what a webhook costs the server. Only a success or a failure
// retrying cannot fix is taken from it; anything else (no rate slot within a few seconds, Salto slow or
// down, a 429) goes on to the regular activity and its retries that never give up. Salto calls are safe to
// repeat, so one that succeeded unseen in the local attempt is harmless.
func call[I, O any](ctx workflow.Context, w *customerRun, r activityRef[I, O], in I, summary string,
	keep func() bool) (O, error) {
	// A location whose Salto calls go through a task queue of their own (a rate shared by all workers) keeps
	// them there.
	if w.loc.SaltoTaskQueue == "" && w.localCallsFirst(ctx) {
		out, err := r.runLocal(saltoLocalContext(ctx, summary), in)
		if err == nil || access.IsFinal(err) {
			return out, err
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NextRetryDelay() > 0 {
			// Salto asked for a pause (429 Retry-After): the regular activity must not call again before it.
			w.pause(ctx, appErr.NextRetryDelay(), summary)
			if ctx.Err() != nil || (keep != nil && !keep()) {
				return out, temporal.NewCanceledError("no longer wanted")
			}
		}
	}
	actx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	return await(ctx, w, r.start(saltoContext(actx, w.loc, summary), in), cancel, keep)
}

// callLong runs a Salto activity that makes many calls (one per access group) as a regular activity only: a
// local attempt of a few seconds would seldom finish. It heartbeats, so its attempts may take longer. keep, when
// set, is asked after each signal taken meanwhile: false cancels the activity.
func callLong[I, O any](ctx workflow.Context, w *customerRun, r activityRef[I, O], in I, keep func() bool,
	summary string) (O, error) {
	actx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	actx = workflow.WithActivityOptions(actx, workflow.ActivityOptions{
		TaskQueue:           w.loc.SaltoTaskQueue,
		StartToCloseTimeout: holdTimeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         saltoRetryPolicy(),
		Summary:             summary,
	})
	return await(ctx, w, r.start(actx, in), cancel, keep)
}

// callBackground runs a Salto activity no door waits for (the no-access policy's check, suspension and
// deletion) as a regular activity on the location's background task queue, whose worker serves a few at a time:
// a backlog of them waits in Temporal, not in the slots and the rate limit that grants need. keep turning false
// cancels it, and the cancellation waits for the activity to end, so that one that ran reports it did.
func callBackground[I, O any](ctx workflow.Context, w *customerRun, r activityRef[I, O], in I, keep func() bool,
	summary string) (O, error) {
	actx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	actx = workflow.WithActivityOptions(actx, workflow.ActivityOptions{
		TaskQueue:           w.loc.BackgroundTaskQueue,
		StartToCloseTimeout: holdTimeout,
		HeartbeatTimeout:    time.Minute,
		WaitForCancellation: true,
		RetryPolicy:         saltoRetryPolicy(),
		Summary:             summary,
	})
	return await(ctx, w, r.start(actx, in), cancel, keep)
}

// await waits for an activity while taking signals into the ledger, cancelling it once keep turns false.
func await[O any](ctx workflow.Context, w *customerRun, f future[O], cancel workflow.CancelFunc, keep func() bool) (O, error) {
	cancelled := false
	for !f.IsReady() {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f.Future, func(workflow.Future) {})
		w.addSignals(ctx, sel)
		sel.Select(ctx)
		if !cancelled && keep != nil && !f.IsReady() && !keep() {
			cancel()
			cancelled = true
		}
	}
	return f.get(ctx)
}

func (w *customerRun) addSignals(ctx workflow.Context, sel workflow.Selector) {
	take := func(workflow.ReceiveChannel, bool) { w.drain(ctx) }
	sel.AddReceive(w.grants, take)
	sel.AddReceive(w.revokes, take)
	sel.AddReceive(w.relinks, take)
	sel.AddReceive(w.legacyRelinks, take)
	sel.AddReceive(w.repairs, take)
	sel.AddReceive(w.deletions, take)
}

// pause waits d (taking signals) after a Salto call failed without a final error, which only happens when an
// activity's retries were cut short (a test environment, an operator); the loop then tries again.
func (w *customerRun) pause(ctx workflow.Context, d time.Duration, what string) {
	var t movableTimer
	defer t.stop()
	until := workflow.Now(ctx).Add(d)
	for ctx.Err() == nil {
		if t.sleep(ctx, until, "retry "+what, func(sel workflow.Selector) { w.addSignals(ctx, sel) }) {
			return
		}
	}
}

// changeLocalCalls is the GetVersion change id of trying Salto calls as local activities first. Runs started
// before it was versioned this way say so by their input's Revision instead.
const changeLocalCalls = "salto-calls-local-first"

func (w *customerRun) localCallsFirst(ctx workflow.Context) bool {
	return w.in.Revision >= access.CustomerRevisionLocalCalls ||
		workflow.GetVersion(ctx, changeLocalCalls, workflow.DefaultVersion, 1) >= 1
}
