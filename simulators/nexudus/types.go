package nexudussim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	// Business time zones must resolve on hosts without a zoneinfo database.
	_ "time/tzdata"
)

// The simulator defines its own entity types instead of importing the client's, so a
// client mistake in a field name or format shows up as a failing test rather than being
// mirrored on both sides.

// Time is a UTC date-time, written with an explicit "Z" ("2026-11-30T09:00:00Z"), null
// when zero. Input is accepted with or without a zone (zone-less means UTC).
type Time struct{ time.Time }

// At wraps an instant.
func At(t time.Time) Time { return Time{t.UTC()} }

// LocalTime is a wall clock in the business' time zone, written without a zone
// ("2026-11-30T10:00:00"), as Nexudus does for the *Local fields.
type LocalTime struct{ time.Time }

const (
	utcLayout  = "2006-01-02T15:04:05Z"
	wallLayout = "2006-01-02T15:04:05"
)

var inputLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.9999999", "2006-01-02T15:04", "2006-01-02"}

// parseInput parses a date-time from a request; zone-less values come back in UTC.
func parseInput(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range inputLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date-time %q", s)
}

func unmarshalTime(b []byte) (time.Time, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return time.Time{}, fmt.Errorf("date-time must be a string")
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	return parseInput(s)
}

// MarshalJSON writes "2006-01-02T15:04:05Z" or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(utcLayout) + `"`), nil
}

// UnmarshalJSON accepts any input layout or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	v, err := unmarshalTime(b)
	if err != nil {
		return err
	}
	*t = Time{v.UTC()}
	return nil
}

// MarshalJSON writes the wall clock without a zone, or null.
func (t LocalTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.Format(wallLayout) + `"`), nil
}

// UnmarshalJSON keeps the wall clock of the input, whatever zone it names.
func (t *LocalTime) UnmarshalJSON(b []byte) error {
	v, err := unmarshalTime(b)
	if err != nil {
		return err
	}
	*t = wall(v)
	return nil
}

// wall strips t's zone, keeping its wall clock.
func wall(t time.Time) LocalTime {
	if t.IsZero() {
		return LocalTime{}
	}
	return LocalTime{time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)}
}

// in reads the wall clock as a time in loc.
func (t LocalTime) in(loc *time.Location) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// IDList is a list of ids, written as Nexudus' comma-separated string ("1,2"); input is
// accepted as such a string or a JSON array.
type IDList []int

// MarshalJSON writes "1,2" or null.
func (l IDList) MarshalJSON() ([]byte, error) {
	if len(l) == 0 {
		return []byte("null"), nil
	}
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = strconv.Itoa(v)
	}
	return json.Marshal(strings.Join(parts, ","))
}

// UnmarshalJSON accepts "1,2", [1,2], ["1","2"] and null.
func (l *IDList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var parts []string
	switch {
	case bytes.Equal(b, []byte("null")):
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		parts = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
	case len(b) > 0 && b[0] == '[':
		var raw []any
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		for _, v := range raw {
			parts = append(parts, fmt.Sprint(v))
		}
	default:
		return fmt.Errorf("id list must be a comma-separated string or an array")
	}
	out := IDList{}
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("id list element %q is not an id", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		out = nil
	}
	*l = out
	return nil
}

func (l IDList) has(id int) bool {
	for _, v := range l {
		if v == id {
			return true
		}
	}
	return false
}

// Base holds the fields every entity has. Id, UniqueId and CreatedOn are assigned by
// the simulator; UpdatedOn is set on every write.
type Base struct {
	Id        int    `json:"Id"`
	UniqueId  string `json:"UniqueId"`
	CreatedOn Time   `json:"CreatedOn"`
	UpdatedOn Time   `json:"UpdatedOn"`
}

func (b *Base) base() *Base { return b }

// record is a pointer to an entity.
type record interface{ base() *Base }

// Business is a location.
type Business struct {
	Base
	Name     string `json:"Name"`
	TimeZone string `json:"TimeZone"` // IANA name; "UTC" when empty
}

// Coworker is a customer.
type Coworker struct {
	Base
	FullName            string `json:"FullName"`
	Email               string `json:"Email"`
	Active              bool   `json:"Active"`
	AccessCardId        string `json:"AccessCardId"`
	AccessPincode       string `json:"AccessPincode"`
	CompanyName         string `json:"CompanyName"`
	InvoicingBusinessId int    `json:"InvoicingBusinessId"`
}

// Resource is a bookable resource.
type Resource struct {
	Base
	BusinessId     int    `json:"BusinessId"`
	Name           string `json:"Name"`
	ResourceTypeId int    `json:"ResourceTypeId"`
}

// TimePass is a pass product.
type TimePass struct {
	Base
	Name string `json:"Name"`
}

// CoworkerTimePass is a pass a customer holds.
type CoworkerTimePass struct {
	Base
	CoworkerId               int    `json:"CoworkerId"`
	BusinessId               int    `json:"BusinessId"`
	TimePassId               int    `json:"TimePassId"`
	TimePassName             string `json:"TimePassName"`
	Used                     bool   `json:"Used"`
	UsedDate                 Time   `json:"UsedDate"`
	RemainingUses            *int   `json:"RemainingUses"`
	ExpireDate               Time   `json:"ExpireDate"`
	IsFromTariff             bool   `json:"IsFromTariff"`
	CoworkerContractUniqueId string `json:"CoworkerContractUniqueId"`
}

// ContractDesk is an element of CoworkerContract.Desks.
type ContractDesk struct {
	Id   int    `json:"Id"`
	Name string `json:"Name"`
}

// CoworkerContract is a customer's plan. Desks is derived from FloorPlanDeskIds and
// ignored on input.
type CoworkerContract struct {
	Base
	CoworkerId       int            `json:"CoworkerId"`
	TariffId         int            `json:"TariffId"`
	TariffName       string         `json:"TariffName"`
	StartDate        Time           `json:"StartDate"`
	RenewalDate      Time           `json:"RenewalDate"`
	Active           bool           `json:"Active"`
	Cancelled        bool           `json:"Cancelled"`
	CancellationDate Time           `json:"CancellationDate"`
	FloorPlanDeskIds IDList         `json:"FloorPlanDeskIds"`
	Desks            []ContractDesk `json:"Desks"`
	Notes            string         `json:"Notes"`
}

// FloorPlanDesk is a desk or office. CoworkerContractIds and CoworkerId follow the
// contracts that name the desk.
type FloorPlanDesk struct {
	Base
	Name                string `json:"Name"`
	ItemType            int    `json:"ItemType"`
	CoworkerId          int    `json:"CoworkerId"`
	CoworkerContractIds IDList `json:"CoworkerContractIds"`
	FloorPlanBusinessId int    `json:"FloorPlanBusinessId"`
}

// Booking is a resource booking. The UTC pair wins over the *Local pair on input; the
// local pair is always recomputed from the resource's business time zone.
type Booking struct {
	Base
	ResourceId      int       `json:"ResourceId"`
	ResourceName    string    `json:"ResourceName"`
	CoworkerId      int       `json:"CoworkerId"`
	FromTime        Time      `json:"FromTime"`
	ToTime          Time      `json:"ToTime"`
	FromTimeLocal   LocalTime `json:"FromTimeLocal"`
	ToTimeLocal     LocalTime `json:"ToTimeLocal"`
	Tentative       bool      `json:"Tentative"`
	Online          bool      `json:"Online"`
	FloorPlanDeskId *int      `json:"FloorPlanDeskId"`
	Notes           string    `json:"Notes"`
}

// Visitor is a registered visitor; CoworkerId is the host.
type Visitor struct {
	Base
	BusinessId      int    `json:"BusinessId"`
	FullName        string `json:"FullName"`
	Email           string `json:"Email"`
	ExpectedArrival Time   `json:"ExpectedArrival"`
	CoworkerId      int    `json:"CoworkerId"`
	Arrived         bool   `json:"Arrived"`
	ArrivalDate     Time   `json:"ArrivalDate"`
	DepartureDate   Time   `json:"DepartureDate"`
	VisitorCode     string `json:"VisitorCode"`
}

// Checkin is a presence record; ToTime is null while the customer is in.
type Checkin struct {
	Base
	BusinessId int  `json:"BusinessId"`
	CoworkerId int  `json:"CoworkerId"`
	FromTime   Time `json:"FromTime"`
	ToTime     Time `json:"ToTime"`
	Source     int  `json:"Source"`
}

// CoworkerAccessControlAudit is an access-control note shown to staff.
type CoworkerAccessControlAudit struct {
	Base
	CoworkerId  int    `json:"CoworkerId"`
	Description string `json:"Description"`
	IsProblem   bool   `json:"IsProblem"`
}

// Webhook is a webhook registration. It is created active and turned off after
// Options.WebhookDisableAfter consecutive failed deliveries.
type Webhook struct {
	Base
	BusinessId int    `json:"BusinessId"`
	Name       string `json:"Name"`
	Action     int    `json:"Action"`
	URL        string `json:"URL"`
	Active     bool   `json:"Active"`
}

// FieldError is one element of a write response's Errors.
type FieldError struct {
	AttemptedValue any    `json:"AttemptedValue"`
	Message        string `json:"Message"`
	PropertyName   string `json:"PropertyName"`
}

// writeResponse is the body of every write answer.
type writeResponse struct {
	Status        int          `json:"Status"`
	Message       string       `json:"Message"`
	Value         *writeValue  `json:"Value"`
	WasSuccessful bool         `json:"WasSuccessful"`
	Errors        []FieldError `json:"Errors"`
}

type writeValue struct {
	Id int `json:"Id"`
}

// page is the list envelope.
type page struct {
	Records              []json.RawMessage `json:"Records"`
	CurrentPage          int               `json:"CurrentPage"`
	CurrentPageSize      int               `json:"CurrentPageSize"`
	CurrentOrderField    string            `json:"CurrentOrderField"`
	CurrentSortDirection int               `json:"CurrentSortDirection"`
	FirstItem            int               `json:"FirstItem"`
	LastItem             int               `json:"LastItem"`
	TotalItems           int               `json:"TotalItems"`
	TotalPages           int               `json:"TotalPages"`
	HasNextPage          bool              `json:"HasNextPage"`
	HasPreviousPage      bool              `json:"HasPreviousPage"`
}

// Action numbers (Nexudus eWebhookAction) the simulator sends.
const (
	actCoworkerUpdate           = 2
	actCoworkerCreate           = 3
	actBookingCreate            = 6
	actBookingUpdate            = 7
	actBookingDelete            = 8
	actContractActivate         = 10
	actContractCancel           = 11
	actContractRenew            = 12
	actContractUpgradeDowngrade = 13
	actContractActivateFirst    = 14
	actCoworkerCheckout         = 35
	actCoworkerCheckin          = 36
	actVisitorCheckedin         = 41
	actVisitorRegistered        = 42
	actCheckinCreated           = 47
	actCheckinUpdated           = 48
	actCheckinDeleted           = 49
)

// Actions Nexudus names in its admin panel without documenting their numbers. The simulator takes the numbers
// the nexudus package gives them (its own, above every documented one): a guess kept here, and harmless, since
// receivers are told the action by the URL, never by the number.
const (
	actCoworkerDelete = 1001
	actDeskCreate     = 1002
	actDeskUpdate     = 1003
	actDeskDelete     = 1004
	// 1005 "Access control updated" is accepted for registration but never sent: what Nexudus sends it for
	// is not documented.
)

// actionNames are the names accepted for webhook registration and shown in the log.
var actionNames = map[int]string{
	actCoworkerUpdate: "CoworkerUpdate", actCoworkerCreate: "CoworkerCreate",
	actBookingCreate: "BookingCreate", actBookingUpdate: "BookingUpdate", actBookingDelete: "BookingDelete",
	actContractActivate: "CoworkerContractActivate", actContractCancel: "CoworkerContractCancel",
	actContractRenew: "CoworkerContractRenew", actContractUpgradeDowngrade: "CoworkerContractUpgradeDowngrade",
	actContractActivateFirst: "CoworkerContractActivateFirst",
	actCoworkerCheckout:      "CoworkerCheckout", actCoworkerCheckin: "CoworkerCheckin",
	actVisitorCheckedin: "VisitorCheckedin", actVisitorRegistered: "VisitorRegistered",
	actCheckinCreated: "CheckinCreated", actCheckinUpdated: "CheckinUpdated", actCheckinDeleted: "CheckinDeleted",
	actCoworkerDelete: "CoworkerDelete", actDeskCreate: "FloorPlanDeskCreate", actDeskUpdate: "FloorPlanDeskUpdate",
	actDeskDelete: "FloorPlanDeskDelete", 1005: "AccessControlUpdate",
}
