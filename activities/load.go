package activities

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// LoadLocation returns a location's configuration. It reads no API: the configuration is loaded at start.
func (a *Activities) LoadLocation(_ context.Context, id int64) (access.Location, error) {
	l, ok := a.Config.Location(id)
	if !ok {
		return access.Location{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", id), nil)
	}
	sc := a.Config.Sync
	return access.Location{
		ID:       l.BusinessID,
		Name:     l.Name,
		SiteID:   l.SaltoSite,
		TimeZone: l.TimeZone,
		Policy:   access.NoAccessPolicy(l.NoAccessPolicy),
		Owned:    l.OwnedGroups(),
		Sync: access.SyncSettings{
			PollInterval:       sc.PollInterval,
			PollCallsPerMinute: sc.PollCallsPerMinute,
			PollLookback:       sc.PollLookback,
			PollPageSize:       sc.PollPageSize,
			ReconcileBatch:     sc.ReconcileBatch,
			PresenceInterval:   sc.PresenceInterval,
			PresenceDoors:      slices.Clone(l.PresenceDoors),
			PresenceExitDoors:  slices.Clone(l.PresenceExitDoors),
		},
	}, nil
}

// LoadEntitlement reads one Nexudus record (exactly one call) and reduces it, with the location's mapping,
// lead and lag, to an access.Entitlement. A record that no longer exists is StatusDeleted; one whose items
// are not mapped has no groups, and so gives no access.
func (a *Activities) LoadEntitlement(ctx context.Context, ref access.Ref) (access.Entitlement, error) {
	now := a.now()
	e := access.Entitlement{Ref: ref}
	var err error
	switch ref.Kind {
	case access.KindBooking:
		var b nexudus.Booking
		if b, err = a.Nexudus.GetBooking(ctx, int(ref.ID)); err == nil {
			e = a.booking(ref, b, now)
		}
	case access.KindPass:
		var p nexudus.CoworkerTimePass
		if p, err = a.Nexudus.GetCoworkerTimePass(ctx, int(ref.ID)); err == nil {
			e = a.pass(ref, p, now)
		}
	case access.KindContract:
		var c nexudus.CoworkerContract
		if c, err = a.Nexudus.GetContract(ctx, int(ref.ID)); err == nil {
			e = a.contract(ref, c, now)
		}
	case access.KindVisitor:
		var v nexudus.Visitor
		if v, err = a.Nexudus.GetVisitor(ctx, int(ref.ID)); err == nil {
			e = a.visitor(ref, v, now)
		}
	default:
		return e, access.NewFinalError(access.ErrConfig, fmt.Sprintf("unknown entitlement kind %q", ref.Kind), nil)
	}
	if nexudus.IsNotFound(err) {
		e.Status = access.StatusDeleted
		e.Summary = fmt.Sprintf("%s %d (deleted in Nexudus)", ref.Kind, ref.ID)
		return e, nil
	}
	if err != nil {
		return e, nexudusError("read "+ref.String(), err)
	}
	return e, nil
}

func (a *Activities) booking(ref access.Ref, b nexudus.Booking, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: ref, CoworkerID: int64(b.CoworkerId), Status: access.StatusActive, UpdatedOn: b.UpdatedOn.Time}
	// Bookings carry no location: the location is the one whose mapping names the resource (or the desk).
	// An unmapped resource is ignored, as the mapping says.
	var loc *config.Location
	for i := range a.Config.Locations {
		l := &a.Config.Locations[i]
		groups := slices.Clone(l.Resources[int64(b.ResourceId)])
		if b.FloorPlanDeskId != nil {
			groups = append(groups, l.Desks[int64(*b.FloorPlanDeskId)]...)
		}
		if len(groups) > 0 {
			loc, e.Groups = l, normalise(groups)
			break
		}
	}
	if loc == nil {
		e.Summary = fmt.Sprintf("%s (resource %d is not mapped to any access group)", b.ResourceName, b.ResourceId)
		return e
	}
	e.LocationID = loc.BusinessID
	zone := loc.Zone()
	start, okStart := b.Start(zone)
	end, okEnd := b.End(zone)
	if !okStart || !okEnd {
		e.Groups = nil
		e.Summary = fmt.Sprintf("%s (booking without start or end)", b.ResourceName)
		return e
	}
	e.GrantAt, e.RevokeAt = start.Add(-loc.GrantLead), end.Add(loc.RevokeLag)
	e.Summary = fmt.Sprintf("%s, %s", b.ResourceName, span(start, end, zone))
	switch {
	case !now.Before(e.RevokeAt):
		e.Status = access.StatusExpired
	case b.Tentative:
		e.Status = access.StatusTentative
	}
	return e
}

// pass: granted as soon as it is on the account; revoked at its expiry, or once used up. A used single-use
// pass still opens the doors for the rest of the day it was used (it paid for that day).
func (a *Activities) pass(ref access.Ref, p nexudus.CoworkerTimePass, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: ref, LocationID: int64(p.BusinessId), CoworkerID: int64(p.CoworkerId),
		Status: access.StatusActive, UpdatedOn: p.UpdatedOn.Time, Summary: p.TimePassName}
	loc, ok := a.Config.Location(int64(p.BusinessId))
	if !ok {
		e.Summary += fmt.Sprintf(" (location %d is not configured)", p.BusinessId)
		return e
	}
	e.Groups = normalise(loc.Passes[int64(p.TimePassId)])
	if len(e.Groups) == 0 {
		e.Summary += fmt.Sprintf(" (pass product %d is not mapped to any access group)", p.TimePassId)
		return e
	}
	zone := loc.Zone()
	if exp, ok := nexudus.ResolveInstant(p.ExpireDate, nexudus.Time{}, zone); ok {
		e.RevokeAt = exp
		e.Summary += ", until " + exp.In(zone).Format("2 Jan 15:04")
	}
	usedUp := p.Used || (p.RemainingUses != nil && *p.RemainingUses <= 0)
	if usedUp {
		usedOn := p.UpdatedOn.Time
		if t, ok := nexudus.ResolveInstant(p.UsedDate, nexudus.Time{}, zone); ok {
			usedOn = t
		}
		endOfDay := endOfDay(usedOn, zone)
		if e.RevokeAt.IsZero() || endOfDay.Before(e.RevokeAt) {
			e.RevokeAt = endOfDay
		}
		e.Summary += ", used up"
	}
	if !e.RevokeAt.IsZero() && !now.Before(e.RevokeAt) {
		e.Status = access.StatusExpired
	}
	return e
}

// contract: its desks and offices from the start date to the cancellation date; a contract no longer active
// (after its start) gives nothing.
func (a *Activities) contract(ref access.Ref, c nexudus.CoworkerContract, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: ref, CoworkerID: int64(c.CoworkerId), Status: access.StatusActive,
		UpdatedOn: c.UpdatedOn.Time, Summary: c.TariffName}
	desks := c.DeskIDs()
	for _, d := range desks {
		e.Desks = append(e.Desks, int64(d))
	}
	var loc *config.Location
	for i := range a.Config.Locations {
		l := &a.Config.Locations[i]
		var groups []string
		for _, d := range desks {
			groups = append(groups, l.Desks[int64(d)]...)
		}
		if len(groups) > 0 {
			loc, e.Groups = l, normalise(groups)
			break
		}
	}
	if loc == nil {
		e.Summary += " (no mapped desk or office)"
		return e
	}
	e.LocationID = loc.BusinessID
	zone := loc.Zone()
	if start, ok := nexudus.ResolveInstant(c.StartDate, nexudus.Time{}, zone); ok {
		e.GrantAt = start.Add(-loc.GrantLead)
	}
	if cancel, ok := nexudus.ResolveInstant(c.CancellationDate, nexudus.Time{}, zone); ok {
		e.RevokeAt = cancel.Add(loc.RevokeLag)
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

// visitor: access for the expected day (in the location's time zone), ended early by the departure.
func (a *Activities) visitor(ref access.Ref, v nexudus.Visitor, now time.Time) access.Entitlement {
	e := access.Entitlement{Ref: ref, LocationID: int64(v.BusinessId), CoworkerID: int64(v.CoworkerId),
		Status: access.StatusActive, UpdatedOn: v.UpdatedOn.Time, Summary: "visitor " + v.FullName}
	loc, ok := a.Config.Location(int64(v.BusinessId))
	if !ok || len(loc.VisitorGroups) == 0 {
		e.Summary += " (no visitor access group configured)"
		return e
	}
	zone := loc.Zone()
	arrival, ok := nexudus.ResolveInstant(v.ExpectedArrival, nexudus.Time{}, zone)
	if !ok {
		e.Summary += " (no expected arrival)"
		return e
	}
	group := loc.VisitorGroups[0]
	e.Groups = []string{group}
	e.GrantAt = startOfDay(arrival, zone)
	if early := arrival.Add(-loc.GrantLead); early.Before(e.GrantAt) {
		e.GrantAt = early
	}
	e.RevokeAt = endOfDay(arrival, zone)
	details := &access.VisitorDetails{Name: v.FullName, GroupID: group, PIN: loc.VisitorPINs}
	if loc.MobileAccess {
		details.Email = v.Email
	}
	if dep, ok := nexudus.ResolveInstant(v.DepartureDate, nexudus.Time{}, zone); ok {
		details.Departed = true
		if d := dep.Add(loc.RevokeLag); d.Before(e.RevokeAt) {
			e.RevokeAt = d
		}
	}
	e.Visitor = details
	e.Summary += ", " + arrival.In(zone).Format("Mon 2 Jan 15:04")
	if !now.Before(e.RevokeAt) {
		e.Status = access.StatusExpired
	}
	return e
}

func normalise(groups []string) []string {
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out)
}

func startOfDay(t time.Time, zone *time.Location) time.Time {
	l := t.In(zone)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone)
}

func endOfDay(t time.Time, zone *time.Location) time.Time {
	return startOfDay(t, zone).AddDate(0, 0, 1)
}

func span(start, end time.Time, zone *time.Location) string {
	s, e := start.In(zone), end.In(zone)
	if s.YearDay() == e.YearDay() && s.Year() == e.Year() {
		return s.Format("2 Jan 15:04") + "–" + e.Format("15:04")
	}
	return s.Format("2 Jan 15:04") + " – " + e.Format("2 Jan 15:04")
}
