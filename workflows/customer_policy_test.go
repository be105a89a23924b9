package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/nexsalto/nexsalto/access"
)

// Tests of the Salto user's life: no free licence seat when access returns, and the no-access policy on users
// this integration did not create.

func (w *world) setPolicy(p access.NoAccessPolicy) {
	loc := w.locations[locID]
	loc.Policy = p
	loc.Owned = owned
	w.locations[locID] = loc
}

// stateAt queries the customer workflow at a virtual instant.
func (w *world) stateAt(t time.Time, out *access.CustomerState) {
	w.afterAt(t, func() { *out = queryCustomer(w.t, w.env) })
}

// setSuspended changes a user's subscription by hand, as the Salto back office would.
func (w *world) setSuspended(t time.Time, u *saltoUser, suspended bool) {
	w.afterAt(t, func() { w.mu.Lock(); w.users[u.SiteUserID].Suspended = suspended; w.mu.Unlock() })
}

func (w *world) suspendedNow(u *saltoUser) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.users[u.SiteUserID].Suspended
}

// ownUser is a customer whose Salto user this integration created (and knows so).
func ownUser(w *world) (access.CustomerInput, *saltoUser) {
	in := knownUser(w)
	u := w.userByEmail("ada@example.com")
	w.users[u.SiteUserID].Ours = true
	in.State.User.Created = true
	return in, u
}

// suspendedRef is a repair's view of a user Salto keeps suspended.
func suspendedRef(u *saltoUser) *access.SaltoUser {
	r := saltoRef(u)
	r.Suspended = true
	return r
}

func problemsWith(w *world, s string) int {
	n := 0
	for _, p := range w.problemList() {
		if strings.Contains(p.Description, s) {
			n++
		}
	}
	return n
}

// Access returns while another user holds the only seat: Salto keeps the customer suspended. That is a state
// of its own (not "active") and one problem; reconciliation's repairs make it try again without a new problem
// each time, and the try after the seat is freed subscribes it.
func TestSubscribeWithoutSeatIsANoSeatEpisode(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	w.seats = 1
	in, u := ownUser(w)
	var other *saltoUser
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	w.afterAt(at(11, 0), func() { w.mu.Lock(); other = w.newUser("staff@example.com", "", false); w.mu.Unlock() })
	w.grantAt(at(14, 0), "booking-2", at(17, 15), "room-a")
	var noSeat, retried, back access.CustomerState
	w.stateAt(at(14, 30), &noSeat)
	var suspendedAt1430 bool
	w.afterAt(at(14, 30), func() { suspendedAt1430 = w.suspendedNow(u) })
	w.repairAt(at(15, 0), access.Repair{User: suspendedRef(u), Observed: []string{"room-a"}})
	w.stateAt(at(15, 30), &retried)
	w.afterAt(at(15, 45), func() { w.mu.Lock(); w.users[other.SiteUserID].Suspended = true; w.mu.Unlock() })
	w.repairAt(at(16, 0), access.Repair{User: suspendedRef(u), Observed: []string{"room-a"}})
	w.stateAt(at(16, 30), &back)
	w.revokeAt(at(17, 15), "booking-2")
	runCustomer(t, w, in)

	checkCalls(t, w.callsOf("subscribe", "suspend"), wantCall{at(10, 15), "suspend", ""},
		wantCall{at(14, 0), "subscribe", ""}, wantCall{at(15, 0), "subscribe", ""},
		wantCall{at(16, 0), "subscribe", ""}, wantCall{at(17, 15), "suspend", ""})
	if !suspendedAt1430 {
		t.Error("subscribed at 14:00 without a free seat")
	}
	if noSeat.State != access.StateNoSeat || !noSeat.NoSeat || noSeat.User == nil || !noSeat.User.Suspended {
		t.Errorf("state without a seat: %s, NoSeat %v, user %+v", noSeat.State, noSeat.NoSeat, noSeat.User)
	}
	if retried.State != access.StateNoSeat || !slices.Contains(actions(retried.History), access.ActionNoSeat) {
		t.Errorf("after a retry without a seat: %s %v", retried.State, actions(retried.History))
	}
	if back.State != access.StateActive || back.NoSeat || back.UserProblem != "" {
		t.Errorf("after a seat was freed: %s, NoSeat %v, problem %q", back.State, back.NoSeat, back.UserProblem)
	}
	if n := problemsWith(w, "no free licence seat"); n != 1 || len(w.problemList()) != 1 {
		t.Errorf("problems %+v, want one for the episode", w.problemList())
	}
}

// A user created, or found suspended, while no seat is free: the same episode from the link step, and a
// coworker change that links again does not report it again.
func TestNoSeatWhenLinking(t *testing.T) {
	w := newWorld(t)
	w.seats = 1
	w.addUser("staff@example.com", "") // holds the seat
	w.grantAt(at(8, 45), "booking-1", at(12, 15), "room-a")
	w.afterAt(at(9, 0), func() { w.env.SignalWorkflow(access.SignalChanged, nil) })
	var linked, changed access.CustomerState
	w.stateAt(at(8, 50), &linked)
	w.stateAt(at(9, 10), &changed)
	w.revokeAt(at(12, 15), "booking-1")
	st := runCustomer(t, w, access.NewCustomerInput(customer))

	if linked.State != access.StateNoSeat || linked.User == nil || !linked.User.Created {
		t.Errorf("after creating without a seat: %s, user %+v", linked.State, linked.User)
	}
	if changed.State != access.StateNoSeat {
		t.Errorf("after the coworker change: %s", changed.State)
	}
	if n := problemsWith(w, "no free licence seat"); n != 1 {
		t.Errorf("problems %+v, want one", w.problemList())
	}
	if st.NoSeat || st.UserProblem != "" {
		t.Errorf("episode still open after access ended: %+v", st)
	}
}

// The episode ends with the access: when access returns later without a seat, that is reported again.
func TestNoSeatEpisodeEndsWithTheAccess(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	w.seats = 1
	in, u := ownUser(w)
	w.users[u.SiteUserID].Suspended = true
	in.State.User.Suspended = true
	w.addUser("staff@example.com", "")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	var between access.CustomerState
	w.stateAt(at(12, 0), &between)
	w.grantAt(at(14, 0), "booking-2", at(15, 15), "room-a")
	w.revokeAt(at(15, 15), "booking-2")
	runCustomer(t, w, in)
	if between.State != access.StateSuspended || between.NoSeat || between.UserProblem != "" {
		t.Errorf("between the bookings: %s, NoSeat %v, problem %q", between.State, between.NoSeat, between.UserProblem)
	}
	if n := problemsWith(w, "no free licence seat"); n != 2 {
		t.Errorf("problems %+v, want one per booking", w.problemList())
	}
}

// A run that met no seat before subscribe-reads-state kept a final problem and waited for a coworker change;
// reconciliation's repair now makes it try again.
func TestLegacyNoSeatProblemIsRetriedOnRepair(t *testing.T) {
	w := newWorld(t)
	in, u := ownUser(w)
	w.users[u.SiteUserID].Suspended = true
	in.State.User.Suspended = true
	in.State.UserProblem = legacyNoSeatProblem
	in.State.PolicyDue = true
	in.State.Applied = []string{"room-a"}
	in.State.Ledger = map[string]access.LedgerEntry{"pass-9": {Groups: []string{"room-a"}, AsOf: at(5, 0)}}
	w.repairAt(at(9, 0), access.Repair{User: suspendedRef(u), Observed: []string{"room-a"}})
	w.afterAt(at(10, 0), func() { w.env.CancelWorkflow() })
	st := runCustomer(t, w, in)
	checkCalls(t, w.callsOf("subscribe"), wantCall{at(9, 0), "subscribe", ""})
	if w.suspendedNow(u) || st.State != access.StateActive || st.UserProblem != "" {
		t.Errorf("after the repair: suspended %v, %+v", w.suspendedNow(u), st)
	}
}

// A Salto user that was there before (a member of staff found by e-mail) and is also in a group nexsalto does
// not own: the policy leaves it as it is, reports it once, and reconciliation's repairs do not check or
// report it again. Access that returns and ends again checks again.
func TestPolicyLeavesAUserHeldByOtherGroupsAlone(t *testing.T) {
	for _, policy := range []access.NoAccessPolicy{access.PolicySuspend, access.PolicyDelete} {
		t.Run(string(policy), func(t *testing.T) {
			w := newWorld(t)
			w.setPolicy(policy)
			staff := w.addUser("ada@example.com", "TAG-0042")
			w.members["staff-only"] = map[string]bool{staff.PlatformID: true}
			w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
			w.revokeAt(at(10, 15), "booking-1")
			var kept access.CustomerState
			w.stateAt(at(10, 30), &kept)
			w.repairAt(at(11, 0), access.Repair{User: saltoRef(staff), NothingLeft: true})
			var checks int
			w.afterAt(at(12, 0), func() { w.mu.Lock(); checks = w.holdChecks; w.mu.Unlock() })
			w.grantAt(at(14, 0), "booking-2", at(15, 15), "room-a")
			w.revokeAt(at(15, 15), "booking-2")
			st := runCustomer(t, w, access.NewCustomerInput(customer))

			checkCalls(t, w.callsOf("suspend", "delete", "remove"), wantCall{at(10, 15), "remove", "room-a"},
				wantCall{at(15, 15), "remove", "room-a"})
			if u := w.userByEmail("ada@example.com"); u == nil || u.Suspended || !w.isMember("staff-only", u.PlatformID) {
				t.Fatalf("the member of staff's Salto user was changed: %+v", u)
			}
			if kept.State != access.StateNotOurs || kept.User == nil || kept.User.Created ||
				!slices.Equal(kept.Foreign, []string{"staff-only (staff-only)"}) {
				t.Errorf("after the policy: %s, user %+v, foreign %v", kept.State, kept.User, kept.Foreign)
			}
			if checks != 1 {
				t.Errorf("%d hold checks by noon, want 1 (the repair must not check again)", checks)
			}
			if n := problemsWith(w, "not created by nexsalto"); n != 2 || !strings.Contains(w.problemList()[0].Description, "staff-only") {
				t.Errorf("problems %+v, want one per time access ended", w.problemList())
			}
			if st.State != access.StateNotOurs {
				t.Errorf("final state %s", st.State)
			}
		})
	}
}

// A user found in Salto that only owned groups hold (a customer migrated from another integration): the
// policy applies as to any other.
func TestPolicyAppliesToAnAdoptedUserInOwnedGroupsOnly(t *testing.T) {
	for _, tc := range []struct {
		policy access.NoAccessPolicy
		op     string
	}{{access.PolicySuspend, "suspend"}, {access.PolicyDelete, "delete"}} {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := newWorld(t)
			w.setPolicy(tc.policy)
			migrated := w.addUser("ada@example.com", "TAG-0042")
			w.members["room-b"] = map[string]bool{migrated.PlatformID: true} // owned, left over
			w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
			w.repairAt(at(9, 0), access.Repair{User: saltoRef(migrated), Observed: []string{"room-b"}})
			w.revokeAt(at(10, 15), "booking-1")
			st := runCustomer(t, w, access.NewCustomerInput(customer))
			checkCalls(t, w.callsOf("remove", tc.op), wantCall{at(9, 0), "remove", "room-b"},
				wantCall{at(10, 15), "remove", "room-a"}, wantCall{at(10, 15), tc.op, ""})
			if w.holdChecks != 1 || len(st.Foreign) != 0 || len(w.problemList()) != 0 {
				t.Errorf("hold checks %d, foreign %v, problems %+v", w.holdChecks, st.Foreign, w.problemList())
			}
		})
	}
}

// A user nexsalto created is suspended without reading any group, even if someone put it in another group;
// the mark survives Continue-As-New.
func TestPolicyOnACreatedUserNeedsNoCheck(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.afterAt(at(9, 0), func() {
		u := w.userByEmail("ada@example.com")
		w.mu.Lock()
		w.members["staff-only"] = map[string]bool{u.PlatformID: true}
		w.mu.Unlock()
		w.env.SetContinueAsNewSuggested(true)
		w.env.SignalWorkflow(access.SignalChanged, nil)
	})
	w.env.ExecuteWorkflow(access.WorkflowCustomer, access.NewCustomerInput(customer))
	next := continuedInput(t, w)
	if next.State == nil || next.State.User == nil || !next.State.User.Created {
		t.Fatalf("carried state %+v", next.State)
	}
	w.newEnv(at(9, 0))
	runCustomer(t, w, next) // the ledger entry expires at 10:15
	checkCalls(t, w.callsOf("create", "suspend"), wantCall{at(8, 45), "create", ""}, wantCall{at(10, 15), "suspend", ""})
	if w.holdChecks != 0 {
		t.Errorf("%d hold checks for a user nexsalto created", w.holdChecks)
	}
}

// A user created before the mark existed (state without Created) is recognised by its alias when the policy is
// due, and suspended.
func TestPolicyRecognisesAnOlderCreatedUser(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	in, u := ownUser(w)
	in.State.User.Created = false
	w.members["staff-only"] = map[string]bool{u.PlatformID: true}
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	st := runCustomer(t, w, in)
	checkCalls(t, w.callsOf("suspend"), wantCall{at(10, 15), "suspend", ""})
	if w.holdChecks != 1 || st.User == nil || !st.User.Created || st.State != access.StateSuspended {
		t.Errorf("hold checks %d, final %+v", w.holdChecks, st)
	}
}

// Access that returns while the check of what else holds a user is still reading Salto (its reads wait behind
// every due change) cancels the check: the new grant goes out at once, and no policy is applied.
func TestAccessReturningCancelsTheHoldCheck(t *testing.T) {
	w := newWorld(t)
	w.setPolicy(access.PolicySuspend)
	adopted := w.addUser("ada@example.com", "TAG-0042")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	// The check would take ten minutes of background reads.
	w.env.OnActivity(w.CheckUserHold, mock.Anything, mock.Anything).After(10 * time.Minute).Return(w.CheckUserHold)
	w.grantAt(at(10, 17), "booking-2", at(11, 0), "room-b")
	w.revokeAt(at(11, 0), "booking-2")
	st := runCustomer(t, w, access.NewCustomerInput(customer))

	checkCalls(t, w.callsOf("add", "suspend"), wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(10, 17), "add", "room-b"}, wantCall{at(11, 10), "suspend", ""})
	if u := w.users[adopted.SiteUserID]; !u.Suspended {
		t.Errorf("the policy was not applied once access ended for good: %+v", u)
	}
	if st.State != access.StateSuspended {
		t.Errorf("final state %s", st.State)
	}
}
