package workflows

import (
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

// slot is the instant a reservation would get now.
func (b *budgetRun) slot(now time.Time, r access.Reservation) time.Time {
	at := latest(now, b.st.NextCall)
	if r.Write {
		at = latest(at, b.st.NextWrite)
	}
	return at
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// admit turns a reservation away without a trace in the history: its priority must wait, or has no writes
// left today.
func (b *budgetRun) admit(ctx workflow.Context, r access.Reservation) error {
	now := workflow.Now(ctx)
	if r.Write && b.in.WritesPerDay > 0 {
		share, ok := writeShare[r.Priority]
		if !ok {
			share = writeShare[access.PriorityBackground]
		}
		if float64(b.st.WritesOn(now)) >= share*float64(b.in.WritesPerDay) {
			return temporal.NewNonRetryableApplicationError("Nexudus' daily write budget is spent for priority "+
				strconv.Itoa(int(r.Priority))+" ("+strconv.Itoa(b.st.WritesOn(now))+" of "+
				strconv.Itoa(b.in.WritesPerDay)+" writes today)", access.ErrBudgetExhausted, nil)
		}
	}
	if limit, ok := maxQueue[r.Priority]; ok {
		if wait := b.slot(now, r).Sub(now); wait > limit {
			return temporal.NewApplicationError("Nexudus' budget is queued "+wait.Round(time.Millisecond).String()+
				" ahead: ask again later", access.ErrBudgetBusy, (wait - limit).Seconds())
		}
	}
	return nil
}

func (b *budgetRun) reserve(ctx workflow.Context, r access.Reservation) (access.ReservationResult, error) {
	now := workflow.Now(ctx)
	at := b.slot(now, r)
	b.st.NextCall = at.Add(nexudus.CallInterval(b.in.CallsPerMinute))
	b.st.Reserved++
	if r.Write {
		b.st.NextWrite = at.Add(nexudus.CallInterval(b.in.WritesPerMinute))
		if b.st.Day != access.BudgetDay(now) {
			b.st.Day, b.st.WritesToday, b.st.Degraded = access.BudgetDay(now), 0, ""
		}
		b.st.WritesToday++
		b.st.Writes++
		if b.in.WritesPerDay > 0 && float64(b.st.WritesToday) >= writeShare[access.PriorityBackground]*float64(b.in.WritesPerDay) {
			b.st.Degraded = "presence check-ins and reconciliation's writes are refused until the end of the UTC day"
		}
	}
	b.publish(ctx)
	return access.ReservationResult{At: at}, nil
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
