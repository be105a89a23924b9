package workflows

import (
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// A movable timer wakes at its instant; a signal that moves the instant replaces the timer, one that leaves it
// keeps the same timer (no new timer in the history).
func TestMovableTimer(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	timers := 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	var woke time.Time
	wf := func(ctx workflow.Context) error {
		moves := workflow.GetSignalChannel(ctx, "move")
		at := workflow.Now(ctx).Add(time.Hour)
		var tm movableTimer
		defer tm.stop()
		for !tm.sleep(ctx, at, "test", func(sel workflow.Selector) {
			sel.AddReceive(moves, func(c workflow.ReceiveChannel, _ bool) {
				var d time.Duration
				c.Receive(ctx, &d)
				at = at.Add(d)
			})
		}) {
		}
		woke = workflow.Now(ctx)
		return nil
	}
	env.RegisterWorkflow(wf)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("move", time.Duration(0)) }, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("move", 30*time.Minute) }, 20*time.Minute)
	env.ExecuteWorkflow(wf)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := start.Add(90 * time.Minute); !woke.Equal(want) {
		t.Errorf("woke at %s, want %s", woke.Format(time.TimeOnly), want.Format(time.TimeOnly))
	}
	if timers != 2 {
		t.Errorf("%d timers started, want 2 (the first, and one for the moved instant)", timers)
	}
}

// A wake timer never cancels: an instant moved later keeps the timer (it fires early and the workflow plans
// again), one moved earlier gets a new timer and leaves the old one to fire on its own.
func TestWakeTimerNeverCancels(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	scheduled, canceled := 0, 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { scheduled++ })
	env.SetOnTimerCanceledListener(func(string) { canceled++ })
	var woke time.Time
	var wakes int
	wf := func(ctx workflow.Context) error {
		moves := workflow.GetSignalChannel(ctx, "move")
		at := start.Add(time.Hour)
		var tm wakeTimer
		for {
			fired := tm.sleep(ctx, at, "test", func(sel workflow.Selector) {
				sel.AddReceive(moves, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &at) })
			})
			wakes++
			if fired && !workflow.Now(ctx).Before(at) {
				break
			}
		}
		woke = workflow.Now(ctx)
		return nil
	}
	env.RegisterWorkflow(wf)
	// 9:10 later (10:30: the 10:00 timer stays and fires early), 10:10 earlier (10:20: a new timer).
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("move", start.Add(90*time.Minute)) }, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("move", start.Add(80*time.Minute)) }, 70*time.Minute)
	env.ExecuteWorkflow(wf)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := start.Add(80 * time.Minute); !woke.Equal(want) {
		t.Errorf("woke at %s, want %s", woke.Format(time.TimeOnly), want.Format(time.TimeOnly))
	}
	if scheduled != 3 || canceled != 0 || wakes != 4 {
		t.Errorf("%d timers started, %d cancelled, %d wakes; want 3 (10:00, 10:30 after the early fire, 10:20), "+
			"0, 4 (9:10, 10:00, 10:10, 10:20)", scheduled, canceled, wakes)
	}
}
