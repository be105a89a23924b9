package salto

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sites.

// ListSites lists the sites the token may use.
func (c *Client) ListSites(ctx context.Context) ([]Site, error) {
	return listAll[Site](ctx, c, c.endpoint("/v1.2/sites", nil), 0)
}

// GetSite returns one site; site is the site UUID.
func (c *Client) GetSite(ctx context.Context, site string) (*Site, error) {
	p := pathf("/v1.2/sites/%s", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return nil, err
	}
	var s Site
	if err := c.do(ctx, http.MethodGet, c.endpoint(p, nil), nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Users.

func filterQuery(opts ListOptions) query {
	if opts.Filter == "" {
		return nil
	}
	return query{{"$filter", opts.Filter}}
}

// ListUsers lists a site's users, all pages.
func (c *Client) ListUsers(ctx context.Context, site string, opts ListOptions) ([]SiteUser, error) {
	p := pathf("/v1.2/sites/%s/users", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return nil, err
	}
	return listAll[SiteUser](ctx, c, c.endpoint(p, filterQuery(opts)), 0)
}

// ForEachUserPage lists a site's users page by page, calling fn with each page (one API call each), so a caller
// reading a large site can report progress and count calls.
func (c *Client) ForEachUserPage(ctx context.Context, site string, opts ListOptions, fn func([]SiteUser) error) error {
	p := pathf("/v1.2/sites/%s/users", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return err
	}
	return forEachPage(ctx, c, c.endpoint(p, filterQuery(opts)), fn)
}

// FindUserByEmail returns the first site user with that e-mail address, or an error for which IsNotFound is
// true. Salto has no idempotency keys, so this lookup is what makes user creation safe to repeat.
func (c *Client) FindUserByEmail(ctx context.Context, site, email string) (*SiteUser, error) {
	users, err := c.ListUsers(ctx, site, ListOptions{Filter: "user/email eq " + odataString(email)})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		// The address is personal data: it stays out of the message.
		return nil, &Error{Kind: KindNotFound, Method: http.MethodGet, Path: pathf("/v1.2/sites/%s/users", site),
			Message: "no site user with that e-mail address"}
	}
	return &users[0], nil
}

// GetUser returns a site user by site-user id.
func (c *Client) GetUser(ctx context.Context, site, siteUserID string) (*SiteUser, error) {
	p := pathf("/v1.2/sites/%s/users/%s", site, siteUserID)
	if err := requireIDs(http.MethodGet, p, site, siteUserID); err != nil {
		return nil, err
	}
	var u SiteUser
	if err := c.do(ctx, http.MethodGet, c.endpoint(p, nil), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateUser creates a site user. Check the result's Suspended: with no free licence seat Salto still answers
// 201 but suspends the user. Creating twice creates two users; look up by e-mail first.
func (c *Client) CreateUser(ctx context.Context, site string, u NewUser) (*SiteUser, error) {
	p := pathf("/v1.2/sites/%s/users", site)
	if err := requireIDs(http.MethodPost, p, site); err != nil {
		return nil, err
	}
	if u.Email != nil && strings.TrimSpace(*u.Email) == "" {
		u.Email = nil // Salto rejects an empty e-mail; no e-mail means a tag-only user
	}
	if u.RoleIDs == nil {
		u.RoleIDs = []string{}
	}
	var out SiteUser
	if err := c.do(ctx, http.MethodPost, c.endpoint(p, nil), u, &out); err != nil {
		return nil, err
	}
	if out.ID != "" && out.SubscriptionState == "" {
		// The seat check needs the state; an answer without it is completed by reading the user back.
		return c.GetUser(ctx, site, out.ID)
	}
	return &out, nil
}

// PatchUser changes the non-nil fields of a site user.
func (c *Client) PatchUser(ctx context.Context, site, siteUserID string, patch UserPatch) error {
	p := pathf("/v1.2/sites/%s/users/%s", site, siteUserID)
	if err := requireIDs(http.MethodPatch, p, site, siteUserID); err != nil {
		return err
	}
	return c.do(ctx, http.MethodPatch, c.endpoint(p, nil), patch, nil)
}

// SetSubscription sets a site user's state to StateSubscribed or StateSuspended and returns the user as Salto
// then has it: the answer's body when it carries the user, else the user read back. Check Suspended after a
// subscribe: without a free licence seat Salto may answer success and leave the user suspended (the notes
// document that for creating a user; for subscribing they do not say, so both a success and an error are
// possible).
func (c *Client) SetSubscription(ctx context.Context, site, siteUserID, state string) (*SiteUser, error) {
	p := pathf("/v1.2/sites/%s/users/%s/subscription", site, siteUserID)
	if err := requireIDs(http.MethodPatch, p, site, siteUserID); err != nil {
		return nil, err
	}
	if state != StateSubscribed && state != StateSuspended {
		return nil, &Error{Kind: KindValidation, Method: http.MethodPatch, Path: p,
			Message: `state must be "subscribed" or "suspended"`}
	}
	resp, err := c.call(ctx, http.MethodPatch, c.endpoint(p, nil), map[string]string{"state": state})
	if err != nil {
		return nil, err
	}
	var u SiteUser
	if json.Unmarshal(resp.Body(), &u) == nil && u.ID != "" && u.SubscriptionState != "" {
		return &u, nil
	}
	// No user in the answer (an empty body, or another shape): what counts is the state Salto keeps.
	return c.GetUser(ctx, site, siteUserID)
}

// DeleteUser deletes a site user and frees its seat. A user that is already gone gives an error for which
// IsNotFound is true; callers making deletion idempotent treat that as success.
func (c *Client) DeleteUser(ctx context.Context, site, siteUserID string) error {
	p := pathf("/v1.2/sites/%s/users/%s", site, siteUserID)
	if err := requireIDs(http.MethodDelete, p, site, siteUserID); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, c.endpoint(p, nil), nil, nil)
}

// CreateGuest creates a guest user (role site_guest, no invitation) valid until expiresAt.
func (c *Client) CreateGuest(ctx context.Context, site, alias string, expiresAt time.Time) (*SiteUser, error) {
	p := pathf("/v1.2/sites/%s/guests", site)
	if err := requireIDs(http.MethodPost, p, site); err != nil {
		return nil, err
	}
	body := struct {
		Alias     string    `json:"alias"`
		ExpiresAt time.Time `json:"expires_at"`
	}{alias, expiresAt.UTC()}
	var out SiteUser
	if err := c.do(ctx, http.MethodPost, c.endpoint(p, nil), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GeneratePIN makes Salto generate a new PIN for a site user (each call rotates it; one PIN per user) and
// returns it. expiry is optional.
func (c *Client) GeneratePIN(ctx context.Context, site, siteUserID string, expiry *time.Time) (PIN, error) {
	p := pathf("/v1.2/sites/%s/users/%s/pin", site, siteUserID)
	if err := requireIDs(http.MethodPut, p, site, siteUserID); err != nil {
		return "", err
	}
	body := map[string]any{}
	if expiry != nil {
		body["expiry_date"] = expiry.UTC()
	}
	resp, err := c.call(ctx, http.MethodPut, c.endpoint(p, nil), body)
	if err != nil {
		return "", err
	}
	var pin string // the response is a bare JSON string
	if err := json.Unmarshal(resp.Body(), &pin); err != nil || pin == "" {
		return "", &Error{Kind: KindOther, Status: resp.StatusCode(), Method: http.MethodPut, Path: p,
			Message: "the PIN response is not a JSON string"} // no body in the message: it may hold the PIN
	}
	return PIN(pin), nil
}

// Access groups.

// ListAccessGroups lists a site's access groups, all pages.
func (c *Client) ListAccessGroups(ctx context.Context, site string, opts ListOptions) ([]AccessGroup, error) {
	p := pathf("/v1.2/sites/%s/access_groups", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return nil, err
	}
	return listAll[AccessGroup](ctx, c, c.endpoint(p, filterQuery(opts)), 0)
}

// FindAccessGroupByReference returns the first group whose customer_reference equals ref, or an error for
// which IsNotFound is true.
func (c *Client) FindAccessGroupByReference(ctx context.Context, site, ref string) (*AccessGroup, error) {
	groups, err := c.ListAccessGroups(ctx, site, ListOptions{Filter: "customer_reference eq " + odataString(ref)})
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, &Error{Kind: KindNotFound, Method: http.MethodGet,
			Path: pathf("/v1.2/sites/%s/access_groups", site), Message: "no access group with reference " + ref}
	}
	return &groups[0], nil
}

// CreateAccessGroup creates an access group. Creating twice creates two; look up by reference first.
func (c *Client) CreateAccessGroup(ctx context.Context, site string, g NewAccessGroup) (*AccessGroup, error) {
	p := pathf("/v1.2/sites/%s/access_groups", site)
	if err := requireIDs(http.MethodPost, p, site); err != nil {
		return nil, err
	}
	var out AccessGroup
	if err := c.do(ctx, http.MethodPost, c.endpoint(p, nil), g, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// memberItem is one entry of a group's member list. The notes only say members are platform user ids; the
// item is read as a user object (id) and, failing that, as a membership object (user_id). [G]
type memberItem struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
}

// ListGroupMembers returns the platform user ids in a group, all pages.
func (c *Client) ListGroupMembers(ctx context.Context, site, group string) ([]string, error) {
	p := pathf("/v1.2/sites/%s/access_groups/%s/users", site, group)
	if err := requireIDs(http.MethodGet, p, site, group); err != nil {
		return nil, err
	}
	ids := []string{}
	err := forEachPage(ctx, c, c.endpoint(p, nil), func(items []memberItem) error {
		ids = append(ids, memberIDs(items)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// ForEachGroupMemberPage lists a group's members (platform user ids) page by page, calling fn with each page.
func (c *Client) ForEachGroupMemberPage(ctx context.Context, site, group string, fn func([]string) error) error {
	p := pathf("/v1.2/sites/%s/access_groups/%s/users", site, group)
	if err := requireIDs(http.MethodGet, p, site, group); err != nil {
		return err
	}
	return forEachPage(ctx, c, c.endpoint(p, nil), func(items []memberItem) error { return fn(memberIDs(items)) })
}

func memberIDs(items []memberItem) []string {
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if it.UserID != "" {
			ids = append(ids, it.UserID)
		} else if it.ID != "" {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// AddGroupMember adds a user to a group by PLATFORM user id (SiteUser.PlatformID; a site-user id answers 404
// 2202). Safe to repeat: "already a member" (409) is success. Right after creating the user, Salto may answer
// 404 2202 for up to about a minute.
func (c *Client) AddGroupMember(ctx context.Context, site, group, platformUserID string) error {
	p := pathf("/v1.2/sites/%s/access_groups/%s/users", site, group)
	if err := requireIDs(http.MethodPost, p, site, group, platformUserID); err != nil {
		return err
	}
	err := c.do(ctx, http.MethodPost, c.endpoint(p, nil), map[string]string{"user_id": platformUserID}, nil)
	if KindOf(err) == KindConflict {
		return nil
	}
	return err
}

// RemoveGroupMember removes a user (platform id) from a group. Safe to repeat: 404 is success.
func (c *Client) RemoveGroupMember(ctx context.Context, site, group, platformUserID string) error {
	p := pathf("/v1.2/sites/%s/access_groups/%s/users/%s", site, group, platformUserID)
	if err := requireIDs(http.MethodDelete, p, site, group, platformUserID); err != nil {
		return err
	}
	err := c.do(ctx, http.MethodDelete, c.endpoint(p, nil), nil, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// GetGroupTimeSchedules returns a group's time schedules (a v1.1 call). A group without one never reaches a
// lock.
func (c *Client) GetGroupTimeSchedules(ctx context.Context, site, group string) ([]TimeSchedule, error) {
	p := pathf("/v1.1/sites/%s/access_groups/%s/time_schedules", site, group)
	if err := requireIDs(http.MethodGet, p, site, group); err != nil {
		return nil, err
	}
	return listAll[TimeSchedule](ctx, c, c.endpoint(p, nil), 0)
}

// Locks and entries.

// ListLocks lists a site's locks, all pages.
func (c *Client) ListLocks(ctx context.Context, site string) ([]Lock, error) {
	p := pathf("/v1.2/sites/%s/locks", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return nil, err
	}
	return listAll[Lock](ctx, c, c.endpoint(p, nil), 0)
}

// ListEntries returns access events at or after since, OLDEST FIRST, at most top of them (top <= 0: all).
// Entries exist only in v1.1.
//
// Why ascending: a poller keeps a cursor (the newest utc_date_time it has handled) and asks for what came after
// it. With $orderby=utc_date_time desc and a $top, a busy period longer than $top would return only the newest
// events and silently skip the older ones between the cursor and them. Ascending returns the oldest first, so
// the cursor moves forward without gaps however far behind the poller is. The filter is "ge" on a time
// truncated to the second, so events at the cursor come back again: deduplicate on the boundary.
func (c *Client) ListEntries(ctx context.Context, site string, since time.Time, top int) ([]Entry, error) {
	p := pathf("/v1.1/sites/%s/entries", site)
	if err := requireIDs(http.MethodGet, p, site); err != nil {
		return nil, err
	}
	q := query{
		{"$filter", "utc_date_time ge DateTime'" + since.UTC().Truncate(time.Second).Format(time.RFC3339) + "'"},
		{"$orderby", "utc_date_time asc"},
	}
	if top > 0 {
		q = append(q, [2]string{"$top", strconv.Itoa(top)})
	}
	return listAll[Entry](ctx, c, c.endpoint(p, q), top)
}
