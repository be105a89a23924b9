package access

import "time"

// CustomerSignal is the input of the SignalCustomer local activity: it delivers one change to the customer
// workflow with SignalWithStart, starting the customer workflow when none is running: id
// Customer.WorkflowID(), workflow type WorkflowCustomer, input NewCustomerInput(Customer), task queue of the
// access workers, id reuse policy ALLOW_DUPLICATE (a customer run that finished after an idle time is followed
// by a new one), StaticSummary for example "Customer 42 at location 1".
//
// Why an activity with SignalWithStart and not workflow.SignalExternalWorkflow: the customer workflow may not
// exist yet or may have finished after a long idle time; SignalExternalWorkflow then fails and a second path
// would be needed to start it. SignalWithStart does both in one call that the server makes durable, and the
// activity is retried until it succeeds, so a grant or a revoke is never lost. As a local activity it costs one
// marker event and no extra workflow task. It runs at least once: the customer workflow treats a repeated grant
// or revoke as a no-op, and AsOf orders the changes of one entitlement.
type CustomerSignal struct {
	Customer CustomerKey
	// Signal is SignalGrant or SignalRevoke.
	Signal string
	Change AccessChange
}

// AccessChange is the payload of the grant and revoke signals of the customer workflow.
type AccessChange struct {
	// Entitlement is the workflow id of the entitlement ("booking-123"): the ledger key.
	Entitlement string
	// Groups are the access groups the entitlement needs now (grant only).
	Groups []string `json:",omitempty"`
	// Until is when the entitlement ends (its RevokeAt); zero is open-ended. The customer workflow removes
	// the entry itself at Until even if the revoke never comes.
	Until time.Time `json:",omitzero"`
	// Reason explains the change for the history: "start of Meeting Room A, 30 Nov 09:00–10:00".
	Reason string
	// Summary is the entitlement's summary.
	Summary string `json:",omitempty"`
	// AsOf is the entitlement workflow's time when it decided the change. A change older than the one the
	// ledger holds for the same entitlement is ignored, so a late duplicate cannot undo a newer change.
	AsOf time.Time
	// Due is when the change fell due (see ChangeDue): the instant the grant and revoke lateness is measured
	// from, and the one the Salto rate limit orders calls by. Zero from workflows older than the field: AsOf.
	Due time.Time `json:",omitzero"`
}

// ChangeDue is when an entitlement's grant or revoke fell due: its instant (GrantAt, or RevokeAt for an end),
// unless the workflow learned of the change only later (a booking made after its grant instant, a contract
// cancelled before its end), and never later than now, when the change is decided. A timer that fired late
// because Temporal or the worker was away is late from its instant: that is what the lateness metrics show.
func ChangeDue(instant, learned, now time.Time) time.Time {
	due := instant
	if learned.After(due) {
		due = learned
	}
	if due.IsZero() || due.After(now) {
		return now
	}
	return due
}

// CustomerInput starts or continues the customer workflow.
type CustomerInput struct {
	Customer CustomerKey
	// State is carried over by Continue-As-New; nil on a fresh start.
	State *CustomerState `json:",omitempty"`
	// Tuning is for tests and operators; zero values take the defaults.
	Tuning Tuning `json:",omitzero"`
	// Revision is read, never written: runs started before changes were versioned with workflow.GetVersion
	// carry 1 (CustomerRevisionLocalCalls), so they replay as recorded. A Continue-As-New drops it: the new
	// run decides by GetVersion like any fresh run.
	Revision int `json:",omitempty"`
}

// CustomerRevisionLocalCalls is the Revision of runs started when Salto calls first became local activities.
const CustomerRevisionLocalCalls = 1

// CustomerPriorityKey is the task priority of customer workflows (1 is the highest, unset is 3). The customer
// workflow is the one that writes to Salto: when many entitlements wake at the same instant, their customers'
// tasks (and Salto calls) go ahead of the remaining entitlement tasks instead of queueing behind all of them.
const CustomerPriorityKey = 2

// NewCustomerInput is the input SignalCustomer starts a customer workflow with.
func NewCustomerInput(c CustomerKey) CustomerInput {
	return CustomerInput{Customer: c}
}

// EntitlementInput starts or continues an entitlement workflow. A webhook receiver or poller starts it with
// SignalWithStart(ref.WorkflowID(), SignalChanged, nil, EntitlementInput{Ref: ref}), workflow type
// ref.Kind.WorkflowType(); the first read of Nexudus covers that signal. The id reuse policy can stay
// ALLOW_DUPLICATE: a run started for an entity that already ended or was cancelled reads that and finishes
// without giving access, so a late webhook never resurrects it.
type EntitlementInput struct {
	Ref    Ref
	State  *EntitlementState `json:",omitempty"`
	Tuning Tuning            `json:",omitzero"`
}

// Tuning holds limits that have sensible defaults.
type Tuning struct {
	// ContinueAsNewAfter continues the run as new once its history has this many events, even if the server
	// does not suggest it yet. Default DefaultContinueAsNewAfter.
	ContinueAsNewAfter int `json:",omitempty"`
	// IdleFor lets a customer workflow without access and without pending work finish after this long
	// without a signal; the next signal starts a fresh run. Default DefaultIdleFor.
	IdleFor time.Duration `json:",omitempty"`
}

const (
	// DefaultContinueAsNewAfter is under the server's 4,096-event suggestion, as a second line of defence.
	DefaultContinueAsNewAfter = 4000
	DefaultIdleFor            = 30 * 24 * time.Hour
	// HistoryCap is how many changes a workflow keeps in its queryable history.
	HistoryCap = 50
)

// Observed is the payload of SignalChanged sent for a webhook whose signature proved it came from Nexudus and
// whose body held the whole record: the entity as the body describes it, reduced by the rules. It stands for a
// read of Nexudus unless the workflow already holds a newer UpdatedOn. A signal without a payload (the poller,
// a resync, reconciliation, a delete, an unsigned webhook) asks for a read.
type Observed struct {
	Entitlement Entitlement
	// Source says where the body came from, for the workflow's history ("webhook BookingUpdate").
	Source string
	// Seen, without an Entitlement, is the UpdatedOn of a change the change poller listed: a workflow that
	// already holds the entity at least that new has nothing to read.
	Seen time.Time `json:",omitzero"`
}
