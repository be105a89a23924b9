package salto

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Subscription states of a site user.
const (
	StateSubscribed = "subscribed"
	StateSuspended  = "suspended"
)

// Site is a Salto KS site. ID is the UUID every API path needs; SiteUID is the human id and is refused there.
type Site struct {
	ID                   string `json:"id"`
	SiteUID              string `json:"site_uid"`
	CustomerReference    string `json:"customer_reference"`
	TimeZone             string `json:"time_zone"` // IANA name
	PinEnabled           bool   `json:"pin_enabled"`
	SubscribedUserAmount int    `json:"subscribed_user_amount"`
}

// PlatformUser is the user behind a site user. Its ID is the platform id: access-group membership and entries
// use it.
type PlatformUser struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"` // empty for tag-only users and guests
}

// Role is a site role such as site_user or site_guest.
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SiteUser is a user's membership of a site. Its ID is the site-user id: user, PIN, subscription and delete
// calls use it. Keep both ids; see PlatformID.
type SiteUser struct {
	ID                string       `json:"id"`
	User              PlatformUser `json:"user"`
	Roles             []Role       `json:"roles"`
	Alias             string       `json:"alias"`
	SubscriptionState string       `json:"subscription_state"`
	UsePin            bool         `json:"use_pin"`
	RemoteAccess      bool         `json:"remote_access"`
	ExpiresAt         *time.Time   `json:"expires_at"`
	Blocked           bool         `json:"blocked"`
	TagID             string       `json:"tag_id,omitempty"`
}

// PlatformID is the id to use for access-group membership.
func (u SiteUser) PlatformID() string { return u.User.ID }

// Suspended reports a user without a licence seat, for example one created while the site had none free.
func (u SiteUser) Suspended() bool { return u.SubscriptionState == StateSuspended }

// NewUser is the body of CreateUser. With an Email, Salto sends an invitation (mobile key / app); without one
// (nil or blank) the user is tag-only. The client never sends an empty e-mail: the API rejects it.
type NewUser struct {
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Alias     string   `json:"alias"`
	Email     *string  `json:"email,omitempty"`
	RoleIDs   []string `json:"role_ids"`
	TagID     string   `json:"tag_id,omitempty"`
	Blocked   bool     `json:"blocked"`
	UsePin    bool     `json:"use_pin"`
}

// UserPatch changes the non-nil fields of a site user.
type UserPatch struct {
	FirstName *string    `json:"first_name,omitempty"`
	LastName  *string    `json:"last_name,omitempty"`
	Alias     *string    `json:"alias,omitempty"`
	UsePin    *bool      `json:"use_pin,omitempty"`
	Blocked   *bool      `json:"blocked,omitempty"`
	TagID     *string    `json:"tag_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// AccessGroup is an access group. The integration finds its groups by CustomerReference.
type AccessGroup struct {
	ID                string `json:"id"`
	Name              string `json:"name,omitempty"`
	CustomerReference string `json:"customer_reference"`
}

// NewAccessGroup is the body of CreateAccessGroup.
type NewAccessGroup struct {
	Name              string `json:"name"`
	CustomerReference string `json:"customer_reference"`
}

// Lock is a lock (door).
type Lock struct {
	ID                string `json:"id"`
	Name              string `json:"name,omitempty"`
	CustomerReference string `json:"customer_reference"`
	LockType          string `json:"lock_type"`
	Online            bool   `json:"online"`
}

// TimeSchedule is one schedule of an access group, in site-local wall-clock time: StartTime and EndTime as
// "HH:MM:SS", StartDate and EndDate as "YYYY-MM-DD" (empty when open-ended).
type TimeSchedule struct {
	ID        string `json:"id,omitempty"`
	Monday    bool   `json:"monday"`
	Tuesday   bool   `json:"tuesday"`
	Wednesday bool   `json:"wednesday"`
	Thursday  bool   `json:"thursday"`
	Friday    bool   `json:"friday"`
	Saturday  bool   `json:"saturday"`
	Sunday    bool   `json:"sunday"`
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	StartDate string `json:"start_date,omitempty"`
	EndDate   string `json:"end_date,omitempty"`
}

// Entry is an access event. UserID is the platform id. LocalDateTime is the site's wall clock, without offset.
type Entry struct {
	UTCDateTime   time.Time `json:"utc_date_time"`
	LocalDateTime string    `json:"local_date_time"`
	EventCategory string    `json:"event_category"` // lock_opened, lock_rejected, office_mode, …
	EventDetail   string    `json:"event_detail"`   // no_access, suspended, …
	AccessBy      string    `json:"access_by"`      // tag, pin_code, app, inside_handle, …
	UserID        string    `json:"user_id"`
	UserAlias     string    `json:"user_alias"`
	UserFirstName string    `json:"user_first_name"`
	UserLastName  string    `json:"user_last_name"`
	ExitRequested bool      `json:"exit_requested"`
	LockID        string    `json:"lock_id"`
	LockName      string    `json:"lock_name"`
}

var utcLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// UnmarshalJSON accepts utc_date_time with or without an offset; without one it is UTC, as the name says.
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry
	var aux struct {
		plain
		UTCDateTime string `json:"utc_date_time"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = Entry(aux.plain)
	e.UTCDateTime = time.Time{}
	if aux.UTCDateTime == "" {
		return nil
	}
	for _, l := range utcLayouts {
		if t, err := time.Parse(l, aux.UTCDateTime); err == nil {
			e.UTCDateTime = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("salto: entry utc_date_time %q is not a date-time", aux.UTCDateTime)
}

// ListOptions narrow a list call. Filter is an OData $filter expression.
type ListOptions struct {
	Filter string
}

// PIN is a user's PIN code. It is a secret: fmt, %v and slog print it redacted. Use Reveal to get the digits,
// for example to hand them to the booking system. JSON encoding is NOT redacted, so the value survives
// serialisation (activity results); never log such JSON.
type PIN string

// Reveal returns the digits.
func (p PIN) Reveal() string { return string(p) }

// String redacts.
func (p PIN) String() string { return redacted }

// GoString redacts.
func (p PIN) GoString() string { return redacted }

// Format redacts for every verb.
func (p PIN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue redacts in slog.
func (p PIN) LogValue() slog.Value { return slog.StringValue(redacted) }
