package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// movableTimer sleeps until an instant that can move, as samples-go's updatabletimer does: it keeps its timer
// while the instant stays and replaces it when the instant moves, taking signals meanwhile. The entitlement
// and customer workflows stop it after each wake (a wake re-plans everything), the customer's retry pause
// keeps it across the signals that wake it; both are the shapes their recorded histories hold.
type movableTimer struct {
	at     time.Time
	timer  workflow.Future
	cancel workflow.CancelFunc
}

// sleep waits until at (without end when at is zero), until something add puts in the selector is ready, or
// until ctx is cancelled, whichever comes first, and reports whether at was reached.
func (t *movableTimer) sleep(ctx workflow.Context, at time.Time, summary string, add func(workflow.Selector)) bool {
	if t.timer == nil || !at.Equal(t.at) {
		t.stop()
		if !at.IsZero() {
			tctx, cancel := workflow.WithCancel(ctx)
			t.at, t.cancel = at, cancel
			t.timer = workflow.NewTimerWithOptions(tctx, untilDelay(ctx, at), workflow.TimerOptions{Summary: summary})
		}
	}
	return waitFor(ctx, t.timer, add)
}

// waitFor blocks until timer (none when nil) fires, something add puts in the selector is ready or ctx is
// cancelled, and reports whether the timer fired.
func waitFor(ctx workflow.Context, timer workflow.Future, add func(workflow.Selector)) bool {
	sel := workflow.NewSelector(ctx)
	if timer != nil {
		sel.AddFuture(timer, func(workflow.Future) {})
	}
	if add != nil {
		add(sel)
	}
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	return timer != nil && timer.IsReady()
}

// stop cancels a timer that has not fired.
func (t *movableTimer) stop() {
	if t.cancel != nil {
		t.cancel()
	}
	t.at, t.timer, t.cancel = time.Time{}, nil, nil
}

// wakeTimer wakes a long-lived workflow no later than the instant it needs, and never cancels a timer: one set
// for an instant no later than the one needed is kept across wakes (firing early, it makes the workflow plan
// again), and one set too late is left to fire on its own while a new, earlier one is set. The Go SDK keeps
// the state of every cancelled timer for as long as the run stays in the worker's cache, so a customer
// workflow woken by a signal per booking, and cancelling its timer each time, grew by a few hundred bytes per
// wake: the soak's RSS. Kept timers also spare each wake the two events of a cancel and a new start.
type wakeTimer struct {
	at    time.Time
	timer workflow.Future
}

// sleep waits until at (without end when at is zero), until something add puts in the selector is ready, or
// until ctx is cancelled, and reports whether the timer fired.
func (t *wakeTimer) sleep(ctx workflow.Context, at time.Time, summary string, add func(workflow.Selector)) bool {
	if !at.IsZero() && (t.timer == nil || at.Before(t.at)) {
		t.at = at
		t.timer = workflow.NewTimerWithOptions(ctx, untilDelay(ctx, at), workflow.TimerOptions{Summary: summary})
	}
	if !waitFor(ctx, t.timer, add) {
		return false
	}
	t.at, t.timer = time.Time{}, nil
	return true
}
