package rules

import (
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

// Timing is the lead (access given this long before an entitlement starts) and the lag (kept this long after
// it ends) for one kind at a location: the location's grant_lead and revoke_lag, unless the kind's own
// booking_timing, contract_timing or visitor_timing sets them. A pass has neither: it opens the doors while
// it is on the account.
func Timing(l *config.Location, k access.Kind) (lead, lag time.Duration) {
	var o config.Timing
	switch k {
	case access.KindBooking:
		o = l.BookingTiming
	case access.KindContract:
		o = l.ContractTiming
	case access.KindVisitor:
		o = l.VisitorTiming
	default:
		return 0, 0
	}
	lead, lag = l.GrantLead, l.RevokeLag
	if o.GrantLead != nil {
		lead = *o.GrantLead
	}
	if o.RevokeLag != nil {
		lag = *o.RevokeLag
	}
	return lead, lag
}

// StartOfDay is the midnight that starts t's calendar day in zone.
func StartOfDay(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone)
}

// EndOfDay is the midnight that ends t's calendar day in zone (23 or 25 hours after StartOfDay on the days
// the clocks change).
func EndOfDay(t time.Time, zone *time.Location) time.Time {
	return StartOfDay(t, zone).AddDate(0, 0, 1)
}
