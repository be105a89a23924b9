package access

import (
	"strconv"
	"time"
)

// This file is the contract of the three workflows that make the system converge to Nexudus' truth whatever
// happened to the webhooks: the change poller, the reconciliation and presence tracking.

// PollerWorkflowID is the id of the change poller of the account, "poller-<businessId>" of its first
// configured location (earlier versions ran one per location).
func PollerWorkflowID(location int64) string { return "poller-" + strconv.FormatInt(location, 10) }

// ReconcileID is the id of a location's reconcile Schedule and the prefix of the workflows it starts:
// "reconcile-<businessId>" (a Schedule appends the scheduled time to the workflow id).
func ReconcileID(location int64) string { return "reconcile-" + strconv.FormatInt(location, 10) }

// PresenceWorkflowID is the id of a location's presence tracking: "presence-<businessId>".
func PresenceWorkflowID(location int64) string { return "presence-" + strconv.FormatInt(location, 10) }

// AccessKind values of the sync workflows and of the account's Nexudus budget.
const (
	KindPoller    = "poller"
	KindReconcile = "reconcile"
	KindPresence  = "presence"
	KindBudget    = "budget"
)

// Entity is a Nexudus entity the change poller reads, by its filter prefix (from_{Entity}_UpdatedOn).
type Entity string

const (
	EntityPass     Entity = "CoworkerTimePass" // no webhook at all: the poller is the only way to see them
	EntityBooking  Entity = "Booking"
	EntityContract Entity = "CoworkerContract"
	EntityVisitor  Entity = "Visitor"
	EntityCoworker Entity = "Coworker"
)

// PolledEntities lists what the change poller reads, passes first because nothing else reports them.
var PolledEntities = []Entity{EntityPass, EntityBooking, EntityContract, EntityVisitor, EntityCoworker}

// The change poller's defaults: the configuration applies them, and the poller uses them for a setting its
// location leaves zero.
const (
	DefaultPollInterval       = 30 * time.Second
	DefaultSafetyNetInterval  = time.Minute
	DefaultPollCallsPerMinute = 20
	DefaultPollLookback       = time.Hour
	DefaultPollPageSize       = 100
)

// ReportedByWebhook says whether Nexudus sends webhooks for the entity's changes: for those the poller is a
// safety net for lost webhooks, read less often than passes, which nothing else reports.
func (e Entity) ReportedByWebhook() bool { return e != EntityPass }

// EntitlementKind is the entitlement kind of an entity; ok is false for coworkers.
func (e Entity) EntitlementKind() (Kind, bool) {
	switch e {
	case EntityPass:
		return KindPass, true
	case EntityBooking:
		return KindBooking, true
	case EntityContract:
		return KindContract, true
	case EntityVisitor:
		return KindVisitor, true
	}
	return "", false
}

// DispatchAction is what the poller does with one changed record.
type DispatchAction string

const (
	// DispatchStart: SignalWithStart the entitlement workflow ("read it again", starting it when none runs).
	DispatchStart DispatchAction = "start"
	// DispatchSignal: signal "changed" to a workflow only if it runs (a coworker's customer workflow, or an
	// entitlement that no longer maps to any location: a running workflow must learn it, none must start).
	DispatchSignal DispatchAction = "signal"
	// DispatchSkip: the record belongs to another configured location, whose poller handles it.
	DispatchSkip DispatchAction = "skip"
)

// ChangedRecord is one record a poll found changed since the cursor.
type ChangedRecord struct {
	ID        int64
	UpdatedOn time.Time
	Action    DispatchAction
}

// Key identifies one change of one record: the poller handles each key once.
func (r ChangedRecord) Key() string {
	return strconv.FormatInt(r.ID, 10) + "@" + r.UpdatedOn.UTC().Format(time.RFC3339Nano)
}

// PollCursor is where the poller stands in one entity's changes.
type PollCursor struct {
	// From is the lower bound of the next read (from_{Entity}_UpdatedOn, minute precision): the newest
	// UpdatedOn handled, truncated to the minute, minus a minute. The overlap re-reads what changed around
	// the boundary (the filter has minute precision and clocks differ); Seen makes the re-reads harmless.
	From time.Time
	// Page is the page to read next at From: 1, unless the budget ran out inside one minute's changes.
	Page int `json:",omitempty"`
	// High is the newest UpdatedOn handled.
	High time.Time `json:",omitzero"`
	// Seen maps the keys (ChangedRecord.Key) handled at or after From to their UpdatedOn, for pruning.
	Seen map[string]time.Time `json:",omitempty"`
	// Read is when the entity was last polled: an entity webhooks report waits SafetyNetInterval between polls.
	Read time.Time `json:",omitzero"`
}

// PollRequest is the input of the PollChanges activity: read each entity's changes from its cursor, within
// MaxCalls Nexudus calls in total.
type PollRequest struct {
	LocationID int64
	Cursors    map[Entity]PollCursor
	// Entities are polled in this order; each gets at least one call while the budget lasts.
	Entities []Entity
	MaxCalls int
	PageSize int
}

// EntityChanges is what PollChanges read for one entity.
type EntityChanges struct {
	Entity  Entity
	Changes []ChangedRecord `json:",omitempty"`
	// Pages is the last page read; More says the budget stopped the read before the last page.
	Pages int
	More  bool `json:",omitempty"`
	// Error is a read that failed (the entity's cursor stays where it was).
	Error string `json:",omitempty"`
}

// PollResult is the output of PollChanges. Reads that worked are returned even when a later one failed, so
// the cursor of every entity read moves on.
type PollResult struct {
	Entities []EntityChanges
	Calls    int
	// RetryAfter is set when Nexudus throttled a read beyond what the client waits for.
	RetryAfter time.Duration `json:",omitempty"`
}

// Dispatch is one changed record to pass on.
type Dispatch struct {
	Entity    Entity
	ID        int64
	Action    DispatchAction
	UpdatedOn time.Time `json:",omitzero"`
}

// DispatchRequest is the input of the DispatchChanges activity.
type DispatchRequest struct {
	LocationID int64
	Items      []Dispatch
}

// DispatchResult counts what DispatchChanges did.
type DispatchResult struct {
	Started    int // entitlement workflows signalled with SignalWithStart
	Signalled  int // running workflows signalled
	NotRunning int // plain signals whose workflow did not run (nothing to do)
}

// PollerInput starts or continues a location's change poller.
type PollerInput struct {
	LocationID int64
	State      *PollerState `json:",omitempty"`
	Tuning     Tuning       `json:",omitzero"`
}

// PollerState is the poller's state: the answer to its query and what Continue-As-New carries.
type PollerState struct {
	LocationID int64
	Cursors    map[Entity]PollCursor `json:",omitempty"`
	// Credits is the token bucket of Nexudus calls (refilled at PollCallsPerMinute, capped at one minute's
	// worth); Refilled is when it was last refilled.
	Credits  float64
	Refilled time.Time `json:",omitzero"`
	// Next is the index in PolledEntities the next poll starts with, so a small budget serves all in turn.
	Next int `json:",omitempty"`
	// Counters since the poller first started.
	Polls, Calls, Changes, Duplicates, Started, Signalled int
	LastPoll                                              time.Time `json:",omitzero"`
	LastError                                             string    `json:",omitempty"`
}

// Repair is the payload of SignalRepair: what reconciliation saw in Salto for one customer. The customer
// workflow re-applies its own ledger against it: it adds what is missing, removes what it does not hold in the
// owned groups, and applies the no-access policy when it holds nothing and Nexudus has nothing either. It
// never takes Repair as a reason to give access: only its ledger does.
type Repair struct {
	// AsOf is when reconciliation read Salto and Nexudus.
	AsOf time.Time
	// Owned are the access groups the integration owns at the location: the scope of Observed.
	Owned []string
	// User is the Salto user reconciliation matched to the customer (by email, or by the alias the activities
	// give tag-only users); nil when it found none.
	User *SaltoUser `json:",omitempty"`
	// Observed are the owned groups User is a member of.
	Observed []string `json:",omitempty"`
	// NothingLeft: Nexudus gives the customer nothing now.
	NothingLeft bool `json:",omitempty"`
	// Reason explains the repair for the history.
	Reason string
}

// ReconcileInput starts a reconcile run for one location (the Schedule's action), or continues it.
type ReconcileInput struct {
	LocationID int64
	// DryRun computes the plan and changes nothing.
	DryRun bool `json:",omitempty"`
	// BatchSize is how many actions one plan batch carries (default DefaultReconcileBatch).
	BatchSize int `json:",omitempty"`
	// Progress is carried over by Continue-As-New; nil on a fresh start.
	Progress *ReconcileProgress `json:",omitempty"`
	Tuning   Tuning             `json:",omitzero"`
}

// DefaultReconcileBatch keeps one batch of actions far below Temporal's payload limits.
const DefaultReconcileBatch = 500

// ReconcileProgress is where a reconcile run stands.
type ReconcileProgress struct {
	// PlanID names the run's snapshot (the first run id): every batch is cut from the same plan.
	PlanID string
	AsOf   time.Time
	// After is the key of the last action handled; the next batch starts after it.
	After  string `json:",omitempty"`
	Report ReconcileReport
}

// ReconcileCalls counts the API calls a reconciliation made.
type ReconcileCalls struct {
	Nexudus, Salto, Temporal int
}

// ReconcileReport is the result of a reconcile run, its query answer and, as markdown, its details in the
// Web UI. Added, Removed, Suspended and Deleted count the repairs reconciliation asked the customer workflows
// for (they apply them, through their own retries); Refreshed counts entitlement workflows told to read
// Nexudus again (lost webhooks).
type ReconcileReport struct {
	LocationID int64
	DryRun     bool `json:",omitempty"`
	Started    time.Time
	Finished   time.Time     `json:",omitzero"`
	Duration   time.Duration `json:",omitempty"`
	// Checked customers: Salto users matched to a coworker, and coworkers Nexudus gives access to.
	Checked int
	// Entitlements Nexudus gives at the location now; Members observed in the owned groups.
	Entitlements, Members                         int
	Added, Removed, Suspended, Deleted, Refreshed int
	// Resubscribed counts customers asked to subscribe their suspended Salto user again (Nexudus gives them
	// access; typically no free licence seat when they last tried).
	Resubscribed int `json:",omitempty"`
	// PolicyDeferred counts customers the no-access policy is due for but left to a later run.
	PolicyDeferred int `json:",omitempty"`
	// Unmatched members of owned groups belong to no Nexudus coworker: reported, not changed.
	Unmatched int
	// Repairs signalled to customer workflows; Errors of actions that could not be applied.
	Repairs, Errors int
	ErrorSamples    []string       `json:",omitempty"`
	Calls           ReconcileCalls `json:",omitzero"`
	// Plan holds the first actions of a dry run.
	Plan []ReconcileAction `json:",omitempty"`
}

// ReconcileAction is what reconciliation does for one customer.
type ReconcileAction struct {
	// Key orders the actions and marks progress ("c00000000000000042").
	Key      string
	Customer CustomerKey
	// Refresh are entitlement workflows to tell "read Nexudus again" (SignalWithStart): Nexudus gives access
	// that no running workflow grants, or a workflow grants what Nexudus no longer gives.
	Refresh []Ref `json:",omitempty"`
	// Repair, when set, is signalled to the customer workflow (SignalWithStart).
	Repair *Repair `json:",omitempty"`
	// Add and Remove are the memberships Salto lacks, or has beyond what Nexudus gives.
	Add    []string `json:",omitempty"`
	Remove []string `json:",omitempty"`
	// Policy is suspend or delete when the customer has nothing left and its Salto user is still active.
	Policy NoAccessPolicy `json:",omitempty"`
	Reason string
}

// UnmatchedMember is a member of an owned group whom no coworker matches.
type UnmatchedMember struct {
	PlatformUserID string
	Alias          string `json:",omitempty"`
	Groups         []string
}

// ReconcilePlan is the whole plan of one location: what a dry run shows and a run applies.
type ReconcilePlan struct {
	LocationID int64
	AsOf       time.Time
	Actions    []ReconcileAction
	// UnmatchedMembers are the members of owned groups no coworker matches (a batch carries the first ones).
	UnmatchedMembers []UnmatchedMember `json:",omitempty"`
	// Counts as in ReconcileReport.
	Checked, Entitlements, Members, Added, Removed, Suspended, Deleted, Refreshed, Unmatched int
	Resubscribed                                                                             int `json:",omitempty"`
	// PolicyDeferred counts customers the no-access policy is due for but left to a later run
	// (sync.reconcile_policy_limit).
	PolicyDeferred int `json:",omitempty"`
	Calls          ReconcileCalls
}

// PlanRequest is the input of the PlanReconcile activity: the actions of the plan PlanID after the key After,
// at most Limit of them.
type PlanRequest struct {
	LocationID int64
	PlanID     string
	AsOf       time.Time
	After      string `json:",omitempty"`
	Limit      int
}

// PlanBatch is one batch of a plan, with the whole plan's counts (Actions left empty in Totals).
type PlanBatch struct {
	Actions []ReconcileAction `json:",omitempty"`
	More    bool              `json:",omitempty"`
	Totals  ReconcilePlan
}

// ApplyRequest is the input of the ApplyReconcile activity.
type ApplyRequest struct {
	LocationID int64
	Actions    []ReconcileAction
}

// ApplyResult counts what ApplyReconcile did.
type ApplyResult struct {
	Refreshed, Repairs, Errors int
	ErrorSamples               []string `json:",omitempty"`
}

// PresenceInput starts or continues a location's presence tracking.
type PresenceInput struct {
	LocationID int64
	State      *PresenceState `json:",omitempty"`
	Tuning     Tuning         `json:",omitzero"`
}

// PresenceState is the presence workflow's state: the answer to its query and what Continue-As-New carries.
type PresenceState struct {
	LocationID int64
	// Cursor is the newest entry time handled (the entries filter has second precision); AtCursor are the keys
	// of the entries handled in Cursor's second, which the next read returns again.
	Cursor   time.Time `json:",omitzero"`
	AtCursor []string  `json:",omitempty"`
	// Users caches platform user id → coworker id (0: not a customer).
	Users map[string]PresenceUser `json:",omitempty"`
	// Counters since presence tracking first started.
	Entries, CheckIns, CheckOuts, Unchanged, Ignored int
	LastPoll                                         time.Time `json:",omitzero"`
	LastError                                        string    `json:",omitempty"`
}

// PresenceUser is a cached match of a Salto user to a Nexudus coworker.
type PresenceUser struct {
	CoworkerID int64 `json:",omitempty"`
	Resolved   time.Time
}

// EntriesRequest is the input of the PollEntries activity: door events at or after Since, oldest first.
type EntriesRequest struct {
	LocationID int64
	SiteID     string
	Since      time.Time
	Top        int
	// Doors and ExitDoors are the lock ids that count; an event at an exit door is an exit.
	Doors, ExitDoors []string
}

// DoorEntry is one Salto entry at a presence door, reduced to what presence needs.
type DoorEntry struct {
	Key    string
	At     time.Time
	UserID string // platform user id
	Alias  string `json:",omitempty"`
	LockID string
	Exit   bool `json:",omitempty"`
}

// EntriesResult is the output of PollEntries.
type EntriesResult struct {
	// Entries are the events at presence doors with a user, opened (not rejected), oldest first.
	Entries []DoorEntry `json:",omitempty"`
	// Newest is the newest time read among all entries (doors or not) and NewestKeys the keys of every entry
	// read in Newest's second, so the cursor moves past entries that do not count too.
	Newest     time.Time `json:",omitzero"`
	NewestKeys []string  `json:",omitempty"`
	// Full says the read returned Top entries: more may be waiting.
	Full bool `json:",omitempty"`
}

// ResolveUsersRequest asks which Nexudus coworker each Salto platform user is.
type ResolveUsersRequest struct {
	LocationID int64
	SiteID     string
	Users      []DoorEntry // UserID and Alias of each
}

// PresenceEvent is one check-in (Exit false) or check-out for Nexudus.
type PresenceEvent struct {
	Key        string
	CoworkerID int64
	At         time.Time
	Exit       bool `json:",omitempty"`
}

// PresenceRequest is the input of the RecordPresence activity.
type PresenceRequest struct {
	LocationID int64
	Events     []PresenceEvent
}

// PresenceResult counts what RecordPresence did.
type PresenceResult struct {
	CheckIns, CheckOuts, Unchanged int
}
