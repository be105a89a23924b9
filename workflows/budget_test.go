package workflows

import (
	"testing"

	"github.com/nexsalto/nexsalto/access"
)

// The test environment keeps no event history, so the history of an unchanged booking is counted from what
// the workflow does, event by event as a server records it: WorkflowExecutionStarted and the signal of
// SignalWithStart; three events per workflow task (one to start the run and one per timer fired, activity
// completed or signal batch); TimerStarted, TimerFired or TimerCanceled; one marker per local activity;
// three events per activity; one UpsertWorkflowSearchAttributes per upsert; WorkflowExecutionCompleted.
// SetCurrentDetails and queries add none. The lead measures the real count on a server.
func TestUnchangedBookingHistoryBudget(t *testing.T) {
	w := newWorld(t)
	b := booking(60, at(9, 0), at(10, 0))
	w.setEnt(b)
	runEntitlement(t, w, b.Ref)

	c := w.counts.snapshot()
	tasks := 1 + c["timerFired"] + c["activityDone"]
	events := 2 + 3*tasks + c["timer"] + c["timerFired"] + c["timerCanceled"] + c["localActivity"] +
		3*c["activity"] + c["upsert"] + 1
	t.Logf("commands %v → %d workflow tasks, about %d history events", c, tasks, events)
	if c["timer"] != 2 || c["localActivity"] != 3 || c["upsert"] != 3 || c["activity"] != 0 {
		t.Errorf("an unchanged booking should need 2 timers, 3 local activities (read, grant, revoke), "+
			"3 upserts and no activity; got %v", c)
	}
	if events > 30 {
		t.Errorf("about %d history events, budget 30", events)
	}
	if n := w.readCount(b.Ref); n != 1 {
		t.Errorf("%d Nexudus reads, want 1", n)
	}
}

// Both workflows together: two overlapping bookings of one room. The signals the entitlement workflows send
// are replayed into the customer workflow at the virtual instants they were sent.
func TestOverlappingBookingsEndToEnd(t *testing.T) {
	w := newWorld(t)
	for _, b := range []access.Entitlement{booking(61, at(9, 0), at(10, 0)), booking(62, at(9, 30), at(11, 0))} {
		w.setEnt(b)
		w.newEnv(t0)
		runEntitlement(t, w, b.Ref)
	}
	sent := w.signals()
	if len(sent) != 4 {
		t.Fatalf("signals:\n%s", describeSignals(sent))
	}
	in := knownUser(w)
	w.newEnv(t0)
	for _, s := range sent {
		w.afterAt(s.At, func() { w.env.SignalWorkflow(s.Sig.Signal, s.Sig.Change) })
	}
	var at1030, at1120 bool
	w.memberAt(at(10, 30), "room-a", &at1030)
	w.memberAt(at(11, 20), "room-a", &at1120)
	st := runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(11, 15), "remove", "room-a"})
	if !at1030 || at1120 {
		t.Errorf("member at 10:30 %v, at 11:20 %v", at1030, at1120)
	}
	if len(st.Ledger) != 0 || st.State != access.StateNoAccess {
		t.Errorf("final %+v", st)
	}
}
