package access

// Workflow type names. One workflow function serves the four entitlement kinds; it is registered under each
// kind's name so the Web UI shows what a workflow is about.
const (
	WorkflowBooking  = "BookingAccess"
	WorkflowPass     = "PassAccess"
	WorkflowContract = "ContractAccess"
	WorkflowVisitor  = "VisitorAccess"
	WorkflowCustomer = "CustomerAccess"
	// WorkflowPoller reads what changed in Nexudus since its cursor, one per location (PollerWorkflowID).
	WorkflowPoller = "ChangePoller"
	// WorkflowReconcile compares Nexudus with Salto for one location and repairs through the customer
	// workflows; a Schedule starts it (ReconcileID).
	WorkflowReconcile = "Reconcile"
	// WorkflowPresence turns Salto door entries into Nexudus check-ins, one per location (PresenceWorkflowID).
	WorkflowPresence = "PresenceTracking"
)

// DefaultTaskQueue is the task queue of the access workflows and of their local activities.
const DefaultTaskQueue = "access"

// Activity names. Local activities (LoadEntitlement, LoadLocation, SignalCustomer) must be registered on the
// worker that runs the workflows.
const (
	ActivityLoadEntitlement = "LoadEntitlement"
	ActivityLoadLocation    = "LoadLocation"
	ActivitySignalCustomer  = "SignalCustomer"
	ActivityEnsureSaltoUser = "EnsureSaltoUser"
	ActivityAddToGroup      = "AddToGroup"
	ActivityRemoveFromGroup = "RemoveFromGroup"
	ActivitySetSubscription = "SetSubscription"
	ActivityDeleteSaltoUser = "DeleteSaltoUser"
	ActivityGrantVisitor    = "GrantVisitor"
	ActivityRevokeVisitor   = "RevokeVisitor"
	ActivityRecordProblem   = "RecordProblem"
	ActivityCheckUserHold   = "CheckUserHold"

	// Change poller.
	ActivityPollChanges     = "PollChanges"     // PollChanges(ctx, PollRequest) (PollResult, error)
	ActivityDispatchChanges = "DispatchChanges" // DispatchChanges(ctx, DispatchRequest) (DispatchResult, error)
	// Reconciliation.
	ActivityPlanReconcile  = "PlanReconcile"  // PlanReconcile(ctx, PlanRequest) (PlanBatch, error); heartbeats
	ActivityApplyReconcile = "ApplyReconcile" // ApplyReconcile(ctx, ApplyRequest) (ApplyResult, error); heartbeats
	// Presence tracking.
	ActivityPollEntries    = "PollEntries"    // PollEntries(ctx, EntriesRequest) (EntriesResult, error)
	ActivityResolveUsers   = "ResolveUsers"   // ResolveUsers(ctx, ResolveUsersRequest) (map[string]int64, error)
	ActivityRecordPresence = "RecordPresence" // RecordPresence(ctx, PresenceRequest) (PresenceResult, error); heartbeats
)

// Signal names.
const (
	// SignalChanged tells an entitlement workflow "the entity changed: read it again" (no payload), and a
	// customer workflow "the coworker changed: link the Salto user again" (no payload). Send it to a customer
	// with plain SignalWorkflow and ignore NotFound: a customer without a workflow has nothing to refresh.
	SignalChanged = "changed"
	// SignalGrant and SignalRevoke carry an AccessChange to the customer workflow.
	SignalGrant  = "grant"
	SignalRevoke = "revoke"
	// SignalRepair carries a Repair from reconciliation to the customer workflow.
	SignalRepair = "repair"
	// SignalCustomerDeleted tells a customer workflow that the coworker was deleted in Nexudus (a
	// CustomerDeleted payload): every entitlement's access ends now and the no-access policy applies at once.
	// Sent only to a running workflow: a customer without one holds no access.
	SignalCustomerDeleted = "customer-deleted"
)

// QueryState returns an EntitlementState, a CustomerState, a PollerState, a PresenceState or, for a reconcile
// run, its ReconcileReport so far.
const QueryState = "state"
