package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
		// Timers fire on time here, and a change learned late is due when learned: due when sent.
		if !s.Sig.Change.Due.Equal(s.At) {
			t.Fatalf("customer signal %d due %s, want %s", i, fmtTime(s.Sig.Change.Due), fmtTime(s.At))
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
