package nexudus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Field names mirror the Nexudus wire names exactly (Id, CoworkerId, ...), so the API
// documentation can be read against this file line by line.

// Entity holds the fields every Nexudus entity has. Nexudus assigns them; they are
// left out of writes when zero.
type Entity struct {
	Id        int    `json:"Id"`
	UniqueId  string `json:"UniqueId,omitempty"`
	CreatedOn Time   `json:"CreatedOn,omitzero"`
	UpdatedOn Time   `json:"UpdatedOn,omitzero"`
}

// Kind names an entity type. It is also the prefix of list filters
// ({Kind}_{Property}=value).
type Kind string

// Entity kinds.
const (
	KindCoworker                   Kind = "Coworker"
	KindBooking                    Kind = "Booking"
	KindResource                   Kind = "Resource"
	KindCoworkerTimePass           Kind = "CoworkerTimePass"
	KindTimePass                   Kind = "TimePass"
	KindCoworkerContract           Kind = "CoworkerContract"
	KindFloorPlanDesk              Kind = "FloorPlanDesk"
	KindVisitor                    Kind = "Visitor"
	KindCheckin                    Kind = "Checkin"
	KindCoworkerAccessControlAudit Kind = "CoworkerAccessControlAudit"
	KindBusiness                   Kind = "Business"
	KindWebhook                    Kind = "Webhook"
)

// Coworker is a Nexudus customer (/api/spaces/coworkers).
type Coworker struct {
	Entity
	FullName string `json:"FullName"`
	Email    string `json:"Email"`
	Active   bool   `json:"Active"`
	// AccessCardId is where operators put the Salto tag number.
	AccessCardId  string `json:"AccessCardId"`
	AccessPincode Secret `json:"AccessPincode"`
	CompanyName   string `json:"CompanyName"`
	// InvoicingBusinessId is the customer's home location. Not in the shared API notes
	// but present on real records; zero when absent.
	InvoicingBusinessId int `json:"InvoicingBusinessId,omitempty"`
}

// Booking is a resource booking (/api/spaces/bookings). List responses leave out Notes.
type Booking struct {
	Entity
	ResourceId    int    `json:"ResourceId"`
	ResourceName  string `json:"ResourceName"`
	CoworkerId    int    `json:"CoworkerId"`
	FromTime      Time   `json:"FromTime"`
	ToTime        Time   `json:"ToTime"`
	FromTimeLocal Time   `json:"FromTimeLocal"`
	ToTimeLocal   Time   `json:"ToTimeLocal"`
	Tentative     bool   `json:"Tentative"`
	Online        bool   `json:"Online"`
	// FloorPlanDeskId is set when the booking is for a desk; nil otherwise.
	FloorPlanDeskId *int   `json:"FloorPlanDeskId"`
	Notes           string `json:"Notes,omitempty"`
}

// Start is the booking's start instant; loc is the business' time zone (nil if
// unknown). See ResolveInstant.
func (b Booking) Start(loc *time.Location) (time.Time, bool) {
	return ResolveInstant(b.FromTime, b.FromTimeLocal, loc)
}

// End is the booking's end instant; see Start.
func (b Booking) End(loc *time.Location) (time.Time, bool) {
	return ResolveInstant(b.ToTime, b.ToTimeLocal, loc)
}

// Resource is a bookable resource (/api/spaces/resources).
type Resource struct {
	Entity
	BusinessId     int    `json:"BusinessId"`
	Name           string `json:"Name"`
	ResourceTypeId int    `json:"ResourceTypeId"`
}

// CoworkerTimePass is a pass a customer holds (/api/billing/coworkertimepasses).
// Nexudus sends no webhook for passes: poll with from_CoworkerTimePass_UpdatedOn.
type CoworkerTimePass struct {
	Entity
	CoworkerId   int    `json:"CoworkerId"`
	BusinessId   int    `json:"BusinessId"`
	TimePassId   int    `json:"TimePassId"`
	TimePassName string `json:"TimePassName"`
	Used         bool   `json:"Used"`
	UsedDate     Time   `json:"UsedDate"`
	// RemainingUses is nil when the pass has no use limit.
	RemainingUses            *int   `json:"RemainingUses"`
	ExpireDate               Time   `json:"ExpireDate"`
	IsFromTariff             bool   `json:"IsFromTariff"`
	CoworkerContractUniqueId string `json:"CoworkerContractUniqueId,omitempty"`
}

// TimePass is a pass product (/api/billing/timepasses).
type TimePass struct {
	Entity
	Name string `json:"Name"`
}

// CoworkerContract is a customer's plan (/api/billing/coworkercontracts). List
// responses leave out Desks and Notes.
type CoworkerContract struct {
	Entity
	CoworkerId       int            `json:"CoworkerId"`
	TariffId         int            `json:"TariffId"`
	TariffName       string         `json:"TariffName"`
	StartDate        Time           `json:"StartDate"`
	RenewalDate      Time           `json:"RenewalDate"`
	Active           bool           `json:"Active"`
	Cancelled        bool           `json:"Cancelled"`
	CancellationDate Time           `json:"CancellationDate"`
	FloorPlanDeskIds IDList         `json:"FloorPlanDeskIds"`
	Desks            []ContractDesk `json:"Desks,omitempty"`
	Notes            string         `json:"Notes,omitempty"`
}

// DeskIDs is the union of FloorPlanDeskIds and Desks: the two can disagree on partial
// records, and either may be missing.
func (c CoworkerContract) DeskIDs() IDList {
	out := append(IDList(nil), c.FloorPlanDeskIds...)
	for _, d := range c.Desks {
		if d.Id != 0 && !out.Contains(d.Id) {
			out = append(out, d.Id)
		}
	}
	return out
}

// ContractDesk is an element of CoworkerContract.Desks: an object with at least an Id,
// or (accepted on decode) a bare id.
type ContractDesk struct {
	Id   int    `json:"Id"`
	Name string `json:"Name,omitempty"`
}

// UnmarshalJSON accepts {"Id":1,"Name":"..."} or a bare number.
func (d *ContractDesk) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var id int
		if err := json.Unmarshal(b, &id); err != nil {
			return err
		}
		*d = ContractDesk{Id: id}
		return nil
	}
	type plain ContractDesk
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*d = ContractDesk(p)
	return nil
}

// DeskItemType is FloorPlanDesk.ItemType.
type DeskItemType int

// Floor plan item types.
const (
	ItemOffice        DeskItemType = 1
	ItemDedicatedDesk DeskItemType = 2
	ItemHotDesk       DeskItemType = 3
	ItemOther         DeskItemType = 4
	ItemRoom          DeskItemType = 5
)

// FloorPlanDesk is a desk or office on a floor plan (/api/sys/floorplandesks).
type FloorPlanDesk struct {
	Entity
	Name                string       `json:"Name"`
	ItemType            DeskItemType `json:"ItemType"`
	CoworkerId          int          `json:"CoworkerId"`
	CoworkerContractIds IDList       `json:"CoworkerContractIds"`
	FloorPlanBusinessId int          `json:"FloorPlanBusinessId"`
}

// Visitor is a registered visitor (/api/spaces/visitors); CoworkerId is the host.
type Visitor struct {
	Entity
	BusinessId      int    `json:"BusinessId"`
	FullName        string `json:"FullName"`
	Email           string `json:"Email"`
	ExpectedArrival Time   `json:"ExpectedArrival"`
	CoworkerId      int    `json:"CoworkerId"`
	Arrived         bool   `json:"Arrived"`
	ArrivalDate     Time   `json:"ArrivalDate"`
	DepartureDate   Time   `json:"DepartureDate"`
	VisitorCode     Secret `json:"VisitorCode"`
}

// CheckinSource is Checkin.Source.
type CheckinSource int

// SourceDoorAccess marks a check-in made by an access-control door.
const SourceDoorAccess CheckinSource = 2

// Checkin is a presence record (/api/spaces/checkins): POST to check in, PUT ToTime to
// check out. ToTime is zero while the customer is in.
type Checkin struct {
	Entity
	BusinessId int           `json:"BusinessId"`
	CoworkerId int           `json:"CoworkerId"`
	FromTime   Time          `json:"FromTime"`
	ToTime     Time          `json:"ToTime"`
	Source     CheckinSource `json:"Source"`
}

// CoworkerAccessControlAudit shows an access-control event or problem to staff inside
// Nexudus (/api/sys/coworkeraccesscontrolaudits).
type CoworkerAccessControlAudit struct {
	Entity
	CoworkerId  int    `json:"CoworkerId"`
	Description string `json:"Description"`
	IsProblem   bool   `json:"IsProblem"`
}

// Business is a location (/api/sys/businesses).
type Business struct {
	Entity
	Name string `json:"Name"`
	// TimeZone is an IANA name or a Windows zone id; see Location.
	TimeZone string `json:"TimeZone"`
}

// Location resolves TimeZone.
func (b Business) Location() (*time.Location, error) { return LoadZone(b.TimeZone) }

// Webhook is a webhook registration (/api/sys/webhooks). Nexudus turns Active off after
// repeated failed deliveries.
type Webhook struct {
	Entity
	BusinessId int    `json:"BusinessId"`
	Name       string `json:"Name"`
	Action     Action `json:"Action"`
	URL        string `json:"URL"`
	Active     bool   `json:"Active"`
}

// WriteResponse is the body Nexudus answers writes with.
type WriteResponse struct {
	Status        int          `json:"Status"`
	Message       string       `json:"Message"`
	Value         *WriteValue  `json:"Value"`
	WasSuccessful bool         `json:"WasSuccessful"`
	Errors        []FieldError `json:"Errors"`
}

// WriteValue is WriteResponse.Value; only Id is relied upon.
type WriteValue struct {
	Id int `json:"Id"`
}

// UnmarshalJSON accepts an object with an Id (possibly the whole record) or a bare id.
func (v *WriteValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var id int
		if err := json.Unmarshal(b, &id); err != nil {
			return fmt.Errorf("nexudus: write response Value is neither an object nor an id")
		}
		v.Id = id
		return nil
	}
	type plain WriteValue
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*v = WriteValue(p)
	return nil
}

// FieldError is one validation error of a write. AttemptedValue may hold what the
// caller sent (a PIN, say): Error strings leave it out.
type FieldError struct {
	AttemptedValue any    `json:"AttemptedValue"`
	Message        string `json:"Message"`
	PropertyName   string `json:"PropertyName"`
}

// LogValue leaves secrets out of structured logs; slog's JSON handler would otherwise
// marshal AccessPincode in clear.
func (c Coworker) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("Id", c.Id), slog.String("FullName", c.FullName), slog.String("Email", c.Email),
		slog.Bool("Active", c.Active), slog.String("AccessCardId", c.AccessCardId),
		slog.String("AccessPincode", c.AccessPincode.String()), slog.Int("InvoicingBusinessId", c.InvoicingBusinessId))
}

// LogValue leaves the visitor code out of structured logs.
func (v Visitor) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("Id", v.Id), slog.Int("BusinessId", v.BusinessId), slog.String("FullName", v.FullName),
		slog.Int("CoworkerId", v.CoworkerId), slog.Bool("Arrived", v.Arrived), slog.String("VisitorCode", v.VisitorCode.String()))
}
