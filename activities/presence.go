package activities

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// DefaultEntriesTop bounds one read of Salto entries; the cursor moves on and the next read continues.
const DefaultEntriesTop = 500

// entryKey identifies a Salto entry, which has no id of its own.
func entryKey(e salto.Entry) string {
	return strings.Join([]string{e.UTCDateTime.UTC().Format(time.RFC3339Nano), e.UserID, e.LockID,
		strconv.FormatBool(e.ExitRequested), e.EventCategory, e.AccessBy}, "|")
}

// PollEntries reads the site's entries at or after Since, oldest first, and returns those that move a customer
// in or out: an opened door among the presence doors, with a user.
func (a *Activities) PollEntries(ctx context.Context, req access.EntriesRequest) (access.EntriesResult, error) {
	ctx = withPriority(ctx, access.PriorityBackground)
	top := req.Top
	if top <= 0 {
		top = DefaultEntriesTop
	}
	entries, err := a.Salto.ListEntries(ctx, req.SiteID, req.Since, top)
	if err != nil {
		return access.EntriesResult{}, saltoError(ctx, "list Salto entries", err)
	}
	doors, exits := map[string]bool{}, map[string]bool{}
	for _, d := range req.Doors {
		doors[d] = true
	}
	for _, d := range req.ExitDoors {
		doors[d], exits[d] = true, true
	}
	out := access.EntriesResult{Full: len(entries) >= top}
	for _, e := range entries {
		key := entryKey(e)
		switch sec := e.UTCDateTime.UTC().Truncate(time.Second); {
		case sec.After(out.Newest):
			out.Newest, out.NewestKeys = sec, []string{key}
		case sec.Equal(out.Newest):
			out.NewestKeys = append(out.NewestKeys, key)
		}
		if !doors[e.LockID] || e.UserID == "" || e.EventCategory != "lock_opened" {
			continue
		}
		out.Entries = append(out.Entries, access.DoorEntry{Key: key, At: e.UTCDateTime.UTC(), UserID: e.UserID,
			Alias: e.UserAlias, LockID: e.LockID, Exit: e.ExitRequested || exits[e.LockID]})
	}
	return out, nil
}

// userCache keeps each site's platform id → email, so matching many entries costs one listing.
type userCache struct {
	mu    sync.Mutex
	sites map[string]*siteEmails
}

type siteEmails struct {
	read   time.Time
	emails map[string]string
}

const userCacheTTL = 10 * time.Minute

// email returns the email of a platform user, reading the site's users when the cache is old or, at most once
// a minute, when it does not know the user (a new one).
func (a *Activities) userEmail(ctx context.Context, site, platformID string) (string, error) {
	c := &a.saltoUsers
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sites == nil {
		c.sites = map[string]*siteEmails{}
	}
	now := a.now()
	se := c.sites[site]
	if se != nil {
		if email, ok := se.emails[platformID]; ok && now.Sub(se.read) < userCacheTTL {
			return email, nil
		}
		if now.Sub(se.read) < time.Minute {
			return se.emails[platformID], nil
		}
	}
	users, err := a.Salto.ListUsers(ctx, site, salto.ListOptions{})
	if err != nil {
		return "", saltoError(ctx, "list Salto users", err)
	}
	se = &siteEmails{read: now, emails: make(map[string]string, len(users))}
	for _, u := range users {
		se.emails[u.PlatformID()] = normEmail(u.User.Email)
	}
	c.sites[site] = se
	return se.emails[platformID], nil
}

// ResolveUsers matches Salto platform users to Nexudus coworkers: by the alias the activities give the users
// they create ("… (nexudus 42)"), else by the Salto user's email. 0 means no coworker.
func (a *Activities) ResolveUsers(ctx context.Context, req access.ResolveUsersRequest) (map[string]int64, error) {
	ctx = withPriority(ctx, access.PriorityBackground)
	out := map[string]int64{}
	for _, u := range req.Users {
		if _, done := out[u.UserID]; done {
			continue
		}
		if m := customerAlias.FindStringSubmatch(u.Alias); m != nil {
			if id, err := strconv.ParseInt(m[1], 10, 64); err == nil && id > 0 {
				out[u.UserID] = id
				continue
			}
		}
		email, err := a.userEmail(ctx, req.SiteID, u.UserID)
		if err != nil {
			return nil, err
		}
		out[u.UserID] = 0
		if email == "" {
			continue
		}
		cws, err := a.Nexudus.ListCoworkers(ctx, url.Values{"Coworker_Email": {email}})
		if err != nil {
			return nil, nexudusError("find coworker by email", err)
		}
		if len(cws) == 1 {
			out[u.UserID] = int64(cws[0].Id)
		}
	}
	return out, nil
}

// presenceProgress is RecordPresence's heartbeat: a retried attempt skips the events done.
type presenceProgress struct {
	Done   int
	Result access.PresenceResult
}

// RecordPresence checks customers in and out of Nexudus, in the order of the events. Each event is safe to
// repeat: an entry creates a check-in (Source 2, door access) only when the customer has none open at the
// location, and an exit closes the open one (PUT ToTime); with none open it does nothing.
func (a *Activities) RecordPresence(ctx context.Context, req access.PresenceRequest) (access.PresenceResult, error) {
	ctx = withPriority(ctx, access.PriorityBackground)
	var p presenceProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for i := p.Done; i < len(req.Events); i++ {
		ev := req.Events[i]
		open, err := a.Nexudus.ListCheckins(ctx, url.Values{
			"Checkin_CoworkerId": {strconv.FormatInt(ev.CoworkerID, 10)},
			"Checkin_BusinessId": {strconv.FormatInt(req.LocationID, 10)},
			"Checkin_ToTime":     {"null"},
		})
		if err != nil {
			return p.Result, nexudusError("find open check-ins", err)
		}
		switch {
		case !ev.Exit && len(open) == 0:
			if _, err := a.Nexudus.CreateCheckin(ctx, nexudus.Checkin{BusinessId: int(req.LocationID),
				CoworkerId: int(ev.CoworkerID), FromTime: nexudus.NewTime(ev.At), Source: nexudus.SourceDoorAccess}); err != nil {
				return p.Result, nexudusError(fmt.Sprintf("check in coworker %d", ev.CoworkerID), err)
			}
			p.Result.CheckIns++
		case ev.Exit && len(open) > 0:
			for _, ck := range open {
				to := ev.At
				if from, ok := nexudus.ResolveInstant(ck.FromTime, nexudus.Time{}, nil); ok && to.Before(from) {
					to = from
				}
				if _, err := a.Nexudus.CheckoutCheckin(ctx, ck.Id, to); err != nil && !nexudus.IsNotFound(err) {
					return p.Result, nexudusError(fmt.Sprintf("check out coworker %d", ev.CoworkerID), err)
				}
			}
			p.Result.CheckOuts++
		default:
			p.Result.Unchanged++
		}
		p.Done = i + 1
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	}
	return p.Result, nil
}
