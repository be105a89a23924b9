package access

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Inputs and outputs of the activities. The activities package registers its implementations under the
// Activity* names with these signatures:
//
//	LoadEntitlement(ctx, Ref) (Entitlement, error)                 local; exactly one Nexudus read
//	LoadLocation(ctx, int64) (Location, error)                     local; configuration only
//	SignalCustomer(ctx, CustomerSignal) error                      local; SignalWithStart on the customer
//	EnsureSaltoUser(ctx, EnsureUserRequest) (SaltoUser, error)
//	AddToGroup(ctx, GroupChange) error                             "already a member" is success
//	RemoveFromGroup(ctx, GroupChange) error                        404 is success
//	SetSubscription(ctx, SubscriptionChange) (SaltoUser, error)    the state Salto keeps afterwards
//	CheckUserHold(ctx, HoldRequest) (UserHold, error)               what else holds a user we did not create
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
	// Created says this integration created the user. Otherwise it was found (by e-mail, or matched by
	// reconciliation) and adopted: it may belong to a member of staff, and the suspend and delete policies
	// apply to it only when no access group outside the owned ones holds it. Created users carry the alias
	// CreatedAlias, "Name (nexudus <coworkerId>)", so a fresh run, or reconciliation, recovers the flag from
	// Salto; users created before the flag existed are recognised the same way when the policy is due.
	Created bool `json:",omitempty"`
}

// Known reports whether both ids are present.
func (u SaltoUser) Known() bool { return u.SiteUserID != "" && u.PlatformUserID != "" }

// CreatedAlias is the alias given to the Salto users this integration creates: the customer's name and
// Nexudus id. It lets staff tell who a user is, finds tag-only users again, and marks the user as ours.
func CreatedAlias(fullName string, coworkerID int64) string {
	return fmt.Sprintf("%s (nexudus %d)", strings.TrimSpace(fullName), coworkerID)
}

// HasCreatedAlias reports whether alias is the one CreatedAlias gives the coworker's user (whatever the name
// became since).
func HasCreatedAlias(alias string, coworkerID int64) bool {
	tail := "(nexudus " + strconv.FormatInt(coworkerID, 10) + ")"
	alias = strings.TrimSpace(alias)
	return alias == tail || strings.HasSuffix(alias, " "+tail)
}

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
	// Relink reads the coworker from Nexudus even when this worker read it lately: it changed (or a repair
	// asks to link again).
	Relink bool `json:",omitempty"`
	// RelinkAsOf, when set, is the coworker's UpdatedOn that the relink is for: a record this worker holds
	// that is at least that new (the change poller's, which just read it) serves without a read.
	RelinkAsOf time.Time `json:",omitzero"`
	// DueSince and ServeBy: as GroupChange's.
	DueSince time.Time `json:",omitzero"`
	ServeBy  time.Time `json:",omitzero"`
}

// Relink is the payload of SignalRelink: the coworker's UpdatedOn of the change (zero when unknown).
type Relink struct {
	UpdatedOn time.Time `json:",omitzero"`
}

// GroupChange adds a user to, or removes it from, one access group.
type GroupChange struct {
	Customer       CustomerKey
	SiteID         string
	GroupID        string
	PlatformUserID string
	// Reason says why, for logs and audit ("booking-123: Meeting Room A, 30 Nov 09:00–10:00").
	Reason string
	// DueSince is when the customer's Salto changes became due: after an outage the calls due longest go
	// first (zero: since the activity was scheduled).
	DueSince time.Time `json:",omitzero"`
	// ServeBy is when the access an add grants ends first (the earliest end of the entitlements that need it;
	// zero: none ends): a grant that would otherwise be served after its booking is over goes ahead of calls
	// due earlier (salto.LateAfter).
	ServeBy time.Time `json:",omitzero"`
}

// SubscriptionChange suspends or subscribes a Salto user. SetSubscription returns the user's state as Salto
// keeps it afterwards: a subscribe without a free licence seat leaves the user Suspended (whether Salto answers
// success or refuses), and that is a result, not an error.
type SubscriptionChange struct {
	Customer   CustomerKey
	SiteID     string
	SiteUserID string
	Suspended  bool
}

// HoldRequest asks CheckUserHold whether anything besides this integration holds a Salto user it did not
// create: the access groups outside Owned (the groups the location's mapping names) that have it as a member.
// The workflow asks only when the suspend or delete policy is about to apply.
type HoldRequest struct {
	Customer       CustomerKey
	SiteID         string
	SiteUserID     string
	PlatformUserID string
	Owned          []string `json:",omitempty"`
}

// UserHold is CheckUserHold's answer.
type UserHold struct {
	// Gone: the user no longer exists in Salto.
	Gone bool `json:",omitempty"`
	// Ours: the user carries the alias this integration gives the users it creates (no groups were read).
	Ours bool `json:",omitempty"`
	// Foreign are the access groups outside Owned the user is in, as "name (id)", sorted.
	Foreign []string `json:",omitempty"`
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
