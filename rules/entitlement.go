package rules

import (
	"fmt"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Booking is the entitlement of a booking at now.
func Booking(cfg *config.Config, b nexudus.Booking, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: access.Ref{Kind: access.KindBooking, ID: int64(b.Id)}, CoworkerID: int64(b.CoworkerId),
		Status: access.StatusActive, UpdatedOn: b.UpdatedOn.Time}
	loc, groups := Locate(cfg, b)
	if loc == nil {
		e.Summary = fmt.Sprintf("%s (resource %d is not mapped to any access group)", b.ResourceName, b.ResourceId)
		return e
	}
	e.LocationID = loc.BusinessID
	zone := loc.Zone()
	start, okStart := b.Start(zone)
	end, okEnd := b.End(zone)
	if !okStart || !okEnd {
		e.Summary = fmt.Sprintf("%s (booking without start or end)", b.ResourceName)
		return e
	}
	e.Groups = groups
	lead, lag := Timing(loc, access.KindBooking)
	e.GrantAt, e.RevokeAt = start.Add(-lead), end.Add(lag)
	e.Summary = fmt.Sprintf("%s, %s", b.ResourceName, span(start, end, zone))
	switch {
	case !now.Before(e.RevokeAt):
		e.Status = access.StatusExpired
	case b.Tentative:
		e.Status = access.StatusTentative
	}
	return e
}

// Pass is the entitlement of a coworker's time pass at now.
func Pass(cfg *config.Config, p nexudus.CoworkerTimePass, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: access.Ref{Kind: access.KindPass, ID: int64(p.Id)}, LocationID: int64(p.BusinessId),
		CoworkerID: int64(p.CoworkerId), Status: access.StatusActive, UpdatedOn: p.UpdatedOn.Time, Summary: p.TimePassName}
	loc, groups := Locate(cfg, p)
	if loc == nil {
		e.Summary += fmt.Sprintf(" (location %d is not configured)", p.BusinessId)
		return e
	}
	if len(groups) == 0 {
		e.Summary += fmt.Sprintf(" (pass product %d is not mapped to any access group)", p.TimePassId)
		return e
	}
	e.Groups = groups
	zone := loc.Zone()
	if exp, ok := nexudus.ResolveInstant(p.ExpireDate, nexudus.Time{}, zone); ok {
		e.RevokeAt = exp
		e.Summary += ", until " + exp.In(zone).Format("2 Jan 15:04")
	}
	if PassUsedUp(p) {
		if eod := EndOfDay(passUsedOn(p, zone), zone); e.RevokeAt.IsZero() || eod.Before(e.RevokeAt) {
			e.RevokeAt = eod
		}
		e.Summary += ", used up"
	}
	if !e.RevokeAt.IsZero() && !now.Before(e.RevokeAt) {
		e.Status = access.StatusExpired
	}
	return e
}

// PassUsedUp says whether a pass has no use left: marked used, or its uses counted down to none.
func PassUsedUp(p nexudus.CoworkerTimePass) bool {
	return p.Used || (p.RemainingUses != nil && *p.RemainingUses <= 0)
}

// passUsedOn is when a used-up pass was used: its UsedDate, else its last update.
func passUsedOn(p nexudus.CoworkerTimePass, zone *time.Location) time.Time {
	if t, ok := nexudus.ResolveInstant(p.UsedDate, nexudus.Time{}, zone); ok {
		return t
	}
	return p.UpdatedOn.Time
}

// Contract is the entitlement of a contract at now.
func Contract(cfg *config.Config, c nexudus.CoworkerContract, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: access.Ref{Kind: access.KindContract, ID: int64(c.Id)}, CoworkerID: int64(c.CoworkerId),
		Status: access.StatusActive, UpdatedOn: c.UpdatedOn.Time, Summary: c.TariffName}
	desks := c.DeskIDs()
	for _, d := range desks {
		e.Desks = append(e.Desks, int64(d))
	}
	loc, groups := Locate(cfg, c)
	if loc == nil {
		e.Summary += " (no mapped desk or office)"
		return e
	}
	e.LocationID, e.Groups = loc.BusinessID, groups
	zone := loc.Zone()
	lead, lag := Timing(loc, access.KindContract)
	if start, ok := nexudus.ResolveInstant(c.StartDate, nexudus.Time{}, zone); ok {
		e.GrantAt = start.Add(-lead)
	}
	if cancel, ok := nexudus.ResolveInstant(c.CancellationDate, nexudus.Time{}, zone); ok {
		e.RevokeAt = cancel.Add(lag)
		e.Summary += ", until " + cancel.In(zone).Format("2 Jan 2006")
	}
	e.Summary += fmt.Sprintf(", desks %v", []int(desks))
	switch {
	case c.Cancelled && e.RevokeAt.IsZero():
		e.Status = access.StatusCancelled
	case !e.RevokeAt.IsZero() && !now.Before(e.RevokeAt):
		e.Status = access.StatusExpired
	case !c.Active && (e.GrantAt.IsZero() || !now.Before(e.GrantAt)):
		// Not active although it has started: ended or suspended in Nexudus.
		e.Status = access.StatusExpired
	}
	return e
}

// Visitor is the entitlement of a registered visitor at now.
func Visitor(cfg *config.Config, v nexudus.Visitor, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: access.Ref{Kind: access.KindVisitor, ID: int64(v.Id)}, LocationID: int64(v.BusinessId),
		CoworkerID: int64(v.CoworkerId), Status: access.StatusActive, UpdatedOn: v.UpdatedOn.Time,
		Summary: "visitor " + v.FullName}
	loc, groups := Locate(cfg, v)
	if loc == nil || len(groups) == 0 {
		e.Summary += " (no visitor access group configured)"
		return e
	}
	zone := loc.Zone()
	arrival, ok := nexudus.ResolveInstant(v.ExpectedArrival, nexudus.Time{}, zone)
	if !ok {
		e.Summary += " (no expected arrival)"
		return e
	}
	e.Groups = groups
	lead, lag := Timing(loc, access.KindVisitor)
	e.GrantAt = earlier(StartOfDay(arrival, zone), arrival.Add(-lead))
	e.RevokeAt = EndOfDay(arrival, zone)
	details := &access.VisitorDetails{Name: v.FullName, GroupID: groups[0], PIN: loc.VisitorPINs}
	if loc.MobileAccess {
		details.Email = v.Email
	}
	if dep, ok := nexudus.ResolveInstant(v.DepartureDate, nexudus.Time{}, zone); ok {
		details.Departed = true
		e.RevokeAt = earlier(e.RevokeAt, dep.Add(lag))
	}
	e.Visitor = details
	e.Summary += ", " + arrival.In(zone).Format("Mon 2 Jan 15:04")
	if !now.Before(e.RevokeAt) {
		e.Status = access.StatusExpired
	}
	return e
}

func span(start, end time.Time, zone *time.Location) string {
	s, e := start.In(zone), end.In(zone)
	if s.YearDay() == e.YearDay() && s.Year() == e.Year() {
		return s.Format("2 Jan 15:04") + "–" + e.Format("15:04")
	}
	return s.Format("2 Jan 15:04") + " – " + e.Format("2 Jan 15:04")
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
