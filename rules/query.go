package rules

import (
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

// Listing Nexudus for what gives access in a window [From, To] (To zero: no end). The bounds below follow
// from the rules above and are wide by a margin: Nexudus' filters are coarse, and whether a record's
// unsuffixed date-times are UTC or the business' wall clock is not certain. Whoever lists keeps only the
// records whose entitlement gives access (GivesAccess, MayGiveAccess): the bounds only spare reads.

// Window is the span of instants [From, To); a zero To has no end.
type Window struct{ From, To time.Time }

// Meets reports whether access from grant to revoke (zero grant: already; zero revoke: open-ended) meets w.
func (w Window) Meets(grant, revoke time.Time) bool {
	if !revoke.IsZero() && !revoke.After(w.From) {
		return false
	}
	return w.To.IsZero() || grant.IsZero() || grant.Before(w.To)
}

// At is the window of the single instant t.
func At(t time.Time) Window { return Window{From: t, To: t.Add(time.Nanosecond)} }

// BookingBounds are the bounds of Nexudus' booking filters (from_Booking_ToTime, to_Booking_FromTime) that
// find every booking at the locations whose access (start - lead to end + lag) meets w. A zero toStart: no
// bound.
func BookingBounds(locs []*config.Location, w Window, margin time.Duration) (fromEnd, toStart time.Time) {
	var lead, lag time.Duration
	for _, l := range locs {
		ld, lg := Timing(l, access.KindBooking)
		lead, lag = max(lead, ld), max(lag, lg)
	}
	fromEnd = w.From.Add(-lag - margin)
	if !w.To.IsZero() {
		toStart = w.To.Add(lead + margin)
	}
	return fromEnd, toStart
}

// VisitorBounds are the bounds of the expected arrivals (from_ and to_Visitor_ExpectedArrival) of every
// visitor of l whose access meets w: a visitor has access from the start of their day (or arrival - lead, if
// earlier) until its end, so the arrival is on a day w meets, or within the lead after it. A zero to: no
// bound.
func VisitorBounds(l *config.Location, w Window, margin time.Duration) (from, to time.Time) {
	lead, _ := Timing(l, access.KindVisitor)
	from = StartOfDay(w.From, l.Zone()).Add(-margin)
	if !w.To.IsZero() {
		to = EndOfDay(w.To, l.Zone()).Add(lead + margin)
	}
	return from, to
}

// PassUsedSince is the earliest use (from_CoworkerTimePass_UsedDate) of a used-up pass without expiry that
// may still give access at t: one used earlier the same day.
func PassUsedSince(l *config.Location, t time.Time, margin time.Duration) time.Time {
	return StartOfDay(t, l.Zone()).Add(-margin)
}

// ZoneMargin widens a filter by a day where the zone of Nexudus' unsuffixed date-times matters (is it UTC or
// the business' wall clock?): a day covers any time-zone offset.
const ZoneMargin = 24 * time.Hour
