package workflows

import (
	"slices"
	"testing"

	"github.com/nexsalto/nexsalto/access"
)

// Continue-As-New with a pending expiry timer and a grant buffered in the same task: the new run applies the
// buffered grant and still ends both accesses on time.
func TestCustomerContinueAsNewCarriesLedgerAndSignals(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.afterAt(at(9, 0), func() {
		w.env.SetContinueAsNewSuggested(true)
		w.env.SignalWorkflow(access.SignalGrant, access.AccessChange{Entitlement: "booking-2",
			Groups: []string{"room-b"}, Until: at(11, 15), Reason: "grant", AsOf: w.now()})
	})
	w.env.ExecuteWorkflow(access.WorkflowCustomer, in)
	next := continuedInput(t, w)
	if st := next.State; st == nil || len(st.Ledger) != 2 || !slices.Equal(st.Applied, []string{"room-a"}) ||
		st.User == nil {
		t.Fatalf("carried state %+v", next.State)
	}

	w.newEnv(at(9, 0))
	runCustomer(t, w, next)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(9, 0), "add", "room-b"},
		wantCall{at(10, 15), "remove", "room-a"}, wantCall{at(11, 15), "remove", "room-b"})
}

func TestCustomerContinueAsNewOnHistoryLength(t *testing.T) {
	w := newWorld(t)
	in := knownUser(w)
	in.Tuning.ContinueAsNewAfter = 100
	w.grantAt(at(8, 45), "booking-1", at(10, 15), "room-a")
	w.afterAt(at(9, 0), func() {
		w.env.SetCurrentHistoryLength(120)
		w.env.SignalWorkflow(access.SignalRevoke, access.AccessChange{Entitlement: "booking-1", AsOf: w.now()})
	})
	w.env.ExecuteWorkflow(access.WorkflowCustomer, in)
	next := continuedInput(t, w)
	if next.Tuning.ContinueAsNewAfter != 100 || len(next.State.Ledger) != 0 ||
		!slices.Equal(next.State.Applied, []string{"room-a"}) {
		t.Fatalf("carried %+v", next)
	}
	w.newEnv(at(9, 0))
	runCustomer(t, w, next)
	checkCalls(t, w.callsOf(), wantCall{at(8, 45), "add", "room-a"}, wantCall{at(9, 0), "remove", "room-a"})
}
