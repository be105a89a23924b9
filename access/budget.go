package access

import "time"

// The Nexudus budget: Nexudus allows 120 calls a minute, 60 writes a minute and a few thousand writes a day
// per account, whatever the number of locations and worker replicas. One NexudusBudget workflow per account
// hands out the instants at which calls may be made, so every worker of the account shares it, and the urgent
// work goes first when the budget is short. Each worker asks for the instants of all its waiting calls in one
// update (UpdateReserveCalls), one update at a time: an update per call does not hold 50 locations' callers
// (the server admits 10 in flight per workflow, and each one is a workflow task).
const (
	WorkflowNexudusBudget = "NexudusBudget"
	// NexudusBudgetID is the budget workflow's id: one per Temporal namespace, that is per Nexudus account.
	NexudusBudgetID = "nexudus-budget"
	// UpdateReserveCalls reserves instants for a batch of calls (Reservations; the answer is one
	// ReservationOutcome per call, in order). It is rejected, leaving no trace in the history, when no call of
	// the batch gets an instant: the rejection's details are the outcomes.
	UpdateReserveCalls = "reserve-calls"
	// UpdateReserve reserves an instant for one call (a Reservation; the answer is a ReservationResult): the
	// update of the previous release, still answered while its workers are rolled over.
	UpdateReserve = "reserve"
	// QueryBudget returns the BudgetState.
	QueryBudget = "budget-state"
	// ErrBudgetBusy rejects a reservation whose priority must wait (its details: the seconds to wait);
	// ErrBudgetExhausted one whose priority has no writes left today.
	ErrBudgetBusy      = "NexudusBudgetBusy"
	ErrBudgetExhausted = "NexudusBudgetExhausted"
)

// BudgetTaskQueue is the task queue of the budget workflow: a queue of its own, so that reservations are never
// queued behind the entitlement tasks waiting for them.
func BudgetTaskQueue(base string) string { return base + "-nexudus-budget" }

// Priority orders the calls competing for the budget: 1 is served first.
type Priority int

const (
	// PriorityUrgent: what a door waits for (an entitlement's read, a customer's first link, a visitor's PIN)
	// and the access-control audits staff rely on.
	PriorityUrgent Priority = 1
	// PriorityPoll: the change poller.
	PriorityPoll Priority = 2
	// PriorityBackground: reconciliation and presence (check-ins).
	PriorityBackground Priority = 3
)

// String names the priority for metrics and logs.
func (p Priority) String() string {
	switch p {
	case PriorityUrgent:
		return "urgent"
	case PriorityPoll:
		return "poll"
	case PriorityBackground:
		return "background"
	}
	return "none"
}

// BudgetInput starts or continues the budget workflow.
type BudgetInput struct {
	CallsPerMinute, WritesPerMinute, WritesPerDay int
	State                                         *BudgetState `json:",omitempty"`
	Tuning                                        Tuning       `json:",omitzero"`
}

// Reservation asks for an instant for one Nexudus call.
type Reservation struct {
	Write    bool
	Priority Priority
}

// Reservations is a batch of calls to reserve, one update for all of them.
type Reservations struct {
	Calls []Reservation
}

// ReservationOutcome is one call's answer: an instant to make the call at, or an instruction to ask again
// after RetryIn (its priority must wait), or a refusal (its priority has no writes left today).
type ReservationOutcome struct {
	At      time.Time     `json:",omitzero"`
	RetryIn time.Duration `json:",omitempty"`
	Refused string        `json:",omitempty"`
}

// ReservationResult is the instant the call may be made at (the caller sleeps until then).
type ReservationResult struct {
	At time.Time
}

// BudgetState is what the budget workflow keeps, and its query's answer.
type BudgetState struct {
	// NextCall and NextWrite are the first free instants.
	NextCall, NextWrite time.Time
	// Day is the UTC day WritesToday counts; Reserved and Writes count since the workflow began.
	Day              string
	WritesToday      int
	Reserved, Writes int64
	// Degraded says which work is refused writes for the rest of the day, when any is.
	Degraded string `json:",omitempty"`
}

// BudgetDay is the day the daily write cap counts: Nexudus' day is UTC.
func BudgetDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// WritesOn is the writes of now's UTC day: the state still shows yesterday's until the day's first write.
func (s BudgetState) WritesOn(now time.Time) int {
	if s.Day != BudgetDay(now) {
		return 0
	}
	return s.WritesToday
}

// DegradedOn says whether some work is refused writes on now's UTC day (Degraded is only cleared by the
// next day's first write).
func (s BudgetState) DegradedOn(now time.Time) bool {
	return s.Degraded != "" && s.Day == BudgetDay(now)
}
