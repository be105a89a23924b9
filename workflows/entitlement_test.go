package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
)

func bookingRef(id int64) access.Ref { return access.Ref{Kind: access.KindBooking, ID: id} }

// roomMapping is the test location's configuration: Meeting Room A (resource 1) opens group room-a, with
// Nexudus' own 15 minutes of lead and lag.
var roomMapping = &config.Config{Locations: []config.Location{{BusinessID: locID, TimeZone: "UTC",
	GrantLead: 15 * time.Minute, RevokeLag: 15 * time.Minute, Resources: map[int64][]string{1: {"room-a"}}}}}

// booking is what LoadEntitlement returns, by the rules, for a confirmed booking of Meeting Room A from–to read
// the day before: the tests' expected instants are written out, so they follow no rule of their own.
func booking(id int64, from, to time.Time) access.Entitlement {
	return rules.Booking(roomMapping, nexudus.Booking{Entity: nexudus.Entity{Id: int(id)}, ResourceId: 1,
		ResourceName: "Meeting Room A", CoworkerId: int(coworkerID), FromTime: nexudus.NewTime(from),
		ToTime: nexudus.NewTime(to)}, from.Add(-24*time.Hour))
}

type wantSignal struct {
	At     time.Time
	Signal string
	Groups []string
	Until  time.Time
}

func checkSignals(t *testing.T, w *world, want ...wantSignal) {
	t.Helper()
	got := w.signals()
	if len(got) != len(want) {
		t.Fatalf("customer signals: got %d, want %d:\n%s", len(got), len(want), describeSignals(got))
	}
	for i, s := range got {
		wnt := want[i]
		if !s.At.Equal(wnt.At) || s.Sig.Signal != wnt.Signal || !slices.Equal(s.Sig.Change.Groups, wnt.Groups) ||
			!s.Sig.Change.Until.Equal(wnt.Until) {
			t.Fatalf("customer signal %d: got %s\nwant %s %s %v until %s", i, describeSignals(got[i:i+1]),
				wnt.At.Format(time.TimeOnly), wnt.Signal, wnt.Groups, fmtTime(wnt.Until))
		}
		if s.Sig.Customer != customer || s.Sig.Change.Entitlement == "" || !s.Sig.Change.AsOf.Equal(s.At) {
			t.Fatalf("customer signal %d has wrong addressing: %+v", i, s.Sig)
		}
	}
}

func describeSignals(ss []sentSignal) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "  %s %s %s %v until %s (%s)\n", s.At.Format(time.TimeOnly), s.Sig.Signal,
			s.Sig.Change.Entitlement, s.Sig.Change.Groups, fmtTime(s.Sig.Change.Until), s.Sig.Change.Reason)
	}
	return b.String()
}

func runEntitlement(t *testing.T, w *world, ref access.Ref) access.EntitlementState {
	t.Helper()
	w.env.ExecuteWorkflow(ref.Kind.WorkflowType(), access.EntitlementInput{Ref: ref})
	if !w.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := w.env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	return queryEntitlement(t, w.env)
}

func TestBookingGrantedAtLeadRevokedAtLag(t *testing.T) {
	w := newWorld(t)
	b := booking(1, at(9, 0), at(10, 0))
	w.setEnt(b)
	var midState access.EntitlementState
	w.afterAt(at(9, 30), func() { midState = queryEntitlement(t, w.env) })

	st := runEntitlement(t, w, b.Ref)

	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
	if w.now() != at(10, 15) {
		t.Errorf("finished at %s, want 10:15", w.now())
	}
	if n := w.readCount(b.Ref); n != 1 {
		t.Errorf("Nexudus reads: %d, want 1", n)
	}
	if midState.State != access.StateGranted || midState.Granted == nil || midState.Granted.Customer != customer {
		t.Errorf("state at 09:30: %+v", midState)
	}
	if st.State != access.StateRevoked {
		t.Errorf("final state %s, want revoked", st.State)
	}
	if got := actions(st.History); !slices.Equal(got, []access.Action{access.ActionScheduled, access.ActionGranted,
		access.ActionRevoked}) {
		t.Errorf("history actions %v", got)
	}
	if r := st.History[2].Reason; !strings.Contains(r, "ended") {
		t.Errorf("revoke reason %q does not say why", r)
	}
}

func TestLateBookingGrantsAtOnce(t *testing.T) {
	w := newWorld(t)
	w.env = w.newEnv(at(9, 30)) // created at 09:30 for 09:00–10:00: inside the lead and already running
	b := booking(2, at(9, 0), at(10, 0))
	w.setEnt(b)
	runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(9, 30), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
}

func TestBookingAlreadyEndedDoesNothing(t *testing.T) {
	w := newWorld(t)
	w.env = w.newEnv(at(11, 0))
	b := booking(3, at(9, 0), at(10, 0))
	w.setEnt(b)
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w)
	if st.State != access.StateSkipped || w.now() != at(11, 0) {
		t.Errorf("state %s at %s, want skipped at once", st.State, w.now())
	}
}

func TestTentativeBookingWaitsForConfirmation(t *testing.T) {
	w := newWorld(t)
	b := booking(4, at(9, 0), at(10, 0))
	b.Status = access.StatusTentative
	w.setEnt(b)
	var before access.EntitlementState
	w.afterAt(at(8, 50), func() { before = queryEntitlement(t, w.env) })
	w.afterAt(at(9, 5), func() {
		w.edit(b.Ref, func(e *access.Entitlement) { e.Status = access.StatusActive })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, b.Ref)
	if before.State != access.StateTentative {
		t.Errorf("state before confirmation %s, want tentative", before.State)
	}
	checkSignals(t, w,
		wantSignal{at(9, 5), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
}

func TestTentativeBookingNeverConfirmed(t *testing.T) {
	w := newWorld(t)
	b := booking(5, at(9, 0), at(10, 0))
	b.Status = access.StatusTentative
	w.setEnt(b)
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w)
	if st.State != access.StateSkipped || w.now() != at(10, 15) {
		t.Errorf("state %s at %s, want skipped at 10:15", st.State, w.now())
	}
}

func TestBookingMovedBeforeGrant(t *testing.T) {
	w := newWorld(t)
	b := booking(6, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(7, 0), func() {
		w.setEnt(booking(6, at(14, 0), at(15, 0)))
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(13, 45), access.SignalGrant, []string{"room-a"}, at(15, 15)},
		wantSignal{at(15, 15), access.SignalRevoke, nil, time.Time{}})
	if !slices.Contains(actions(st.History), access.ActionChanged) {
		t.Errorf("history lacks the change: %v", actions(st.History))
	}
}

func TestBookingMovedAfterGrant(t *testing.T) {
	w := newWorld(t)
	b := booking(7, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 10), func() {
		w.setEnt(booking(7, at(14, 0), at(15, 0)))
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 10), access.SignalRevoke, nil, time.Time{}},
		wantSignal{at(13, 45), access.SignalGrant, []string{"room-a"}, at(15, 15)},
		wantSignal{at(15, 15), access.SignalRevoke, nil, time.Time{}})
}

func TestBookingMovedToAnotherRoom(t *testing.T) {
	w := newWorld(t)
	b := booking(8, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 10), func() {
		w.edit(b.Ref, func(e *access.Entitlement) { e.Groups = []string{"room-b"} })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 10), access.SignalGrant, []string{"room-b"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
}

func TestBookingShortenedAfterGrant(t *testing.T) {
	w := newWorld(t)
	b := booking(9, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 10), func() {
		w.setEnt(booking(9, at(9, 0), at(9, 30)))
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 10), access.SignalGrant, []string{"room-a"}, at(9, 45)},
		wantSignal{at(9, 45), access.SignalRevoke, nil, time.Time{}})
	if w.now() != at(9, 45) {
		t.Errorf("finished at %s, want 09:45", w.now())
	}
	if got := actions(st.History); !slices.Contains(got, access.ActionUpdated) {
		t.Errorf("history lacks the update: %v", got)
	}
}

func TestBookingShortenedIntoThePast(t *testing.T) {
	w := newWorld(t)
	b := booking(10, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 40), func() {
		w.setEnt(booking(10, at(9, 0), at(9, 15))) // ends 09:30 with the lag: already over
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 40), access.SignalRevoke, nil, time.Time{}})
}

func TestBookingCancelledBeforeGrant(t *testing.T) {
	w := newWorld(t)
	b := booking(11, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(7, 0), func() {
		w.edit(b.Ref, func(e *access.Entitlement) { e.Status = access.StatusCancelled })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w)
	if st.State != access.StateCancelled || w.now() != at(7, 0) {
		t.Errorf("state %s at %s, want cancelled at 07:00", st.State, w.now())
	}
}

func TestBookingCancelledAfterGrant(t *testing.T) {
	w := newWorld(t)
	b := booking(12, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 20), func() {
		w.edit(b.Ref, func(e *access.Entitlement) { e.Status = access.StatusCancelled })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 20), access.SignalRevoke, nil, time.Time{}})
	if st.State != access.StateCancelled || w.now() != at(9, 20) {
		t.Errorf("state %s at %s, want cancelled at 09:20", st.State, w.now())
	}
	if r := w.signals()[1].Sig.Change.Reason; r != "cancelled in Nexudus" {
		t.Errorf("revoke reason %q", r)
	}
}

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

func TestUnmappedResourceDoesNothing(t *testing.T) {
	w := newWorld(t)
	b := booking(16, at(9, 0), at(10, 0))
	b.Groups = nil
	w.setEnt(b)
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w)
	if st.State != access.StateSkipped {
		t.Errorf("state %s, want skipped", st.State)
	}
}

// An entitlement that maps to no group finishes as soon as it has been read, skipped with why: a booking of an
// unmapped room does not sleep until its end, a pass of an unmapped product without expiry does not run for
// ever. Only a change in Nexudus or in the mapping starts it again.
func TestUnmappedEntitlementsFinishAtOnce(t *testing.T) {
	for name, e := range map[string]access.Entitlement{
		"booking of an unmapped room": {Ref: bookingRef(17), Status: access.StatusActive, GrantAt: at(9, 0),
			RevokeAt: at(11, 0), Summary: "Room 9 (resource 9 is not mapped to any access group)"},
		"pass of an unmapped product, no expiry": {Ref: passRef(22), Status: access.StatusActive,
			Summary: "Gym pass (pass product 5 is not mapped to any access group)"},
		"visitor without an expected arrival": {Ref: access.Ref{Kind: access.KindVisitor, ID: 23},
			Status: access.StatusActive, Groups: []string{"visitors"}, Summary: "visitor V (no expected arrival)"},
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.setEnt(e)
			w.env.SetTestTimeout(10 * time.Second)
			st := runEntitlement(t, w, e.Ref)
			checkSignals(t, w)
			if !w.now().Equal(t0) {
				t.Errorf("finished at %s, want at once (%s)", w.now().Format(time.TimeOnly), t0.Format(time.TimeOnly))
			}
			if st.State != access.StateSkipped {
				t.Errorf("state %s, want skipped", st.State)
			}
			last := st.History[len(st.History)-1]
			if last.Action != access.ActionSkipped || !strings.Contains(last.Reason, e.Summary) {
				t.Errorf("last change %s %q, want skipped with the reason", last.Action, last.Reason)
			}
		})
	}
}

func TestBookingMovedToAnotherCustomer(t *testing.T) {
	w := newWorld(t)
	b := booking(17, at(9, 0), at(10, 0))
	w.setEnt(b)
	other := access.CustomerKey{LocationID: locID, CoworkerID: 77}
	w.afterAt(at(9, 10), func() {
		w.edit(b.Ref, func(e *access.Entitlement) { e.CoworkerID = other.CoworkerID })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, b.Ref)
	got := w.signals()
	if len(got) != 4 {
		t.Fatalf("signals:\n%s", describeSignals(got))
	}
	wantTo := []access.CustomerKey{customer, customer, other, other}
	wantSig := []string{access.SignalGrant, access.SignalRevoke, access.SignalGrant, access.SignalRevoke}
	wantAt := []time.Time{at(8, 45), at(9, 10), at(9, 10), at(10, 15)}
	for i, s := range got {
		if s.Sig.Customer != wantTo[i] || s.Sig.Signal != wantSig[i] || !s.At.Equal(wantAt[i]) {
			t.Errorf("signal %d: %s", i, describeSignals(got[i:i+1]))
		}
	}
}

func passRef(id int64) access.Ref { return access.Ref{Kind: access.KindPass, ID: id} }

func TestPassGrantedAtOnceRevokedWhenUsedUp(t *testing.T) {
	w := newWorld(t)
	p := access.Entitlement{Ref: passRef(20), Groups: []string{"coworking"}, Status: access.StatusActive,
		RevokeAt: t0.Add(7 * 24 * time.Hour), Summary: "10-visit pass"}
	w.setEnt(p)
	usedUp := t0.Add(50 * time.Hour)
	w.afterAt(usedUp, func() {
		w.edit(p.Ref, func(e *access.Entitlement) { e.Status = access.StatusExpired })
		w.env.SignalWorkflow(access.SignalChanged, nil) // from the pass poller
	})
	st := runEntitlement(t, w, p.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"coworking"}, t0.Add(7 * 24 * time.Hour)},
		wantSignal{usedUp, access.SignalRevoke, nil, time.Time{}})
	if st.State != access.StateRevoked {
		t.Errorf("state %s", st.State)
	}
	if r := w.signals()[1].Sig.Change.Reason; r != "pass used up or expired" {
		t.Errorf("revoke reason %q", r)
	}
}

func TestPassRevokedAtExpiry(t *testing.T) {
	w := newWorld(t)
	expiry := t0.Add(30 * time.Hour)
	p := access.Entitlement{Ref: passRef(21), Groups: []string{"coworking"}, Status: access.StatusActive,
		RevokeAt: expiry, Summary: "day pass"}
	w.setEnt(p)
	runEntitlement(t, w, p.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"coworking"}, expiry},
		wantSignal{expiry, access.SignalRevoke, nil, time.Time{}})
}

func contractRef(id int64) access.Ref { return access.Ref{Kind: access.KindContract, ID: id} }

func TestContractCancelledWithFutureDate(t *testing.T) {
	w := newWorld(t)
	start := t0.Add(24 * time.Hour)
	c := access.Entitlement{Ref: contractRef(30), Groups: []string{"desk-12"}, Status: access.StatusActive,
		GrantAt: start, Summary: "Dedicated desk 12"}
	w.setEnt(c)
	cancelDate := t0.Add(40 * 24 * time.Hour)
	w.afterAt(t0.Add(10*24*time.Hour), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.RevokeAt = cancelDate }) // cancelled, effective later
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	var mid access.EntitlementState
	w.afterAt(t0.Add(20*24*time.Hour), func() { mid = queryEntitlement(t, w.env) })
	st := runEntitlement(t, w, c.Ref)
	checkSignals(t, w,
		wantSignal{start, access.SignalGrant, []string{"desk-12"}, time.Time{}},
		wantSignal{t0.Add(10 * 24 * time.Hour), access.SignalGrant, []string{"desk-12"}, cancelDate},
		wantSignal{cancelDate, access.SignalRevoke, nil, time.Time{}})
	if mid.State != access.StateGranted {
		t.Errorf("state between cancellation and its date: %s", mid.State)
	}
	if st.State != access.StateRevoked {
		t.Errorf("final state %s", st.State)
	}
}

func TestContractDeskChangedAndDeactivated(t *testing.T) {
	w := newWorld(t)
	c := access.Entitlement{Ref: contractRef(31), Groups: []string{"desk-12"}, Status: access.StatusActive,
		Summary: "Dedicated desk"}
	w.setEnt(c)
	day := 24 * time.Hour
	w.afterAt(t0.Add(3*day), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.Groups = []string{"desk-14", "office-2"} })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	w.afterAt(t0.Add(9*day), func() {
		w.edit(c.Ref, func(e *access.Entitlement) { e.Status = access.StatusExpired })
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, c.Ref)
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"desk-12"}, time.Time{}},
		wantSignal{t0.Add(3 * day), access.SignalGrant, []string{"desk-14", "office-2"}, time.Time{}},
		wantSignal{t0.Add(9 * day), access.SignalRevoke, nil, time.Time{}})
}

func visitorRef(id int64) access.Ref { return access.Ref{Kind: access.KindVisitor, ID: id} }

func visitor(id int64, from, to time.Time) access.Entitlement {
	return access.Entitlement{Ref: visitorRef(id), Groups: []string{"visitors"}, Status: access.StatusActive,
		GrantAt: from, RevokeAt: to, Summary: "Grace Hopper visiting Ada, 30 Nov",
		Visitor: &access.VisitorDetails{Name: "Grace Hopper", GroupID: "visitors", PIN: true}}
}

func TestVisitorPINNeverInHistoryOrLogs(t *testing.T) {
	w := newWorld(t)
	v := visitor(40, at(8, 0), at(23, 59))
	w.setEnt(v)
	var seen []string // every activity input and result the workflow history would hold
	w.env.SetOnActivityStartedListener(func(_ *activityInfo, _ ctxT, args converter.EncodedValues) {
		var in access.VisitorGrant
		if args.Get(&in) == nil {
			seen = append(seen, asJSON(in))
		}
	})
	w.env.SetOnActivityCompletedListener(func(_ *activityInfo, result converter.EncodedValue, _ error) {
		var out access.VisitorAccess
		if result != nil && result.HasValue() && result.Get(&out) == nil {
			seen = append(seen, asJSON(out))
		}
	})
	var during access.EntitlementState
	var member bool
	w.afterAt(at(12, 0), func() {
		during = queryEntitlement(t, w.env)
		if g := during.Granted; g != nil && g.Visitor != nil {
			member = w.isMember("visitors", g.Visitor.PlatformUserID)
		}
	})
	st := runEntitlement(t, w, v.Ref)

	guests := w.callsOf("guest", "revoke-guest")
	if len(guests) != 2 || !guests[0].At.Equal(at(8, 0)) || !guests[1].At.Equal(at(23, 59)) {
		t.Fatalf("visitor calls: %+v", guests)
	}
	if !member {
		t.Error("visitor not in the visitor group at noon")
	}
	pin := w.visitorPINs[v.Ref.ID]
	if len(pin) != 6 {
		t.Fatalf("no PIN written to the Nexudus visitor record: %q", pin)
	}
	seen = append(seen, asJSON(during), asJSON(st))
	for _, s := range seen {
		if strings.Contains(s, pin) {
			t.Fatalf("PIN appears in workflow data: %s", s)
		}
	}
	if w.logs.contains(pin) {
		t.Fatal("PIN appears in a log line")
	}
	if len(seen) < 4 {
		t.Fatalf("listener saw too little to be meaningful: %v", seen)
	}
	if w.userByEmail("") != nil {
		t.Error("visitor guest still exists after revoke")
	}
	checkSignals(t, w) // visitors never touch a customer workflow
}

func TestVisitorRemovedAtDeparture(t *testing.T) {
	w := newWorld(t)
	v := visitor(41, at(8, 0), at(23, 59))
	w.setEnt(v)
	w.afterAt(at(15, 30), func() {
		w.edit(v.Ref, func(e *access.Entitlement) {
			e.Visitor.Departed = true
			e.RevokeAt = at(15, 30)
		})
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	runEntitlement(t, w, v.Ref)
	guests := w.callsOf("guest", "revoke-guest")
	if len(guests) != 2 || !guests[1].At.Equal(at(15, 30)) {
		t.Fatalf("visitor calls: %+v", guests)
	}
}

// Continue-As-New while a revoke timer is pending and a "changed" signal is buffered: the new run gets the
// grant, the unread signal, and recomputes its timer.
func TestEntitlementContinueAsNewCarriesTimersAndSignals(t *testing.T) {
	w := newWorld(t)
	b := booking(50, at(9, 0), at(10, 0))
	w.setEnt(b)
	w.afterAt(at(9, 20), func() {
		w.env.SetContinueAsNewSuggested(true)
		w.setEnt(booking(50, at(9, 0), at(11, 0))) // extended
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	w.env.ExecuteWorkflow(access.WorkflowBooking, access.EntitlementInput{Ref: b.Ref})
	var can *workflow.ContinueAsNewError
	if err := w.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want Continue-As-New, got %v", err)
	}
	if w.now() != at(9, 20) || can.WorkflowType.Name != access.WorkflowBooking {
		t.Fatalf("continued at %s as %s", w.now(), can.WorkflowType.Name)
	}
	var next access.EntitlementInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.State.Granted == nil || !next.State.Reload {
		t.Fatalf("carried state lacks the grant or the buffered signal: %+v", next.State)
	}
	readsBefore := w.readCount(b.Ref)

	w.newEnv(at(9, 20))
	w.env.ExecuteWorkflow(access.WorkflowBooking, next)
	if err := w.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if n := w.readCount(b.Ref) - readsBefore; n != 1 {
		t.Errorf("new run read Nexudus %d times, want 1", n)
	}
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(9, 20), access.SignalGrant, []string{"room-a"}, at(11, 15)},
		wantSignal{at(11, 15), access.SignalRevoke, nil, time.Time{}})
	st := queryEntitlement(t, w.env)
	if !slices.Contains(actions(st.History), access.ActionContinued) || st.History[0].Action != access.ActionScheduled {
		t.Errorf("history not carried across runs: %v", actions(st.History))
	}
}

// A read that fails for a while keeps the known plan (the revoke still happens on time) and is retried.
func TestFailingReadKeepsPlan(t *testing.T) {
	w := newWorld(t)
	b := booking(51, at(9, 0), at(10, 0))
	w.setEnt(b)
	var broken atomic.Bool
	broken.Store(true)
	w.env.OnActivity("LoadEntitlement", mock.Anything, mock.Anything).Return(
		func(ctx ctxT, ref access.Ref) (access.Entitlement, error) {
			if w.readCount(ref) > 0 && broken.Load() {
				return access.Entitlement{}, errors.New("nexudus: 503")
			}
			return w.LoadEntitlement(ctx, ref)
		})
	w.afterAt(at(9, 0), func() { w.env.SignalWorkflow(access.SignalChanged, nil) })
	w.afterAt(at(9, 30), func() { broken.Store(false) })
	st := runEntitlement(t, w, b.Ref)
	checkSignals(t, w,
		wantSignal{at(8, 45), access.SignalGrant, []string{"room-a"}, at(10, 15)},
		wantSignal{at(10, 15), access.SignalRevoke, nil, time.Time{}})
	if !slices.Contains(actions(st.History), access.ActionLoadFailure) {
		t.Errorf("history does not show the failed read: %v", actions(st.History))
	}
}

// Cancelling an entitlement workflow takes its access back before it ends.
func TestCancelledWorkflowRevokes(t *testing.T) {
	w := newWorld(t)
	c := access.Entitlement{Ref: contractRef(52), Groups: []string{"office-1"}, Status: access.StatusActive,
		Summary: "Private office 1"}
	w.setEnt(c)
	w.afterAt(at(12, 0), func() { w.env.CancelWorkflow() })
	w.env.ExecuteWorkflow(access.WorkflowContract, access.EntitlementInput{Ref: c.Ref})
	var canceled *temporal.CanceledError
	if err := w.env.GetWorkflowError(); !errors.As(err, &canceled) {
		t.Fatalf("want cancelled, got %v", err)
	}
	checkSignals(t, w,
		wantSignal{t0, access.SignalGrant, []string{"office-1"}, time.Time{}},
		wantSignal{at(12, 0), access.SignalRevoke, nil, time.Time{}})
}
