package workflows

import (
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// The customer workflow's ledger: what the entitlements ask for (grants, revokes, expiry) and what
// reconciliation reports Salto holds (repairs).

// applyRepair takes what reconciliation saw in Salto as what this workflow has applied there, so the next
// steps re-add what is missing and remove what the ledger does not hold. It never changes the ledger: access
// is given only by entitlements.
func (w *customerRun) applyRepair(ctx workflow.Context, now time.Time, r access.Repair) {
	u := w.st.User
	switch {
	case r.User != nil && !r.User.Known():
		return
	case r.User != nil && u == nil:
		// A Salto user this run does not know (a fresh run, or one deleted by policy that came back by hand):
		// take it, so its memberships can be removed and the policy applied.
		adopted := *r.User
		w.st.User, u = &adopted, &adopted
		w.st.Applied, w.st.Foreign = nil, nil
		w.note(now, access.Change{Action: access.ActionUserLinked,
			Reason: "Salto user " + u.SiteUserID + " (platform " + u.PlatformUserID + ") found by reconciliation"})
	case r.User == nil && u != nil, r.User != nil && u.PlatformUserID != r.User.PlatformUserID:
		// Reconciliation matched another user, or none: link again, which finds out which one is right; the
		// next reconciliation compares again.
		w.refresh(time.Time{})
		w.note(now, access.Change{Action: access.ActionRepair, Reason: r.Reason + " (the Salto user differs: linking again)"})
		return
	}
	if u != nil {
		u.Suspended = r.User.Suspended
		u.Created = u.Created || r.User.Created
		owned := map[string]bool{}
		for _, g := range r.Owned {
			owned[g] = true
		}
		// Groups outside the owned ones are not what reconciliation looked at: keep them as they are. Nor are
		// groups this workflow changed after reconciliation read Salto: taking the older reading would add
		// again a group just added (a second Salto call) or forget one just removed.
		keep := w.changedSince(ctx, r.AsOf)
		applied := slices.DeleteFunc(slices.Clone(w.st.Applied), func(g string) bool { return owned[g] && !keep[g] })
		observed := slices.DeleteFunc(slices.Clone(r.Observed), func(g string) bool { return keep[g] })
		w.st.Applied = normalizeGroups(append(applied, observed...))
		// A user the policy left alone as not ours stays so until access returns: reconciliation, which cannot
		// see the groups we do not own, asks again at every run.
		if r.NothingLeft && len(w.st.Ledger) == 0 && len(w.st.Foreign) == 0 {
			w.st.PolicyDue = true
		}
		w.retrySeat(ctx, now)
	}
	w.note(now, access.Change{Action: access.ActionRepair, Groups: normalizeGroups(r.Observed), Reason: r.Reason})
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
	for _, key := range workflow.DeterministicKeys(w.st.Ledger) {
		e := w.st.Ledger[key]
		if !e.Until.IsZero() && !now.Before(e.Until) {
			delete(w.st.Ledger, key)
			w.note(now, access.Change{Action: access.ActionExpired, Entitlement: key, Groups: e.Groups,
				Until: e.Until, Reason: "ended " + fmtTime(e.Until) + ": " + e.Summary})
		}
	}
	deleteWhere(w.st.Revoked, func(_ string, t time.Time) bool { return now.Sub(t) > tombstoneTTL })
}

// desired is the union of the groups of the ledger (entries past Until are already gone).
func (w *customerRun) desired() map[string]bool {
	d := map[string]bool{}
	for _, key := range workflow.DeterministicKeys(w.st.Ledger) {
		for _, g := range w.st.Ledger[key].Groups {
			d[g] = true
		}
	}
	return d
}

// wanted is the desired groups less those blocked by a final error.
func (w *customerRun) wanted() []string {
	var out []string
	for _, g := range workflow.DeterministicKeys(w.desired()) {
		if _, blocked := w.st.Blocked[g]; !blocked {
			out = append(out, g)
		}
	}
	return out
}

// reasonFor names the entitlements that need group g, for Salto logs and audit.
func (w *customerRun) reasonFor(g string) string {
	var keys []string
	for _, key := range workflow.DeterministicKeys(w.st.Ledger) {
		if slices.Contains(w.st.Ledger[key].Groups, g) {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return "no entitlement needs it"
	}
	return strings.Join(keys, ", ")
}

// nextExpiry is the earliest Until in the ledger and the entitlement it belongs to.
func (w *customerRun) nextExpiry() (time.Time, string) { return w.firstEnd("") }

// serveBy is when the first entitlement needing group g ends (any group when g is empty), zero when none
// ends: a grant for it is of use until then, so after an outage its Salto calls are served by that instant
// when it comes before they would be late (salto.LateAfter).
func (w *customerRun) serveBy(g string) time.Time {
	t, _ := w.firstEnd(g)
	return t
}

// firstEnd is the earliest Until among the ledger entries needing group g (all entries when g is empty) and
// the entitlement it belongs to.
func (w *customerRun) firstEnd(g string) (time.Time, string) {
	var t time.Time
	var key string
	for _, k := range workflow.DeterministicKeys(w.st.Ledger) {
		e := w.st.Ledger[k]
		if e.Until.IsZero() || (g != "" && !slices.Contains(e.Groups, g)) {
			continue
		}
		if t.IsZero() || e.Until.Before(t) {
			t, key = e.Until, k
		}
	}
	return t, key
}

// changeRepairKeepsNewer is the GetVersion change id of repairs leaving alone the groups changed after their
// reading of Salto.
const changeRepairKeepsNewer = "repair-keeps-newer-changes"

// groupChanged records that this workflow is changing, or has changed, group g now.
func (w *customerRun) groupChanged(ctx workflow.Context, g string) {
	if w.st.GroupChangedAt == nil {
		w.st.GroupChangedAt = map[string]time.Time{}
	}
	w.st.GroupChangedAt[g] = workflow.Now(ctx)
	// Old entries only matter to repairs that read Salto before them; a day is far longer than any
	// reconciliation takes.
	now := workflow.Now(ctx)
	deleteWhere(w.st.GroupChangedAt, func(_ string, t time.Time) bool { return now.Sub(t) > 24*time.Hour })
}

// changedSince is the set of groups this workflow changed after asOf. Runs that took repairs whole before
// this rule existed keep doing so on replay.
func (w *customerRun) changedSince(ctx workflow.Context, asOf time.Time) map[string]bool {
	out := map[string]bool{}
	for _, g := range workflow.DeterministicKeys(w.st.GroupChangedAt) {
		if w.st.GroupChangedAt[g].After(asOf) {
			out[g] = true
		}
	}
	if len(out) == 0 || workflow.GetVersion(ctx, changeRepairKeepsNewer, workflow.DefaultVersion, 1) < 1 {
		return map[string]bool{}
	}
	return out
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
	changed, asOf := false, time.Time{}
	for {
		var rl access.Relink
		if w.relinks.ReceiveAsync(&rl) {
			asOf = relinkAsOf(changed, asOf, rl.UpdatedOn)
		} else if w.legacyRelinks.ReceiveAsync(nil) {
			asOf = relinkAsOf(changed, asOf, time.Time{})
		} else {
			break
		}
		changed = true
	}
	var repairs []access.Repair
	var r access.Repair
	for w.repairs.ReceiveAsync(&r) {
		repairs = append(repairs, r)
		r = access.Repair{}
	}
	var deleted *access.CustomerDeleted
	var d access.CustomerDeleted
	for w.deletions.ReceiveAsync(&d) {
		deleted = &d
		d = access.CustomerDeleted{}
	}
	if len(msgs) == 0 && !changed && len(repairs) == 0 && deleted == nil {
		return false
	}
	slices.SortStableFunc(msgs, func(a, b msg) int { return a.c.AsOf.Compare(b.c.AsOf) })
	for _, m := range msgs {
		if d := m.c.Due; !d.IsZero() && (w.signalDue.IsZero() || d.Before(w.signalDue)) {
			w.signalDue = d
		}
	}
	now := workflow.Now(ctx)
	w.lastSignal = now
	for _, m := range msgs {
		if m.revoke {
			w.applyRevoke(now, m.c)
		} else {
			w.applyGrant(now, m.c)
		}
	}
	if deleted != nil {
		w.applyCustomerDeleted(now, *deleted)
	}
	if changed {
		// Whatever blocked the user or a group may have been fixed: try again.
		clear(w.st.Blocked)
		w.st.UserProblem = ""
		if w.st.User != nil || len(w.st.Ledger) > 0 {
			w.refresh(asOf)
		}
		w.note(now, access.Change{Action: access.ActionChanged, Reason: "coworker changed in Nexudus"})
	}
	// Repairs after the ledger changes: they describe Salto, which the ledger is then applied against.
	slices.SortStableFunc(repairs, func(a, b access.Repair) int { return a.AsOf.Compare(b.AsOf) })
	for _, r := range repairs {
		w.applyRepair(ctx, now, r)
	}
	return true
}
