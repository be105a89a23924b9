package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// grantAt and revokeAt send the customer workflow a grant or revoke at a virtual instant, stamped with that
// instant as the entitlement workflow would.
func (w *world) grantAt(t time.Time, key string, until time.Time, groups ...string) {
	w.afterAt(t, func() {
		w.env.SignalWorkflow(access.SignalGrant, access.AccessChange{Entitlement: key, Groups: groups, Until: until,
			Reason: "test grant " + key, Summary: key, AsOf: w.now()})
	})
}

func (w *world) revokeAt(t time.Time, key string) {
	w.afterAt(t, func() {
		w.env.SignalWorkflow(access.SignalRevoke, access.AccessChange{Entitlement: key, Reason: "test revoke " + key,
			AsOf: w.now()})
	})
}

// memberAt records, at a virtual instant, whether the customer's Salto user is in group.
func (w *world) memberAt(t time.Time, group string, out *bool) {
	w.afterAt(t, func() {
		u := w.userByEmail("ada@example.com")
		*out = u != nil && w.isMember(group, u.PlatformID)
	})
}

func runCustomer(t *testing.T, w *world, in access.CustomerInput) access.CustomerState {
	t.Helper()
	w.env.ExecuteWorkflow(access.WorkflowCustomer, in)
	if !w.env.IsWorkflowCompleted() {
		t.Fatal("customer workflow did not complete")
	}
	if err := w.env.GetWorkflowError(); err != nil {
		var canceled *temporal.CanceledError
		if !errors.As(err, &canceled) {
			t.Fatalf("customer workflow: %v", err)
		}
	}
	return queryCustomer(t, w.env)
}

type wantCall struct {
	At    time.Time
	Op    string
	Group string
}

func checkCalls(t *testing.T, got []saltoCall, want ...wantCall) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].At.Equal(want[i].At) && got[i].Op == want[i].Op && got[i].Group == want[i].Group
	}
	if !ok {
		var b strings.Builder
		for _, c := range got {
			fmt.Fprintf(&b, "  %s %s %s %s\n", c.At.Format(time.TimeOnly), c.Op, c.Group, c.User)
		}
		b.WriteString("want:\n")
		for _, c := range want {
			fmt.Fprintf(&b, "  %s %s %s\n", c.At.Format(time.TimeOnly), c.Op, c.Group)
		}
		t.Fatalf("Salto calls:\n%s", b.String())
	}
}

// knownUser is a customer whose Salto user exists and whose customer workflow already holds its ids.
func knownUser(w *world) access.CustomerInput {
	u := w.addUser("ada@example.com", "TAG-0042")
	return access.CustomerInput{Customer: customer, State: &access.CustomerState{Customer: customer,
		User: &access.SaltoUser{SiteID: siteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID}}}
}

func TestCustomerCreatesUserWithTag(t *testing.T) {
	w := newWorld(t)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	var during, after bool
	w.memberAt(at(9, 30), "room-a", &during)
	w.memberAt(at(10, 20), "room-a", &after)
	st := runCustomer(t, w, access.NewCustomerInput(customer))

	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "find", ""}, wantCall{at(8, 45), "create", ""},
		wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
	if !during || after {
		t.Errorf("member during %v, after %v", during, after)
	}
	u := w.userByEmail("ada@example.com")
	if u == nil || u.Tag != "TAG-0042" {
		t.Fatalf("Salto user %+v, want tag from the access card", u)
	}
	if st.User == nil || st.User.SiteUserID != u.SiteUserID || st.User.PlatformUserID != u.PlatformID {
		t.Errorf("workflow keeps %+v, want both ids of %+v", st.User, u)
	}
	if st.State != access.StateNoAccess || len(st.Ledger) != 0 || len(st.Applied) != 0 {
		t.Errorf("final state %+v", st)
	}
	// Idle for the default time after the last signal, then finished.
	if w.now() != at(10, 15).Add(access.DefaultIdleFor) {
		t.Errorf("finished at %s", w.now())
	}
}

func TestCustomerFindsExistingUserByEmail(t *testing.T) {
	w := newWorld(t)
	existing := w.addUser("ada@example.com", "") // made by hand in Salto, no tag yet
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	st := runCustomer(t, w, access.NewCustomerInput(customer))
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "find", ""}, wantCall{at(8, 45), "tag", ""},
		wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
	if st.User == nil || st.User.SiteUserID != existing.SiteUserID {
		t.Errorf("linked %+v, want the existing user %s", st.User, existing.SiteUserID)
	}
}

// The budget: a customer whose Salto user exists and is known costs exactly two Salto calls per booking.
func TestCustomerKnownUserBookingCostsTwoSaltoCalls(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
	if w.coworkerRd != 0 {
		t.Errorf("Nexudus coworker reads: %d, want 0", w.coworkerRd)
	}
}

func TestOverlappingBookingsKeepAccessUntilTheLastEnds(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.grantAt(at(9, 45), "booking-2", at(11, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	w.revokeAt(at(11, 15), "booking-2")
	var between bool
	w.memberAt(at(10, 30), "room-a", &between)
	var mid access.CustomerState
	w.afterAt(at(10, 0), func() { mid = queryCustomer(t, w.env) })
	st := runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(11, 15), "remove", "room-a"})
	if !between {
		t.Error("access lost when the first booking ended")
	}
	if len(mid.Ledger) != 2 || mid.State != access.StateActive {
		t.Errorf("state at 10:00: %+v", mid)
	}
	// Each booking left the ledger at its end, by its revoke or by the expiry that races it at that instant.
	left := 0
	for _, c := range st.History {
		if c.Action == access.ActionRevoked || c.Action == access.ActionExpired {
			left++
		}
	}
	if left != 2 {
		t.Errorf("history %v", actions(st.History))
	}
}

func TestPassAndBookingOnTheSameGroup(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(7, 0), "pass-9", time.Time{}, "coworking")
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "coworking", "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	w.afterAt(at(20, 0), func() { w.env.CancelWorkflow() })
	var pass bool
	w.memberAt(at(12, 0), "coworking", &pass)
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(7, 0), "add", "coworking"}, wantCall{at(8, 45), "add", "room-a"},
		wantCall{at(10, 15), "remove", "room-a"})
	if !pass {
		t.Error("the pass lost its group when the booking ended")
	}
}

// A revoke that never comes: the ledger entry expires by itself at Until.
func TestSafetyNetRemovesAccessAtUntil(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	var afterEnd access.CustomerState
	w.afterAt(at(10, 16), func() { afterEnd = queryCustomer(t, w.env) })
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
	if !slices.Contains(actions(afterEnd.History), access.ActionExpired) {
		t.Errorf("history %v", actions(afterEnd.History))
	}
}

func TestNoAccessPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy   access.NoAccessPolicy
		state    access.State
		atEnd    []wantCall // after the remove at 10:15
		onReturn []wantCall // access returns at 14:00
	}{
		{access.PolicyKeep, access.StateNoAccess, nil,
			[]wantCall{{at(14, 0), "add", "room-a"}}},
		{access.PolicySuspend, access.StateSuspended, []wantCall{{at(10, 15), "suspend", ""}},
			[]wantCall{{at(14, 0), "subscribe", ""}, {at(14, 0), "add", "room-a"}}},
		{access.PolicyDelete, access.StateDeleted, []wantCall{{at(10, 15), "delete", ""}},
			[]wantCall{{at(14, 0), "find", ""}, {at(14, 0), "create", ""}, {at(14, 0), "add", "room-a"}}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			w := newWorld(t)
			loc := w.locations[locID]
			loc.Policy = tc.policy
			w.locations[locID] = loc
			in := knownUser(w)
			w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
			w.revokeAt(at(10, 15), "booking-1")
			var noon access.CustomerState
			w.afterAt(at(12, 0), func() { noon = queryCustomer(t, w.env) })
			w.grantAt(at(14, 0), "booking-2", at(15, 15), "room-a")
			var back bool
			w.memberAt(at(14, 30), "room-a", &back)
			runCustomer(t, w, in)

			want := []wantCall{{at(8, 45), "add", "room-a"}, {at(10, 15), "remove", "room-a"}}
			want = append(want, tc.atEnd...)
			want = append(want, tc.onReturn...)
			want = append(want, wantCall{at(15, 15), "remove", "room-a"})
			want = append(want, tc.atEnd...)
			for i := len(want) - len(tc.atEnd); i < len(want); i++ {
				want[i].At = at(15, 15)
			}
			checkCalls(t, w.callsOf(), want...)
			if noon.State != tc.state {
				t.Errorf("state without access: %s, want %s", noon.State, tc.state)
			}
			if !back {
				t.Error("no access when it returned")
			}
			if u := w.userByEmail("ada@example.com"); tc.policy != access.PolicyDelete && (u == nil || u.Suspended != (tc.policy == access.PolicySuspend)) {
				t.Errorf("Salto user at the end: %+v", u)
			}
		})
	}
}

// A fresh customer run with an empty ledger never applies the policy by itself: only losing access does.
func TestFreshRunDoesNotApplyPolicy(t *testing.T) {
	w := newWorld(t)
	loc := w.locations[locID]
	loc.Policy = access.PolicyDelete
	w.locations[locID] = loc
	in := knownUser(w)
	w.afterAt(at(9, 0), func() { w.env.SignalWorkflow(access.SignalRelink, nil) }) // coworker updated
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(9, 0), "get", ""})
}

func TestCoworkerChangeUpdatesTag(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.afterAt(at(9, 0), func() {
		w.mu.Lock()
		w.coworkers[coworkerID] = coworker{Email: "ada@example.com", Card: "TAG-9999"}
		w.mu.Unlock()
		w.env.SignalWorkflow(access.SignalRelink, nil)
	})
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(9, 0), "get", ""},
		wantCall{at(9, 0), "tag", ""}, wantCall{at(10, 15), "remove", "room-a"})
	if u := w.userByEmail("ada@example.com"); u.Tag != "TAG-9999" {
		t.Errorf("tag %q", u.Tag)
	}
}

// A revoke and an older grant of the same entitlement delivered together in the wrong order, and a duplicate:
// the newest change wins and nothing reaches Salto.
func TestOutOfOrderAndDuplicateSignals(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	grant := access.AccessChange{Entitlement: "booking-1", Groups: []string{"room-a"}, Until: at(10, 15),
		Reason: "grant", AsOf: at(8, 45)}
	revoke := access.AccessChange{Entitlement: "booking-1", Reason: "cancelled", AsOf: at(8, 50)}
	w.afterAt(at(8, 55), func() {
		w.env.SignalWorkflowSkippingWorkflowTask(access.SignalRevoke, revoke)
		w.env.SignalWorkflowSkippingWorkflowTask(access.SignalGrant, grant)
		w.env.SignalWorkflow(access.SignalGrant, grant)
	})
	// Later the grant is delivered once more, alone: the tombstone keeps it out.
	w.afterAt(at(9, 0), func() { w.env.SignalWorkflow(access.SignalGrant, grant) })
	st := runCustomer(t, w, in)
	checkCalls(t, w.callsOf())
	if !slices.Contains(actions(st.History), access.ActionIgnored) {
		t.Errorf("history %v", actions(st.History))
	}
}

func TestDuplicateGrantCostsNothing(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.grantAt(at(8, 46), "booking-1", at(10, 15), "room-a")
	w.revokeAt(at(10, 15), "booking-1")
	w.revokeAt(at(10, 16), "booking-1")
	runCustomer(t, w, in)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(10, 15), "remove", "room-a"})
}

// Salto calls run as local activities inside the workflow task when they succeed at once; a transient failure
// goes on to the regular activity and its retries, a final one does not; runs started before that revision
// keep regular activities (they replay as they were recorded), whether told by GetVersion or by the Revision of
// their input.
func TestSaltoCallsTryLocalActivityFirst(t *testing.T) {
	add, ensure := "AddToGroup", "EnsureSaltoUser"
	cases := []struct {
		name                 string
		older                bool
		revision             int
		transient            int
		saltoQueue           string
		final                bool
		local, regular       int
		wantCalls            []string
		wantProblem, noLocal bool
	}{
		{name: "succeeds locally", local: 1, regular: 0,
			wantCalls: []string{"add"}},
		{name: "transient failure goes on as a regular activity", transient: 2,
			local: 1, regular: 1, wantCalls: []string{"add-failed", "add-failed", "add"}},
		{name: "final failure is not retried", final: true, local: 1, regular: 0,
			wantCalls: []string{"add-failed"}, wantProblem: true},
		{name: "older runs keep regular activities", older: true, local: 0, regular: 1, wantCalls: []string{"add"},
			noLocal: true},
		{name: "a run started with revision 1 before GetVersion keeps local calls", older: true,
			revision: access.CustomerRevisionLocalCalls, local: 1, regular: 0, wantCalls: []string{"add"}},
		{name: "a Salto task queue keeps regular activities", saltoQueue: "salto",
			local: 0, regular: 1, wantCalls: []string{"add"}, noLocal: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			in := knownUser(w)
			if c.older {
				// A run that started before the change: no version marker in its history.
				w.env.OnGetVersion(changeLocalCalls, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			in.Revision = c.revision
			loc := w.locations[locID]
			loc.SaltoTaskQueue = c.saltoQueue
			w.locations[locID] = loc
			w.transient["add"] = c.transient
			if c.final {
				w.failAdd["room-a"] = access.NewFinalError(access.ErrSaltoNotFound, "access group room-a not found", nil)
			}
			w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
			w.revokeAt(at(10, 15), "booking-1")
			runCustomer(t, w, in)
			counts := w.counts.snapshot()
			if counts["localActivity:"+add] != c.local || counts["activity:"+add] != c.regular {
				t.Errorf("adds: %d local, %d regular activities; want %d, %d", counts["localActivity:"+add],
					counts["activity:"+add], c.local, c.regular)
			}
			var ops []string
			for _, call := range w.callsOf() {
				if strings.HasPrefix(call.Op, "add") {
					ops = append(ops, call.Op)
					if d := call.At.Sub(at(8, 45)); d < 0 || d > 5*time.Second {
						t.Errorf("%s at %s, want at once", call.Op, call.At.Format(time.TimeOnly))
					}
				}
			}
			if !slices.Equal(ops, c.wantCalls) {
				t.Errorf("Salto calls %v, want %v", ops, c.wantCalls)
			}
			if p := w.problemList(); (len(p) == 1) != c.wantProblem {
				t.Errorf("problems %+v", p)
			}
			if c.noLocal && counts["localActivity:"+ensure]+counts["localActivity:RemoveFromGroup"] > 0 {
				t.Errorf("an older run ran Salto calls as local activities: %v", counts)
			}
		})
	}
}

// A grant that reached the customer workflow after it fell due (its entitlement's timer fired late, Temporal
// having been away) keeps its due instant: the Salto call is ordered, and its lateness measured, from then.
// A grant without one (from a workflow older than the field) is due when it arrives.
func TestCustomerKeepsTheDueInstantOfALateGrant(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.afterAt(at(8, 50), func() {
		w.env.SignalWorkflow(access.SignalGrant, access.AccessChange{Entitlement: "booking-1", Groups: []string{"room-a"},
			Until: at(10, 15), Reason: "late", AsOf: w.now(), Due: at(8, 45)})
	})
	w.grantAt(at(9, 30), "booking-2", at(10, 15), "room-b")
	w.revokeAt(at(10, 15), "booking-1")
	w.revokeAt(at(10, 15), "booking-2")
	runCustomer(t, w, in)
	if want := []time.Time{at(8, 45), at(9, 30)}; !slices.Equal(w.dues, want) {
		t.Fatalf("adds due since %v, want %v", w.dues, want)
	}
}

// Each add says until when it is of use: the first end among the entitlements that need its group, an
// open-ended one counting for none, so that after an outage the Salto calls of a short booking are served
// before it is over.
func TestCustomerServesEachAddByTheFirstEndOfItsGroup(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 0), "contract-1", time.Time{}, "room-a")
	w.grantAt(at(9, 0), "booking-1", at(10, 15), "room-a", "room-b")
	w.grantAt(at(9, 30), "booking-2", at(9, 40), "room-c")
	w.revokeAt(at(10, 15), "contract-1")
	runCustomer(t, w, in)
	if want := []time.Time{{}, at(10, 15), at(9, 40)}; !slices.Equal(w.serveBys, want) {
		t.Fatalf("adds of room-a, room-b, room-c served by %v, want %v", w.serveBys, want)
	}
	r := customerRun{st: access.CustomerState{Ledger: map[string]access.LedgerEntry{
		"contract-1": {Groups: []string{"room-a"}},
		"booking-1":  {Groups: []string{"room-a", "room-b"}, Until: at(10, 15)},
		"booking-2":  {Groups: []string{"room-b"}, Until: at(9, 40)},
		"booking-3":  {Groups: []string{"room-c"}, Until: at(11, 0)},
	}}}
	for g, want := range map[string]time.Time{"room-a": at(10, 15), "room-b": at(9, 40), "room-c": at(11, 0),
		"room-d": {}, "": at(9, 40)} {
		if got := r.serveBy(g); !got.Equal(want) {
			t.Errorf("serveBy(%q) = %v, want %v", g, got, want)
		}
	}
}
