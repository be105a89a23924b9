// Package activities implements the activities named in package access over the Salto KS and Nexudus clients.
// Each is thin: one decision about the API's answer (success, retry, retry after, final) and nothing the
// workflows should decide. Every Salto call is safe to repeat, because an activity runs at least once and Salto
// has no idempotency keys.
package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
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
	plans      planCache
	saltoUsers userCache
	coworkers  coworkerCache
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

// EnsureSaltoUser links a customer to its Salto user: the known one if it still exists, else the one with the
// customer's email, else a new one. The Salto tag follows the Nexudus access card number. The result says
// whether we created the user (or it carries our alias) and whether Salto keeps it suspended after a create or
// a subscribe (no free licence seat): both are read from what Salto answers, never assumed.
func (a *Activities) EnsureSaltoUser(ctx context.Context, req access.EnsureUserRequest) (access.SaltoUser, error) {
	ctx = withPriority(ctx, access.PriorityUrgent)
	loc, ok := a.Config.Location(req.Customer.LocationID)
	if !ok {
		return access.SaltoUser{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", req.Customer.LocationID), nil)
	}
	cw, err := a.coworker(ctx, req.Customer.CoworkerID, req.Relink)
	if err != nil {
		return access.SaltoUser{}, err
	}
	site := req.SiteID
	var u *salto.SiteUser
	created := false
	if req.Known != nil && req.Known.Known() {
		u, err = a.Salto.GetUser(ctx, site, req.Known.SiteUserID)
		if salto.IsNotFound(err) {
			u, err = nil, nil // deleted by hand, or by the delete policy: find or create again below
		}
		if err != nil {
			return access.SaltoUser{}, saltoError(ctx, "read Salto user", err)
		}
		if u == nil && !req.Subscribe {
			return access.SaltoUser{}, nil
		}
	}
	if u == nil {
		if u, err = a.findUser(ctx, site, loc, cw); err != nil {
			return access.SaltoUser{}, err
		}
	}
	if u == nil {
		if loc.MobileAccess && strings.TrimSpace(cw.Email) == "" {
			return access.SaltoUser{}, access.NewFinalError(access.ErrMissingEmail,
				fmt.Sprintf("coworker %d (%s) has no email: mobile access needs one", cw.Id, cw.FullName), nil)
		}
		first, last := splitName(cw.FullName)
		nu := salto.NewUser{FirstName: first, LastName: last, Alias: alias(cw), TagID: cw.AccessCardId}
		if loc.MobileAccess {
			email := cw.Email
			nu.Email = &email
		}
		if u, err = a.Salto.CreateUser(ctx, site, nu); err != nil {
			return access.SaltoUser{}, saltoError(ctx, "create Salto user", err)
		}
		created = true
		activity.GetLogger(ctx).Info("created Salto user", "Customer", req.Customer.WorkflowID(),
			"SiteUserID", u.ID, "Suspended", u.Suspended())
	} else if cw.AccessCardId != "" && u.TagID != cw.AccessCardId {
		tag := cw.AccessCardId
		if err := a.Salto.PatchUser(ctx, site, u.ID, salto.UserPatch{TagID: &tag}); err != nil {
			return access.SaltoUser{}, saltoError(ctx, "set Salto tag", err)
		}
	}
	// The known user keeps the mark it had; any other is ours only by the alias we give the users we create.
	created = created || access.HasCreatedAlias(u.Alias, req.Customer.CoworkerID) ||
		(req.Known != nil && req.Known.Created && req.Known.SiteUserID == u.ID)
	out := access.SaltoUser{SiteID: site, SiteUserID: u.ID, PlatformUserID: u.PlatformID(), Suspended: u.Suspended(),
		Created: created}
	if out.Suspended && req.Subscribe {
		su, err := a.Salto.SetSubscription(ctx, site, u.ID, salto.StateSubscribed)
		switch {
		case err == nil:
			out.Suspended = su.Suspended()
		case noSeatRefusal(err):
			// Refused rather than answered "still suspended": the same for the workflow.
			activity.GetLogger(ctx).Warn("Salto user stays suspended", "Customer", req.Customer.WorkflowID(), "Error", err)
		default:
			return access.SaltoUser{}, saltoError(ctx, "subscribe Salto user", err)
		}
	}
	return out, nil
}

// noSeatRefusal reports an answer to a subscribe that may mean "no free licence seat": the notes do not say
// which status Salto gives then [G], so a refusal that retrying cannot fix counts as one.
func noSeatRefusal(err error) bool {
	k := salto.KindOf(err)
	return k == salto.KindValidation || k == salto.KindPermission
}

// findUser matches by email; tag-only users (no email in Salto) are matched by the alias we gave them.
func (a *Activities) findUser(ctx context.Context, site string, loc *config.Location, cw nexudus.Coworker) (*salto.SiteUser, error) {
	if email := strings.TrimSpace(cw.Email); email != "" {
		u, err := a.Salto.FindUserByEmail(ctx, site, email)
		if err == nil {
			return u, nil
		}
		if !salto.IsNotFound(err) {
			return nil, saltoError(ctx, "find Salto user by email", err)
		}
	}
	if loc.MobileAccess {
		return nil, nil
	}
	users, err := a.Salto.ListUsers(ctx, site, salto.ListOptions{})
	if err != nil {
		return nil, saltoError(ctx, "list Salto users", err)
	}
	want := alias(cw)
	for i := range users {
		if users[i].Alias == want {
			return &users[i], nil
		}
	}
	return nil, nil
}

// alias names the Salto user after the customer and carries the Nexudus id, so a tag-only user can be found
// again and staff can tell who it is.
func alias(cw nexudus.Coworker) string { return access.CreatedAlias(cw.FullName, int64(cw.Id)) }

func splitName(full string) (first, last string) {
	full = strings.TrimSpace(full)
	if i := strings.LastIndexByte(full, ' '); i > 0 {
		return full[:i], full[i+1:]
	}
	return full, ""
}

// AddToGroup adds a user to an access group; "already a member" is success (the client says so).
func (a *Activities) AddToGroup(ctx context.Context, c access.GroupChange) error {
	return saltoError(ctx, "add to access group "+c.GroupID,
		a.Salto.AddGroupMember(ctx, c.SiteID, c.GroupID, c.PlatformUserID))
}

// RemoveFromGroup removes a user from an access group; not a member (404) is success.
func (a *Activities) RemoveFromGroup(ctx context.Context, c access.GroupChange) error {
	return saltoError(ctx, "remove from access group "+c.GroupID,
		a.Salto.RemoveGroupMember(ctx, c.SiteID, c.GroupID, c.PlatformUserID))
}

// SetSubscription suspends or subscribes a Salto user and returns the state Salto keeps. A subscribe without a
// free licence seat is not an error: Salto may answer success and keep the user suspended, or refuse; either
// way the result says Suspended (read back after a refusal) and the workflow decides what that means.
func (a *Activities) SetSubscription(ctx context.Context, c access.SubscriptionChange) (access.SaltoUser, error) {
	state := salto.StateSubscribed
	if c.Suspended {
		state = salto.StateSuspended
	}
	u, err := a.Salto.SetSubscription(ctx, c.SiteID, c.SiteUserID, state)
	if !c.Suspended && noSeatRefusal(err) {
		activity.GetLogger(ctx).Warn("subscribe refused", "Customer", c.Customer.WorkflowID(), "Error", err)
		u, err = a.Salto.GetUser(ctx, c.SiteID, c.SiteUserID)
		if err == nil && !u.Suspended() {
			// Refused, yet subscribed: some other refusal than a seat; Salto's state is what counts.
			activity.GetLogger(ctx).Warn("subscribe refused but the user is subscribed", "SiteUserID", u.ID)
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

// withPriority marks ctx's Nexudus calls for the account's shared budget (access.Priority).
func withPriority(ctx context.Context, p access.Priority) context.Context {
	return nexudus.WithPriority(ctx, nexudus.Priority(p))
}
