package access

import "time"

// Inputs and outputs of the activities. The activities package registers its implementations under the
// Activity* names with these signatures:
//
//	LoadEntitlement(ctx, Ref) (Entitlement, error)                 local; exactly one Nexudus read
//	LoadLocation(ctx, int64) (Location, error)                     local; configuration only
//	SignalCustomer(ctx, CustomerSignal) error                      local; SignalWithStart on the customer
//	EnsureSaltoUser(ctx, EnsureUserRequest) (SaltoUser, error)
//	AddToGroup(ctx, GroupChange) error                             "already a member" is success
//	RemoveFromGroup(ctx, GroupChange) error                        404 is success
//	SetSubscription(ctx, SubscriptionChange) error
//	DeleteSaltoUser(ctx, DeleteUserRequest) error                  404 is success
//	GrantVisitor(ctx, VisitorGrant) (VisitorAccess, error)
//	RevokeVisitor(ctx, VisitorRevoke) error                        404 is success
//	RecordProblem(ctx, Problem) error                              Nexudus access-control audit entry
//
// Every Salto activity runs at least once and Salto has no idempotency keys: each must be safe to repeat
// (look up before create). A failure that retrying cannot fix is returned as a final error (NewFinalError);
// a throttled call returns an ApplicationError with NextRetryDelay from Retry-After.

// SaltoUser is a customer's user on a Salto site. Salto gives every user two ids and both are needed.
type SaltoUser struct {
	SiteID string
	// SiteUserID is the site-user id: user, PIN, subscription and delete calls.
	SiteUserID string
	// PlatformUserID is user.id: access-group membership and entries.
	PlatformUserID string
	Suspended      bool
}

// Known reports whether both ids are present.
func (u SaltoUser) Known() bool { return u.SiteUserID != "" && u.PlatformUserID != "" }

// EnsureUserRequest asks EnsureSaltoUser to read the coworker from Nexudus, find its Salto user by email or
// create it, and set the Salto tag from the coworker's AccessCardId. Known carries the ids the customer
// workflow already holds (it is then a refresh after a coworker change: check the user still exists, update
// the tag). With Subscribe, a suspended user is subscribed again before returning; the returned Suspended says
// whether that worked (a site without a free seat keeps new users suspended). When Known no longer exists in
// Salto and Subscribe is false, nothing is created and the zero SaltoUser is returned.
type EnsureUserRequest struct {
	Customer  CustomerKey
	SiteID    string
	Known     *SaltoUser `json:",omitempty"`
	Subscribe bool
}

// GroupChange adds a user to, or removes it from, one access group.
type GroupChange struct {
	Customer       CustomerKey
	SiteID         string
	GroupID        string
	PlatformUserID string
	// Reason says why, for logs and audit ("booking-123: Meeting Room A, 30 Nov 09:00–10:00").
	Reason string
}

// SubscriptionChange suspends or subscribes a Salto user.
type SubscriptionChange struct {
	Customer   CustomerKey
	SiteID     string
	SiteUserID string
	Suspended  bool
}

// DeleteUserRequest deletes a customer's Salto user (the delete no-access policy).
type DeleteUserRequest struct {
	Customer   CustomerKey
	SiteID     string
	SiteUserID string
}

// VisitorGrant asks GrantVisitor to give a visitor access for one visit: create a Salto guest (or a user when
// Email is set), valid until ValidUntil, add it to GroupID, and when PIN is set generate a PIN and write it to
// the Nexudus visitor record. The PIN never leaves the activity: it is not in the result, not in a log, not in
// the workflow history. With Existing set the access already exists and only its validity changes (the PIN is
// kept).
type VisitorGrant struct {
	Visitor    Ref
	LocationID int64
	SiteID     string
	GroupID    string
	Alias      string
	Email      string `json:",omitempty"`
	ValidUntil time.Time
	PIN        bool
	Existing   *VisitorAccess `json:",omitempty"`
}

// VisitorAccess identifies what GrantVisitor created. It holds ids only, never the PIN.
type VisitorAccess struct {
	SiteID         string
	SiteUserID     string
	PlatformUserID string
	PINIssued      bool
	ValidUntil     time.Time
}

// VisitorRevoke removes a visitor's access: out of the group and the guest user deleted.
type VisitorRevoke struct {
	Visitor    Ref
	LocationID int64
	GroupID    string
	Access     VisitorAccess
	Reason     string
}

// Problem is a failure that needs a person; RecordProblem writes it to Nexudus as a coworker access-control
// audit entry with IsProblem set, where the location's staff see it.
type Problem struct {
	LocationID  int64
	CoworkerID  int64
	Description string
}
