package workflows

import (
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// grantSink is where an entitlement's access goes: the customer workflow, or a visitor's own Salto guest.
type grantSink interface {
	// due is when the change fell due (access.ChangeDue).
	grant(ctx workflow.Context, e access.Entitlement, prev *access.Granted, reason string, due time.Time) (*access.Granted, error)
	revoke(ctx workflow.Context, g access.Granted, reason string, due time.Time) error
	// regrant says why access given as g must be taken back and given anew for e; "" when an update
	// (new groups, new end) is enough.
	regrant(g access.Granted, e access.Entitlement) string
}

// customerSink hands access to the customer workflow, which applies only the difference in Salto.
type customerSink struct{ ref access.Ref }

func (s customerSink) grant(ctx workflow.Context, e access.Entitlement, _ *access.Granted, reason string,
	due time.Time) (*access.Granted, error) {
	c := access.AccessChange{Entitlement: s.ref.WorkflowID(), Groups: e.Groups, Until: e.RevokeAt, Reason: reason,
		Summary: e.Summary, AsOf: workflow.Now(ctx), Due: due}
	if err := signalCustomer(ctx, e.Customer(), access.SignalGrant, c); err != nil {
		return nil, err
	}
	return &access.Granted{Customer: e.Customer(), Groups: e.Groups, Until: e.RevokeAt}, nil
}

func (s customerSink) revoke(ctx workflow.Context, g access.Granted, reason string, due time.Time) error {
	c := access.AccessChange{Entitlement: s.ref.WorkflowID(), Reason: reason, AsOf: workflow.Now(ctx), Due: due}
	return signalCustomer(ctx, g.Customer, access.SignalRevoke, c)
}

func (customerSink) regrant(g access.Granted, e access.Entitlement) string {
	if g.Customer != e.Customer() {
		return "moved to " + e.Customer().WorkflowID()
	}
	return ""
}

func signalCustomer(ctx workflow.Context, c access.CustomerKey, signal string, change access.AccessChange) error {
	summary := signal + " " + fmtGroups(change.Groups) + " → " + c.WorkflowID()
	if signal == access.SignalRevoke {
		summary = "revoke → " + c.WorkflowID()
	}
	_, err := proc(a.SignalCustomer).runLocal(localContext(ctx, signalTimeout, summary),
		access.CustomerSignal{Customer: c, Signal: signal, Change: change})
	return err
}

// visitorSink gives a visitor a Salto guest of its own. The visitor is not a customer, so this is the only
// writer of that guest and no customer workflow is involved.
type visitorSink struct {
	ref access.Ref
	loc *access.Location
}

func (s *visitorSink) location(ctx workflow.Context, id int64) (access.Location, error) {
	if s.loc != nil && s.loc.ID == id {
		return *s.loc, nil
	}
	loc, err := loadLocation(ctx, id)
	if err != nil {
		return loc, err
	}
	s.loc = &loc
	return loc, nil
}

func (s *visitorSink) grant(ctx workflow.Context, e access.Entitlement, prev *access.Granted, _ string,
	_ time.Time) (*access.Granted, error) {
	loc, err := s.location(ctx, e.LocationID)
	if err != nil {
		return nil, err
	}
	in := access.VisitorGrant{Visitor: s.ref, LocationID: e.LocationID, SiteID: loc.SiteID,
		GroupID: e.Visitor.GroupID, Alias: "Visitor " + e.Visitor.Name, Email: e.Visitor.Email,
		ValidUntil: e.RevokeAt, PIN: e.Visitor.PIN}
	summary := "give visitor access until " + fmtTime(e.RevokeAt)
	if prev != nil && prev.Visitor != nil {
		in.Existing = prev.Visitor
		summary = "change visitor access until " + fmtTime(e.RevokeAt)
	}
	va, err := fn(a.GrantVisitor).run(saltoContext(ctx, loc, summary), in)
	if err != nil {
		return nil, err
	}
	return &access.Granted{Customer: e.Customer(), Groups: e.Groups, Until: e.RevokeAt, Visitor: &va}, nil
}

func (s *visitorSink) revoke(ctx workflow.Context, g access.Granted, reason string, _ time.Time) error {
	if g.Visitor == nil {
		return nil
	}
	loc, err := s.location(ctx, g.Customer.LocationID)
	if err != nil {
		return err
	}
	group := ""
	if len(g.Groups) > 0 {
		group = g.Groups[0]
	}
	in := access.VisitorRevoke{Visitor: s.ref, LocationID: g.Customer.LocationID, GroupID: group,
		Access: *g.Visitor, Reason: reason}
	_, err = proc(a.RevokeVisitor).run(saltoContext(ctx, loc, "remove visitor access: "+reason), in)
	return err
}

func (*visitorSink) regrant(g access.Granted, e access.Entitlement) string {
	switch {
	case g.Customer.LocationID != e.LocationID:
		return "visit moved to location " + strconv.FormatInt(e.LocationID, 10)
	case !slices.Equal(g.Groups, e.Groups):
		return "visitor group changed"
	}
	return ""
}
