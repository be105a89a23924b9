package workflows

import (
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

func TestDuplicatedWebhookIsHarmless(t *testing.T) {
	w := newWorld(t)
	b := booking(13, at(9, 0), at(10, 0))
	w.setEnt(b)
	// The same webhook delivered three times at once, then once more later: nothing changed in Nexudus.
	w.afterAt(at(7, 0), func() {
		// Buffered together, as when they arrive while a workflow task runs.
		w.env.SignalWorkflowSkippingWorkflowTask(access.SignalChanged, nil)
		w.env.SignalWorkflowSkippingWorkflowTask(access.SignalChanged, nil)
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	w.afterAt(at(9, 5), func() { w.env.SignalWorkflow(access.SignalChanged, nil) })
	runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
	// First read, one for the three buffered signals, one for the later one.
	if n := w.readCount(b.Ref); n != 3 {
		t.Errorf("Nexudus reads: %d, want 3", n)
	}
}

func TestReorderedWebhooks(t *testing.T) {
	w := newWorld(t)
	b := booking(14, at(9, 0), at(10, 0))
	w.setEnt(b)
	// Nexudus deletes the booking at 09:10; its delete webhook arrives at 09:11 and the older update webhook
	// only at 09:12. The entitlement re-reads each time and stays deleted.
	w.afterAt(at(9, 10), func() {
		w.mu.Lock()
		delete(w.ents, b.Ref)
		w.mu.Unlock()
	})
	w.afterAt(at(9, 11), func() { w.env.SignalWorkflow(access.SignalChanged, nil) })
	w.afterAt(at(9, 12), func() { w.env.SignalWorkflow(access.SignalChanged, nil) })
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 11), access.SignalRevoke, nil, time.Time{}})
	if st.State != access.StateCancelled {
		t.Errorf("state %s, want cancelled", st.State)
	}
}

// A webhook for a booking whose workflow already finished starts a new run (SignalWithStart); that run reads
// Nexudus and does nothing, whether the booking ended or was cancelled.
func TestLateWebhookNeverResurrects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status access.Status
		state  access.State
	}{
		{"ended", access.StatusActive, access.StateSkipped},
		{"cancelled", access.StatusCancelled, access.StateCancelled},
		{"deleted", access.StatusDeleted, access.StateCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.env = w.newEnv(at(12, 0))
			b := booking(15, at(9, 0), at(10, 0))
			b.Status = tc.status
			w.setEnt(b)
			w.env.RegisterDelayedCallback(func() { w.env.SignalWorkflow(access.SignalChanged, nil) }, 0)
			st := runEntitlement(t, w, b.Ref)
			checkSignals(t, w)
			if st.State != tc.state || st.EverGranted {
				t.Errorf("state %s (ever granted %v), want %s", st.State, st.EverGranted, tc.state)
			}
		})
	}
}
