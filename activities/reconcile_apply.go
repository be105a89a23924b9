package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/metrics"
)

// applyProgress is ApplyReconcile's heartbeat: a retried attempt skips the actions done.
type applyProgress struct {
	Done   int
	Result access.ApplyResult
}

// applyConcurrency is how many actions ApplyReconcile hands over at once: Temporal calls wait mostly on the
// server, so a few in flight shorten a large batch several times.
const applyConcurrency = 8

// ApplyReconcile hands each action to the workflows that own it: "changed" (SignalWithStart) to the
// entitlement workflows to refresh, then the repair signal to the customer workflow (SignalWithStart, so a
// member of an owned group without a customer workflow gets one). An action that Temporal refuses for good is
// counted as an error and the batch goes on; anything else fails the attempt, and the retry resumes after the
// last group of actions done (repeating one is harmless: a refresh is a re-read, a repair is idempotent).
func (a *Activities) ApplyReconcile(ctx context.Context, req access.ApplyRequest) (access.ApplyResult, error) {
	var p applyProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for p.Done < len(req.Actions) {
		chunk := req.Actions[p.Done:min(p.Done+applyConcurrency, len(req.Actions))]
		results := make([]access.ApplyResult, len(chunk))
		errs := make([]error, len(chunk))
		var wg sync.WaitGroup
		done := p // what a heartbeat sent while the chunk runs reports
		beat := func() {
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, done)
			}
		}
		for i := range chunk {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = a.applyAction(ctx, chunk[i], beat)
			}()
		}
		wg.Wait()
		for i := range chunk {
			if errs[i] != nil {
				return p.Result, errs[i]
			}
			p.Result.Refreshed += results[i].Refreshed
			p.Result.Repairs += results[i].Repairs
			for _, msg := range results[i].ErrorSamples {
				noteError(&p.Result, msg)
			}
		}
		p.Done += len(chunk)
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	}
	return p.Result, nil
}

func (a *Activities) applyAction(ctx context.Context, act access.ReconcileAction, beat func()) (access.ApplyResult, error) {
	var r access.ApplyResult
	if policyOnly(act) {
		if err := a.policyPace.wait(ctx, a.Config.Sync.PolicyRepairsPerSecond, beat); err != nil {
			return r, err
		}
	}
	for _, ref := range act.Refresh {
		if err := dispatch.StartEntitlement(ctx, a.Temporal, a.TaskQueue, ref); err != nil {
			if !permanent(err) {
				return r, fmt.Errorf("refresh %s: %w", ref, err)
			}
			r.ErrorSamples = append(r.ErrorSamples, ref.WorkflowID()+": "+err.Error())
			continue
		}
		r.Refreshed++
		metrics.DriftRepaired.WithLabelValues(metrics.DriftRefresh).Inc()
	}
	if act.Repair != nil {
		if err := dispatch.SignalWithStartCustomer(ctx, a.Temporal, a.customerQueue(), act.Customer, access.SignalRepair, *act.Repair); err != nil {
			if !permanent(err) {
				return r, err
			}
			r.ErrorSamples = append(r.ErrorSamples, act.Customer.WorkflowID()+": "+err.Error())
		} else {
			r.Repairs++
			countDriftRepaired(act)
		}
	}
	return r, nil
}

// permanent reports a Temporal error that repeating the same call cannot fix.
func permanent(err error) bool {
	var invalid *serviceerror.InvalidArgument
	return errors.As(err, &invalid)
}

func noteError(r *access.ApplyResult, msg string) {
	r.Errors++
	if len(r.ErrorSamples) < 10 {
		r.ErrorSamples = append(r.ErrorSamples, msg)
	}
}

// countDriftRepaired counts what a repair signal handed to the customer workflow, which applies it: the kinds
// buildPlan counted for the action.
func countDriftRepaired(act access.ReconcileAction) {
	metrics.DriftRepaired.WithLabelValues(metrics.DriftAdded).Add(float64(len(act.Add)))
	metrics.DriftRepaired.WithLabelValues(metrics.DriftRemoved).Add(float64(len(act.Remove)))
	switch act.Policy {
	case access.PolicySuspend:
		metrics.DriftRepaired.WithLabelValues(metrics.DriftSuspend).Inc()
	case access.PolicyDelete:
		metrics.DriftRepaired.WithLabelValues(metrics.DriftDelete).Inc()
	}
	if r := act.Repair; r.User != nil && r.User.Suspended && !r.NothingLeft {
		metrics.DriftRepaired.WithLabelValues(metrics.DriftResubscribe).Inc()
	}
}
