package rules

import (
	"strconv"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// GivesAccess says whether e gives access at t, and why (or why not), in words for the workflow's history.
// The entitlement workflows act on it; reconciliation's desired state and the backfill's selection use it.
func GivesAccess(e access.Entitlement, t time.Time) (bool, string) {
	if why := Never(e); why != "" {
		return false, why
	}
	switch {
	case e.Status == access.StatusTentative:
		return false, "tentative: waiting for confirmation"
	case !e.RevokeAt.IsZero() && !t.Before(e.RevokeAt):
		return false, "ended " + fmtTime(e.RevokeAt)
	case t.Before(e.GrantAt):
		return false, "starts " + fmtTime(e.GrantAt)
	}
	return true, "due until " + fmtTime(e.RevokeAt) + ": " + e.Summary
}

// MayGiveAccess says whether e gives, or may yet give, access at some instant of w: a tentative booking may
// still be confirmed. The backfill starts a workflow for each such record.
func MayGiveAccess(e access.Entitlement, w Window) bool {
	return Never(e) == "" && w.Meets(e.GrantAt, e.RevokeAt)
}

// Never says why e gives no access at any instant whatever the clock says, or "": only a change in Nexudus or in
// the mapping can change that, so its workflow may finish.
func Never(e access.Entitlement) string {
	switch {
	case e.Status == access.StatusCancelled:
		return "cancelled in Nexudus"
	case e.Status == access.StatusDeleted:
		return "deleted in Nexudus"
	case e.Status == access.StatusExpired:
		return expiredText(e.Kind)
	case e.Status != access.StatusActive && e.Status != access.StatusTentative:
		return "unknown status " + strconv.Quote(string(e.Status))
	case len(e.Groups) == 0:
		return "no access group is mapped to it"
	case e.Kind == access.KindVisitor && e.Visitor == nil:
		return "visitor details missing"
	case e.Kind != access.KindVisitor && e.CoworkerID <= 0:
		// A visitor's access is its own Salto guest; everything else is a customer's.
		return "no customer on the record"
	}
	return ""
}

func expiredText(k access.Kind) string {
	switch k {
	case access.KindPass:
		return "pass used up or expired"
	case access.KindContract:
		return "contract no longer active"
	case access.KindVisitor:
		return "visitor left"
	}
	return "ended in Nexudus"
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "open-ended"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
