package saltoks

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Seeds and views for the admin API and the Go methods. Views add what the live API does not show.

// SiteSeed describes a site to create. ID is generated when empty; TimeZone defaults to DefaultTimeZone;
// Seats 0 takes Options.Seats (0 there too means unlimited).
type SiteSeed struct {
	ID                string `json:"id,omitempty"`
	SiteUID           string `json:"site_uid"`
	CustomerReference string `json:"customer_reference"`
	TimeZone          string `json:"time_zone"`
	PinEnabled        bool   `json:"pin_enabled"`
	Seats             int    `json:"seats"`
}

// AdminSite is a site with its seat limit (0 = unlimited).
type AdminSite struct {
	Site
	Seats int `json:"seats"`
}

// UserSeed describes a site user to create. An empty Email makes a tag-only user; an empty SubscriptionState
// applies the seat rule.
type UserSeed struct {
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	Alias             string `json:"alias"`
	Email             string `json:"email"`
	TagID             string `json:"tag_id"`
	SubscriptionState string `json:"subscription_state"`
	UsePin            bool   `json:"use_pin"`
	Blocked           bool   `json:"blocked"`
}

// AdminUser is a site user with simulator-only details.
type AdminUser struct {
	SiteUser
	Guest     bool      `json:"guest"`
	PinSet    bool      `json:"pin_set"`
	CreatedAt time.Time `json:"created_at"`
}

// GroupSeed describes an access group to create.
type GroupSeed struct {
	ID                string         `json:"id,omitempty"`
	Name              string         `json:"name"`
	CustomerReference string         `json:"customer_reference"`
	LockIDs           []string       `json:"lock_ids"`
	Schedules         []TimeSchedule `json:"schedules"`
}

// MemberView is a group member as the admin API shows it: both ids and the human details.
type MemberView struct {
	UserID            string  `json:"user_id"`
	SiteUserID        string  `json:"site_user_id"`
	Email             *string `json:"email"`
	Alias             string  `json:"alias"`
	FirstName         string  `json:"first_name"`
	LastName          string  `json:"last_name"`
	SubscriptionState string  `json:"subscription_state"`
}

// GroupView is an access group with its locks, schedules and members.
type GroupView struct {
	AccessGroup
	LockIDs   []string       `json:"lock_ids"`
	Schedules []TimeSchedule `json:"schedules"`
	Members   []MemberView   `json:"members"`
}

// LockSeed describes a lock to create; LockType defaults to "escutcheon".
type LockSeed struct {
	ID                string `json:"id,omitempty"`
	Name              string `json:"name"`
	CustomerReference string `json:"customer_reference"`
	LockType          string `json:"lock_type"`
	Online            bool   `json:"online"`
}

// EntrySeed describes an access event. The user is given by platform UserID or by SiteUserID (or neither, for
// an anonymous event); names, alias, lock name and local time are filled in from state. Defaults: now,
// "lock_opened", "app".
type EntrySeed struct {
	UTCDateTime   time.Time `json:"utc_date_time"`
	EventCategory string    `json:"event_category"`
	EventDetail   string    `json:"event_detail"`
	AccessBy      string    `json:"access_by"`
	UserID        string    `json:"user_id"`
	SiteUserID    string    `json:"site_user_id"`
	LockID        string    `json:"lock_id"`
	ExitRequested bool      `json:"exit_requested"`
}

// ErrNotFound is returned by the Go methods for an unknown site, group, lock or user.
var ErrNotFound = errors.New("saltoks: not found")

func notFoundf(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotFound}, a...)...)
}

// SeedSite creates a site.
func (s *Server) SeedSite(seed SiteSeed) (AdminSite, error) {
	id := uuid.NewString()
	if seed.ID != "" {
		u, err := uuid.Parse(seed.ID)
		if err != nil {
			return AdminSite{}, fmt.Errorf("site id must be a UUID: %w", err)
		}
		id = u.String()
	}
	if seed.TimeZone == "" {
		seed.TimeZone = DefaultTimeZone
	}
	loc, err := time.LoadLocation(seed.TimeZone)
	if err != nil {
		return AdminSite{}, fmt.Errorf("time_zone: %w", err)
	}
	if seed.Seats < 0 {
		return AdminSite{}, errors.New("seats must not be negative")
	}
	if seed.SiteUID == "" {
		seed.SiteUID = "site-" + id[:8]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.sites[id]; dup {
		return AdminSite{}, fmt.Errorf("site %s already exists", id)
	}
	seats := seed.Seats
	if seats == 0 {
		seats = s.opts.Seats
	}
	st := &site{
		Site: Site{ID: id, SiteUID: seed.SiteUID, CustomerReference: seed.CustomerReference,
			TimeZone: seed.TimeZone, PinEnabled: seed.PinEnabled},
		seats: seats,
		loc:   loc,
		roles: newRoles(),
	}
	s.sites[id] = st
	s.siteOrder = append(s.siteOrder, id)
	return AdminSite{Site: st.view(), Seats: st.seats}, nil
}

func (s *Server) siteForSeed(ref string) (*site, error) {
	st := s.adminSiteLocked(ref)
	if st == nil {
		return nil, notFoundf("site %q", ref)
	}
	return st, nil
}

// SeedUser creates a site user that is usable at once (no consistency window).
func (s *Server) SeedUser(siteRef string, seed UserSeed) (SiteUser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteForSeed(siteRef)
	if err != nil {
		return SiteUser{}, err
	}
	b := newUserBody{FirstName: seed.FirstName, LastName: seed.LastName, Alias: seed.Alias,
		UsePin: seed.UsePin, Blocked: seed.Blocked}
	if seed.Email != "" {
		b.Email = &seed.Email
	}
	if seed.TagID != "" {
		b.TagID = &seed.TagID
	}
	u, rep := s.newUserLocked(st, b, seed.SubscriptionState, time.Time{})
	if rep != nil {
		return SiteUser{}, fmt.Errorf("invalid user: %s", rep.body.(apiError).Message)
	}
	return u.view(), nil
}

var clockTime = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$`)

// SeedAccessGroup creates an access group with its locks and time schedules.
func (s *Server) SeedAccessGroup(siteRef string, seed GroupSeed) (AccessGroup, error) {
	if strings.TrimSpace(seed.Name) == "" {
		return AccessGroup{}, errors.New("name is required")
	}
	id := seed.ID
	if id == "" {
		id = uuid.NewString()
	}
	schedules := slices.Clone(seed.Schedules)
	for i := range schedules {
		if schedules[i].ID == "" {
			schedules[i].ID = uuid.NewString()
		}
		if !clockTime.MatchString(schedules[i].StartTime) || !clockTime.MatchString(schedules[i].EndTime) {
			return AccessGroup{}, errors.New("schedule start_time and end_time must be HH:MM or HH:MM:SS")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteForSeed(siteRef)
	if err != nil {
		return AccessGroup{}, err
	}
	if st.group(id) != nil {
		return AccessGroup{}, fmt.Errorf("access group %s already exists", id)
	}
	for _, l := range seed.LockIDs {
		if st.lock(l) == nil {
			return AccessGroup{}, notFoundf("lock %q", l)
		}
	}
	g := &accessGroup{
		AccessGroup: AccessGroup{ID: id, Name: seed.Name, CustomerReference: seed.CustomerReference},
		locks:       slices.Clone(seed.LockIDs),
		schedules:   schedules,
	}
	st.groups = append(st.groups, g)
	return g.AccessGroup, nil
}

// SeedLock creates a lock.
func (s *Server) SeedLock(siteRef string, seed LockSeed) (Lock, error) {
	if seed.ID == "" {
		seed.ID = uuid.NewString()
	}
	if seed.LockType == "" {
		seed.LockType = "escutcheon"
	}
	if seed.Name == "" {
		seed.Name = "Lock " + seed.ID[:8]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteForSeed(siteRef)
	if err != nil {
		return Lock{}, err
	}
	if st.lock(seed.ID) != nil {
		return Lock{}, fmt.Errorf("lock %s already exists", seed.ID)
	}
	l := &Lock{ID: seed.ID, Name: seed.Name, CustomerReference: seed.CustomerReference,
		LockType: seed.LockType, Online: seed.Online}
	st.locks = append(st.locks, l)
	return *l, nil
}

// SeedEntry records an access event, for presence tests.
func (s *Server) SeedEntry(siteRef string, seed EntrySeed) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteForSeed(siteRef)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{
		UTCDateTime:   seed.UTCDateTime.UTC(),
		EventCategory: seed.EventCategory,
		EventDetail:   seed.EventDetail,
		AccessBy:      seed.AccessBy,
		ExitRequested: seed.ExitRequested,
		LockID:        seed.LockID,
	}
	if seed.UTCDateTime.IsZero() {
		e.UTCDateTime = s.now().UTC()
	}
	if e.EventCategory == "" {
		e.EventCategory = "lock_opened"
	}
	if e.AccessBy == "" {
		e.AccessBy = "app"
	}
	var u *siteUser
	switch {
	case seed.UserID != "":
		if u = st.userByPlatformID(seed.UserID); u == nil {
			return Entry{}, notFoundf("platform user %q", seed.UserID)
		}
	case seed.SiteUserID != "":
		if u = st.userBySiteID(seed.SiteUserID); u == nil {
			return Entry{}, notFoundf("site user %q", seed.SiteUserID)
		}
	}
	if u != nil {
		e.UserID, e.UserAlias, e.UserFirstName, e.UserLastName = u.User.ID, u.Alias, u.User.FirstName, u.User.LastName
	}
	if seed.LockID != "" {
		l := st.lock(seed.LockID)
		if l == nil {
			return Entry{}, notFoundf("lock %q", seed.LockID)
		}
		e.LockName = l.Name
	}
	e.LocalDateTime = e.UTCDateTime.In(st.loc).Format("2006-01-02T15:04:05")
	st.addEntry(e)
	return e, nil
}
