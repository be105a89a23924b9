package workflows

import "github.com/nexsalto/nexsalto/access"

// What a "changed" signal asks of an entitlement workflow: take the body a signed webhook carried, read
// Nexudus, or nothing at all when the poller lists a change the workflow already holds.

// drainChanged takes every buffered "changed" signal and reports whether there was one.
func (w *entitlementRun) drainChanged() bool {
	got := false
	for {
		var obs *access.Observed
		if !w.changed.ReceiveAsync(&obs) {
			return got
		}
		got = w.take(obs) || got
	}
}

// take notes one "changed" signal: the body it carries if newer than the one kept, or that Nexudus must be
// read. It reports false for a change the workflow already holds (the poller listed what a webhook brought).
func (w *entitlementRun) take(obs *access.Observed) bool {
	switch {
	case obs == nil:
		w.mustRead = true
	case obs.Entitlement.Ref.ID == 0:
		if cur := w.st.Entitlement; cur != nil && !obs.Seen.IsZero() && !cur.UpdatedOn.Before(obs.Seen) {
			return false
		}
		if w.observed == nil || w.observed.Entitlement.UpdatedOn.Before(obs.Seen) || obs.Seen.IsZero() {
			w.mustRead = true
		}
	case w.observed == nil || !obs.Entitlement.UpdatedOn.Before(w.observed.Entitlement.UpdatedOn):
		w.observed = obs
	}
	return true
}
