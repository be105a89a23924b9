package activities

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/metrics"
)

// Reconciliation reads the truth on both sides into a snapshot, compares them in a pure function (buildPlan)
// and hands the differences to the workflows that own them: entitlement workflows are told to read Nexudus
// again, customer workflows get a repair signal. It never writes Salto itself.

// reconcilePageSize is the page size of reconciliation's Nexudus reads. Nexudus documents no maximum [G];
// the simulator caps sizes at 1000 like the largest page seen in public integrations.
const reconcilePageSize = 1000

// snapshot is what reconciliation reads for one location.
type snapshot struct {
	// Entitlements are those Nexudus gives at the location at AsOf (customers' and visitors').
	Entitlements []access.Entitlement
	// Emails maps a lower-case email to the coworkers with it.
	Emails map[string][]int64
	// Users are the site's Salto users that can be customers (guests and visitors' users left out).
	Users []siteUser
	// Visitors are the platform ids of guests and visitors' users: their access belongs to visitor workflows.
	Visitors map[string]bool
	// Members maps each owned group to its members' platform ids.
	Members map[string][]string
	// Running maps the running entitlement workflows of the location to their state and customer.
	Running map[string]runningWorkflow
	Calls   access.ReconcileCalls
}

type siteUser struct {
	SiteUserID, PlatformID, Email, Alias string
	Suspended                            bool
}

type runningWorkflow struct {
	State    access.State
	Customer int64
}

// The snapshot is read in phases. A phase's data is kept with the plan (in this worker's memory) as soon as it
// is complete, and the heartbeat names the phases done: a retried attempt on the same worker resumes with the
// first phase not done; one on another worker reads again.
const (
	phaseCoworkers = "nexudus coworkers"
	phaseBookings  = "nexudus bookings"
	phasePasses    = "nexudus passes"
	phaseContracts = "nexudus contracts"
	phaseVisitors  = "nexudus visitors"
	phaseUsers     = "salto users"
	phaseMembers   = "salto group members"
	phaseWorkflows = "running workflows"
)

// reconcileBeat is the heartbeat of PlanReconcile: which phases are done and where the current one stands.
type reconcileBeat struct {
	PlanID string
	Done   []string
	Phase  string
	Pages  int
}

// planEntry is one plan being built or cut into batches.
type planEntry struct {
	mu    sync.Mutex
	snap  snapshot
	done  map[string]bool
	plan  *access.ReconcilePlan
	built time.Time
}

// planCache keeps plans for the batches of a run. Entries expire: a run that outlives them (a very large
// location on a slow day) builds the plan again, which is correct because batches are cut by key.
type planCache struct {
	mu      sync.Mutex
	entries map[string]*planEntry
}

const planTTL = 2 * time.Hour

func (c *planCache) get(id string, now time.Time) *planEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*planEntry{}
	}
	maps.DeleteFunc(c.entries, func(_ string, e *planEntry) bool {
		return !e.built.IsZero() && now.Sub(e.built) > planTTL
	})
	e, ok := c.entries[id]
	if !ok {
		e = &planEntry{done: map[string]bool{}, built: now}
		c.entries[id] = e
	}
	return e
}

// BuildReconcilePlan reads both sides for a location and returns the whole plan; it changes nothing. The
// starter's dry run and the PlanReconcile activity both use it.
func (a *Activities) BuildReconcilePlan(ctx context.Context, locationID int64, asOf time.Time) (access.ReconcilePlan, error) {
	ctx = withPriority(ctx, access.PriorityBackground)
	loc, ok := a.Config.Location(locationID)
	if !ok {
		return access.ReconcilePlan{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", locationID), nil)
	}
	e := &planEntry{done: map[string]bool{}}
	if err := a.readSnapshot(ctx, loc, asOf, e, nil); err != nil {
		return access.ReconcilePlan{}, err
	}
	return buildPlan(loc, asOf, e.snap, a.Config.Sync.ReconcilePolicyLimit), nil
}

// PlanReconcile returns the batch of the plan PlanID after After. The first call of a run reads the snapshot
// (heartbeating its progress); the following ones cut batches from the same plan.
func (a *Activities) PlanReconcile(ctx context.Context, req access.PlanRequest) (access.PlanBatch, error) {
	ctx = withPriority(ctx, access.PriorityBackground)
	loc, ok := a.Config.Location(req.LocationID)
	if !ok {
		return access.PlanBatch{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", req.LocationID), nil)
	}
	e := a.plans.get(req.PlanID, a.now())
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plan == nil {
		var beat reconcileBeat
		if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &beat) == nil {
			kept := 0
			for _, p := range beat.Done {
				if e.done[p] {
					kept++
				}
			}
			logger(ctx).Info("reconcile plan: resuming", "PlanID", req.PlanID,
				"PhasesDone", len(beat.Done), "PhasesKept", kept)
		}
		if err := a.readSnapshot(ctx, loc, req.AsOf, e, func(b reconcileBeat) {
			if activity.IsActivity(ctx) {
				b.PlanID = req.PlanID
				activity.RecordHeartbeat(ctx, b)
			}
		}); err != nil {
			return access.PlanBatch{}, err
		}
		plan := buildPlan(loc, req.AsOf, e.snap, a.Config.Sync.ReconcilePolicyLimit)
		e.plan, e.built, e.snap = &plan, a.now(), snapshot{}
		countDriftFound(plan) // once per plan, not per batch
	}
	return cutBatch(*e.plan, req.After, req.Limit), nil
}

// cutBatch returns the actions after the key after, at most limit of them, with the plan's counts.
func cutBatch(p access.ReconcilePlan, after string, limit int) access.PlanBatch {
	if limit <= 0 {
		limit = access.DefaultReconcileBatch
	}
	i := sort.Search(len(p.Actions), func(i int) bool { return p.Actions[i].Key > after })
	end := min(i+limit, len(p.Actions))
	b := access.PlanBatch{Actions: slices.Clone(p.Actions[i:end]), More: end < len(p.Actions), Totals: p}
	b.Totals.Actions = nil
	if len(b.Totals.UnmatchedMembers) > 20 {
		b.Totals.UnmatchedMembers = b.Totals.UnmatchedMembers[:20]
	}
	return b
}

// countDriftFound counts a plan's differences (a dry run's too: they are there whether or not it repairs).
func countDriftFound(p access.ReconcilePlan) {
	for kind, n := range map[string]int{metrics.DriftAdded: p.Added, metrics.DriftRemoved: p.Removed,
		metrics.DriftSuspend: p.Suspended, metrics.DriftDelete: p.Deleted, metrics.DriftResubscribe: p.Resubscribed,
		metrics.DriftRefresh: p.Refreshed, metrics.DriftUnmatched: p.Unmatched} {
		metrics.DriftFound.WithLabelValues(kind).Add(float64(n))
	}
}
