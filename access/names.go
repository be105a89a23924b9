package access

// Workflow type names. One workflow function serves the four entitlement kinds; it is registered under each
// kind's name so the Web UI shows what a workflow is about.
const (
	WorkflowBooking  = "BookingAccess"
	WorkflowPass     = "PassAccess"
	WorkflowContract = "ContractAccess"
	WorkflowVisitor  = "VisitorAccess"
	WorkflowCustomer = "CustomerAccess"
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
)

// QueryState returns an EntitlementState or a CustomerState.
const QueryState = "state"
