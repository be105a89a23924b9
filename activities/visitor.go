package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// visitorProgress is what GrantVisitor has achieved for one visit (see progressCache). The PIN is kept only
// in this worker's memory, between a generate that succeeded and a write to Nexudus that failed, so that the
// retry writes the PIN Salto holds instead of generating another.
type visitorProgress struct {
	user    *access.VisitorAccess
	inGroup bool
	pin     *salto.PIN
}

// GrantVisitor gives a visitor access for one visit: a Salto guest (or a user with an invitation when the
// location offers mobile access and the visitor has an email) valid until the end of the visit, in the visitor
// group, with a PIN written to the Nexudus visitor record. The PIN exists only inside this function: it is
// neither returned nor logged, so it never reaches the workflow history. Each step is done once across the
// attempts of one grant.
func (a *Activities) GrantVisitor(ctx context.Context, g access.VisitorGrant) (_ access.VisitorAccess, err error) {
	ctx, done := saltoActivity(withPriority(ctx, access.PriorityUrgent), time.Time{}, time.Time{})
	defer done()
	defer observeChange(ctx, metrics.ChangeGrant, "", time.Time{}, &err)
	key := fmt.Sprintf("visitor %d %s %s %s", g.Visitor.ID, g.SiteID, g.GroupID, g.ValidUntil.UTC().Format(time.RFC3339))
	defer a.forgetOnFinal(key, &err)
	p := loadProgress[visitorProgress](&a.progress, key)
	if p.user == nil {
		out, err := a.visitorAccount(ctx, g)
		if err != nil {
			return access.VisitorAccess{}, err
		}
		p.user = &out
		a.progress.save(key, p)
	}
	out := *p.user
	if !p.inGroup {
		if err := a.Salto.AddGroupMember(ctx, g.SiteID, g.GroupID, out.PlatformUserID); err != nil {
			return access.VisitorAccess{}, saltoError(ctx, "add visitor to access group "+g.GroupID, err)
		}
		p.inGroup = true
		a.progress.save(key, p)
	}
	if g.PIN && !out.PINIssued {
		if p.pin == nil {
			until := g.ValidUntil
			pin, err := a.Salto.GeneratePIN(ctx, g.SiteID, out.SiteUserID, &until)
			if err != nil {
				return access.VisitorAccess{}, saltoError(ctx, "generate visitor PIN", err)
			}
			p.pin = &pin
			a.progress.save(key, p)
		}
		if err := a.writeVisitorPIN(ctx, g.Visitor.ID, *p.pin); err != nil {
			return access.VisitorAccess{}, err
		}
		out.PINIssued = true
	}
	a.progress.forget(key)
	return out, nil
}

// visitorAccount is the visitor's Salto user for this visit: the one an earlier grant made, valid until the
// visit's end, or a new one.
func (a *Activities) visitorAccount(ctx context.Context, g access.VisitorGrant) (access.VisitorAccess, error) {
	var out access.VisitorAccess
	if g.Existing != nil && g.Existing.SiteUserID != "" {
		out = *g.Existing
		u, err := a.Salto.GetUser(ctx, g.SiteID, out.SiteUserID)
		switch {
		case salto.IsNotFound(err):
			out = access.VisitorAccess{} // removed by hand: create it again below
		case err != nil:
			return out, saltoError(ctx, "read visitor's Salto user", err)
		case u.ExpiresAt == nil || !u.ExpiresAt.Equal(g.ValidUntil):
			until := g.ValidUntil
			if err := a.Salto.PatchUser(ctx, g.SiteID, out.SiteUserID, salto.UserPatch{ExpiresAt: &until}); err != nil {
				return out, saltoError(ctx, "extend visitor's Salto user", err)
			}
		}
	}
	if out.SiteUserID == "" {
		u, err := a.visitorUser(ctx, g)
		if err != nil {
			return out, err
		}
		out = access.VisitorAccess{SiteID: g.SiteID, SiteUserID: u.ID, PlatformUserID: u.PlatformID()}
	}
	out.SiteID, out.ValidUntil = g.SiteID, g.ValidUntil
	return out, nil
}

// visitorUser finds the visitor's Salto user left by an earlier attempt of this activity, or creates it.
func (a *Activities) visitorUser(ctx context.Context, g access.VisitorGrant) (*salto.SiteUser, error) {
	alias := fmt.Sprintf("%s (visitor %d)", strings.TrimSpace(g.Alias), g.Visitor.ID)
	if email := strings.TrimSpace(g.Email); email != "" {
		u, err := a.Salto.FindUserByEmail(ctx, g.SiteID, email)
		if err == nil {
			return u, nil
		}
		if !salto.IsNotFound(err) {
			return nil, saltoError(ctx, "find visitor by email", err)
		}
		first, last := splitName(g.Alias)
		u, err = a.Salto.CreateUser(ctx, g.SiteID, salto.NewUser{FirstName: first, LastName: last, Alias: alias, Email: &email})
		if err != nil {
			return nil, saltoError(ctx, "create visitor's Salto user", err)
		}
		return u, nil
	}
	// Salto has no idempotency keys: a retried attempt first looks for the guest an earlier attempt may have
	// created. The first attempt skips that scan, which on a large site is many pages.
	if activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt > 1 {
		users, err := a.Salto.ListUsers(ctx, g.SiteID, salto.ListOptions{})
		if err != nil {
			return nil, saltoError(ctx, "list Salto users", err)
		}
		for i := range users {
			if users[i].Alias == alias {
				return &users[i], nil
			}
		}
	}
	u, err := a.Salto.CreateGuest(ctx, g.SiteID, alias, g.ValidUntil)
	if err != nil {
		return nil, saltoError(ctx, "create Salto guest", err)
	}
	return u, nil
}

// writeVisitorPIN stores the PIN in the visitor's VisitorCode, the code Nexudus puts in the visitor's
// notification. (Which visitor field the real Nexudus shows is not documented; this is the one place to
// change it.)
func (a *Activities) writeVisitorPIN(ctx context.Context, visitorID int64, pin salto.PIN) error {
	v, err := a.Nexudus.GetVisitor(ctx, int(visitorID))
	if err != nil {
		return nexudusError(fmt.Sprintf("read visitor %d", visitorID), err)
	}
	v.VisitorCode = nexudus.Secret(pin.Reveal())
	if err := a.Nexudus.UpdateVisitor(ctx, v); err != nil {
		return nexudusError(fmt.Sprintf("write PIN to visitor %d", visitorID), err)
	}
	return nil
}

// RevokeVisitor takes the visitor out of the group and deletes the guest; what is already gone is success.
func (a *Activities) RevokeVisitor(ctx context.Context, r access.VisitorRevoke) (err error) {
	ctx, done := saltoActivity(withPriority(ctx, access.PriorityUrgent), time.Time{}, time.Time{})
	defer done()
	defer observeChange(ctx, metrics.ChangeRevoke, "", time.Time{}, &err)
	acc := r.Access
	if acc.PlatformUserID != "" {
		if err := a.Salto.RemoveGroupMember(ctx, acc.SiteID, r.GroupID, acc.PlatformUserID); err != nil && !salto.IsNotFound(err) {
			return saltoError(ctx, "remove visitor from access group "+r.GroupID, err)
		}
	}
	if acc.SiteUserID != "" {
		if err := a.Salto.DeleteUser(ctx, acc.SiteID, acc.SiteUserID); err != nil && !salto.IsNotFound(err) {
			return saltoError(ctx, "delete visitor's Salto user", err)
		}
	}
	return nil
}
