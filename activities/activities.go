// Package activities implements the activities named in package access over the Salto KS and Nexudus clients.
// Each is thin: one decision about the API's answer (success, retry, retry after, final) and nothing the
// workflows should decide. Every Salto call is safe to repeat, because an activity runs at least once and Salto
// has no idempotency keys.
package activities

import (
	"context"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// Activities holds what the activities need. One value serves every activity of a worker.
type Activities struct {
	Config   *config.Config
	Salto    *salto.Client
	Nexudus  *nexudus.Client
	Temporal client.Client
	// TaskQueue the entitlement workflows are started on (the worker's own).
	TaskQueue string
	// CustomerTaskQueue the customer workflows are started on (TaskQueue when empty).
	CustomerTaskQueue string
	// Now is the clock for deciding whether an entitlement has ended; nil is time.Now.
	Now func() time.Time

	// plans keeps reconcile plans between the batches of a run; saltoUsers caches a site's users for
	// presence tracking.
	plans         planCache
	saltoUsers    userCache
	coworkers     coworkerCache
	progress      progressCache
	accountEmails accountEmails // the account's coworkers by email, for every location's reconciliation
	policyPace    policyPace    // the pace of the no-access policy's repairs, shared by every reconciliation
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Register registers every activity under its method's name, the name workflows call it by (they refer to the
// methods, see package workflows) and the name recorded in histories: renaming a method breaks replay, which
// TestActivityNames and the replay tests catch. LoadEntitlement, LoadLocation and SignalCustomer run as local
// activities but are registered the same way.
func (a *Activities) Register(r worker.ActivityRegistry) {
	for _, fn := range a.all() {
		r.RegisterActivity(fn)
	}
}

func (a *Activities) all() []any {
	return []any{
		a.LoadEntitlement, a.LoadLocation, a.SignalCustomer,
		a.EnsureSaltoUser, a.AddToGroup, a.RemoveFromGroup, a.SetSubscription, a.DeleteSaltoUser, a.CheckUserHold,
		a.GrantVisitor, a.RevokeVisitor, a.RecordProblem,
		a.PollChanges, a.DispatchChanges,
		a.PlanReconcile, a.ApplyReconcile,
		a.PollEntries, a.ResolveUsers, a.RecordPresence,
	}
}

// SignalCustomer delivers a grant or revoke to the customer workflow, starting it when none runs. The server
// persists the signal before answering, so once this returns the change cannot be lost.
func (a *Activities) SignalCustomer(ctx context.Context, s access.CustomerSignal) error {
	return dispatch.SignalWithStartCustomer(ctx, a.Temporal, a.customerQueue(), s.Customer, s.Signal, s.Change)
}

// AddToGroup adds a user to an access group; "already a member" is success (the client says so).
func (a *Activities) AddToGroup(ctx context.Context, c access.GroupChange) (err error) {
	ctx, done := saltoActivity(ctx, c.DueSince, c.ServeBy)
	defer done()
	defer observeChange(ctx, metrics.ChangeGrant, c.Customer.WorkflowID(), c.DueSince, &err)
	return saltoError(ctx, "add to access group "+c.GroupID, idempotent(ctx, func() error {
		return a.Salto.AddGroupMember(ctx, c.SiteID, c.GroupID, c.PlatformUserID)
	}))
}

// RemoveFromGroup removes a user from an access group; not a member (404) is success.
func (a *Activities) RemoveFromGroup(ctx context.Context, c access.GroupChange) (err error) {
	ctx, done := saltoActivity(ctx, c.DueSince, time.Time{})
	defer done()
	defer observeChange(ctx, metrics.ChangeRevoke, c.Customer.WorkflowID(), c.DueSince, &err)
	return saltoError(ctx, "remove from access group "+c.GroupID, idempotent(ctx, func() error {
		return a.Salto.RemoveGroupMember(ctx, c.SiteID, c.GroupID, c.PlatformUserID)
	}))
}

// SetSubscription suspends or subscribes a Salto user and returns the state Salto keeps. A subscribe without a
// free licence seat is not an error: Salto may answer success and keep the user suspended, or refuse; either
// way the result says Suspended (read back after a refusal) and the workflow decides what that means.
func (a *Activities) SetSubscription(ctx context.Context, c access.SubscriptionChange) (_ access.SaltoUser, err error) {
	ctx, done := saltoActivity(ctx, time.Time{}, time.Time{})
	defer done()
	defer observeCustomer(ctx, c.Customer.WorkflowID(), &err)
	state := salto.StateSubscribed
	if c.Suspended {
		state = salto.StateSuspended
	}
	u, err := a.Salto.SetSubscription(ctx, c.SiteID, c.SiteUserID, state)
	if !c.Suspended && noSeatRefusal(err) {
		logger(ctx).Warn("subscribe refused", "Customer", c.Customer.WorkflowID(), "Error", err)
		u, err = a.Salto.GetUser(ctx, c.SiteID, c.SiteUserID)
		if err == nil && !u.Suspended() {
			// Refused, yet subscribed: some other refusal than a seat; Salto's state is what counts.
			logger(ctx).Warn("subscribe refused but the user is subscribed", "SiteUserID", u.ID)
		}
	}
	if err != nil {
		return access.SaltoUser{}, saltoError(ctx, "set Salto subscription to "+state, err)
	}
	return access.SaltoUser{SiteID: c.SiteID, SiteUserID: u.ID, PlatformUserID: u.PlatformID(),
		Suspended: u.Suspended(), Created: access.HasCreatedAlias(u.Alias, c.Customer.CoworkerID)}, nil
}

// CheckUserHold tells whether anything besides this integration holds a Salto user it did not create: the
// access groups outside the owned ones that have the user as a member. It reads the user first: one that
// carries our alias is ours and needs no group reads. Otherwise it lists the site's groups and the members of
// each group not owned (one call each, heartbeating), which is why the workflow asks only when the suspend or
// delete policy is about to apply.
func (a *Activities) CheckUserHold(ctx context.Context, r access.HoldRequest) (access.UserHold, error) {
	// No door waits for it (the groups are already taken back): its reads go after the changes that are due.
	ctx = withPriority(ctx, access.PriorityBackground)
	u, err := a.Salto.GetUser(ctx, r.SiteID, r.SiteUserID)
	if salto.IsNotFound(err) {
		return access.UserHold{Gone: true}, nil
	}
	if err != nil {
		return access.UserHold{}, saltoError(ctx, "read Salto user", err)
	}
	if access.HasCreatedAlias(u.Alias, r.Customer.CoworkerID) {
		return access.UserHold{Ours: true}, nil
	}
	platform := r.PlatformUserID
	if platform == "" {
		platform = u.PlatformID()
	}
	groups, err := a.Salto.ListAccessGroups(ctx, r.SiteID, salto.ListOptions{})
	if err != nil {
		return access.UserHold{}, saltoError(ctx, "list access groups", err)
	}
	var hold access.UserHold
	for i, g := range groups {
		if slices.Contains(r.Owned, g.ID) {
			continue
		}
		members, err := a.Salto.ListGroupMembers(ctx, r.SiteID, g.ID)
		if salto.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return access.UserHold{}, saltoError(ctx, "list members of access group "+g.ID, err)
		}
		if slices.Contains(members, platform) {
			name := g.Name
			if name == "" {
				name = g.CustomerReference
			}
			hold.Foreign = append(hold.Foreign, name+" ("+g.ID+")")
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i)
		}
	}
	slices.Sort(hold.Foreign)
	return hold, nil
}

// DeleteSaltoUser deletes a Salto user; already gone is success.
func (a *Activities) DeleteSaltoUser(ctx context.Context, r access.DeleteUserRequest) error {
	ctx, done := saltoActivity(ctx, time.Time{}, time.Time{})
	defer done()
	err := a.Salto.DeleteUser(ctx, r.SiteID, r.SiteUserID)
	if salto.IsNotFound(err) {
		return nil
	}
	return saltoError(ctx, "delete Salto user", err)
}

// RecordProblem writes a problem to Nexudus, where the location's staff see it on the customer.
func (a *Activities) RecordProblem(ctx context.Context, p access.Problem) error {
	ctx = withPriority(ctx, access.PriorityUrgent)
	_, err := a.Nexudus.CreateAccessControlAudit(ctx, nexudus.CoworkerAccessControlAudit{
		CoworkerId:  int(p.CoworkerID),
		Description: p.Description,
		IsProblem:   true,
	})
	return nexudusError("record access problem", err)
}

// customerQueue is the task queue of the customer workflows: their own, or the entitlements' when none is set.
func (a *Activities) customerQueue() string {
	if a.CustomerTaskQueue != "" {
		return a.CustomerTaskQueue
	}
	return a.TaskQueue
}

// withPriority marks ctx's Nexudus calls for the account's shared budget (access.Priority), and background
// work's Salto calls for the Salto client's rate limit, where they go after the changes that are due.
func withPriority(ctx context.Context, p access.Priority) context.Context {
	if p == access.PriorityBackground {
		ctx = salto.AsBackground(ctx)
	}
	return nexudus.WithPriority(ctx, nexudus.Priority(p))
}
