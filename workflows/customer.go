package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// CustomerAccess is the one writer of a customer's Salto user at one location.
//
// Entitlement workflows send it grant and revoke signals; it keeps a ledger of which entitlement needs which
// groups until when, and applies only the difference between the union of the ledger and what it has put in
// Salto: adds first, then removes, one Salto call at a time. Two entitlements on the same group keep it until
// the last of them ends. Each ledger entry also expires by itself at its Until, so access ends even if a
// revoke never comes. When no access is left the location's no-access policy runs (keep, suspend or delete
// the Salto user); when access returns a suspended user is subscribed again and a deleted one re-created.
func CustomerAccess(ctx workflow.Context, in access.CustomerInput) error {
	w, err := newCustomerRun(ctx, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

type customerRun struct {
	in                       access.CustomerInput
	st                       access.CustomerState
	loc                      access.Location
	grants, revokes, changes workflow.ReceiveChannel
	repairs                  workflow.ReceiveChannel
	problems                 problemRecorder
	lastSignal               time.Time
	sa                       saValues
	published                bool
}

//workflowcheck:ignore
func newCustomerRun(ctx workflow.Context, in access.CustomerInput) (*customerRun, error) {
	if !in.Customer.Valid() {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("invalid customer %q", in.Customer.WorkflowID()), access.ErrConfig, nil)
	}
	w := &customerRun{
		in:      in,
		grants:  workflow.GetSignalChannel(ctx, access.SignalGrant),
		revokes: workflow.GetSignalChannel(ctx, access.SignalRevoke),
		changes: workflow.GetSignalChannel(ctx, access.SignalChanged),
		repairs: workflow.GetSignalChannel(ctx, access.SignalRepair),
	}
	if in.State != nil {
		w.st = *in.State
	} else {
		w.st = access.CustomerState{Customer: in.Customer, State: access.StateNoAccess}
	}
	if w.st.Ledger == nil {
		w.st.Ledger = map[string]access.LedgerEntry{}
	}
	if w.st.Blocked == nil {
		w.st.Blocked = map[string]string{}
	}
	if w.st.Revoked == nil {
		w.st.Revoked = map[string]time.Time{}
	}
	err := workflow.SetQueryHandler(ctx, access.QueryState, func() (access.CustomerState, error) {
		return w.st, nil
	})
	return w, err
}

func (w *customerRun) run(ctx workflow.Context) error {
	loc, err := loadLocation(ctx, w.in.Customer.LocationID)
	if err != nil {
		// A location without configuration cannot have access; fail visibly so an operator fixes it.
		return err
	}
	w.loc = loc
	w.lastSignal = workflow.Now(ctx)
	for {
		if ctx.Err() != nil {
			// Cancelled by an operator: stop writing to Salto and leave it as it is; reconciliation and a
			// new run (started by the next signal) take over from Nexudus' truth.
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			w.problems.wait(dctx)
			return ctx.Err()
		}
		w.drain(ctx)
		w.expire(ctx)
		if s, ok := w.next(); ok {
			w.do(ctx, s)
			continue
		}
		w.publish(ctx)
		if w.idleOver(workflow.Now(ctx)) {
			w.problems.wait(ctx)
			if w.drain(ctx) {
				continue
			}
			return nil
		}
		w.wait(ctx)
		if ctx.Err() == nil && continueAsNewDue(ctx, w.in.Tuning) {
			return w.continueAsNew(ctx)
		}
	}
}

// drain takes every buffered signal into the ledger and reports whether there was one. Grants and revokes
// come on two channels whose relative order is lost, so they are applied in the order of their AsOf.
func (w *customerRun) drain(ctx workflow.Context) bool {
	type msg struct {
		revoke bool
		c      access.AccessChange
	}
	var msgs []msg
	var c access.AccessChange
	for w.grants.ReceiveAsync(&c) {
		msgs = append(msgs, msg{false, c})
		c = access.AccessChange{}
	}
	for w.revokes.ReceiveAsync(&c) {
		msgs = append(msgs, msg{true, c})
		c = access.AccessChange{}
	}
	changed := false
	for w.changes.ReceiveAsync(nil) {
		changed = true
	}
	var repairs []access.Repair
	var r access.Repair
	for w.repairs.ReceiveAsync(&r) {
		repairs = append(repairs, r)
		r = access.Repair{}
	}
	if len(msgs) == 0 && !changed && len(repairs) == 0 {
		return false
	}
	slices.SortStableFunc(msgs, func(a, b msg) int { return a.c.AsOf.Compare(b.c.AsOf) })
	now := workflow.Now(ctx)
	w.lastSignal = now
	for _, m := range msgs {
		if m.revoke {
			w.applyRevoke(now, m.c)
		} else {
			w.applyGrant(now, m.c)
		}
	}
	if changed {
		// Whatever blocked the user or a group may have been fixed: try again.
		clear(w.st.Blocked)
		w.st.UserProblem = ""
		if w.st.User != nil || len(w.st.Ledger) > 0 {
			w.st.Refresh = true
		}
		w.note(now, access.Change{Action: access.ActionChanged, Reason: "coworker changed in Nexudus"})
	}
	// Repairs after the ledger changes: they describe Salto, which the ledger is then applied against.
	slices.SortStableFunc(repairs, func(a, b access.Repair) int { return a.AsOf.Compare(b.AsOf) })
	for _, r := range repairs {
		w.applyRepair(now, r)
	}
	return true
}

// applyRepair takes what reconciliation saw in Salto as what this workflow has applied there, so the next
// steps re-add what is missing and remove what the ledger does not hold. It never changes the ledger: access
// is given only by entitlements.
func (w *customerRun) applyRepair(now time.Time, r access.Repair) {
	u := w.st.User
	switch {
	case r.User != nil && !r.User.Known():
		return
	case r.User != nil && u == nil:
		// A Salto user this run does not know (a fresh run, or one deleted by policy that came back by hand):
		// take it, so its memberships can be removed and the policy applied.
		adopted := *r.User
		w.st.User, u = &adopted, &adopted
		w.st.Applied = nil
		w.note(now, access.Change{Action: access.ActionUserLinked,
			Reason: "Salto user " + u.SiteUserID + " (platform " + u.PlatformUserID + ") found by reconciliation"})
	case r.User == nil && u != nil, r.User != nil && u.PlatformUserID != r.User.PlatformUserID:
		// Reconciliation matched another user, or none: link again, which finds out which one is right; the
		// next reconciliation compares again.
		w.st.Refresh = true
		w.note(now, access.Change{Action: access.ActionRepair, Reason: r.Reason + " (the Salto user differs: linking again)"})
		return
	}
	if u != nil {
		u.Suspended = r.User.Suspended
		owned := map[string]bool{}
		for _, g := range r.Owned {
			owned[g] = true
		}
		// Groups outside the owned ones are not what reconciliation looked at: keep them as they are.
		applied := slices.DeleteFunc(slices.Clone(w.st.Applied), func(g string) bool { return owned[g] })
		w.st.Applied = normalizeGroups(append(applied, r.Observed...))
		if r.NothingLeft && len(w.st.Ledger) == 0 {
			w.st.PolicyDue = true
		}
	}
	w.note(now, access.Change{Action: access.ActionRepair, Groups: normalizeGroups(r.Observed), Reason: r.Reason})
}

func (w *customerRun) note(now time.Time, c access.Change) {
	c.At = now
	w.st.History = appendChange(w.st.History, c)
}

func (w *customerRun) applyGrant(now time.Time, c access.AccessChange) {
	key := c.Entitlement
	old, had := w.st.Ledger[key]
	switch {
	case key == "":
		return
	case had && c.AsOf.Before(old.AsOf), c.AsOf.Before(w.st.Revoked[key]):
		w.note(now, access.Change{Action: access.ActionIgnored, Entitlement: key,
			Reason: "grant of " + fmtTime(c.AsOf) + " is older than the last change"})
		return
	case !c.Until.IsZero() && !now.Before(c.Until):
		w.note(now, access.Change{Action: access.ActionIgnored, Entitlement: key,
			Reason: "grant arrived after its end " + fmtTime(c.Until)})
		return
	}
	e := access.LedgerEntry{Groups: normalizeGroups(c.Groups), Until: c.Until, Reason: c.Reason,
		Summary: c.Summary, AsOf: c.AsOf}
	w.st.Ledger[key] = e
	delete(w.st.Revoked, key)
	switch {
	case !had:
		w.note(now, access.Change{Action: access.ActionGranted, Entitlement: key, Groups: e.Groups, Until: e.Until,
			Reason: c.Reason})
	case !slices.Equal(old.Groups, e.Groups) || !old.Until.Equal(e.Until):
		w.note(now, access.Change{Action: access.ActionUpdated, Entitlement: key, Groups: e.Groups, Until: e.Until,
			Reason: c.Reason})
	}
}

func (w *customerRun) applyRevoke(now time.Time, c access.AccessChange) {
	key := c.Entitlement
	if key == "" {
		return
	}
	if old, had := w.st.Ledger[key]; had {
		if c.AsOf.Before(old.AsOf) {
			w.note(now, access.Change{Action: access.ActionIgnored, Entitlement: key,
				Reason: "revoke of " + fmtTime(c.AsOf) + " is older than the last grant"})
			return
		}
		delete(w.st.Ledger, key)
		w.note(now, access.Change{Action: access.ActionRevoked, Entitlement: key, Groups: old.Groups,
			Reason: c.Reason})
	}
	if c.AsOf.After(w.st.Revoked[key]) {
		w.st.Revoked[key] = c.AsOf
	}
}

// expire drops ledger entries past their Until (the safety net) and old revoke tombstones.
func (w *customerRun) expire(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, key := range sortedKeys(w.st.Ledger) {
		e := w.st.Ledger[key]
		if !e.Until.IsZero() && !now.Before(e.Until) {
			delete(w.st.Ledger, key)
			w.note(now, access.Change{Action: access.ActionExpired, Entitlement: key, Groups: e.Groups,
				Until: e.Until, Reason: "ended " + fmtTime(e.Until) + ": " + e.Summary})
		}
	}
	maps.DeleteFunc(w.st.Revoked, func(_ string, t time.Time) bool { return now.Sub(t) > tombstoneTTL }) //workflowcheck:ignore
}

// desired is the union of the groups of the ledger (entries past Until are already gone). Building a set does
// not depend on the map's iteration order.
//
//workflowcheck:ignore
func (w *customerRun) desired() map[string]bool {
	d := map[string]bool{}
	for _, e := range w.st.Ledger {
		for _, g := range e.Groups {
			d[g] = true
		}
	}
	return d
}

// wanted is the desired groups less those blocked by a final error.
func (w *customerRun) wanted() []string {
	var out []string
	for _, g := range sortedKeys(w.desired()) {
		if _, blocked := w.st.Blocked[g]; !blocked {
			out = append(out, g)
		}
	}
	return out
}

type stepKind string

const (
	stepLink      stepKind = "link Salto user"
	stepSubscribe stepKind = "subscribe Salto user"
	stepAdd       stepKind = "add to group"
	stepRemove    stepKind = "remove from group"
	stepSuspend   stepKind = "suspend Salto user"
	stepDelete    stepKind = "delete Salto user"
	stepKeep      stepKind = "keep Salto user"
)

type step struct {
	kind  stepKind
	group string
}

// next is the next change to bring Salto in line with the ledger: the user first, then adds, then removes,
// then the no-access policy. ok is false when Salto is in line.
func (w *customerRun) next() (step, bool) {
	desired := w.desired()
	// Groups stay blocked only while they are wanted.
	maps.DeleteFunc(w.st.Blocked, func(g, _ string) bool { return !desired[g] }) //workflowcheck:ignore
	want := w.wanted()
	u := w.st.User
	if w.st.UserProblem == "" {
		switch {
		case len(want) > 0 && u == nil, w.st.Refresh && u != nil:
			return step{kind: stepLink}, true
		case len(want) > 0 && u.Suspended:
			return step{kind: stepSubscribe}, true
		}
	}
	w.st.Refresh = false
	if u != nil {
		for _, g := range want {
			if !slices.Contains(w.st.Applied, g) {
				return step{kind: stepAdd, group: g}, true
			}
		}
	}
	for _, g := range w.st.Applied {
		if !desired[g] {
			return step{kind: stepRemove, group: g}, true
		}
	}
	if len(desired) > 0 || len(w.st.Applied) > 0 || !w.st.PolicyDue {
		return step{}, false
	}
	switch {
	case w.loc.Policy == access.PolicySuspend && u != nil && !u.Suspended:
		return step{kind: stepSuspend}, true
	case w.loc.Policy == access.PolicyDelete && u != nil:
		return step{kind: stepDelete}, true
	}
	return step{kind: stepKeep}, true
}

// reasonFor names the entitlements that need group g, for Salto logs and audit.
func (w *customerRun) reasonFor(g string) string {
	var keys []string
	for _, key := range sortedKeys(w.st.Ledger) {
		if slices.Contains(w.st.Ledger[key].Groups, g) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return "no entitlement needs it"
	}
	return strings.Join(keys, ", ")
}

func (w *customerRun) do(ctx workflow.Context, s step) {
	key := w.in.Customer
	switch s.kind {
	case stepLink:
		w.link(ctx)
	case stepSubscribe:
		in := access.SubscriptionChange{Customer: key, SiteID: w.st.User.SiteID, SiteUserID: w.st.User.SiteUserID}
		err := w.call(ctx, access.ActivitySetSubscription, in, nil, "subscribe Salto user again", nil)
		switch w.result(ctx, err, "could not subscribe the Salto user again") {
		case final:
			w.st.UserProblem = errText(err)
			return
		case transient:
			return
		}
		w.st.User.Suspended = false
		w.st.PolicyDue = true
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionSubscribed, Reason: "access returns"})
	case stepAdd:
		// Recorded before the call: if the add is cancelled or its outcome unknown, a later remove cleans up.
		w.st.Applied = normalizeGroups(append(w.st.Applied, s.group))
		w.st.PolicyDue = true
		in := access.GroupChange{Customer: key, SiteID: w.st.User.SiteID, GroupID: s.group,
			PlatformUserID: w.st.User.PlatformUserID, Reason: w.reasonFor(s.group)}
		stillWanted := func() bool { return w.desired()[s.group] }
		err := w.call(ctx, access.ActivityAddToGroup, in, nil, "add to group "+s.group+" for "+in.Reason, stillWanted)
		switch w.result(ctx, err, "could not add the Salto user to group "+s.group+" ("+in.Reason+")") {
		case final:
			w.st.Applied = slices.DeleteFunc(w.st.Applied, func(g string) bool { return g == s.group })
			w.st.Blocked[s.group] = errText(err)
			return
		case transient:
			// Still recorded as applied: the next step adds it again or, if no longer wanted, removes it.
			return
		}
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionAdded, Groups: []string{s.group},
			Reason: in.Reason})
	case stepRemove:
		reason := "no entitlement needs it any more"
		in := access.GroupChange{Customer: key, GroupID: s.group, Reason: reason}
		if u := w.st.User; u != nil {
			in.SiteID, in.PlatformUserID = u.SiteID, u.PlatformUserID
			err := w.call(ctx, access.ActivityRemoveFromGroup, in, nil, "remove from group "+s.group, nil)
			// A remove that failed for good is recorded for a person and for reconciliation: retrying it
			// here would never end. Any other failure keeps it due.
			if w.result(ctx, err, "could not remove the Salto user from group "+s.group) == transient {
				return
			}
		}
		w.st.Applied = slices.DeleteFunc(w.st.Applied, func(g string) bool { return g == s.group })
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionRemoved, Groups: []string{s.group},
			Reason: reason})
	case stepSuspend:
		w.st.PolicyDue = false
		in := access.SubscriptionChange{Customer: key, SiteID: w.st.User.SiteID, SiteUserID: w.st.User.SiteUserID,
			Suspended: true}
		err := w.call(ctx, access.ActivitySetSubscription, in, nil, "suspend Salto user: no access left", nil)
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
		w.st.PolicyDue = false
		in := access.DeleteUserRequest{Customer: key, SiteID: w.st.User.SiteID, SiteUserID: w.st.User.SiteUserID}
		err := w.call(ctx, access.ActivityDeleteSaltoUser, in, nil, "delete Salto user: no access left", nil)
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
	case stepKeep:
		w.st.PolicyDue = false
		w.st.State = access.StateNoAccess
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionKept,
			Reason: "no access left (policy " + string(w.loc.Policy) + ")"})
	}
}

// link finds or creates the Salto user (or refreshes it after a coworker change), subscribing it when access
// is wanted.
func (w *customerRun) link(ctx workflow.Context) {
	subscribe := len(w.wanted()) > 0
	req := access.EnsureUserRequest{Customer: w.in.Customer, SiteID: w.loc.SiteID, Known: w.st.User,
		Subscribe: subscribe}
	var u access.SaltoUser
	err := w.call(ctx, access.ActivityEnsureSaltoUser, req, &u, "find or create Salto user", nil)
	switch w.result(ctx, err, "could not find or create the Salto user") {
	case final:
		w.st.UserProblem = errText(err)
		w.st.Refresh = false
		return
	case transient:
		return
	}
	w.st.Refresh = false
	now := workflow.Now(ctx)
	if !u.Known() {
		// The user is gone from Salto and nothing needed a new one.
		w.st.User, w.st.Applied = nil, nil
		w.note(now, access.Change{Action: access.ActionDeleted, Reason: "the Salto user no longer exists"})
		return
	}
	if old := w.st.User; old == nil || old.SiteUserID != u.SiteUserID || old.PlatformUserID != u.PlatformUserID {
		// A different user has none of the memberships recorded for the old one.
		w.st.Applied = nil
		w.note(now, access.Change{Action: access.ActionUserLinked,
			Reason: "Salto user " + u.SiteUserID + " (platform " + u.PlatformUserID + ")"})
	}
	w.st.User = &u
	if subscribe {
		w.st.PolicyDue = true
		if u.Suspended {
			w.st.UserProblem = "the Salto user stays suspended (no free licence seat?)"
			w.problem(ctx, w.st.UserProblem)
		}
	}
}

// outcome sorts the result of a Salto call.
type outcome int

const (
	done      outcome = iota
	final             // a failure retrying cannot fix: recorded as a problem for a person
	transient         // retries ran out or were cancelled: the step stays due and is tried again
)

// result classifies err; a final failure is recorded as a problem, a transient one pauses the loop so it is
// retried without spinning.
func (w *customerRun) result(ctx workflow.Context, err error, what string) outcome {
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return done
	case errors.As(err, &canceled):
		return transient
	case access.IsFinal(err):
		w.problem(ctx, what+": "+errText(err))
		return final
	}
	workflow.GetLogger(ctx).Warn("Salto call failed, will retry", "Customer", w.in.Customer.WorkflowID(),
		"Error", err)
	w.pause(ctx, saltoMaxInterval, what)
	return transient
}

func (w *customerRun) problem(ctx workflow.Context, desc string) {
	w.note(workflow.Now(ctx), access.Change{Action: access.ActionProblem, Reason: desc})
	w.problems.record(ctx, access.Problem{LocationID: w.in.Customer.LocationID, CoworkerID: w.in.Customer.CoworkerID,
		Description: desc})
}

// call runs one Salto activity while still taking signals into the ledger. When keep turns false (the group
// being added is no longer wanted) the activity is cancelled; removes, suspends and deletes pass no keep and
// always run to the end.
//
// From CustomerRevisionLocalCalls on, the call is tried first as a local activity: a grant then costs no
// workflow task of its own, which is most of what a webhook costs the server. Only a success or a failure
// retrying cannot fix is taken from it; anything else (no rate slot within a few seconds, Salto slow or
// down, a 429) goes on to the regular activity and its retries that never give up. Salto calls are safe to
// repeat, so one that succeeded unseen in the local attempt is harmless.
func (w *customerRun) call(ctx workflow.Context, name string, in, out any, summary string, keep func() bool) error {
	// A location whose Salto calls go through a task queue of their own (a rate shared by all workers) keeps
	// them there.
	if w.in.Revision >= access.CustomerRevisionLocalCalls && w.loc.SaltoTaskQueue == "" {
		err := workflow.ExecuteLocalActivity(saltoLocalContext(ctx, summary), name, in).Get(ctx, out)
		if err == nil || access.IsFinal(err) {
			return err
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NextRetryDelay() > 0 {
			// Salto asked for a pause (429 Retry-After): the regular activity must not call again before it.
			w.pause(ctx, appErr.NextRetryDelay(), summary)
			if ctx.Err() != nil || (keep != nil && !keep()) {
				return temporal.NewCanceledError("no longer wanted")
			}
		}
	}
	actx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	f := workflow.ExecuteActivity(saltoContext(actx, w.loc, summary), name, in)
	cancelled := false
	for !f.IsReady() {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f, func(workflow.Future) {})
		w.addSignals(ctx, sel)
		sel.Select(ctx)
		if !cancelled && keep != nil && !f.IsReady() && !keep() {
			cancel()
			cancelled = true
		}
	}
	return f.Get(ctx, out)
}

func (w *customerRun) addSignals(ctx workflow.Context, sel workflow.Selector) {
	take := func(workflow.ReceiveChannel, bool) { w.drain(ctx) }
	sel.AddReceive(w.grants, take)
	sel.AddReceive(w.revokes, take)
	sel.AddReceive(w.changes, take)
	sel.AddReceive(w.repairs, take)
}

// nextExpiry is the earliest Until in the ledger and the entitlement it belongs to.
func (w *customerRun) nextExpiry() (time.Time, string) {
	var t time.Time
	var key string
	for _, k := range sortedKeys(w.st.Ledger) {
		if u := w.st.Ledger[k].Until; !u.IsZero() && (t.IsZero() || u.Before(t)) {
			t, key = u, k
		}
	}
	return t, key
}

func (w *customerRun) idleFor() time.Duration {
	if d := w.in.Tuning.IdleFor; d > 0 {
		return d
	}
	return access.DefaultIdleFor
}

// idle reports whether the run holds nothing that a fresh run would not rebuild.
func (w *customerRun) idle() bool {
	return len(w.st.Ledger) == 0 && len(w.st.Applied) == 0 && !w.st.PolicyDue && !w.st.Refresh
}

func (w *customerRun) idleOver(now time.Time) bool {
	return w.idle() && !now.Before(w.lastSignal.Add(w.idleFor()))
}

// wait sleeps until a signal, the next ledger expiry, or the end of the idle time.
func (w *customerRun) wait(ctx workflow.Context) {
	next, key := w.nextExpiry()
	summary := "safety net: " + key + " ends"
	if w.idle() {
		next, summary = w.lastSignal.Add(w.idleFor()), "finish when idle"
	}
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	sel := workflow.NewSelector(ctx)
	if !next.IsZero() {
		timer := workflow.NewTimerWithOptions(tctx, untilDelay(ctx, next),
			workflow.TimerOptions{Summary: summary + " at " + fmtTime(next)})
		sel.AddFuture(timer, func(workflow.Future) {})
	}
	w.addSignals(ctx, sel)
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
}

// pause waits d (taking signals) after a Salto call failed without a final error, which only happens when an
// activity's retries were cut short (a test environment, an operator); the loop then tries again.
func (w *customerRun) pause(ctx workflow.Context, d time.Duration, what string) {
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "retry " + what})
	for !timer.IsReady() && ctx.Err() == nil {
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(timer, func(workflow.Future) {})
		w.addSignals(ctx, sel)
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
	}
}

func (w *customerRun) continueAsNew(ctx workflow.Context) error {
	w.drain(ctx)
	waitHandlers(ctx)
	w.problems.wait(ctx)
	w.drain(ctx)
	w.note(workflow.Now(ctx), access.Change{Action: access.ActionContinued,
		Reason: "history length " + strconv.Itoa(workflow.GetInfo(ctx).GetCurrentHistoryLength())})
	st := w.st
	return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name,
		access.CustomerInput{Customer: w.in.Customer, State: &st, Tuning: w.in.Tuning, Revision: w.in.Revision})
}

func (w *customerRun) state() access.State {
	switch u := w.st.User; {
	case len(w.st.Applied) > 0:
		return access.StateActive
	case u == nil && w.st.State == access.StateDeleted:
		return access.StateDeleted
	case u != nil && u.Suspended:
		return access.StateSuspended
	}
	return access.StateNoAccess
}

func (w *customerRun) publish(ctx workflow.Context) {
	w.st.State = w.state()
	v := saValues{kind: access.KindCustomer, state: string(w.st.State),
		customer: strconv.FormatInt(w.in.Customer.CoworkerID, 10),
		location: strconv.FormatInt(w.in.Customer.LocationID, 10)}
	if u := w.st.User; u != nil {
		v.saltoUser = u.SiteUserID
	}
	v.revokeAt, _ = w.nextExpiry()
	v.upsert(ctx, &w.sa, !w.published)
	w.published = true
	workflow.SetCurrentDetails(ctx, w.details())
}

// details is the markdown shown in the Web UI. fmt only formats strings and numbers here.
//
//workflowcheck:ignore
func (w *customerRun) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · %s · policy %s\n\n", w.in.Customer.WorkflowID(), w.st.State, w.loc.Policy)
	if u := w.st.User; u != nil {
		fmt.Fprintf(&b, "Salto user `%s` (platform `%s`)", u.SiteUserID, u.PlatformUserID)
		if u.Suspended {
			b.WriteString(", suspended")
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "Groups in Salto: %s\n\n", fmtGroups(w.st.Applied))
	for _, key := range sortedKeys(w.st.Ledger) {
		e := w.st.Ledger[key]
		fmt.Fprintf(&b, "- %s: %s → %s until %s\n", key, e.Summary, fmtGroups(e.Groups), fmtTime(e.Until))
	}
	for _, g := range sortedKeys(w.st.Blocked) {
		fmt.Fprintf(&b, "- blocked group `%s`: %s\n", g, w.st.Blocked[g])
	}
	if w.st.UserProblem != "" {
		fmt.Fprintf(&b, "- user problem: %s\n", w.st.UserProblem)
	}
	return b.String()
}
