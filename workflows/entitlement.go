package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/rules"
)

// EntitlementAccess follows one Nexudus booking, pass, contract or visitor and gives access while it is due.
//
// It reads the entity from Nexudus (LoadEntitlement, one read), sleeps to the next absolute instant (grant or
// revoke), and re-reads the entity after each "changed" signal, coalescing the signals buffered meanwhile into
// one read. The Nexudus record is the truth, so duplicated and reordered webhooks are harmless. Customers'
// access goes through their customer workflow (signals grant and revoke); a visitor's Salto guest belongs to
// the visitor and is managed here directly. An entity that already ended or was cancelled when first read
// finishes without doing anything, so a late webhook that starts a new run never resurrects it.
func EntitlementAccess(ctx workflow.Context, in access.EntitlementInput) error {
	w, err := newEntitlementRun(ctx, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

type entitlementRun struct {
	in      access.EntitlementInput
	st      access.EntitlementState
	changed workflow.ReceiveChannel
	sink    grantSink
	// retryLoadAt is when a failed read is tried again (zero: no retry pending); loadFailing avoids one
	// history entry per failed attempt.
	retryLoadAt time.Time
	loadFailing bool
	// observed is the newest entity signed webhooks described since the last read; mustRead is set by a
	// "changed" signal without one (the poller, a resync, reconciliation, a delete).
	observed  *access.Observed
	mustRead  bool
	problems  problemRecorder
	sa        saValues
	published bool
	// learnedAt is when the entity last changed as the workflow knows it (zero after a Continue-As-New): a
	// change it brings is due no earlier than that (access.ChangeDue).
	learnedAt time.Time
}

func newEntitlementRun(ctx workflow.Context, in access.EntitlementInput) (*entitlementRun, error) {
	if !in.Ref.Kind.Valid() || in.Ref.ID <= 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			"invalid entitlement "+strconv.Quote(in.Ref.WorkflowID()), access.ErrConfig, nil)
	}
	w := &entitlementRun{in: in, changed: workflow.GetSignalChannel(ctx, access.SignalChanged)}
	if in.State != nil {
		w.st = *in.State
	} else {
		w.st = access.EntitlementState{Ref: in.Ref, State: access.StateScheduled}
	}
	if w.st.Entitlement == nil {
		w.st.Reload = true
	}
	if in.Ref.Kind == access.KindVisitor {
		w.sink = &visitorSink{ref: in.Ref}
	} else {
		w.sink = customerSink{ref: in.Ref}
	}
	err := workflow.SetQueryHandler(ctx, access.QueryEntitlement, func() (access.EntitlementState, error) {
		return w.st, nil
	})
	return w, err
}

func (w *entitlementRun) run(ctx workflow.Context) error {
	for {
		if ctx.Err() != nil {
			return w.cancelled(ctx)
		}
		if w.st.Reload {
			// One read (or the newest webhook body) answers every signal taken so far.
			w.drainChanged()
			if err := w.load(ctx); err != nil {
				return err
			}
		}
		if w.st.Entitlement != nil {
			w.act(ctx)
		}
		done := w.finished(ctx)
		if done && w.drainChanged() {
			// The entity changed while we were about to finish: read it again rather than lose the signal.
			w.st.Reload = true
			continue
		}
		if done {
			w.finish(ctx)
			w.publish(ctx, true)
			w.problems.wait(ctx)
			return nil
		}
		w.publish(ctx, false)
		w.wait(ctx)
		if ctx.Err() == nil && continueAsNewDue(ctx, w.in.Tuning) {
			return w.continueAsNew(ctx)
		}
	}
}

// cancelled ends a run an operator cancelled: access given by this entitlement is taken back first, so a
// cancelled workflow never leaves a door open.
func (w *entitlementRun) cancelled(ctx workflow.Context) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if w.st.Granted != nil {
		w.revoke(dctx, "workflow cancelled by an operator")
	}
	w.publish(dctx, true)
	w.problems.wait(dctx)
	return ctx.Err()
}

// load reads the entity from Nexudus. It returns an error only when the very first read fails for good: with
// nothing known there is nothing to do, and a failed workflow is visible to operators.
func (w *entitlementRun) load(ctx workflow.Context) error {
	w.st.Reload = false
	obs, read := w.observed, w.mustRead || w.observed == nil
	w.observed, w.mustRead = nil, false
	if !read {
		// A signed webhook's body stands for the read, unless it is older than what is known (Nexudus does not
		// promise the order of deliveries).
		if cur := w.st.Entitlement; cur != nil && obs.Entitlement.UpdatedOn.Before(cur.UpdatedOn) {
			return nil
		}
		w.loadFailing, w.retryLoadAt = false, time.Time{}
		w.accept(workflow.Now(ctx), obs.Entitlement, " (from the "+obs.Source+")")
		return nil
	}
	lctx := localContext(ctx, loadTimeout, "read "+w.in.Ref.WorkflowID()+" from Nexudus")
	e, err := fn(a.LoadEntitlement).runLocal(lctx, w.in.Ref)
	now := workflow.Now(ctx)
	if err != nil {
		final := access.IsFinal(err)
		if final && w.st.Entitlement == nil {
			return err
		}
		workflow.GetLogger(ctx).Warn("reading the entitlement failed", "Ref", w.in.Ref.WorkflowID(), "Error", err)
		if !w.loadFailing {
			w.st.History = appendChange(w.st.History, access.Change{At: now, Action: access.ActionLoadFailure,
				Reason: "keeping what was known: " + err.Error()})
		}
		w.loadFailing = true
		w.retryLoadAt = time.Time{}
		if !final {
			w.retryLoadAt = now.Add(loadRetryAfter)
		}
		return nil
	}
	w.loadFailing, w.retryLoadAt = false, time.Time{}
	w.accept(now, e, "")
	return nil
}

// accept takes e as the entity's state, noting in the history what changed (and from where, when not read).
func (w *entitlementRun) accept(now time.Time, e access.Entitlement, from string) {
	e.Ref = w.in.Ref
	e.Groups = normalizeGroups(e.Groups)
	if old := w.st.Entitlement; old == nil {
		w.st.History = appendChange(w.st.History, access.Change{At: now, Action: access.ActionScheduled,
			Groups: e.Groups, Until: e.RevokeAt, Reason: planText(e) + from})
		w.learnedAt = now
	} else if diff := describeChange(*old, e); diff != "" {
		w.st.History = appendChange(w.st.History, access.Change{At: now, Action: access.ActionChanged,
			Groups: e.Groups, Until: e.RevokeAt, Reason: diff + from})
		w.learnedAt = now
	}
	w.st.Entitlement = &e
}

// act brings the access given in line with the entity: grant, move, update or revoke.
func (w *entitlementRun) act(ctx workflow.Context) {
	e := *w.st.Entitlement
	want, why := rules.GivesAccess(e, workflow.Now(ctx))
	if g := w.st.Granted; g != nil {
		if !want {
			w.revoke(ctx, why)
		} else if moved := w.sink.regrant(*g, e); moved != "" {
			w.revoke(ctx, moved)
		}
	}
	if !want {
		return
	}
	g := w.st.Granted
	switch {
	case g == nil:
		w.grant(ctx, e, nil, why)
	case !slices.Equal(g.Groups, e.Groups) || !g.Until.Equal(e.RevokeAt):
		w.grant(ctx, e, g, updateText(*g, e))
	}
}

func updateText(g access.Granted, e access.Entitlement) string {
	var parts []string
	if !slices.Equal(g.Groups, e.Groups) {
		parts = append(parts, "groups "+fmtGroups(g.Groups)+" → "+fmtGroups(e.Groups))
	}
	if !g.Until.Equal(e.RevokeAt) {
		parts = append(parts, "until "+fmtTime(g.Until)+" → "+fmtTime(e.RevokeAt))
	}
	return strings.Join(parts, "; ") + ": " + e.Summary
}

func (w *entitlementRun) grant(ctx workflow.Context, e access.Entitlement, prev *access.Granted, reason string) {
	now := workflow.Now(ctx)
	g, err := w.sink.grant(ctx, e, prev, reason, access.ChangeDue(e.GrantAt, w.learnedAt, now))
	if err != nil {
		w.problem(ctx, e.Customer(), "could not give access for "+e.WorkflowID()+" ("+e.Summary+"): "+errText(err))
		return
	}
	action := access.ActionGranted
	if prev != nil {
		action = access.ActionUpdated
	}
	w.st.Granted, w.st.EverGranted = g, true
	w.st.History = appendChange(w.st.History, access.Change{At: now, Action: action, Groups: g.Groups,
		Until: g.Until, Reason: reason})
	workflow.GetLogger(ctx).Info("access "+string(action), "Ref", e.WorkflowID(), "Groups", g.Groups,
		"Until", g.Until)
}

// revoke takes access back. It never leaves Granted set: a revoke that failed for good is recorded as a
// problem for a person, and the customer workflow's own expiry is the safety net.
func (w *entitlementRun) revoke(ctx workflow.Context, reason string) {
	g := *w.st.Granted
	now := workflow.Now(ctx)
	end := now // without an end, or before it (a cancel, a move), a revoke falls due when it is decided
	if e := w.st.Entitlement; e != nil && !e.RevokeAt.IsZero() {
		end = e.RevokeAt
	}
	err := w.sink.revoke(ctx, g, reason, access.ChangeDue(end, w.learnedAt, now))
	if err != nil {
		w.problem(ctx, g.Customer, "could not take back access of "+w.in.Ref.WorkflowID()+": "+errText(err))
	}
	w.st.Granted = nil
	w.st.History = appendChange(w.st.History, access.Change{At: now, Action: access.ActionRevoked,
		Groups: g.Groups, Reason: reason})
	workflow.GetLogger(ctx).Info("access revoked", "Ref", w.in.Ref.WorkflowID(), "Groups", g.Groups,
		"Reason", reason)
}

func (w *entitlementRun) problem(ctx workflow.Context, c access.CustomerKey, desc string) {
	w.st.History = appendChange(w.st.History, access.Change{At: workflow.Now(ctx), Action: access.ActionProblem,
		Reason: desc})
	w.problems.record(ctx, access.Problem{LocationID: c.LocationID, CoworkerID: c.CoworkerID, Description: desc})
}

// finished reports whether nothing is left to do: no access given and none can come without a change in
// Nexudus or in the mapping (each starts a new run: a webhook, the poller, reconciliation or a backfill).
func (w *entitlementRun) finished(ctx workflow.Context) bool {
	e := w.st.Entitlement
	if e == nil || w.st.Granted != nil {
		return false
	}
	if e.Status.Terminal() || (!e.RevokeAt.IsZero() && !workflow.Now(ctx).Before(e.RevokeAt)) {
		return true
	}
	// An entitlement that maps to no group (most meeting rooms of a location) would otherwise sleep until its
	// end, or for ever when it has none. Runs that slept that way before this change keep doing so.
	return rules.Never(*e) != "" &&
		workflow.GetVersion(ctx, changeFinishUnmapped, workflow.DefaultVersion, 1) >= 1
}

// changeFinishUnmapped is the GetVersion change id of finishing at once when nothing is mapped.
const changeFinishUnmapped = "finish-when-unmapped"

func (w *entitlementRun) finish(ctx workflow.Context) {
	if w.st.EverGranted {
		return
	}
	e := *w.st.Entitlement
	_, why := rules.GivesAccess(e, workflow.Now(ctx))
	w.st.History = appendChange(w.st.History, access.Change{At: workflow.Now(ctx), Action: access.ActionSkipped,
		Reason: "no access given: " + why + " (" + e.Summary + ")"})
}

// nextWake is the next instant the plan changes by itself (zero: only a signal can change it).
func (w *entitlementRun) nextWake(now time.Time) (time.Time, string) {
	var t time.Time
	var what string
	if e := w.st.Entitlement; e != nil {
		switch {
		case w.st.Granted != nil:
			t, what = e.RevokeAt, "revoke"
		case e.Status == access.StatusActive && len(e.Groups) > 0 && now.Before(e.GrantAt):
			t, what = e.GrantAt, "grant"
		case !e.RevokeAt.IsZero() && now.Before(e.RevokeAt):
			t, what = e.RevokeAt, "end"
		}
	}
	if !w.retryLoadAt.IsZero() && (t.IsZero() || w.retryLoadAt.Before(t)) {
		t, what = w.retryLoadAt, "read again from Nexudus"
	}
	return t, what
}

// wait sleeps until the next instant or a "changed" signal, whichever comes first.
func (w *entitlementRun) wait(ctx workflow.Context) {
	next, what := w.nextWake(workflow.Now(ctx))
	var t movableTimer
	defer t.stop()
	t.sleep(ctx, next, what+" "+w.in.Ref.WorkflowID()+" at "+fmtTime(next), func(sel workflow.Selector) {
		sel.AddReceive(w.changed, func(c workflow.ReceiveChannel, _ bool) {
			var obs *access.Observed
			c.Receive(ctx, &obs)
			if w.take(obs) {
				w.st.Reload = true
			}
		})
	})
	if !w.retryLoadAt.IsZero() && !workflow.Now(ctx).Before(w.retryLoadAt) {
		w.st.Reload = true
	}
}

func (w *entitlementRun) continueAsNew(ctx workflow.Context) error {
	// A pending retry of a failed read becomes a read at the start of the new run.
	if w.drainChanged() || !w.retryLoadAt.IsZero() {
		w.st.Reload = true
	}
	waitHandlers(ctx)
	w.problems.wait(ctx)
	if w.drainChanged() {
		w.st.Reload = true
	}
	w.st.History = appendChange(w.st.History, access.Change{At: workflow.Now(ctx), Action: access.ActionContinued,
		Reason: "history length " + strconv.Itoa(workflow.GetInfo(ctx).GetCurrentHistoryLength())})
	st := w.st
	return workflow.NewContinueAsNewError(ctx, workflow.GetInfo(ctx).WorkflowType.Name,
		access.EntitlementInput{Ref: w.in.Ref, State: &st, Tuning: w.in.Tuning})
}

// state is the entitlement's state for the search attribute and the query.
func (w *entitlementRun) state(done bool) access.State {
	e := w.st.Entitlement
	switch {
	case w.st.Granted != nil:
		return access.StateGranted
	case e == nil:
		return access.StateScheduled
	case e.Status == access.StatusCancelled || e.Status == access.StatusDeleted:
		return access.StateCancelled
	case done && w.st.EverGranted:
		return access.StateRevoked
	case done:
		return access.StateSkipped
	case e.Status == access.StatusTentative:
		return access.StateTentative
	}
	return access.StateScheduled
}

func (w *entitlementRun) publish(ctx workflow.Context, done bool) {
	w.st.State = w.state(done)
	v := saValues{kind: string(w.in.Ref.Kind), state: string(w.st.State)}
	if e := w.st.Entitlement; e != nil {
		v.customer = strconv.FormatInt(e.CoworkerID, 10)
		v.location = strconv.FormatInt(e.LocationID, 10)
		v.grantAt, v.revokeAt = e.GrantAt, e.RevokeAt
		v.desks = joinIDs(e.Desks)
	}
	if g := w.st.Granted; g != nil && g.Visitor != nil {
		v.saltoUser = g.Visitor.SiteUserID
	}
	v.upsert(ctx, &w.sa, !w.published)
	w.published = true
	workflow.SetCurrentDetails(ctx, w.details())
}

// details is the markdown shown in the Web UI. fmt only formats strings and numbers here.
//
//workflowcheck:ignore
func (w *entitlementRun) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · %s\n\n", w.in.Ref.WorkflowID(), w.st.State)
	if e := w.st.Entitlement; e != nil {
		fmt.Fprintf(&b, "%s\n\n", e.Summary)
		fmt.Fprintf(&b, "- customer: `%s`\n- grant: %s\n- revoke: %s\n- groups: %s\n- Nexudus status: %s\n",
			e.Customer().WorkflowID(), fmtTime(e.GrantAt), fmtTime(e.RevokeAt), fmtGroups(e.Groups), e.Status)
	}
	if n := len(w.st.History); n > 0 {
		c := w.st.History[n-1]
		fmt.Fprintf(&b, "\nLast change: %s at %s: %s\n", c.Action, fmtTime(c.At), c.Reason)
	}
	return b.String()
}

func planText(e access.Entitlement) string {
	return e.Summary + "; grant " + fmtTime(e.GrantAt) + ", revoke " + fmtTime(e.RevokeAt) + ", groups " +
		fmtGroups(e.Groups) + ", status " + string(e.Status)
}

// describeChange lists what changed between two reads; empty when nothing that matters did.
func describeChange(a, b access.Entitlement) string {
	var parts []string
	if a.Status != b.Status {
		parts = append(parts, "status "+string(a.Status)+" → "+string(b.Status))
	}
	if !a.GrantAt.Equal(b.GrantAt) {
		parts = append(parts, "grant "+fmtTime(a.GrantAt)+" → "+fmtTime(b.GrantAt))
	}
	if !a.RevokeAt.Equal(b.RevokeAt) {
		parts = append(parts, "revoke "+fmtTime(a.RevokeAt)+" → "+fmtTime(b.RevokeAt))
	}
	if !slices.Equal(a.Groups, b.Groups) {
		parts = append(parts, "groups "+fmtGroups(a.Groups)+" → "+fmtGroups(b.Groups))
	}
	if a.Customer() != b.Customer() {
		parts = append(parts, "customer "+a.Customer().WorkflowID()+" → "+b.Customer().WorkflowID())
	}
	if (a.Visitor == nil) != (b.Visitor == nil) || (a.Visitor != nil && *a.Visitor != *b.Visitor) {
		parts = append(parts, "visitor details changed")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + " (" + b.Summary + ")"
}

func errText(err error) string {
	if msg := access.FinalMessage(err); msg != "" {
		return msg
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return "cancelled"
	}
	return err.Error()
}
