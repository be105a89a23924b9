package workflows

import (
	"context"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// ---- Salto ----

func (w *world) call(op, group, user string) {
	w.calls = append(w.calls, saltoCall{At: w.now(), Op: op, Group: group, User: user})
}

// fail returns a retryable error while op has scripted failures left.
func (w *world) fail(op string) error {
	if w.transient[op] == 0 {
		return nil
	}
	w.transient[op]--
	if d := w.retryAfter[op]; d > 0 {
		return temporal.NewApplicationErrorWithOptions("429 too many requests", "SaltoThrottled",
			temporal.ApplicationErrorOptions{NextRetryDelay: d})
	}
	return temporal.NewApplicationError("503 unavailable", "SaltoUnavailable")
}

func (w *world) newUser(email, tag string, guest bool) *saltoUser {
	w.nextID++
	u := &saltoUser{SiteUserID: fmt.Sprintf("su-%d", w.nextID), PlatformID: fmt.Sprintf("pu-%d", w.nextID),
		Email: email, Tag: tag, Guest: guest}
	w.users[u.SiteUserID] = u
	return u
}

func (w *world) EnsureSaltoUser(_ context.Context, req access.EnsureUserRequest) (access.SaltoUser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.coworkerRd++
	cw, ok := w.coworkers[req.Customer.CoworkerID]
	if !ok || cw.Email == "" {
		return access.SaltoUser{}, access.NewFinalError(access.ErrMissingEmail, "coworker has no email", nil)
	}
	var u *saltoUser
	if req.Known != nil {
		w.call("get", "", req.Known.SiteUserID)
		u = w.users[req.Known.SiteUserID]
	}
	if u == nil {
		w.call("find", "", cw.Email)
		for _, id := range workflow.DeterministicKeys(w.users) {
			if w.users[id].Email == cw.Email {
				u = w.users[id]
			}
		}
	}
	if u == nil && !req.Subscribe {
		return access.SaltoUser{}, nil
	}
	if u == nil {
		free := w.seatFree()
		u = w.newUser(cw.Email, cw.Card, false)
		u.Ours, u.Suspended = true, !free
		w.call("create", "", u.SiteUserID)
	}
	if u.Tag != cw.Card {
		u.Tag = cw.Card
		w.call("tag", "", u.SiteUserID)
	}
	if u.Suspended && req.Subscribe {
		u.Suspended = !w.seatFree()
		w.call("subscribe", "", u.SiteUserID)
	}
	return access.SaltoUser{SiteID: req.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		Suspended: u.Suspended, Created: u.Ours}, nil
}

// seatFree says whether a user could be subscribed now: subscribed non-guest users hold the seats.
func (w *world) seatFree() bool {
	used := 0
	for _, u := range w.users {
		if !u.Guest && !u.Suspended {
			used++
		}
	}
	return w.seats <= 0 || used < w.seats
}

func (w *world) AddToGroup(_ context.Context, c access.GroupChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("add"); err != nil {
		w.call("add-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	if err := w.failAdd[c.GroupID]; err != nil {
		w.call("add-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	w.call("add", c.GroupID, c.PlatformUserID)
	w.dues, w.serveBys = append(w.dues, c.DueSince), append(w.serveBys, c.ServeBy)
	if w.members[c.GroupID] == nil {
		w.members[c.GroupID] = map[string]bool{}
	}
	w.members[c.GroupID][c.PlatformUserID] = true
	return nil
}

func (w *world) RemoveFromGroup(_ context.Context, c access.GroupChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.fail("remove"); err != nil {
		w.call("remove-failed", c.GroupID, c.PlatformUserID)
		return err
	}
	w.call("remove", c.GroupID, c.PlatformUserID)
	delete(w.members[c.GroupID], c.PlatformUserID)
	return nil
}

func (w *world) SetSubscription(_ context.Context, c access.SubscriptionChange) (access.SaltoUser, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := w.users[c.SiteUserID]
	if u == nil {
		return access.SaltoUser{}, access.NewFinalError(access.ErrSaltoNotFound, "user not found", nil)
	}
	op := "subscribe"
	if c.Suspended {
		op = "suspend"
		u.Suspended = true
	} else if u.Suspended && w.seatFree() {
		u.Suspended = false
	}
	w.call(op, "", c.SiteUserID)
	return access.SaltoUser{SiteID: c.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		Suspended: u.Suspended, Created: u.Ours}, nil
}

// CheckUserHold reports the groups outside Owned the user is in.
func (w *world) CheckUserHold(_ context.Context, r access.HoldRequest) (access.UserHold, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.holdChecks++
	u := w.users[r.SiteUserID]
	switch {
	case u == nil:
		return access.UserHold{Gone: true}, nil
	case u.Ours:
		return access.UserHold{Ours: true}, nil
	}
	var hold access.UserHold
	for _, g := range workflow.DeterministicKeys(w.members) {
		if w.members[g][u.PlatformID] && !slices.Contains(r.Owned, g) {
			hold.Foreign = append(hold.Foreign, g+" ("+g+")")
		}
	}
	return hold, nil
}

func (w *world) DeleteSaltoUser(_ context.Context, r access.DeleteUserRequest) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("delete", "", r.SiteUserID)
	if u := w.users[r.SiteUserID]; u != nil {
		for _, m := range w.members {
			delete(m, u.PlatformID)
		}
	}
	delete(w.users, r.SiteUserID)
	return nil
}

func (w *world) GrantVisitor(_ context.Context, g access.VisitorGrant) (access.VisitorAccess, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.failAdd[g.GroupID]; err != nil {
		w.call("guest-failed", g.GroupID, "")
		return access.VisitorAccess{}, err
	}
	var u *saltoUser
	if g.Existing != nil {
		u = w.users[g.Existing.SiteUserID]
	}
	if u == nil {
		u = w.newUser(g.Email, "", g.Email == "")
		w.call("guest", g.GroupID, u.SiteUserID)
		if g.PIN {
			// Salto generates the PIN; it goes straight to the Nexudus visitor record.
			w.visitorPINs[g.Visitor.ID] = fmt.Sprintf("%06d", 731900+w.nextID)
			w.call("pin", "", u.SiteUserID)
		}
		if w.members[g.GroupID] == nil {
			w.members[g.GroupID] = map[string]bool{}
		}
		w.members[g.GroupID][u.PlatformID] = true
	}
	u.ValidUntil = g.ValidUntil
	return access.VisitorAccess{SiteID: g.SiteID, SiteUserID: u.SiteUserID, PlatformUserID: u.PlatformID,
		PINIssued: g.PIN, ValidUntil: g.ValidUntil}, nil
}

func (w *world) RevokeVisitor(_ context.Context, r access.VisitorRevoke) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.call("revoke-guest", r.GroupID, r.Access.SiteUserID)
	delete(w.members[r.GroupID], r.Access.PlatformUserID)
	delete(w.users, r.Access.SiteUserID)
	return nil
}
