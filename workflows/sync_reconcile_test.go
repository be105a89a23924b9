package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// ---- reconciliation ----

func (w *syncWorld) setPlan(n int) {
	w.plan = nil
	for i := 1; i <= n; i++ {
		w.plan = append(w.plan, access.ReconcileAction{Key: fmt.Sprintf("c%020d", i),
			Customer: access.CustomerKey{LocationID: locID, CoworkerID: int64(i)}, Add: []string{"room-a"},
			Repair: &access.Repair{Observed: nil, Reason: "test"}})
	}
}

func (w *syncWorld) PlanReconcile(_ context.Context, req access.PlanRequest) (access.PlanBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.planCalls++
	w.planIDs[req.PlanID] = true
	i := sort.Search(len(w.plan), func(i int) bool { return w.plan[i].Key > req.After })
	end := min(i+req.Limit, len(w.plan))
	return access.PlanBatch{Actions: slices.Clone(w.plan[i:end]), More: end < len(w.plan),
		Totals: access.ReconcilePlan{Checked: 1000, Added: len(w.plan), Entitlements: 7}}, nil
}

func (w *syncWorld) ApplyReconcile(_ context.Context, req access.ApplyRequest) (access.ApplyResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applyCalls++
	for _, a := range req.Actions {
		w.applied = append(w.applied, a.Key)
	}
	return access.ApplyResult{Repairs: len(req.Actions)}, nil
}

func runReconcile(t *testing.T, w *syncWorld, in access.ReconcileInput) access.ReconcileReport {
	t.Helper()
	w.env.ExecuteWorkflow(access.WorkflowReconcile, in)
	if err := w.env.GetWorkflowError(); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	var rep access.ReconcileReport
	if err := w.env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReconcileAppliesEveryBatchOnce(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	rep := runReconcile(t, w, access.ReconcileInput{LocationID: locID, BatchSize: 3})
	if len(w.applied) != 10 || !slices.IsSorted(w.applied) || slices.Compact(slices.Clone(w.applied)) == nil {
		t.Fatalf("applied %v", w.applied)
	}
	if w.applyCalls != 4 || len(w.planIDs) != 1 {
		t.Errorf("%d apply calls, plans %v", w.applyCalls, w.planIDs)
	}
	if rep.Checked != 1000 || rep.Added != 10 || rep.Repairs != 10 || rep.Entitlements != 7 || rep.DryRun ||
		rep.Finished.IsZero() {
		t.Errorf("report %+v", rep)
	}
	v, err := w.env.QueryWorkflow(access.QueryReconcile)
	var queried access.ReconcileReport
	if err != nil || v.Get(&queried) != nil || queried.Repairs != 10 {
		t.Errorf("queried report %+v, %v", queried, err)
	}
}

func TestReconcileDryRunChangesNothing(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	rep := runReconcile(t, w, access.ReconcileInput{LocationID: locID, DryRun: true, BatchSize: 4})
	if w.applyCalls != 0 || len(rep.Plan) != 4 || !rep.DryRun || rep.Added != 10 || rep.Repairs != 0 {
		t.Errorf("apply calls %d, report %+v", w.applyCalls, rep)
	}
}

// A large location continues as new between batches; the new run carries the plan's id and where it stood,
// so every action is applied once across runs.
func TestReconcileContinueAsNewBetweenBatches(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	in := access.ReconcileInput{LocationID: locID, BatchSize: 4, Tuning: access.Tuning{ContinueAsNewAfter: 50}}
	runs := 0
	for {
		runs++
		w.env.SetCurrentHistoryLength(100)
		w.env.ExecuteWorkflow(access.WorkflowReconcile, in)
		var can *workflow.ContinueAsNewError
		err := w.env.GetWorkflowError()
		if err == nil {
			break
		}
		if !errors.As(err, &can) || runs > 5 {
			t.Fatalf("run %d: %v", runs, err)
		}
		in = access.ReconcileInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.Progress == nil || in.Progress.After == "" {
			t.Fatalf("carried %+v", in)
		}
		w.newEnv(w.now())
	}
	var rep access.ReconcileReport
	if err := w.env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if runs != 3 || len(w.applied) != 10 || len(slices.Compact(slices.Clone(w.applied))) != 10 || len(w.planIDs) != 1 {
		t.Fatalf("runs %d, applied %v, plans %v", runs, w.applied, w.planIDs)
	}
	if rep.Repairs != 10 {
		t.Errorf("report %+v", rep)
	}
}
