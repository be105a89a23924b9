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
