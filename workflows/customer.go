package workflows

import (
	"fmt"
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
// the Salto user), to a user it found rather than created only when no group outside the owned ones holds
// it; when access returns a suspended user is subscribed again (and, without a free licence seat, reported
// and retried at reconciliation) and a deleted one re-created. The parts live in customer_ledger.go,
// customer_policy.go and customer_calls.go.
func CustomerAccess(ctx workflow.Context, in access.CustomerInput) error {
	w, err := newCustomerRun(ctx, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

type customerRun struct {
	// dueSince is when the Salto changes being made now fell due (every step of one grant keeps it), so that
	// the rate limit serves them before calls that fell due later.
	dueSince time.Time
	// signalDue is the earliest Due of the grants and revokes received since the customer was last idle:
	// a change that fell due before it reached this workflow (a timer that fired late, a backlog) keeps its
	// instant.
	signalDue              time.Time
	in                     access.CustomerInput
	st                     access.CustomerState
	loc                    access.Location
	grants, revokes        workflow.ReceiveChannel
	relinks, legacyRelinks workflow.ReceiveChannel
	repairs, deletions     workflow.ReceiveChannel
	problems               problemRecorder
	lastSignal             time.Time
	sa                     saValues
	published              bool
	// wake is the run's timer for the next ledger end or the end of its idle time (changeKeepsWakeTimer).
	wake wakeTimer
}

func newCustomerRun(ctx workflow.Context, in access.CustomerInput) (*customerRun, error) {
	if !in.Customer.Valid() {
		return nil, temporal.NewNonRetryableApplicationError(
			"invalid customer "+strconv.Quote(in.Customer.WorkflowID()), access.ErrConfig, nil)
	}
	w := &customerRun{
		in:      in,
		grants:  workflow.GetSignalChannel(ctx, access.SignalGrant),
		revokes: workflow.GetSignalChannel(ctx, access.SignalRevoke),
		relinks: workflow.GetSignalChannel(ctx, access.SignalRelink),
		// Senders used "changed" for a relink before SignalRelink existed; such signals may still be buffered.
		legacyRelinks: workflow.GetSignalChannel(ctx, access.SignalChanged),
		repairs:       workflow.GetSignalChannel(ctx, access.SignalRepair),
		// Only a run started after SignalCustomerDeleted existed can receive it: no GetVersion is needed.
		deletions: workflow.GetSignalChannel(ctx, access.SignalCustomerDeleted),
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
	err := workflow.SetQueryHandler(ctx, access.QueryCustomer, func() (access.CustomerState, error) {
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
			if w.dueSince.IsZero() {
				w.dueSince = workflow.Now(ctx)
			}
			if !w.signalDue.IsZero() && w.signalDue.Before(w.dueSince) {
				w.dueSince = w.signalDue
			}
			w.do(ctx, s)
			continue
		}
		w.dueSince, w.signalDue = time.Time{}, time.Time{}
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

func (w *customerRun) note(now time.Time, c access.Change) {
	c.At = now
	w.st.History = appendChange(w.st.History, c)
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
	deleteWhere(w.st.Blocked, func(g, _ string) bool { return !desired[g] })
	want := w.wanted()
	if len(want) == 0 && w.st.NoSeat {
		// Nothing is due any more: the episode ends, and access that returns later tries (and reports) afresh.
		w.st.NoSeat = false
		if w.st.UserProblem == noSeatProblem {
			w.st.UserProblem = ""
		}
	}
	u := w.st.User
	if w.st.UserProblem == "" {
		switch {
		case len(want) > 0 && u == nil, w.st.Refresh && u != nil:
			return step{kind: stepLink}, true
		case len(want) > 0 && u.Suspended:
			return step{kind: stepSubscribe}, true
		}
	}
	w.st.Refresh, w.st.RefreshAsOf = false, time.Time{}
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

func (w *customerRun) do(ctx workflow.Context, s step) {
	key := w.in.Customer
	switch s.kind {
	case stepLink:
		w.link(ctx)
	case stepSubscribe:
		w.subscribe(ctx)
	case stepAdd:
		// Recorded before the call: if the add is cancelled or its outcome unknown, a later remove cleans up.
		w.st.Applied = normalizeGroups(append(w.st.Applied, s.group))
		w.st.PolicyDue = true
		w.groupChanged(ctx, s.group)
		in := access.GroupChange{Customer: key, SiteID: w.st.User.SiteID, GroupID: s.group,
			PlatformUserID: w.st.User.PlatformUserID, Reason: w.reasonFor(s.group), DueSince: w.dueSince,
			ServeBy: w.serveBy(s.group)}
		stillWanted := func() bool { return w.desired()[s.group] }
		_, err := call(ctx, w, proc(a.AddToGroup), in, "add to group "+s.group+" for "+in.Reason, stillWanted)
		switch w.result(ctx, err, "could not add the Salto user to group "+s.group+" ("+in.Reason+")") {
		case final:
			w.st.Applied = slices.DeleteFunc(w.st.Applied, func(g string) bool { return g == s.group })
			w.st.Blocked[s.group] = errText(err)
			return
		case transient:
			// Still recorded as applied: the next step adds it again or, if no longer wanted, removes it.
			return
		}
		w.groupChanged(ctx, s.group)
		w.st.Foreign = nil // access returned: the policy, when due again, checks again
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionAdded, Groups: []string{s.group},
			Reason: in.Reason})
	case stepRemove:
		reason := "no entitlement needs it any more"
		in := access.GroupChange{Customer: key, GroupID: s.group, Reason: reason, DueSince: w.dueSince}
		if u := w.st.User; u != nil {
			in.SiteID, in.PlatformUserID = u.SiteID, u.PlatformUserID
			w.groupChanged(ctx, s.group)
			_, err := call(ctx, w, proc(a.RemoveFromGroup), in, "remove from group "+s.group, nil)
			w.groupChanged(ctx, s.group)
			// A remove that failed for good is recorded for a person and for reconciliation: retrying it
			// here would never end. Any other failure keeps it due.
			if w.result(ctx, err, "could not remove the Salto user from group "+s.group) == transient {
				return
			}
		}
		w.st.Applied = slices.DeleteFunc(w.st.Applied, func(g string) bool { return g == s.group })
		w.note(workflow.Now(ctx), access.Change{Action: access.ActionRemoved, Groups: []string{s.group},
			Reason: reason})
	case stepSuspend, stepDelete:
		w.applyPolicy(ctx, s.kind)
	case stepKeep:
		w.keep(ctx)
	}
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
	signals := func(sel workflow.Selector) { w.addSignals(ctx, sel) }
	if workflow.GetVersion(ctx, changeKeepsWakeTimer, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		var t movableTimer
		defer t.stop()
		t.sleep(ctx, next, summary+" at "+fmtTime(next), signals)
		return
	}
	w.wake.sleep(ctx, next, summary+" at "+fmtTime(next), signals)
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
		access.CustomerInput{Customer: w.in.Customer, State: &st, Tuning: w.in.Tuning})
}

func (w *customerRun) state() access.State {
	switch u := w.st.User; {
	case w.st.NoSeat && u != nil && u.Suspended:
		// In the groups perhaps, but the doors reject a suspended user: not "active".
		return access.StateNoSeat
	case len(w.st.Applied) > 0:
		return access.StateActive
	case u == nil && w.st.State == access.StateDeleted:
		return access.StateDeleted
	case u != nil && len(w.st.Foreign) > 0:
		return access.StateNotOurs
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
		if u.Created {
			b.WriteString(", created by nexsalto")
		} else {
			b.WriteString(", found in Salto (not marked as created by nexsalto)")
		}
		if u.Suspended {
			b.WriteString(", suspended")
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "Groups in Salto: %s\n\n", fmtGroups(w.st.Applied))
	for _, key := range workflow.DeterministicKeys(w.st.Ledger) {
		e := w.st.Ledger[key]
		fmt.Fprintf(&b, "- %s: %s → %s until %s\n", key, e.Summary, fmtGroups(e.Groups), fmtTime(e.Until))
	}
	for _, g := range workflow.DeterministicKeys(w.st.Blocked) {
		fmt.Fprintf(&b, "- blocked group `%s`: %s\n", g, w.st.Blocked[g])
	}
	if w.st.UserProblem != "" {
		fmt.Fprintf(&b, "- user problem: %s\n", w.st.UserProblem)
	}
	if w.st.NoSeat {
		b.WriteString("- no free licence seat: Salto keeps the user suspended; tried again at each reconciliation\n")
	}
	if len(w.st.Foreign) > 0 {
		fmt.Fprintf(&b, "- not ours: also in %s; the no-access policy left the user as it is\n",
			strings.Join(w.st.Foreign, ", "))
	}
	return b.String()
}

// refresh asks for the Salto user to be linked again with a coworker record at least as new as asOf (zero:
// read it anew). Requests that meet before the link keep the strictest.
func (w *customerRun) refresh(asOf time.Time) {
	w.st.RefreshAsOf = relinkAsOf(w.st.Refresh, w.st.RefreshAsOf, asOf)
	w.st.Refresh = true
}

// relinkAsOf combines the record age a pending relink needs with another's: zero (read anew) wins, else the
// newer.
func relinkAsOf(pending bool, have, more time.Time) time.Time {
	switch {
	case !pending:
		return more
	case have.IsZero() || more.IsZero():
		return time.Time{}
	case more.After(have):
		return more
	}
	return have
}
