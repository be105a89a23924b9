package workflows

import (
	"slices"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// Tests of the repair signal: reconciliation tells the customer workflow what Salto holds, and the workflow
// re-applies its own ledger against it.

var owned = []string{"desk", "pass", "room-a", "room-b"}

func (w *world) repairAt(t time.Time, r access.Repair) {
	w.afterAt(t, func() {
		r.AsOf = w.now()
		if r.Owned == nil {
			r.Owned = owned
		}
		if r.Reason == "" {
			r.Reason = "test repair"
		}
		w.env.SignalWorkflow(access.SignalRepair, r)
	})
}

// setMember changes Salto by hand, as a person in the Salto back office would.
func (w *world) setMember(t time.Time, group string, u *saltoUser, member bool) {
	w.afterAt(t, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.members[group] == nil {
			w.members[group] = map[string]bool{}
		}
		if member {
			w.members[group][u.PlatformID] = true
		} else {
			delete(w.members[group], u.PlatformID)
		}
	})
}

func saltoRef(u *saltoUser) *access.SaltoUser {
	return &access.SaltoUser{SiteID: siteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		Suspended: u.Suspended}
}

// A member removed by hand comes back; one added by hand to an owned group leaves; a group the workflow never
// saw outside the owned ones is left alone.
func TestRepairReappliesTheLedger(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.grantAt(at(8, 45), "booking-1", at(12, 15), "room-a")
	w.setMember(at(9, 0), "room-a", u, false) // removed by hand
	w.setMember(at(9, 0), "room-b", u, true)  // added by hand
	w.repairAt(at(9, 15), access.Repair{User: saltoRef(u), Observed: []string{"room-b"}})
	var restored, removed bool
	w.afterAt(at(9, 30), func() { restored, removed = w.isMember("room-a", u.PlatformID), !w.isMember("room-b", u.PlatformID) })
	w.revokeAt(at(12, 15), "booking-1")
	st := runCustomer(t, w, in)

	checkCalls(t, w.callsOf("add", "remove"),
		wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(9, 15), "add", "room-a"}, wantCall{at(9, 15), "remove", "room-b"},
		wantCall{at(12, 15), "remove", "room-a"})
	if !restored || !removed {
		t.Errorf("after the repair: room-a restored %v, room-b removed %v", restored, removed)
	}
	if !slices.Contains(actions(st.History), access.ActionRepair) {
		t.Errorf("history %v", actions(st.History))
	}
}

// A repair never gives access: what the ledger does not hold is removed, even if Salto has it.
func TestRepairNeverGrants(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.setMember(at(8, 0), "desk", u, true)
	w.repairAt(at(9, 0), access.Repair{User: saltoRef(u), Observed: []string{"desk"}})
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf("add", "remove"), wantCall{at(9, 0), "remove", "desk"})
	if w.isMember("desk", u.PlatformID) {
		t.Error("still in the desk group")
	}
}

// A member of an owned group without a customer workflow: reconciliation starts one with the repair. The fresh
// run takes the Salto user it was given, removes the membership and applies the no-access policy, because
// Nexudus has nothing for the customer either.
func TestRepairStartsFreshRunAndAppliesPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy access.NoAccessPolicy
		want   []wantCall
	}{
		{access.PolicySuspend, []wantCall{{at(9, 0), "remove", "room-a"}, {at(9, 0), "suspend", ""}}},
		{access.PolicyDelete, []wantCall{{at(9, 0), "remove", "room-a"}, {at(9, 0), "delete", ""}}},
		{access.PolicyKeep, []wantCall{{at(9, 0), "remove", "room-a"}}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := newWorld(t)
			loc := w.locations[locID]
			loc.Policy = tc.policy
			w.locations[locID] = loc
			u := w.addUser("ada@example.com", "TAG-0042")
			w.setMember(at(8, 0), "room-a", u, true)
			w.repairAt(at(9, 0), access.Repair{User: saltoRef(u), Observed: []string{"room-a"}, NothingLeft: true})
			st := runCustomer(t, w, access.NewCustomerInput(customer))
			checkCalls(t, w.callsOf(), tc.want...)
			if len(st.Applied) != 0 || st.PolicyDue {
				t.Errorf("state at the end: %+v", st)
			}
		})
	}
}

// NothingLeft from a reconciliation that read Nexudus before a grant arrived must not suspend a customer whose
// ledger holds access.
func TestRepairNothingLeftWithLedgerKeepsAccess(t *testing.T) {
	w := newWorld(t)
	loc := w.locations[locID]
	loc.Policy = access.PolicySuspend
	w.locations[locID] = loc
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.repairAt(at(9, 0), access.Repair{User: saltoRef(u), Observed: []string{"room-a"}, NothingLeft: true})
	w.revokeAt(at(10, 15), "booking-1")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"},
		wantCall{at(10, 15), "suspend", ""})
}

// A suspended user that reconciliation finds while the ledger holds access is subscribed again.
func TestRepairSubscribesSuspendedUser(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.afterAt(at(8, 50), func() { w.mu.Lock(); w.users[u.SiteUserID].Suspended = true; w.mu.Unlock() })
	w.afterAt(at(9, 0), func() {
		w.env.SignalWorkflow(access.SignalRepair, access.Repair{AsOf: w.now(), Owned: owned,
			User: &access.SaltoUser{SiteID: siteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
				Suspended: true}, Observed: []string{"room-a"}, Reason: "suspended by hand"})
	})
	w.revokeAt(at(10, 15), "booking-1")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf("add", "subscribe", "remove"), wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(9, 0), "subscribe", ""}, wantCall{at(10, 15), "remove", "room-a"})
}

// Reconciliation matched another Salto user than the one the workflow holds: it links again rather than
// trusting either.
func TestRepairWithAnotherUserLinksAgain(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	other := w.addUser("someone-else@example.com", "")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.repairAt(at(9, 0), access.Repair{User: saltoRef(other), Observed: []string{"room-b"}})
	w.revokeAt(at(10, 15), "booking-1")
	runCustomer(t, w, in)
	// No call for the other user: the workflow only links its own again ("get"), and keeps its access.
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(9, 0), "get", ""},
		wantCall{at(10, 15), "remove", "room-a"})
}

// A repair that arrives as the run continues as new is taken before the state is carried over.
func TestRepairSurvivesContinueAsNew(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.setMember(at(9, 0), "room-a", u, false)
	w.afterAt(at(9, 0), func() {
		w.env.SetContinueAsNewSuggested(true)
		w.env.SignalWorkflow(access.SignalRepair, access.Repair{AsOf: w.now(), Owned: owned, User: saltoRef(u),
			Reason: "removed by hand"})
	})
	w.env.ExecuteWorkflow(access.WorkflowCustomer, in)
	next := continuedInput(t, w)
	if st := next.State; st == nil || len(st.Applied) != 0 || len(st.Ledger) != 1 {
		t.Fatalf("carried state %+v", next.State)
	}
	w.newEnv(at(9, 0))
	runCustomer(t, w, next)
	checkCalls(t, w.callsOf("add", "remove"), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(9, 0), "add", "room-a"},
		wantCall{at(10, 15), "remove", "room-a"})
}

// A repair that read Salto before the workflow added a group (reconciliation ran while a burst of webhooks
// granted) does not make the workflow add it a second time: groups changed after the repair's reading keep what
// the workflow knows. One Salto call per grant.
func TestStaleRepairDoesNotAddAgain(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.grantAt(at(8, 45), "booking-1", at(12, 15), "room-a")
	// Read at 8:40, before the add; delivered at 8:50, after it.
	w.afterAt(at(8, 50), func() {
		w.env.SignalWorkflow(access.SignalRepair, access.Repair{AsOf: at(8, 40), Owned: owned, User: saltoRef(u),
			Reason: "reconciliation read before the grant"})
	})
	w.revokeAt(at(12, 15), "booking-1")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf("add", "remove"),
		wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(12, 15), "remove", "room-a"})
}
