package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/activities"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// StartSyncWorkflows makes sure the account's change poller runs, every location has its presence tracking
// running when it has presence doors, and its reconcile Schedule with the configured interval. It is
// idempotent: a workflow that already runs is left alone, a Schedule that exists is updated. Worker.Start
// calls it.
//
// One change poller reads for the whole Nexudus account (its lists are account-wide and its budget is the
// account's): the first configured location's, so its cursors carry on. The pollers other locations had
// before are stopped; changes they had not passed on yet are within the account poller's overlap or its
// lookback, and reconciliation covers the rest.
func StartSyncWorkflows(ctx context.Context, c client.Client, cfg *config.Config) error {
	var errs []error
	for i, l := range cfg.Locations {
		bid := l.BusinessID
		if i == 0 {
			errs = append(errs, startSingleton(ctx, c, cfg.Temporal.TaskQueue, access.PollerWorkflowID(bid),
				access.WorkflowPoller, access.KindPoller, bid, "Change poller of the Nexudus account",
				access.PollerInput{LocationID: bid}))
		} else {
			errs = append(errs, stopIfRunning(ctx, c, access.PollerWorkflowID(bid),
				"one change poller reads for the whole account now"))
		}
		if len(l.PresenceDoors) > 0 {
			errs = append(errs, startSingleton(ctx, c, cfg.Temporal.TaskQueue, access.PresenceWorkflowID(bid),
				access.WorkflowPresence, access.KindPresence, bid, fmt.Sprintf("Presence tracking of location %d", bid),
				access.PresenceInput{LocationID: bid}))
		}
		errs = append(errs, EnsureReconcileSchedule(ctx, c, cfg, bid))
	}
	return errors.Join(errs...)
}

func locationAttributes(kind string, location int64) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		access.SAKind.ValueSet(kind),
		access.SALocation.ValueSet(strconv.FormatInt(location, 10)),
	)
}

// stopIfRunning cancels a workflow that runs; one that does not is fine.
func stopIfRunning(ctx context.Context, c client.Client, id, why string) error {
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return nil
	case err != nil:
		return fmt.Errorf("describe %s: %w", id, err)
	case d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return nil
	}
	if err := c.TerminateWorkflow(ctx, id, "", why); err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("stop %s: %w", id, err)
	}
	return nil
}

// startSingleton starts a long-running workflow unless one with its id runs already.
func startSingleton(ctx context.Context, c client.Client, taskQueue, id, workflowType, kind string, location int64,
	summary string, input any) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    locationAttributes(kind, location),
		StaticSummary:            summary,
	}, workflowType, input)
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}

// reconcileSchedule is the Schedule of a location's reconciliation: every interval, a run that would overlap
// the previous one is skipped, and runs missed while nobody was up are not made up for beyond one interval.
func reconcileSchedule(cfg *config.Config, location int64) (client.ScheduleSpec, *client.ScheduleWorkflowAction, client.SchedulePolicies) {
	every := cfg.Sync.ReconcileInterval
	if every <= 0 {
		every = config.DefaultReconcileInterval
	}
	// Jittered: the Schedules of a chain's locations share their interval, and would all read the account's
	// lists and start their repairs at the same instant.
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}, Jitter: every / 2}
	action := &client.ScheduleWorkflowAction{
		ID:                    access.ReconcileID(location),
		Workflow:              access.WorkflowReconcile,
		Args:                  []any{access.ReconcileInput{LocationID: location}},
		TaskQueue:             cfg.Temporal.TaskQueue,
		TypedSearchAttributes: locationAttributes(access.KindReconcile, location),
		StaticSummary:         fmt.Sprintf("Reconciliation of location %d", location),
	}
	return spec, action, client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: every}
}

// EnsureReconcileSchedule creates the reconcile Schedule of a location, or updates the one that exists to the
// configured interval and action.
func EnsureReconcileSchedule(ctx context.Context, c client.Client, cfg *config.Config, location int64) error {
	spec, action, policy := reconcileSchedule(cfg, location)
	id := access.ReconcileID(location)
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:            id,
		Spec:          spec,
		Action:        action,
		Overlap:       policy.Overlap,
		CatchupWindow: policy.CatchupWindow,
		Note:          "created by the nexsalto worker from its configuration",
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create schedule %s: %w", id, err)
		}
		return nil
	}
	err = c.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec, s.Action = &spec, action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap, s.Policy.CatchupWindow = policy.Overlap, policy.CatchupWindow
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", id, err)
	}
	return nil
}

// ReconcileOptions say which reconciliation to run.
type ReconcileOptions struct {
	LocationID int64
	// DryRun computes the plan and changes nothing. A dry run is its own workflow
	// (reconcile-<businessId>-dry-run-<unix>) and never waits for, or blocks, the scheduled runs.
	DryRun bool
	// TaskQueue of the worker (default config.DefaultTaskQueue); used by dry runs.
	TaskQueue string
	// Wait bounds how long TriggerReconcile waits for the Schedule to start the run (default 30 s).
	Wait time.Duration
}

// ReconcileRun identifies a reconcile workflow run.
type ReconcileRun struct {
	WorkflowID, RunID string
	// AlreadyRunning is set when a run was in progress: the Schedule skips overlapping runs, and this is it.
	AlreadyRunning bool
}

// TriggerReconcile runs a location's reconciliation now and returns the run. A real run is triggered through
// the location's Schedule, so it obeys the same overlap policy as the scheduled ones: when a run is in
// progress, that run is returned with AlreadyRunning. A dry run is started directly. Wait for the report with
// ReconcileResult.
func TriggerReconcile(ctx context.Context, c client.Client, opts ReconcileOptions) (ReconcileRun, error) {
	if opts.LocationID <= 0 {
		return ReconcileRun{}, fmt.Errorf("reconcile: a location (Nexudus business id) is required")
	}
	if opts.DryRun {
		tq := opts.TaskQueue
		if tq == "" {
			tq = config.DefaultTaskQueue
		}
		id := fmt.Sprintf("%s-dry-run-%d", access.ReconcileID(opts.LocationID), time.Now().UnixMilli())
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: id, TaskQueue: tq,
			TypedSearchAttributes: locationAttributes(access.KindReconcile, opts.LocationID),
			StaticSummary:         fmt.Sprintf("Reconciliation dry run of location %d", opts.LocationID),
		}, access.WorkflowReconcile, access.ReconcileInput{LocationID: opts.LocationID, DryRun: true})
		if err != nil {
			return ReconcileRun{}, fmt.Errorf("start reconcile dry run: %w", err)
		}
		return ReconcileRun{WorkflowID: run.GetID(), RunID: run.GetRunID()}, nil
	}
	h := c.ScheduleClient().GetHandle(ctx, access.ReconcileID(opts.LocationID))
	before, err := h.Describe(ctx)
	if err != nil {
		return ReconcileRun{}, fmt.Errorf("reconcile schedule %s (is the worker started?): %w", h.GetID(), err)
	}
	if len(before.Info.RunningWorkflows) > 0 {
		r := before.Info.RunningWorkflows[0]
		return ReconcileRun{WorkflowID: r.WorkflowID, RunID: r.FirstExecutionRunID, AlreadyRunning: true}, nil
	}
	known := map[string]bool{}
	for _, a := range before.Info.RecentActions {
		if a.StartWorkflowResult != nil {
			known[a.StartWorkflowResult.FirstExecutionRunID] = true
		}
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		return ReconcileRun{}, fmt.Errorf("trigger %s: %w", h.GetID(), err)
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		d, err := h.Describe(ctx)
		if err != nil {
			return ReconcileRun{}, err
		}
		for _, a := range d.Info.RecentActions {
			if r := a.StartWorkflowResult; r != nil && !known[r.FirstExecutionRunID] {
				return ReconcileRun{WorkflowID: r.WorkflowID, RunID: r.FirstExecutionRunID}, nil
			}
		}
		if len(d.Info.RunningWorkflows) > 0 {
			r := d.Info.RunningWorkflows[0]
			return ReconcileRun{WorkflowID: r.WorkflowID, RunID: r.FirstExecutionRunID,
				AlreadyRunning: known[r.FirstExecutionRunID]}, nil
		}
		if time.Now().After(deadline) {
			return ReconcileRun{}, fmt.Errorf("trigger %s: no run started within %s", h.GetID(), wait)
		}
		select {
		case <-ctx.Done():
			return ReconcileRun{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ReconcileResult waits for a reconcile run (following Continue-As-New) and returns its report.
func ReconcileResult(ctx context.Context, c client.Client, run ReconcileRun) (access.ReconcileReport, error) {
	var rep access.ReconcileReport
	err := c.GetWorkflow(ctx, run.WorkflowID, run.RunID).Get(ctx, &rep)
	return rep, err
}

// ReconcilePlan computes a location's reconcile plan in this process, with the given clients, and changes
// nothing: what `starter reconcile --dry-run` prints. It makes the same reads as a run (Nexudus within the
// client's budget, Salto, Temporal visibility); tc may be nil, then running workflows are not compared and
// every entitlement Nexudus gives now is listed as to refresh.
func ReconcilePlan(ctx context.Context, cfg *config.Config, tc client.Client, sc *salto.Client, nc *nexudus.Client,
	location int64) (access.ReconcilePlan, error) {
	a := &activities.Activities{Config: cfg, Salto: sc, Nexudus: nc, Temporal: tc, TaskQueue: cfg.Temporal.TaskQueue,
		CustomerTaskQueue: cfg.Temporal.CustomerTaskQueue}
	return a.BuildReconcilePlan(ctx, location, time.Now())
}
