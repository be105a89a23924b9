package activities

import (
	"context"
	"fmt"
	"strings"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// linkProgress is what EnsureSaltoUser has achieved for one customer and site (see progressCache). It holds
// ids and flags only.
type linkProgress struct {
	coworkerRead bool // a relink's fresh read of the coworker is done; the cache has it
	user         *salto.SiteUser
	created      bool // by this link
	tagged       bool // the Salto tag follows the access card
	// lookedUp: the lookup (by email, else by our alias) found no user and no create was tried since, so a
	// retry after a failed create's neighbour need not list the site again. A failed create clears it: Salto
	// may have carried it out with its answer lost, and only a new lookup can tell.
	lookedUp bool
}

// EnsureSaltoUser links a customer to its Salto user: the known one if it still exists, else the one with the
// customer's email, else a new one. The Salto tag follows the Nexudus access card number. The result says
// whether we created the user (or it carries our alias) and whether Salto keeps it suspended after a create or
// a subscribe (no free licence seat): both are read from what Salto answers, never assumed. Each step is done
// once across the attempts of one link: a retry after a failed tag or subscribe repeats only that call.
func (a *Activities) EnsureSaltoUser(ctx context.Context, req access.EnsureUserRequest) (_ access.SaltoUser, err error) {
	ctx, done := saltoActivity(withPriority(ctx, access.PriorityUrgent), req.DueSince, req.ServeBy)
	defer done()
	defer observeCustomer(ctx, req.Customer.WorkflowID(), &err)
	loc, ok := a.Config.Location(req.Customer.LocationID)
	if !ok {
		return access.SaltoUser{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", req.Customer.LocationID), nil)
	}
	site := req.SiteID
	key := "link " + req.Customer.WorkflowID() + " " + site
	defer a.forgetOnFinal(key, &err)
	p := loadProgress[linkProgress](&a.progress, key)
	cw, err := a.coworker(ctx, req.Customer.CoworkerID, req.Relink && !p.coworkerRead, req.RelinkAsOf)
	if err != nil {
		return access.SaltoUser{}, err
	}
	p.coworkerRead = true
	if p.user == nil {
		if p.user, p.created, err = a.resolveUser(ctx, req, loc, cw, &p); err != nil {
			a.progress.save(key, p) // the coworker stays read
			return access.SaltoUser{}, err
		}
		if p.user == nil {
			a.progress.forget(key)
			return access.SaltoUser{}, nil
		}
		p.tagged = p.created // created with the tag
		a.progress.save(key, p)
	}
	u := p.user
	if !p.tagged && cw.AccessCardId != "" && u.TagID != cw.AccessCardId {
		tag := cw.AccessCardId
		err := idempotent(ctx, func() error { return a.Salto.PatchUser(ctx, site, u.ID, salto.UserPatch{TagID: &tag}) })
		if err != nil {
			return access.SaltoUser{}, saltoError(ctx, "set Salto tag", err)
		}
	}
	p.tagged = true
	a.progress.save(key, p)
	// The known user keeps the mark it had; any other is ours only by the alias we give the users we create.
	created := p.created || access.HasCreatedAlias(u.Alias, req.Customer.CoworkerID) ||
		(req.Known != nil && req.Known.Created && req.Known.SiteUserID == u.ID)
	out := access.SaltoUser{SiteID: site, SiteUserID: u.ID, PlatformUserID: u.PlatformID(), Suspended: u.Suspended(),
		Created: created}
	if out.Suspended && req.Subscribe {
		su, err := a.Salto.SetSubscription(ctx, site, u.ID, salto.StateSubscribed)
		switch {
		case err == nil:
			out.Suspended = su.Suspended()
		case noSeatRefusal(err):
			// Refused rather than answered "still suspended": the same for the workflow.
			logger(ctx).Warn("Salto user stays suspended", "Customer", req.Customer.WorkflowID(), "Error", err)
		default:
			return access.SaltoUser{}, saltoError(ctx, "subscribe Salto user", err)
		}
	}
	a.progress.forget(key)
	return out, nil
}

// resolveUser finds the customer's Salto user or creates it. No user and no error: the known user is gone and
// nothing needs a new one.
func (a *Activities) resolveUser(ctx context.Context, req access.EnsureUserRequest, loc *config.Location,
	cw nexudus.Coworker, p *linkProgress) (u *salto.SiteUser, created bool, err error) {
	site := req.SiteID
	if req.Known != nil && req.Known.Known() {
		err = idempotent(ctx, func() (err error) {
			u, err = a.Salto.GetUser(ctx, site, req.Known.SiteUserID)
			return err
		})
		if salto.IsNotFound(err) {
			u, err = nil, nil // deleted by hand, or by the delete policy: find or create again below
		}
		if err != nil {
			return nil, false, saltoError(ctx, "read Salto user", err)
		}
		if u == nil && !req.Subscribe {
			return nil, false, nil
		}
	}
	if u != nil {
		return u, false, nil
	}
	if !p.lookedUp {
		if u, err = a.findUser(ctx, site, loc, cw); err != nil || u != nil {
			return u, false, err
		}
		p.lookedUp = true
	}
	if loc.MobileAccess && strings.TrimSpace(cw.Email) == "" {
		return nil, false, access.NewFinalError(access.ErrMissingEmail,
			fmt.Sprintf("coworker %d has no email: mobile access needs one", cw.Id), nil)
	}
	first, last := splitName(cw.FullName)
	nu := salto.NewUser{FirstName: first, LastName: last, Alias: alias(cw), TagID: cw.AccessCardId}
	if loc.MobileAccess {
		email := cw.Email
		nu.Email = &email
	}
	if u, err = a.Salto.CreateUser(ctx, site, nu); err != nil {
		// A 429 is a refusal; anything else may have been carried out with its answer lost.
		p.lookedUp = salto.KindOf(err) == salto.KindRateLimited
		return nil, false, saltoError(ctx, "create Salto user", err)
	}
	logger(ctx).Info("created Salto user", "Customer", req.Customer.WorkflowID(),
		"SiteUserID", u.ID, "Suspended", u.Suspended())
	return u, true, nil
}

// noSeatRefusal reports an answer to a subscribe that may mean "no free licence seat": the notes do not say
// which status Salto gives then [G], so a refusal that retrying cannot fix counts as one.
func noSeatRefusal(err error) bool {
	k := salto.KindOf(err)
	return k == salto.KindValidation || k == salto.KindPermission
}

// findUser matches by email; tag-only users (no email in Salto) are matched by the alias we gave them.
func (a *Activities) findUser(ctx context.Context, site string, loc *config.Location, cw nexudus.Coworker) (*salto.SiteUser, error) {
	if email := strings.TrimSpace(cw.Email); email != "" {
		var u *salto.SiteUser
		err := idempotent(ctx, func() (err error) {
			u, err = a.Salto.FindUserByEmail(ctx, site, email)
			return err
		})
		if err == nil {
			return u, nil
		}
		if !salto.IsNotFound(err) {
			return nil, saltoError(ctx, "find Salto user by email", err)
		}
	}
	if loc.MobileAccess {
		return nil, nil
	}
	var users []salto.SiteUser
	err := idempotent(ctx, func() (err error) {
		users, err = a.Salto.ListUsers(ctx, site, salto.ListOptions{})
		return err
	})
	if err != nil {
		return nil, saltoError(ctx, "list Salto users", err)
	}
	want := alias(cw)
	for i := range users {
		if users[i].Alias == want {
			return &users[i], nil
		}
	}
	return nil, nil
}

// alias names the Salto user after the customer and carries the Nexudus id, so a tag-only user can be found
// again and staff can tell who it is.
func alias(cw nexudus.Coworker) string { return access.CreatedAlias(cw.FullName, int64(cw.Id)) }

func splitName(full string) (first, last string) {
	full = strings.TrimSpace(full)
	if i := strings.LastIndexByte(full, ' '); i > 0 {
		return full[:i], full[i+1:]
	}
	return full, ""
}
