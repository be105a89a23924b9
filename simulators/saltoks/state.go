package saltoks

import (
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Wire types: what the API answers. Field names follow the shared API notes.

// Site is a Salto KS site.
type Site struct {
	ID                   string `json:"id"`
	SiteUID              string `json:"site_uid"`
	CustomerReference    string `json:"customer_reference"`
	TimeZone             string `json:"time_zone"`
	PinEnabled           bool   `json:"pin_enabled"`
	SubscribedUserAmount int    `json:"subscribed_user_amount"`
}

// User is the platform user inside a site user; its ID is the platform id used for groups and entries.
type User struct {
	ID        string  `json:"id"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Email     *string `json:"email"`
}

// Role is a site role.
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SiteUser is a user's membership of a site; its ID is the site-user id.
type SiteUser struct {
	ID                string     `json:"id"`
	User              User       `json:"user"`
	Roles             []Role     `json:"roles"`
	Alias             string     `json:"alias"`
	SubscriptionState string     `json:"subscription_state"`
	UsePin            bool       `json:"use_pin"`
	RemoteAccess      bool       `json:"remote_access"`
	ExpiresAt         *time.Time `json:"expires_at"`
	Blocked           bool       `json:"blocked"`
	TagID             *string    `json:"tag_id"`
}

// AccessGroup is an access group.
type AccessGroup struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	CustomerReference string `json:"customer_reference"`
}

// Member is one item of an access group's member list: the platform user.
type Member struct {
	ID        string  `json:"id"`
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Email     *string `json:"email"`
}

// Lock is a lock (door).
type Lock struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	CustomerReference string `json:"customer_reference"`
	LockType          string `json:"lock_type"`
	Online            bool   `json:"online"`
}

// TimeSchedule is one schedule of an access group, in site-local wall-clock time.
type TimeSchedule struct {
	ID        string `json:"id"`
	Monday    bool   `json:"monday"`
	Tuesday   bool   `json:"tuesday"`
	Wednesday bool   `json:"wednesday"`
	Thursday  bool   `json:"thursday"`
	Friday    bool   `json:"friday"`
	Saturday  bool   `json:"saturday"`
	Sunday    bool   `json:"sunday"`
	StartTime string `json:"start_time"` // "HH:MM:SS"
	EndTime   string `json:"end_time"`
	StartDate string `json:"start_date,omitempty"` // "YYYY-MM-DD"
	EndDate   string `json:"end_date,omitempty"`
}

// Entry is an access event.
type Entry struct {
	UTCDateTime   time.Time `json:"utc_date_time"`
	LocalDateTime string    `json:"local_date_time"`
	EventCategory string    `json:"event_category"`
	EventDetail   string    `json:"event_detail"`
	AccessBy      string    `json:"access_by"`
	UserID        string    `json:"user_id"`
	UserAlias     string    `json:"user_alias"`
	UserFirstName string    `json:"user_first_name"`
	UserLastName  string    `json:"user_last_name"`
	ExitRequested bool      `json:"exit_requested"`
	LockID        string    `json:"lock_id"`
	LockName      string    `json:"lock_name"`
}

// Internal state.

type site struct {
	Site
	seats   int // 0 = unlimited
	loc     *time.Location
	roles   []Role
	users   []*siteUser // creation order
	groups  []*accessGroup
	locks   []*Lock
	entries []Entry // sorted by UTCDateTime, oldest first
}

type siteUser struct {
	SiteUser
	guest     bool
	createdAt time.Time
	readyAt   time.Time // end of the consistency window
	pin       string
}

type accessGroup struct {
	AccessGroup
	locks     []string
	schedules []TimeSchedule
	members   []string // platform ids, in join order
}

const (
	roleUser  = "site_user"
	roleAdmin = "site_admin"
	roleGuest = "site_guest"

	stateSubscribed = "subscribed"
	stateSuspended  = "suspended"
)

func newRoles() []Role {
	return []Role{
		{ID: uuid.NewString(), Name: roleUser},
		{ID: uuid.NewString(), Name: roleAdmin},
		{ID: uuid.NewString(), Name: roleGuest},
	}
}

func (st *site) role(name string) Role {
	for _, r := range st.roles {
		if r.Name == name {
			return r
		}
	}
	return Role{ID: name, Name: name}
}

// findRole accepts a role id or, for convenience, a role name.
func (st *site) findRole(idOrName string) (Role, bool) {
	for _, r := range st.roles {
		if r.ID == idOrName || r.Name == idOrName {
			return r, true
		}
	}
	return Role{}, false
}

func (st *site) userBySiteID(id string) *siteUser {
	for _, u := range st.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (st *site) userByPlatformID(id string) *siteUser {
	for _, u := range st.users {
		if u.User.ID == id {
			return u
		}
	}
	return nil
}

func (st *site) group(id string) *accessGroup {
	for _, g := range st.groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func (st *site) lock(id string) *Lock {
	for _, l := range st.locks {
		if l.ID == id {
			return l
		}
	}
	return nil
}

// usedSeats counts subscribed non-guest users: suspended users free their seat, guests never take one.
func (st *site) usedSeats() int {
	n := 0
	for _, u := range st.users {
		if !u.guest && u.SubscriptionState == stateSubscribed {
			n++
		}
	}
	return n
}

func (st *site) seatFree() bool { return st.seats <= 0 || st.usedSeats() < st.seats }

func (st *site) view() Site {
	v := st.Site
	v.SubscribedUserAmount = st.usedSeats()
	return v
}

func (st *site) removeUser(u *siteUser) {
	for i, x := range st.users {
		if x == u {
			st.users = append(st.users[:i], st.users[i+1:]...)
			break
		}
	}
	// A deleted user leaves every group at once; otherwise a stale platform id would linger in member lists.
	for _, g := range st.groups {
		g.removeMember(u.User.ID)
	}
}

func (g *accessGroup) hasMember(platformID string) bool {
	for _, m := range g.members {
		if m == platformID {
			return true
		}
	}
	return false
}

func (g *accessGroup) removeMember(platformID string) bool {
	for i, m := range g.members {
		if m == platformID {
			g.members = append(g.members[:i], g.members[i+1:]...)
			return true
		}
	}
	return false
}

func (st *site) addEntry(e Entry) {
	i := sort.Search(len(st.entries), func(i int) bool { return st.entries[i].UTCDateTime.After(e.UTCDateTime) })
	st.entries = append(st.entries, Entry{})
	copy(st.entries[i+1:], st.entries[i:])
	st.entries[i] = e
}

func (u *siteUser) view() SiteUser {
	v := u.SiteUser
	v.Roles = append([]Role(nil), u.Roles...)
	return v
}

// siteLocked resolves an API {site}: it must be a UUID (a site_uid answers 1100, as live).
func (s *Server) siteLocked(id string) (*site, *reply) {
	parsed, err := uuid.Parse(id)
	if err != nil {
		rep := errReply(400, CodeBadParameter, "The site id must be the site UUID")
		return nil, &rep
	}
	st, ok := s.sites[parsed.String()]
	if !ok {
		rep := errReply(404, CodeSiteNotFound, "Site not found")
		return nil, &rep
	}
	return st, nil
}

// adminSiteLocked resolves an admin {site}: UUID or site_uid.
func (s *Server) adminSiteLocked(ref string) *site {
	if st, ok := s.sites[strings.ToLower(ref)]; ok {
		return st
	}
	for _, id := range s.siteOrder {
		if st := s.sites[id]; strings.EqualFold(st.SiteUID, ref) {
			return st
		}
	}
	return nil
}
