package activities

import (
	"context"
	"fmt"
	"slices"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
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
		// The worker serves it (service.Worker); a configuration built in code may leave it empty.
		BackgroundTaskQueue: a.Config.Temporal.BackgroundTaskQueue,
		Sync: access.SyncSettings{
			PollInterval:       sc.PollInterval,
			SafetyNetInterval:  sc.SafetyNetInterval,
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

// LoadEntitlement reads one Nexudus record (exactly one call) and reduces it to an access.Entitlement by the
// rules (package rules). A record that no longer exists is StatusDeleted; one whose items
// are not mapped has no groups, and so gives no access.
func (a *Activities) LoadEntitlement(ctx context.Context, ref access.Ref) (access.Entitlement, error) {
	ctx = withPriority(ctx, access.PriorityUrgent)
	now := a.now()
	e := access.Entitlement{Ref: ref}
	var err error
	switch ref.Kind {
	case access.KindBooking:
		var b nexudus.Booking
		if b, err = a.Nexudus.GetBooking(ctx, int(ref.ID)); err == nil {
			e = rules.Booking(a.Config, b, now)
		}
	case access.KindPass:
		var p nexudus.CoworkerTimePass
		if p, err = a.Nexudus.GetCoworkerTimePass(ctx, int(ref.ID)); err == nil {
			e = rules.Pass(a.Config, p, now)
		}
	case access.KindContract:
		var c nexudus.CoworkerContract
		if c, err = a.Nexudus.GetContract(ctx, int(ref.ID)); err == nil {
			e = rules.Contract(a.Config, c, now)
		}
	case access.KindVisitor:
		var v nexudus.Visitor
		if v, err = a.Nexudus.GetVisitor(ctx, int(ref.ID)); err == nil {
			e = rules.Visitor(a.Config, v, now)
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
	e.Ref = ref
	return e, nil
}
