package access

// Workflow type names. One workflow function serves the four entitlement kinds; it is registered under each
// kind's name so the Web UI shows what a workflow is about.
const (
	WorkflowBooking  = "BookingAccess"
	WorkflowPass     = "PassAccess"
	WorkflowContract = "ContractAccess"
	WorkflowVisitor  = "VisitorAccess"
	WorkflowCustomer = "CustomerAccess"
	// WorkflowPoller reads what changed in Nexudus since its cursor, one for the account: the first location's
	// (PollerWorkflowID).
	WorkflowPoller = "ChangePoller"
	// WorkflowReconcile compares Nexudus with Salto for one location and repairs through the customer
	// workflows; a Schedule starts it (ReconcileID).
	WorkflowReconcile = "Reconcile"
	// WorkflowPresence turns Salto door entries into Nexudus check-ins, one per location (PresenceWorkflowID).
	WorkflowPresence = "PresenceTracking"
)

// DefaultTaskQueue is the task queue of the access workflows and of their local activities.
const DefaultTaskQueue = "access"

// Activities are named after their methods on activities.Activities, which the workflows refer to.

// Signal names.
const (
	// SignalChanged tells an entitlement workflow "the entity changed: read it again" (no payload).
	SignalChanged = "changed"
	// SignalRelink tells a customer workflow "the coworker changed (email, access card): link the Salto user
	// again", with a Relink (or no payload: read the coworker anew). Send it only to a running workflow (dispatch.SignalIfRunning): a customer without
	// one has nothing to refresh. Customer runs also take SignalChanged, which senders used for this before.
	SignalRelink = "relink"
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

// Query names: one per workflow kind, each with one answer type.
const (
	QueryEntitlement = "entitlement-state" // an EntitlementState (booking, pass, contract and visitor workflows)
	QueryCustomer    = "customer-state"    // a CustomerState
	QueryPoller      = "poller-state"      // a PollerState
	QueryPresence    = "presence-state"    // a PresenceState
	QueryReconcile   = "reconcile-report"  // a reconcile run's ReconcileReport so far
)
