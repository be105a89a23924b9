// Package workflows holds the deterministic access workflows: one entitlement workflow per Nexudus booking,
// pass, contract or visitor, which sleeps to the grant and revoke instants, and one customer workflow per
// customer and location, the only writer of that customer's Salto user.
//
// The code here must stay deterministic: no wall clock, goroutines, select, map iteration order or I/O.
// Everything external goes through the activities named in package access.
package workflows

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// Register registers the entitlement workflow under each kind's type name, the customer workflow, and the
// change poller, reconciliation and presence tracking.
func Register(r worker.WorkflowRegistry) {
	for _, k := range access.Kinds {
		r.RegisterWorkflowWithOptions(EntitlementAccess, workflow.RegisterOptions{Name: k.WorkflowType()})
	}
	r.RegisterWorkflowWithOptions(CustomerAccess, workflow.RegisterOptions{Name: access.WorkflowCustomer})
	r.RegisterWorkflowWithOptions(ChangePoller, workflow.RegisterOptions{Name: access.WorkflowPoller})
	r.RegisterWorkflowWithOptions(Reconcile, workflow.RegisterOptions{Name: access.WorkflowReconcile})
	r.RegisterWorkflowWithOptions(PresenceTracking, workflow.RegisterOptions{Name: access.WorkflowPresence})
	r.RegisterWorkflowWithOptions(NexudusBudget, workflow.RegisterOptions{Name: access.WorkflowNexudusBudget})
}

const (
	// Salto calls: every attempt is short, retries never stop (no ScheduleToClose) because a grant or a revoke
	// that is still due must not be dropped; the backoff is capped at a few seconds so access follows at once
	// after an outage. The activity sets each delay itself (NextRetryDelay: jittered, or Salto's Retry-After);
	// the policy's own backoff is the bound for an attempt that timed out.
	saltoAttemptTimeout = time.Minute
	saltoMaxInterval    = 5 * time.Second
	// An attempt that outlasts a few seconds (queued behind a burst for the rate limit) heartbeats, so that
	// one lost with its worker (killed, OOM) is tried again within this, not at saltoAttemptTimeout: measured
	// with the worker killed three times in a 200-booking run, customers whose first link was in flight waited
	// the full minute, and bookings of 20–40 s ended before their grant.
	saltoHeartbeatTimeout = 10 * time.Second
	// A Salto call tried as a local activity gets one short attempt, well inside a workflow task's timeout;
	// the rate limiter refuses at once a slot further away than this.
	saltoLocalTimeout = 3 * time.Second

	// A Nexudus read is bounded: a read that keeps failing must not hold up a revoke timer. The workflow
	// keeps what it knew and reads again later.
	loadTimeout    = 5 * time.Minute
	loadRetryAfter = 5 * time.Minute

	// Starting a customer workflow with a signal only fails while Temporal itself fails; keep trying.
	signalTimeout = 10 * 365 * 24 * time.Hour

	// Problems are worth recording, not worth holding anything up for.
	problemTimeout = 24 * time.Hour

	// Revoke tombstones older than this are forgotten.
	tombstoneTTL = 7 * 24 * time.Hour
)

func saltoRetryPolicy() *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        saltoMaxInterval,
		NonRetryableErrorTypes: access.FinalErrorTypes,
	}
}

// saltoContext sets the options of a Salto activity.
func saltoContext(ctx workflow.Context, loc access.Location, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           loc.SaltoTaskQueue,
		StartToCloseTimeout: saltoAttemptTimeout,
		HeartbeatTimeout:    saltoHeartbeatTimeout,
		RetryPolicy:         saltoRetryPolicy(),
		Summary:             summary,
	})
}

// saltoLocalContext sets the options of a Salto call's single attempt as a local activity.
func saltoLocalContext(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: saltoLocalTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:             summary,
	})
}

// localContext sets the options of a local activity (configuration, one Nexudus read, a Temporal signal). Its
// retries stay a few seconds apart: what waits for them is due now (a deleted booking's revoke waits for the
// read that finds it gone), and each Nexudus try reserves its slot from the account's budget, so trying often
// during an outage costs no more than the budget allows.
func localContext(ctx workflow.Context, total time.Duration, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: total,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Second,
			NonRetryableErrorTypes: access.FinalErrorTypes,
		},
		Summary: summary,
	})
}

// loadLocation reads a location's configuration.
func loadLocation(ctx workflow.Context, id int64) (access.Location, error) {
	loc, err := fn(a.LoadLocation).runLocal(localContext(ctx, signalTimeout, "load location configuration"), id)
	if err == nil && loc.ID == 0 {
		loc.ID = id
	}
	return loc, err
}

// problemRecorder writes problems to Nexudus without waiting for them; a run waits for the pending ones
// before it finishes or continues as new, so none is lost.
type problemRecorder struct {
	pending []future[none]
}

func (p *problemRecorder) record(ctx workflow.Context, pr access.Problem) {
	// Not the description: it names the entitlement (a visitor's name, say) and quotes vendor errors. It goes
	// to Nexudus and to the (encrypted) history, where an operator reads it.
	workflow.GetLogger(ctx).Warn("access problem, recorded in Nexudus and in this workflow's history",
		"LocationID", pr.LocationID, "CoworkerID", pr.CoworkerID)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: problemTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: access.FinalErrorTypes,
		},
		Summary: "record access problem in Nexudus",
	})
	p.pending = slices.DeleteFunc(p.pending, func(f future[none]) bool { return f.IsReady() })
	p.pending = append(p.pending, proc(a.RecordProblem).start(actx, pr))
}

func (p *problemRecorder) wait(ctx workflow.Context) {
	for _, f := range p.pending {
		if _, err := f.get(ctx); err != nil {
			workflow.GetLogger(ctx).Error("could not record an access problem in Nexudus", "Error", err)
		}
	}
	p.pending = nil
}

// continueAsNewDue reports whether this run should hand over to a new one: when the server suggests it, or
// once the history passes the configured length.
func continueAsNewDue(ctx workflow.Context, t access.Tuning) bool {
	info := workflow.GetInfo(ctx)
	limit := t.ContinueAsNewAfter
	if limit <= 0 {
		limit = access.DefaultContinueAsNewAfter
	}
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

// waitHandlers waits for running signal and update handlers before the run ends.
func waitHandlers(ctx workflow.Context) {
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// untilDelay is the timer duration to an absolute instant; a negative duration would fail the timer.
func untilDelay(ctx workflow.Context, t time.Time) time.Duration {
	return max(t.Sub(workflow.Now(ctx)), 0)
}

func appendChange(h []access.Change, c access.Change) []access.Change {
	h = append(h, c)
	if len(h) > access.HistoryCap {
		h = slices.Clone(h[len(h)-access.HistoryCap:])
	}
	return h
}

// normalizeGroups sorts and deduplicates group ids and drops empty ones.
func normalizeGroups(gs []string) []string {
	out := slices.DeleteFunc(slices.Clone(gs), func(g string) bool { return g == "" })
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// deleteWhere deletes the entries of m for which drop is true, visiting them in key order: a workflow never
// depends on a map's iteration order.
func deleteWhere[V any](m map[string]V, drop func(string, V) bool) {
	for _, k := range workflow.DeterministicKeys(m) {
		if drop(k, m[k]) {
			delete(m, k)
		}
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "open-ended"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func fmtGroups(gs []string) string {
	if len(gs) == 0 {
		return "none"
	}
	return "`" + strings.Join(gs, "`, `") + "`"
}

// saValues are the search attributes a workflow last upserted, so it upserts (one history event) only when
// one of them changes.
type saValues struct {
	kind, state, customer, location, saltoUser string
	grantAt, revokeAt                          time.Time
	// desks is a comma-separated list (a string keeps saValues comparable).
	desks string
}

func (v saValues) upsert(ctx workflow.Context, last *saValues, first bool) {
	if !first && v == *last {
		return
	}
	var ups []temporal.SearchAttributeUpdate
	keyword := func(k temporal.SearchAttributeKeyKeyword, val, old string) {
		switch {
		case !first && val == old:
		case val == "":
			ups = append(ups, k.ValueUnset())
		default:
			ups = append(ups, k.ValueSet(val))
		}
	}
	when := func(k temporal.SearchAttributeKeyTime, val, old time.Time) {
		switch {
		case !first && val.Equal(old):
		case val.IsZero():
			ups = append(ups, k.ValueUnset())
		default:
			ups = append(ups, k.ValueSet(val.UTC()))
		}
	}
	keyword(access.SAKind, v.kind, last.kind)
	keyword(access.SAState, v.state, last.state)
	keyword(access.SACustomer, v.customer, last.customer)
	keyword(access.SALocation, v.location, last.location)
	keyword(access.SASaltoUser, v.saltoUser, last.saltoUser)
	when(access.SAGrantAt, v.grantAt, last.grantAt)
	when(access.SARevokeAt, v.revokeAt, last.revokeAt)
	switch {
	case !first && v.desks == last.desks:
	case v.desks == "":
		if !first {
			ups = append(ups, access.SADesks.ValueUnset())
		}
	default:
		ups = append(ups, access.SADesks.ValueSet(strings.Split(v.desks, ",")))
	}
	if len(ups) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ups...); err != nil {
		// Unregistered attributes fail the workflow task on a real server; here the failure is only logged
		// because search attributes are for people, not for the access logic.
		workflow.GetLogger(ctx).Warn("could not upsert search attributes", "Error", err)
	}
	*last = v
}

// joinIDs writes ids comma-separated ("" for none).
func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}
