package workflows

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

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
