package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// A signed webhook's body stands for the read of Nexudus: a newer one moves the access without a read, an
// older one (delivered out of order) changes nothing, and a signal without a body (a resync) reads Nexudus.
func TestWebhookBodyStandsForTheRead(t *testing.T) {
	w := newWorld(t)
	b := booking(1, at(9, 0), at(10, 0))
	b.UpdatedOn = at(7, 0)
	w.setEnt(b)
	moved := booking(1, at(9, 0), at(11, 0))
	moved.UpdatedOn, moved.CoworkerID = at(7, 30), coworkerID
	stale := booking(1, at(9, 0), at(9, 30))
	stale.UpdatedOn, stale.CoworkerID = at(7, 10), coworkerID
	var readsBeforeResync int
	w.afterAt(at(8, 0), func() {
		w.setEnt(moved)
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Entitlement: moved, Source: "webhook BookingUpdate"})
	})
	w.afterAt(at(8, 10), func() {
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Entitlement: stale, Source: "webhook BookingUpdate"})
	})
	w.afterAt(at(9, 30), func() {
		readsBeforeResync = w.readCount(b.Ref)
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})

	st := runEntitlement(t, w, b.Ref)

	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(11, 15)},
		wantSignal{at(11, 15), access.SignalRevoke, nil, time.Time{}})
	if readsBeforeResync != 1 {
		t.Errorf("Nexudus reads before the resync: %d, want 1 (the bodies stood for the rest)", readsBeforeResync)
	}
	if n := w.readCount(b.Ref); n != 2 {
		t.Errorf("Nexudus reads: %d, want 2 (the first, and the resync's)", n)
	}
	changed := 0
	for _, c := range st.History {
		if c.Action == access.ActionChanged {
			changed++
			if !strings.Contains(c.Reason, "from the webhook BookingUpdate") {
				t.Errorf("change %q does not say it came from the webhook", c.Reason)
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d changes in the history, want 1 (the stale body and the resync change nothing): %+v", changed, st.History)
	}
}

// The change poller lists a change the workflow already holds (a webhook brought it): nothing is read. A change
// it lists that is newer than what the workflow holds is read.
func TestPolledChangeAlreadyHeldIsNotReadAgain(t *testing.T) {
	w := newWorld(t)
	b := booking(1, at(9, 0), at(10, 0))
	b.UpdatedOn = at(7, 0)
	w.setEnt(b)
	moved := booking(1, at(9, 0), at(11, 0))
	moved.UpdatedOn, moved.CoworkerID = at(7, 30), coworkerID
	var readsAfterHeld int
	w.afterAt(at(8, 0), func() {
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Entitlement: moved, Source: "webhook BookingUpdate"})
	})
	w.afterAt(at(8, 5), func() {
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Seen: at(7, 30)}) // what the webhook brought
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Seen: at(7, 0)})  // older still
	})
	w.afterAt(at(8, 10), func() {
		readsAfterHeld = w.readCount(b.Ref)
		later := booking(1, at(9, 0), at(10, 30))
		later.UpdatedOn, later.CoworkerID = at(8, 7), coworkerID
		w.setEnt(later)
		w.env.SignalWorkflow(access.SignalChanged, access.Observed{Seen: at(8, 7)}) // newer: read it
	})

	runEntitlement(t, w, b.Ref)

	if readsAfterHeld != 1 {
		t.Errorf("Nexudus reads once the poller listed changes already held: %d, want 1 (the first only)", readsAfterHeld)
	}
	if n := w.readCount(b.Ref); n != 2 {
		t.Errorf("Nexudus reads: %d, want 2 (the first, and the newer change's)", n)
	}
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 45)},
		wantSignal{at(10, 45), access.SignalRevoke, nil, time.Time{}})
}
