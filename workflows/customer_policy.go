package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// The life of the customer's Salto user: found or created, subscribed again when access returns (and what
// happens when Salto has no free licence seat), and the no-access policy, which never suspends or deletes a
// user that something besides this integration holds.

// Changes to the commands the customer workflow issues, for workflow.GetVersion: runs recorded before them
// replay the old branch.
const (
	// changeSubscribeState reads the state Salto keeps after a create or a subscribe; a user that stays
	// suspended opens a no-seat episode (one problem, retried at reconciliation) instead of counting as
	// subscribed or recording a problem at every try.
	changeSubscribeState = "subscribe-reads-state"
	// changePolicyForeign checks, before suspending or deleting a user this integration did not create,
	// that no access group outside the owned ones holds it.
	changePolicyForeign = "policy-checks-foreign-groups"
	// changeKeepsWakeTimer keeps the customer's timer across the signals that wake it instead of cancelling it
	// at every wake (wakeTimer).
	changeKeepsWakeTimer = "customer-keeps-its-wake-timer"
	// changeHoldYieldsToAccess cancels the check of what else holds a user when access returns meanwhile: a
	// grant does not wait behind the background reads of a policy that no longer applies.
	changeHoldYieldsToAccess = "hold-check-yields-to-access"
)

const (
	// noSeatProblem is the UserProblem of a no-seat episode (it stops the loop from retrying at once).
	noSeatProblem = "Salto keeps the user suspended: the site has no free licence seat, so the doors reject " +
		"them although Nexudus gives access; nexsalto tries again at each reconciliation"
	// legacyNoSeatProblem is what runs before changeSubscribeState recorded for the same case.
	legacyNoSeatProblem = "the Salto user stays suspended (no free licence seat?)"
	// A hold check reads the members of every group not owned: a regular activity with room for that.
	holdTimeout = 10 * time.Minute
)

// link finds or creates the Salto user (or refreshes it after a coworker change), subscribing it when access
// is wanted.
func (w *customerRun) link(ctx workflow.Context) {
	subscribe := len(w.wanted()) > 0
	req := access.EnsureUserRequest{Customer: w.in.Customer, SiteID: w.loc.SiteID, Known: w.st.User,
		Subscribe: subscribe, Relink: w.st.Refresh, DueSince: w.dueSince}
	if subscribe {
		req.ServeBy = w.serveBy("")
	}
	if w.st.Refresh {
		req.RelinkAsOf = w.st.RefreshAsOf
	}
	u, err := call(ctx, w, fn(a.EnsureSaltoUser), req, "find or create Salto user", nil)
	switch w.result(ctx, err, "could not find or create the Salto user") {
	case final:
		w.st.UserProblem = errText(err)
		w.st.Refresh, w.st.RefreshAsOf = false, time.Time{}
		return
	case transient:
		return
	}
	w.st.Refresh, w.st.RefreshAsOf = false, time.Time{}
	now := workflow.Now(ctx)
	if !u.Known() {
		// The user is gone from Salto and nothing needed a new one.
		w.st.User, w.st.Applied, w.st.Foreign = nil, nil, nil
		w.note(now, access.Change{Action: access.ActionDeleted, Reason: "the Salto user no longer exists"})
		return
	}
	if old := w.st.User; old == nil || old.SiteUserID != u.SiteUserID || old.PlatformUserID != u.PlatformUserID {
		// A different user has none of the memberships recorded for the old one.
		w.st.Applied, w.st.Foreign = nil, nil
		w.note(now, access.Change{Action: access.ActionUserLinked,
			Reason: "Salto user " + u.SiteUserID + " (platform " + u.PlatformUserID + ")"})
	}
	w.st.User = &u
	if subscribe {
		w.st.PolicyDue = true
		switch {
		case !u.Suspended:
			w.endNoSeat(now, "subscribed")
		case workflow.GetVersion(ctx, changeSubscribeState, workflow.DefaultVersion, 1) == workflow.DefaultVersion:
			w.st.UserProblem = legacyNoSeatProblem
			w.problem(ctx, w.st.UserProblem)
		default:
			w.noSeat(ctx, "after finding or creating the user")
		}
	}
}

// subscribe subscribes a suspended user again because access returns, and reads what Salto made of it.
func (w *customerRun) subscribe(ctx workflow.Context) {
	in := access.SubscriptionChange{Customer: w.in.Customer, SiteID: w.st.User.SiteID,
		SiteUserID: w.st.User.SiteUserID}
	got, err := call(ctx, w, fn(a.SetSubscription), in, "subscribe Salto user again", nil)
	switch w.result(ctx, err, "could not subscribe the Salto user again") {
	case final:
		w.st.UserProblem = errText(err)
		return
	case transient:
		return
	}
	w.st.PolicyDue = true
	// An empty result comes from an activity that returned nothing (histories recorded before
	// changeSubscribeState): it counted as subscribed then, and does so in replay.
	if got.Known() && got.Suspended &&
		workflow.GetVersion(ctx, changeSubscribeState, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		w.noSeat(ctx, "after subscribing again")
		return
	}
	w.st.User.Suspended = false
	now := workflow.Now(ctx)
	w.endNoSeat(now, "subscribed again")
	w.note(now, access.Change{Action: access.ActionSubscribed, Reason: "access returns"})
}

// noSeat records that Salto keeps the user suspended although access is due. The first time in an episode
// it is a problem for a person (an access-control audit entry in Nexudus); the tries after only note it.
func (w *customerRun) noSeat(ctx workflow.Context, when string) {
	w.st.User.Suspended = true
	w.st.UserProblem = noSeatProblem
	if w.st.NoSeat {
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionNoSeat,
			Reason: "still no free licence seat " + when})
		return
	}
	w.st.NoSeat = true
	w.problem(ctx, noSeatProblem+" ("+when+")")
}

// endNoSeat ends a no-seat episode: the user is subscribed.
func (w *customerRun) endNoSeat(now time.Time, how string) {
	if !w.st.NoSeat {
		return
	}
	w.st.NoSeat = false
	if w.st.UserProblem == noSeatProblem {
		w.st.UserProblem = ""
	}
	w.note(now, access.Change{Action: access.ActionSubscribed, Reason: "a licence seat was free: " + how})
}

// retrySeat lets a customer without a seat try again when reconciliation reports: Salto shows no seat limit,
// so trying is how a seat freed since is found.
func (w *customerRun) retrySeat(ctx workflow.Context, now time.Time) {
	u := w.st.User
	switch {
	case w.st.NoSeat && !u.Suspended:
		w.endNoSeat(now, "subscribed in Salto")
	case w.st.NoSeat:
		if w.st.UserProblem == noSeatProblem {
			w.st.UserProblem = ""
		}
	case u.Suspended && legacyNoSeat(w.st.UserProblem) && len(w.wanted()) > 0 &&
		workflow.GetVersion(ctx, changeSubscribeState, workflow.DefaultVersion, 1) != workflow.DefaultVersion:
		// Met before changeSubscribeState, where it stayed blocked until the coworker changed: from now on an
		// episode like any other (its problem was recorded then).
		w.st.NoSeat, w.st.UserProblem = true, ""
	}
}

// legacyNoSeat recognises the no-seat problems of runs before changeSubscribeState.
func legacyNoSeat(problem string) bool {
	return problem == legacyNoSeatProblem || strings.HasPrefix(problem, access.ErrSaltoNoSeat+":")
}

// applyPolicy suspends or deletes the user (policy suspend or delete), unless something else holds it.
func (w *customerRun) applyPolicy(ctx workflow.Context, kind stepKind) {
	w.st.PolicyDue = false
	if !w.mayApplyPolicy(ctx) {
		return
	}
	key := w.in.Customer
	switch kind {
	case stepSuspend:
		in := access.SubscriptionChange{Customer: key, SiteID: w.st.User.SiteID, SiteUserID: w.st.User.SiteUserID,
			Suspended: true}
		_, err := policyCall(ctx, w, fn(a.SetSubscription), in, "suspend Salto user: no access left")
		if err != nil && w.background() && w.accessBack() {
			// Cancelled for access that came back, perhaps after Salto suspended the user: it counts as
			// suspended, so the grant subscribes it (and reads what Salto keeps).
			w.st.User.Suspended, w.st.PolicyDue = true, true
			return
		}
		switch w.result(ctx, err, "could not suspend the Salto user") {
		case final:
			return
		case transient:
			w.st.PolicyDue = true
			return
		}
		w.st.User.Suspended = true
		w.st.State = access.StateSuspended
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionSuspended, Reason: "no access left (policy suspend)"})
	case stepDelete:
		in := access.DeleteUserRequest{Customer: key, SiteID: w.st.User.SiteID, SiteUserID: w.st.User.SiteUserID}
		_, err := policyCall(ctx, w, proc(a.DeleteSaltoUser), in, "delete Salto user: no access left")
		if err != nil && w.background() && w.accessBack() {
			// Cancelled for access that came back, perhaps after Salto deleted the user: linking again finds
			// it, or the customer's user by email, or makes a new one.
			w.st.Refresh, w.st.PolicyDue = true, true
			return
		}
		switch w.result(ctx, err, "could not delete the Salto user") {
		case final:
			return
		case transient:
			w.st.PolicyDue = true
			return
		}
		w.st.User, w.st.Applied = nil, nil
		w.st.State = access.StateDeleted
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionDeleted, Reason: "no access left (policy delete)"})
	}
}

// background reports whether the no-access policy's Salto calls go to the background task queue: the
// location (loaded by LoadLocation, so a replay takes the branch its run took) names one.
func (w *customerRun) background() bool { return w.loc.BackgroundTaskQueue != "" }

// accessBack reports whether access is wanted or held again, which makes a pending policy step moot.
func (w *customerRun) accessBack() bool { return len(w.desired()) > 0 || len(w.st.Applied) > 0 }

// policyCall runs a suspension or deletion: in the background, yielding to access that comes back, where the
// location has a background queue; else as any other Salto call, to the end.
func policyCall[I, O any](ctx workflow.Context, w *customerRun, r activityRef[I, O], in I, summary string) (O, error) {
	if !w.background() {
		return call(ctx, w, r, in, summary, nil)
	}
	return callBackground(ctx, w, r, in, func() bool { return !w.accessBack() }, summary)
}

// mayApplyPolicy says whether the suspend or delete policy may touch the user: always one we created; one we
// found and adopted only when no access group outside the owned ones holds it (a member of staff who is also a
// customer keeps their Salto user; a customer migrated from another integration, in owned groups only, does
// not). Anything else is left as it is and reported, once until access returns.
func (w *customerRun) mayApplyPolicy(ctx workflow.Context) bool {
	u := w.st.User
	if u.Created || workflow.GetVersion(ctx, changePolicyForeign, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return true
	}
	in := access.HoldRequest{Customer: w.in.Customer, SiteID: u.SiteID, SiteUserID: u.SiteUserID,
		PlatformUserID: u.PlatformUserID, Owned: w.loc.Owned}
	accessBack := w.accessBack
	var keep func() bool
	if workflow.GetVersion(ctx, changeHoldYieldsToAccess, workflow.DefaultVersion, 1) == 1 || w.background() {
		keep = func() bool { return !accessBack() }
	}
	summary := "check what else holds the Salto user (not created by nexsalto) before policy " + string(w.loc.Policy)
	var hold access.UserHold
	var err error
	if w.background() {
		hold, err = callBackground(ctx, w, fn(a.CheckUserHold), in, keep, summary)
	} else {
		hold, err = callLong(ctx, w, fn(a.CheckUserHold), in, keep, summary)
	}
	if keep != nil && accessBack() {
		// Access came back while the groups were read (the check was cancelled for it): no policy now, and a
		// fresh check when it ends again.
		w.st.PolicyDue = true
		return false
	}
	switch w.result(ctx, err, "could not check the other access groups of the Salto user") {
	case final:
		return false
	case transient:
		w.st.PolicyDue = true
		return false
	}
	if accessBack() {
		w.st.PolicyDue = true
		return false
	}
	now := workflow.Now(ctx)
	switch {
	case hold.Gone:
		w.st.User, w.st.Applied, w.st.Foreign = nil, nil, nil
		w.note(now, access.Change{Action: access.ActionDeleted, Reason: "the Salto user no longer exists"})
		return false
	case hold.Ours:
		u.Created = true // it carries the alias we give the users we create
		return true
	case len(hold.Foreign) == 0:
		return true
	}
	reason := "no access left, but Salto user " + u.SiteUserID + " was not created by nexsalto and is also in " +
		"access groups nexsalto does not own (" + strings.Join(hold.Foreign, ", ") + "): policy " +
		string(w.loc.Policy) + " not applied, the user is left as it is"
	reported := slices.Equal(w.st.Foreign, hold.Foreign)
	w.st.Foreign = hold.Foreign
	w.note(now, access.Change{Action: access.ActionKept, Reason: reason})
	if !reported {
		w.problem(ctx, reason)
	}
	return false
}

// keep applies the keep policy: the user stays as it is, without groups.
func (w *customerRun) keep(ctx workflow.Context) {
	w.st.PolicyDue = false
	w.st.State = access.StateNoAccess
	w.note(workflow.Now(ctx), access.Change{Action: access.ActionKept,
		Reason: "no access left (policy " + string(w.loc.Policy) + ")"})
}
