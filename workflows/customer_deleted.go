package workflows

import (
	"time"

	"github.com/nexsalto/nexsalto/access"
	"go.temporal.io/sdk/workflow"
)

// applyCustomerDeleted ends the access of a customer deleted in Nexudus now, rather than at the next
// reconciliation: every ledger entry is revoked (with a tombstone, so a grant read before the delete cannot
// bring it back) and the no-access policy is due at once. The policy's own rules still hold: a Salto user we did
// not create and that something else holds is left as it is.
func (w *customerRun) applyCustomerDeleted(now time.Time, d access.CustomerDeleted) {
	const reason = "customer deleted in Nexudus"
	for _, key := range workflow.DeterministicKeys(w.st.Ledger) {
		asOf := d.AsOf
		if e := w.st.Ledger[key]; e.AsOf.After(asOf) {
			asOf = e.AsOf
		}
		w.applyRevoke(now, access.AccessChange{Entitlement: key, Reason: reason, AsOf: asOf})
	}
	// Linking again would read a coworker that no longer exists.
	w.st.PolicyDue, w.st.Refresh, w.st.RefreshAsOf = true, false, time.Time{}
	w.note(now, access.Change{Action: access.ActionChanged, Reason: reason + ": no access left, policy " +
		string(w.loc.Policy) + " applies now"})
}
