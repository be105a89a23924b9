package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/internal/pause"
)

// lease runs while calls wait: it takes the waiters whose kind may ask now, the most urgent first, asks the
// budget workflow for all of them in one update, and hands each its outcome. Waiters that arrive meanwhile go
// in the next update, so the updates a process sends are bounded by their round trip, whatever its callers.
func (s *Shared) lease() {
	for {
		batch, next, ok := s.take(time.Now())
		if !ok {
			return
		}
		if len(batch) == 0 {
			// Every waiting kind of call was told to ask later: sleep until the first may, or a new caller
			// (perhaps a more urgent one) arrives.
			t := time.NewTimer(time.Until(next))
			select {
			case <-t.C:
			case <-s.wake:
			}
			t.Stop()
			continue
		}
		outs, err := s.ask(batch)
		s.settle(batch, outs, err)
	}
}

// take removes from the queue up to MaxBatch waiters that may ask now; next is when the first of the others
// may. ok is false, and the leaser stops, when nobody waits.
func (s *Shared) take(now time.Time) (batch []*waiter, next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.MaxBatch
	if limit <= 0 {
		limit = 64
	}
	keep := s.waiting[:0]
	for _, w := range s.waiting {
		switch until := s.busyUntil[w.r]; {
		case w.ctx.Err() != nil: // its caller left
		case len(batch) < limit && !until.After(now):
			batch = append(batch, w)
		default:
			keep = append(keep, w)
			if next.IsZero() || until.Before(next) {
				next = until
			}
		}
	}
	clear(s.waiting[len(keep):])
	s.waiting = keep
	if len(batch) == 0 && len(keep) == 0 {
		s.leasing = false
		return nil, time.Time{}, false
	}
	return batch, next, true
}

// ask sends the batch's update, trying again on the server's transient refusals (too many updates in flight,
// an update aborted while the workflow continues as new) until ReserveTimeout has passed.
func (s *Shared) ask(batch []*waiter) ([]access.ReservationOutcome, error) {
	timeout := s.ReserveTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	calls := make([]access.Reservation, len(batch))
	for i, w := range batch {
		calls[i] = w.r
	}
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		outs, err := s.reserveCalls(ctx, calls)
		cancel()
		var app *temporal.ApplicationError
		switch {
		case err == nil:
			return outs, nil
		case errors.As(err, &app):
			if app.Type() == access.ErrBudgetBusy && app.HasDetails() && app.Details(&outs) == nil && len(outs) == len(calls) {
				s.count(func(st *Stats) { st.Rejected++ })
				return outs, nil
			}
			return nil, fmt.Errorf("nexudus budget: %w", err)
		case final(err):
			return nil, fmt.Errorf("nexudus budget: %w", err)
		case time.Now().After(deadline):
			return nil, fmt.Errorf("no answer from the budget workflow %s within %s (is a worker of task queue %s running?): %w",
				access.NexudusBudgetID, timeout, s.TaskQueue, err)
		}
		s.count(func(st *Stats) { st.Retried++ })
		// Jittered, so that the workers of an account spread out.
		_ = pause.For(context.Background(), time.Duration(50+rand.IntN(150))*time.Millisecond)
	}
}

// final tells the errors no retry mends.
func final(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var denied *serviceerror.PermissionDenied
	var ns *serviceerror.NamespaceNotFound
	return errors.As(err, &invalid) || errors.As(err, &denied) || errors.As(err, &ns)
}

// settle hands out a batch's outcomes: an instant, a refusal, or back to the queue until the budget says its
// kind may ask again.
func (s *Shared) settle(batch []*waiter, outs []access.ReservationOutcome, err error) {
	now := time.Now()
	var again []*waiter
	for i, w := range batch {
		switch {
		case err != nil:
			w.done <- outcome{err: err}
		case !outs[i].At.IsZero() && w.ctx.Err() != nil:
			s.giveBack(spareInstant{at: outs[i].At, write: w.r.Write}) // its caller left while the update was on its way
		case !outs[i].At.IsZero():
			w.done <- outcome{at: outs[i].At}
		case outs[i].Refused != "":
			w.done <- outcome{err: fmt.Errorf("nexudus budget: %w",
				temporal.NewNonRetryableApplicationError(outs[i].Refused, access.ErrBudgetExhausted, nil))}
		default:
			again = append(again, w)
			s.mu.Lock()
			if until := now.Add(max(outs[i].RetryIn, 100*time.Millisecond)); until.After(s.busyUntil[w.r]) {
				s.busyUntil[w.r] = until
			}
			s.mu.Unlock()
		}
	}
	if len(again) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// They came before everyone still waiting at their priority.
	s.waiting = append(again, s.waiting...)
	slices.SortStableFunc(s.waiting, func(a, b *waiter) int { return cmp.Compare(a.r.Priority, b.r.Priority) })
}

func (s *Shared) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

func (s *Shared) reserveCalls(ctx context.Context, calls []access.Reservation) ([]access.ReservationOutcome, error) {
	s.count(func(st *Stats) { st.Updates++ })
	start := s.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       access.NexudusBudgetID,
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "Nexudus budget of the account",
		TypedSearchAttributes:    temporal.NewSearchAttributes(access.SAKind.ValueSet(access.KindBudget)),
	}, access.WorkflowNexudusBudget, s.Limits)
	h, err := s.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: access.UpdateReserveCalls,
			Args: []any{access.Reservations{Calls: calls}}, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err != nil {
		return nil, err
	}
	var outs []access.ReservationOutcome
	if err := h.Get(ctx, &outs); err != nil {
		return nil, err
	}
	if len(outs) != len(calls) {
		return nil, fmt.Errorf("the budget workflow answered %d outcomes for %d calls", len(outs), len(calls))
	}
	return outs, nil
}
