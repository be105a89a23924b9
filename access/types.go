package access

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of Nexudus entity an entitlement comes from.
type Kind string

const (
	KindBooking  Kind = "booking"
	KindPass     Kind = "pass" // a coworker time pass
	KindContract Kind = "contract"
	KindVisitor  Kind = "visitor"
)

// Kinds lists every entitlement kind, in a stable order.
var Kinds = []Kind{KindBooking, KindPass, KindContract, KindVisitor}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// WorkflowType is the registered workflow type name for entitlements of kind k ("BookingAccess", …).
func (k Kind) WorkflowType() string {
	switch k {
	case KindBooking:
		return WorkflowBooking
	case KindPass:
		return WorkflowPass
	case KindContract:
		return WorkflowContract
	case KindVisitor:
		return WorkflowVisitor
	}
	return ""
}

// Ref names one Nexudus entity that can give access.
type Ref struct {
	Kind Kind
	ID   int64
}

// WorkflowID is the id of the entitlement workflow for r: "booking-123".
func (r Ref) WorkflowID() string { return string(r.Kind) + "-" + strconv.FormatInt(r.ID, 10) }

func (r Ref) String() string { return r.WorkflowID() }

// ParseRef is the inverse of Ref.WorkflowID.
func ParseRef(workflowID string) (Ref, error) {
	kind, id, ok := strings.Cut(workflowID, "-")
	if !ok || !Kind(kind).Valid() {
		return Ref{}, fmt.Errorf("access: %q is not an entitlement workflow id", workflowID)
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return Ref{}, fmt.Errorf("access: %q is not an entitlement workflow id", workflowID)
	}
	return Ref{Kind: Kind(kind), ID: n}, nil
}

// CustomerKey names a customer (Nexudus coworker) at one location (Nexudus business). A coworker who uses two
// locations has two keys: each location has its own Salto site.
type CustomerKey struct {
	LocationID int64
	CoworkerID int64
}

// WorkflowID is the id of the customer workflow: "customer-<businessId>-<coworkerId>".
func (c CustomerKey) WorkflowID() string {
	return "customer-" + strconv.FormatInt(c.LocationID, 10) + "-" + strconv.FormatInt(c.CoworkerID, 10)
}

func (c CustomerKey) String() string { return c.WorkflowID() }

// Valid reports whether both ids are set.
func (c CustomerKey) Valid() bool { return c.LocationID > 0 && c.CoworkerID > 0 }

// Status is the state of an entitlement's source record in Nexudus, as LoadEntitlement reads it.
type Status string

const (
	// StatusActive: the entitlement gives access between GrantAt and RevokeAt.
	StatusActive Status = "active"
	// StatusTentative: a booking not yet confirmed; it gives no access until it is.
	StatusTentative Status = "tentative"
	// StatusCancelled: cancelled in Nexudus (a cancelled booking or visit, a contract cancelled with
	// immediate effect). A contract cancelled with a future date stays active with RevokeAt on that date.
	StatusCancelled Status = "cancelled"
	// StatusDeleted: the record no longer exists in Nexudus (404).
	StatusDeleted Status = "deleted"
	// StatusExpired: a pass used up or past its expiry, a contract no longer active, a visitor who left.
	StatusExpired Status = "expired"
)

// Terminal reports whether no later change can make the entitlement give access again without Nexudus
// changing the record. A workflow that sees it before any grant finishes.
func (s Status) Terminal() bool {
	return s == StatusCancelled || s == StatusDeleted || s == StatusExpired
}

// Entitlement is one Nexudus entity reduced to what access control needs. LoadEntitlement produces it with
// exactly one Nexudus read and the location's item → access-group mapping, so the workflows never see Nexudus
// or mapping details.
type Entitlement struct {
	Ref
	LocationID int64
	// CoworkerID is the customer who gets access; for a visitor, the host.
	CoworkerID int64
	// Groups are Salto access-group ids from the mapping, sorted, without duplicates. Empty when nothing is
	// mapped: such an entitlement gives no access and does nothing.
	Groups []string
	// GrantAt and RevokeAt are absolute instants with the location's lead and lag already applied (a booking
	// 09:00–10:00 with 15 minutes each way gives 08:45 and 10:15). A zero GrantAt means "from now"; a zero
	// RevokeAt means open-ended (a contract without cancellation date, a pass without expiry).
	GrantAt, RevokeAt time.Time
	Status            Status
	// Summary is a short human text for the Web UI, e.g. "Meeting Room A, 30 Nov 09:00–10:00".
	Summary string
	// UpdatedOn is the record's UpdatedOn in Nexudus, kept in the change history.
	UpdatedOn time.Time `json:",omitzero"`
	// Visitor is set for KindVisitor only.
	Visitor *VisitorDetails `json:",omitempty"`
	// Desks are the desk and office ids a contract holds (KindContract only), mapped or not.
	Desks []int64 `json:",omitempty"`
}

// Customer is the customer whose Salto user gets the access.
func (e Entitlement) Customer() CustomerKey {
	return CustomerKey{LocationID: e.LocationID, CoworkerID: e.CoworkerID}
}

// VisitorDetails is what the visitor flow needs beyond Entitlement. For a visitor, GrantAt is the start of the
// expected day (or the expected arrival minus the lead) and RevokeAt the departure plus the lag, or else the end
// of the expected day, in the location's time zone.
type VisitorDetails struct {
	// Name is the visitor's full name; it becomes the Salto alias.
	Name string
	// Email, when set and the location wants it, makes a Salto user with an invitation instead of a guest.
	Email string `json:",omitempty"`
	// GroupID is the location's visitor access group (also the only entry of Entitlement.Groups).
	GroupID string
	// PIN asks for a Salto PIN, written to the Nexudus visitor record so the visitor's notification carries it.
	PIN bool
	// Departed is set once Nexudus records the departure.
	Departed bool `json:",omitempty"`
}

// NoAccessPolicy says what happens to a customer's Salto user when it has no access left.
type NoAccessPolicy string

const (
	PolicyKeep    NoAccessPolicy = "keep"    // leave the user as it is, without groups
	PolicySuspend NoAccessPolicy = "suspend" // suspend it; subscribe it again when access returns
	PolicyDelete  NoAccessPolicy = "delete"  // delete it (frees the licence seat); re-create it when access returns
)

// Valid reports whether p is one of the three policies.
func (p NoAccessPolicy) Valid() bool {
	return p == PolicyKeep || p == PolicySuspend || p == PolicyDelete
}

// Location is the configuration of one Nexudus business, returned by the LoadLocation local activity.
type Location struct {
	ID       int64
	Name     string `json:",omitempty"`
	SiteID   string // Salto site UUID
	TimeZone string `json:",omitempty"` // IANA
	Policy   NoAccessPolicy
	// SaltoTaskQueue, when set, is the task queue the Salto activities are sent to, so that a worker with
	// TaskQueueActivitiesPerSecond can keep Salto calls inside a rate. Empty: the workflow's own task queue.
	SaltoTaskQueue string `json:",omitempty"`
	// BackgroundTaskQueue, when set, is where the no-access policy's Salto calls go (a worker with a few
	// slots); empty (runs recorded before it): with the other Salto calls.
	BackgroundTaskQueue string `json:",omitempty"`
	// Owned are the access groups the mapping names: the only ones the integration changes.
	Owned []string `json:",omitempty"`
	// Sync holds the settings of the change poller, reconciliation and presence tracking.
	Sync SyncSettings `json:",omitzero"`
}

// SyncSettings configure the workflows that keep a location in line with Nexudus beyond webhooks.
type SyncSettings struct {
	// PollInterval is the time from one poll of Nexudus' changes to the next (passes are read at every poll).
	PollInterval time.Duration `json:",omitempty"`
	// SafetyNetInterval is the time between two polls of what webhooks report too (bookings, contracts,
	// visitors, coworkers): the safety net for lost webhooks.
	SafetyNetInterval time.Duration `json:",omitempty"`
	// PollCallsPerMinute is the change poller's share of the Nexudus call budget.
	PollCallsPerMinute int `json:",omitempty"`
	// PollLookback is how far back a new poller starts reading changes.
	PollLookback time.Duration `json:",omitempty"`
	PollPageSize int           `json:",omitempty"`
	// ReconcileBatch is the number of actions in one reconcile batch.
	ReconcileBatch int `json:",omitempty"`
	// PresenceInterval is the wait between two reads of Salto entries; PresenceDoors and PresenceExitDoors
	// are the lock ids whose entries check customers in and out (an entry at an exit door, or with
	// exit_requested, checks out). No door: no presence tracking.
	PresenceInterval  time.Duration `json:",omitempty"`
	PresenceDoors     []string      `json:",omitempty"`
	PresenceExitDoors []string      `json:",omitempty"`
}

// CustomerDeleted is the payload of SignalCustomerDeleted.
type CustomerDeleted struct {
	// AsOf is when the webhook arrived; grants older than it are refused.
	AsOf time.Time
}
