package workflows

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// Reconcile makes one location converge to Nexudus' truth whatever happened to webhooks and whatever people
// did by hand in Salto. A Temporal Schedule starts it every ReconcileInterval (overlap skipped); operators can
// trigger it or run it dry.
//
// The PlanReconcile activity re-derives from Nexudus who should be in which owned group now, reads the members
// of those groups in Salto and the running entitlement workflows, and cuts the differences into batches of
// actions ordered by customer. ApplyReconcile hands each batch to the workflows that own the access: a lost
// webhook becomes a "changed" signal to the entitlement workflow (SignalWithStart), a drift in Salto a repair
// signal to the customer workflow, which re-applies its own ledger (SignalWithStart, so a member of an owned
// group without a customer workflow gets one). Nothing here writes Salto.
//
// History stays small for any size: one activity per batch, Continue-As-New when the history grows, with the
// plan's id and the key of the last customer handled carried over. The run's report (counts of checked, added,
// removed, suspended, deleted, refreshed, errors, duration) is its result, its query answer and its details in
// the Web UI. A dry run returns the plan's counts and first actions and changes nothing.
func Reconcile(ctx workflow.Context, in access.ReconcileInput) (access.ReconcileReport, error) {
	w, err := newReconcileRun(ctx, in)
	if err != nil {
		return access.ReconcileReport{}, err
	}
	return w.run(ctx)
}

type reconcileRun struct {
	in        access.ReconcileInput
	p         access.ReconcileProgress
	sa        saValues
	published bool
}

// dryRunPlanItems bounds the actions a dry run shows in its report; the starter's plan shows all.
const dryRunPlanItems = 200

func newReconcileRun(ctx workflow.Context, in access.ReconcileInput) (*reconcileRun, error) {
	if in.LocationID <= 0 {
		return nil, temporal.NewNonRetryableApplicationError("invalid location", access.ErrConfig, nil)
	}
	w := &reconcileRun{in: in}
	if in.Progress != nil {
		w.p = *in.Progress
	} else {
		info := workflow.GetInfo(ctx)
		now := workflow.Now(ctx)
		w.p = access.ReconcileProgress{PlanID: info.WorkflowExecution.ID + "/" + info.FirstRunID, AsOf: now,
			Report: access.ReconcileReport{LocationID: in.LocationID, DryRun: in.DryRun, Started: now}}
	}
	err := workflow.SetQueryHandler(ctx, access.QueryReconcile, func() (access.ReconcileReport, error) {
		return w.p.Report, nil
	})
	return w, err
}

func (w *reconcileRun) run(ctx workflow.Context) (access.ReconcileReport, error) {
	loc, err := loadLocation(ctx, w.in.LocationID)
	if err != nil {
		return w.p.Report, err
	}
	size := w.in.BatchSize
	if size <= 0 {
		size = loc.Sync.ReconcileBatch
	}
	if size <= 0 {
		size = access.DefaultReconcileBatch
	}
	w.publish(ctx)
	for {
		batch, err := w.plan(ctx, size)
		if err != nil {
			return w.p.Report, err
		}
		w.count(batch.Totals)
		if w.in.DryRun {
			w.p.Report.Plan = batch.Actions[:min(len(batch.Actions), dryRunPlanItems)]
			break
		}
		if len(batch.Actions) > 0 {
			if err := w.apply(ctx, batch.Actions); err != nil {
				return w.p.Report, err
			}
			w.p.After = batch.Actions[len(batch.Actions)-1].Key
		}
		w.publish(ctx)
		if !batch.More {
			break
		}
		if continueAsNewDue(ctx, w.in.Tuning) {
			in := w.in
			p := w.p
			in.Progress = &p
			return access.ReconcileReport{}, workflow.NewContinueAsNewError(ctx, access.WorkflowReconcile, in)
		}
	}
	now := workflow.Now(ctx)
	w.p.Report.Finished = now
	w.p.Report.Duration = now.Sub(w.p.Report.Started)
	w.publish(ctx)
	return w.p.Report, nil
}

// plan fetches the next batch. Reading a large location takes a while: the activity heartbeats its progress,
// and a retried attempt resumes from what the worker already read.
func (w *reconcileRun) plan(ctx workflow.Context, size int) (access.PlanBatch, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 2 * time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: access.FinalErrorTypes},
		Summary: "plan: compare Nexudus with Salto",
	})
	return fn(a.PlanReconcile).run(actx, access.PlanRequest{
		LocationID: w.in.LocationID, PlanID: w.p.PlanID, AsOf: w.p.AsOf, After: w.p.After, Limit: size,
	})
}

// apply hands a batch to the entitlement and customer workflows. Temporal itself must be reachable for that,
// so the activity keeps trying; its heartbeat lets a retry resume after the last action done.
func (w *reconcileRun) apply(ctx workflow.Context, actions []access.ReconcileAction) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, NonRetryableErrorTypes: access.FinalErrorTypes},
		Summary: fmt.Sprintf("repair %d customers (%s … %s)", len(actions), actions[0].Key, actions[len(actions)-1].Key),
	})
	r, err := fn(a.ApplyReconcile).run(actx, access.ApplyRequest{LocationID: w.in.LocationID, Actions: actions})
	if err != nil {
		return err
	}
	rep := &w.p.Report
	rep.Repairs += r.Repairs
	rep.Errors += r.Errors
	for _, s := range r.ErrorSamples {
		if len(rep.ErrorSamples) < 10 {
			rep.ErrorSamples = append(rep.ErrorSamples, s)
		}
	}
	return nil
}

// count takes the plan's counts into the report.
func (w *reconcileRun) count(t access.ReconcilePlan) {
	r := &w.p.Report
	r.Checked, r.Entitlements, r.Members = t.Checked, t.Entitlements, t.Members
	r.Added, r.Removed, r.Suspended, r.Deleted, r.Refreshed = t.Added, t.Removed, t.Suspended, t.Deleted, t.Refreshed
	r.Unmatched, r.Resubscribed, r.PolicyDeferred = t.Unmatched, t.Resubscribed, t.PolicyDeferred
	r.Calls = t.Calls
}

func (w *reconcileRun) publish(ctx workflow.Context) {
	v := saValues{kind: access.KindReconcile, location: strconv.FormatInt(w.in.LocationID, 10)}
	v.upsert(ctx, &w.sa, !w.published)
	w.published = true
	workflow.SetCurrentDetails(ctx, reportDetails(w.p.Report))
}

// reportDetails is the report as markdown for the Web UI.
//
//workflowcheck:ignore
func reportDetails(r access.ReconcileReport) string {
	var b strings.Builder
	mode := "reconciliation"
	if r.DryRun {
		mode = "dry run (changes nothing)"
	}
	fmt.Fprintf(&b, "**%s** · %s · started %s", access.ReconcileID(r.LocationID), mode, fmtTime(r.Started))
	if !r.Finished.IsZero() {
		fmt.Fprintf(&b, " · took %s", r.Duration.Round(time.Millisecond))
	}
	b.WriteString("\n\n| checked | entitlements | members | added | removed | suspended | deleted | refreshed | resubscribed | unmatched | repairs | errors |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n\n", r.Checked, r.Entitlements,
		r.Members, r.Added, r.Removed, r.Suspended, r.Deleted, r.Refreshed, r.Resubscribed, r.Unmatched, r.Repairs,
		r.Errors)
	if r.PolicyDeferred > 0 {
		fmt.Fprintf(&b, "No-access policy left to the next runs for %d customers (sync.reconcile_policy_limit)\n\n",
			r.PolicyDeferred)
	}
	fmt.Fprintf(&b, "Calls: Nexudus %d, Salto %d, Temporal %d\n", r.Calls.Nexudus, r.Calls.Salto, r.Calls.Temporal)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(&b, "- error: %s\n", s)
	}
	for _, a := range r.Plan {
		fmt.Fprintf(&b, "- %s: %s\n", a.Customer.WorkflowID(), a.Reason)
	}
	return b.String()
}
