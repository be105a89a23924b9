package access

import "time"

// State is the value of the AccessState search attribute and of the state query.
type State string

const (
	// Entitlement workflows.
	StateScheduled State = "scheduled" // waiting for GrantAt
	StateTentative State = "tentative" // waiting for the booking to be confirmed
	StateGranted   State = "granted"
	StateRevoked   State = "revoked"   // access ended on time
	StateCancelled State = "cancelled" // cancelled or deleted in Nexudus (before or after the grant)
	StateSkipped   State = "skipped"   // nothing to do: ended before it could start, or nothing mapped
	// Customer workflows.
	StateActive    State = "active"    // has access
	StateNoAccess  State = "no-access" // no access; user kept (or never created)
	StateSuspended State = "suspended"
	StateDeleted   State = "deleted"
	// StateNoSeat: access is due, but Salto keeps the user suspended for want of a free licence seat, so the
	// doors reject them; reconciliation makes the customer try again.
	StateNoSeat State = "no-seat"
	// StateNotOurs: no access left, and the Salto user, which this integration found rather than created, is
	// also in access groups it does not own (staff, cleaners): the suspend or delete policy left it as it is.
	StateNotOurs State = "not-ours"
)

// The states of each kind of workflow, in the order a workflow goes through them.
var (
	EntitlementStates = []State{StateScheduled, StateTentative, StateGranted, StateRevoked, StateCancelled,
		StateSkipped}
	CustomerStates = []State{StateActive, StateNoSeat, StateNoAccess, StateSuspended, StateNotOurs, StateDeleted}
)

// Ends reports the states an entitlement workflow publishes as it ends: a running one is never in them for
// long.
func (s State) Ends() bool { return s == StateRevoked || s == StateCancelled || s == StateSkipped }

// Action is what one history entry records.
type Action string

const (
	ActionScheduled   Action = "scheduled"   // first read: when access will be given and taken back
	ActionChanged     Action = "changed"     // the Nexudus record changed (new times, resource, status)
	ActionGranted     Action = "granted"     // access given (entitlement) or taken into the ledger (customer)
	ActionUpdated     Action = "updated"     // access kept with new groups or a new end
	ActionRevoked     Action = "revoked"     // access taken back (entitlement) or left the ledger (customer)
	ActionAdded       Action = "added"       // customer: Salto user added to groups
	ActionRemoved     Action = "removed"     // customer: Salto user removed from groups
	ActionExpired     Action = "expired"     // ledger entry reached Until without a revoke (safety net)
	ActionSkipped     Action = "skipped"     // finished without giving access
	ActionUserLinked  Action = "user-linked" // Salto user found or created
	ActionSuspended   Action = "suspended"
	ActionSubscribed  Action = "subscribed"
	ActionDeleted     Action = "deleted"
	ActionKept        Action = "kept"    // no access left, user kept (policy keep, or not ours to suspend)
	ActionNoSeat      Action = "no-seat" // subscribed again, and Salto still keeps the user suspended
	ActionProblem     Action = "problem"
	ActionContinued   Action = "continued" // continued as new
	ActionIgnored     Action = "ignored"   // an out-of-date signal
	ActionRepair      Action = "repair"    // customer: reconciliation reported what Salto holds
	ActionLoadFailure Action = "load-failed"
)

// Change is one entry of a workflow's history of changes: what happened, when, and why.
type Change struct {
	At     time.Time
	Action Action
	// Entitlement is the entitlement concerned (customer workflows).
	Entitlement string    `json:",omitempty"`
	Groups      []string  `json:",omitempty"`
	Until       time.Time `json:",omitzero"`
	Reason      string    `json:",omitempty"`
}

// Granted is what an entitlement workflow has given and not yet taken back.
type Granted struct {
	Customer CustomerKey
	Groups   []string
	Until    time.Time `json:",omitzero"`
	// Visitor holds the Salto guest of a visitor entitlement.
	Visitor *VisitorAccess `json:",omitempty"`
}

// EntitlementState is an entitlement workflow's state: the answer to its query and what Continue-As-New
// carries.
type EntitlementState struct {
	Ref   Ref
	State State
	// Entitlement is the last successful read; nil before the first.
	Entitlement *Entitlement `json:",omitempty"`
	// Granted is nil while no access is given.
	Granted *Granted `json:",omitempty"`
	// EverGranted tells a normal end (revoked) from one without access (skipped).
	EverGranted bool `json:",omitempty"`
	// Reload is set when a "changed" signal was taken but not yet acted on (drained before Continue-As-New).
	Reload  bool     `json:",omitempty"`
	History []Change `json:",omitempty"`
}

// LedgerEntry is what one entitlement asks of the customer's Salto user.
type LedgerEntry struct {
	Groups  []string
	Until   time.Time `json:",omitzero"`
	Reason  string
	Summary string `json:",omitempty"`
	AsOf    time.Time
}

// CustomerState is a customer workflow's state: the answer to its query and what Continue-As-New carries.
type CustomerState struct {
	Customer CustomerKey
	State    State
	// User is nil while the workflow does not know the Salto user (never linked, or deleted by policy).
	User *SaltoUser `json:",omitempty"`
	// Ledger maps entitlement workflow ids to what they need. encoding/json writes map keys sorted, and the
	// workflow iterates them sorted.
	Ledger map[string]LedgerEntry `json:",omitempty"`
	// Applied are the groups the user may be a member of because of this workflow: a group is recorded
	// before the add is sent and forgotten only after the remove succeeded, so it over-approximates Salto and a
	// revoke is never skipped.
	Applied []string `json:",omitempty"`
	// Blocked maps groups to a final error that stopped their add; they are not retried until they leave the
	// desired set or the coworker changes.
	Blocked map[string]string `json:",omitempty"`
	// UserProblem is a final error that stopped linking or subscribing the user; cleared by a coworker change.
	UserProblem string `json:",omitempty"`
	// NoSeat is set while Salto keeps the user suspended although access is due (no free licence seat): one
	// episode, recorded as a problem once, ended by a subscribe that works or by access no longer being due.
	// A repair from reconciliation or a coworker change makes the workflow try again.
	NoSeat bool `json:",omitempty"`
	// Foreign are the access groups outside the owned ones that held the (adopted, not created) user when the
	// suspend or delete policy was due, so the policy left the user alone. Cleared when access returns.
	Foreign []string `json:",omitempty"`
	// PolicyDue is set once the user was given access; the no-access policy runs when it is set and the
	// ledger is empty, then it is cleared. A fresh run with an empty ledger therefore never suspends or
	// deletes anybody by itself.
	PolicyDue bool `json:",omitempty"`
	// Revoked maps entitlements to the AsOf of their last revoke, so a grant older than the revoke that
	// arrives after it (signals of different names are not ordered) cannot bring access back. Pruned after
	// a week.
	Revoked map[string]time.Time `json:",omitempty"`
	// Refresh is set by a "changed" signal: link the user again (tag, email, existence).
	Refresh bool `json:",omitempty"`
	// RefreshAsOf is the coworker's UpdatedOn the relinks since Refresh was set are for; zero: read anew.
	RefreshAsOf time.Time `json:",omitzero"`
	// GroupChangedAt is when this workflow last sent or finished an add or remove of each group: a repair from
	// a reconciliation that read Salto before then cannot know of that change.
	GroupChangedAt map[string]time.Time `json:",omitempty"`
	History        []Change             `json:",omitempty"`
}
