package workflows

import (
	"slices"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
)

// NexudusBudget hands out the instants at which the account's Nexudus calls may be made, to every worker of
// the account: calls at least a minute/CallsPerMinute apart (writes a minute/WritesPerMinute), 2% under the
// documented rates so that Nexudus' sliding minute never sees one too many. Priorities: urgent work always
// gets the next free instant; the poller waits its turn only while the queue ahead is under 10 s, background
// work (reconciliation, presence) under 2 s, and is told to ask again later otherwise, so a burst of doors to
// open is never queued behind a reconciliation. Writes count per UTC day: presence is refused writes from 80%
// of the daily cap, the poller's from 95%, urgent ones (audits, visitor PINs) only at the cap.
func NexudusBudget(ctx workflow.Context, in access.BudgetInput) error {
	b := &budgetRun{in: in}
	if in.State != nil {
		b.st = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, access.QueryBudget, func() (access.BudgetState, error) { return b.st, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, access.UpdateReserveCalls, b.reserveCalls,
		workflow.UpdateHandlerOptions{Validator: b.admitCalls}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, access.UpdateReserve, b.reserve,
		workflow.UpdateHandlerOptions{Validator: b.admit}); err != nil {
		return err
	}
	b.publish(ctx)
	if err := workflow.Await(ctx, func() bool { return continueAsNewDue(ctx, in.Tuning) }); err != nil {
		return err
	}
	waitHandlers(ctx)
	st := b.st
	return workflow.NewContinueAsNewError(ctx, access.WorkflowNexudusBudget,
		access.BudgetInput{CallsPerMinute: in.CallsPerMinute, WritesPerMinute: in.WritesPerMinute,
			WritesPerDay: in.WritesPerDay, State: &st, Tuning: in.Tuning})
}

type budgetRun struct {
	in access.BudgetInput
	st access.BudgetState
}

// maxQueue is how far ahead a priority may reserve; urgent work has no bound.
var maxQueue = map[access.Priority]time.Duration{access.PriorityPoll: 10 * time.Second, access.PriorityBackground: 2 * time.Second}

// writeShare is the share of the daily writes a priority may use.
var writeShare = map[access.Priority]float64{access.PriorityUrgent: 1, access.PriorityPoll: 0.95, access.PriorityBackground: 0.8}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// assign gives one call its outcome, spending st's budget when it gets an instant. The validators run it on a
// copy of the state, the handlers on the state itself, so both decide alike.
func (b *budgetRun) assign(st *access.BudgetState, now time.Time, r access.Reservation) access.ReservationOutcome {
	if r.Write && b.in.WritesPerDay > 0 {
		share, ok := writeShare[r.Priority]
		if !ok {
			share = writeShare[access.PriorityBackground]
		}
		if float64(st.WritesOn(now)) >= share*float64(b.in.WritesPerDay) {
			return access.ReservationOutcome{Refused: "Nexudus' daily write budget is spent for priority " +
				strconv.Itoa(int(r.Priority)) + " (" + strconv.Itoa(st.WritesOn(now)) + " of " +
				strconv.Itoa(b.in.WritesPerDay) + " writes today)"}
		}
	}
	at := latest(now, st.NextCall)
	if r.Write {
		at = latest(at, st.NextWrite)
	}
	if limit, ok := maxQueue[r.Priority]; ok {
		if wait := at.Sub(now); wait > limit {
			return access.ReservationOutcome{RetryIn: wait - limit}
		}
	}
	st.NextCall = at.Add(nexudus.CallInterval(b.in.CallsPerMinute))
	st.Reserved++
	if r.Write {
		st.NextWrite = at.Add(nexudus.CallInterval(b.in.WritesPerMinute))
		if st.Day != access.BudgetDay(now) {
			st.Day, st.WritesToday, st.Degraded = access.BudgetDay(now), 0, ""
		}
		st.WritesToday++
		st.Writes++
		if b.in.WritesPerDay > 0 && float64(st.WritesToday) >= writeShare[access.PriorityBackground]*float64(b.in.WritesPerDay) {
			st.Degraded = "presence check-ins and reconciliation's writes are refused until the end of the UTC day"
		}
	}
	return access.ReservationOutcome{At: at}
}

// assignAll gives a batch its outcomes, the most urgent calls first (the answer keeps the batch's order).
func (b *budgetRun) assignAll(st *access.BudgetState, now time.Time, calls []access.Reservation) []access.ReservationOutcome {
	order := make([]int, len(calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return int(calls[i].Priority) - int(calls[j].Priority) })
	out := make([]access.ReservationOutcome, len(calls))
	for _, i := range order {
		out[i] = b.assign(st, now, calls[i])
	}
	return out
}

// admitCalls rejects, without a trace in the history, a batch of which no call would get an instant; the
// rejection carries every call's outcome.
func (b *budgetRun) admitCalls(ctx workflow.Context, rs access.Reservations) error {
	if len(rs.Calls) == 0 {
		return temporal.NewNonRetryableApplicationError("a reservation of no calls", "InvalidReservation", nil)
	}
	st := b.st
	outs := b.assignAll(&st, workflow.Now(ctx), rs.Calls)
	for _, o := range outs {
		if !o.At.IsZero() {
			return nil
		}
	}
	return temporal.NewApplicationError("Nexudus' budget gives none of these calls an instant now", access.ErrBudgetBusy, outs)
}

func (b *budgetRun) reserveCalls(ctx workflow.Context, rs access.Reservations) ([]access.ReservationOutcome, error) {
	outs := b.assignAll(&b.st, workflow.Now(ctx), rs.Calls)
	b.publish(ctx)
	return outs, nil
}

// admit is the single reservation's validator (the previous release's update): busy or refused, it says so.
func (b *budgetRun) admit(ctx workflow.Context, r access.Reservation) error {
	st := b.st
	switch o := b.assign(&st, workflow.Now(ctx), r); {
	case o.Refused != "":
		return temporal.NewNonRetryableApplicationError(o.Refused, access.ErrBudgetExhausted, nil)
	case o.RetryIn > 0:
		return temporal.NewApplicationError("Nexudus' budget is queued "+(o.RetryIn+maxQueue[r.Priority]).Round(time.Millisecond).String()+
			" ahead: ask again later", access.ErrBudgetBusy, o.RetryIn.Seconds())
	}
	return nil
}

func (b *budgetRun) reserve(ctx workflow.Context, r access.Reservation) (access.ReservationResult, error) {
	o := b.assign(&b.st, workflow.Now(ctx), r)
	b.publish(ctx)
	return access.ReservationResult{At: o.At}, nil
}

func (b *budgetRun) publish(ctx workflow.Context) {
	d := "**Nexudus budget** · " + strconv.Itoa(b.in.CallsPerMinute) + " calls/min, " +
		strconv.Itoa(b.in.WritesPerMinute) + " writes/min, " + strconv.Itoa(b.in.WritesPerDay) + " writes/day\n\n" +
		"Reserved " + strconv.FormatInt(b.st.Reserved, 10) + " · writes today " + strconv.Itoa(b.st.WritesToday) +
		" (" + b.st.Day + ")"
	if b.st.Degraded != "" {
		d += "\n\nDegraded: " + b.st.Degraded
	}
	workflow.SetCurrentDetails(ctx, d)
}
