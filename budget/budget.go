// Package budget shares Nexudus' per-account budget between every worker of the account: a nexudus.Budget
// that reserves each call's instant from the NexudusBudget workflow (see workflows.NexudusBudget), starting it
// when it does not run yet.
package budget

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/internal/pause"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Shared is the account's budget as every worker sees it.
type Shared struct {
	Temporal  client.Client
	TaskQueue string
	// Limits start the budget workflow when none runs.
	Limits access.BudgetInput
	// ReserveTimeout bounds one reservation (default 30 s): without a worker on TaskQueue nobody answers.
	ReserveTimeout time.Duration
}

// Wait reserves the call's instant and sleeps until it. A busy budget turns lower priorities away for a
// while: they ask again after the delay it names. A priority out of writes for the day gets an error that
// says so.
func (s *Shared) Wait(ctx context.Context, write bool) error {
	r := access.Reservation{Write: write, Priority: access.Priority(nexudus.PriorityOf(ctx))}
	if r.Priority <= 0 {
		r.Priority = access.PriorityBackground
	}
	for {
		res, err := s.reserve(ctx, r)
		var app *temporal.ApplicationError
		var exhausted *serviceerror.ResourceExhausted
		if errors.As(err, &exhausted) {
			// The server admits only a few updates of one workflow at a time, and none while it continues as
			// new: ask again in a moment (jittered, so a crowd of callers spreads out).
			if err := pause.For(ctx, time.Duration(50+rand.IntN(150))*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		if errors.As(err, &app) && app.Type() == access.ErrBudgetBusy {
			var secs float64
			_ = app.Details(&secs)
			if err := pause.For(ctx, max(time.Duration(secs*float64(time.Second)), 100*time.Millisecond)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("nexudus budget: %w", err)
		}
		return pause.For(ctx, time.Until(res.At))
	}
}

func (s *Shared) reserve(ctx context.Context, r access.Reservation) (access.ReservationResult, error) {
	timeout := s.ReserveTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := s.reserveOnce(rctx, r)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return res, fmt.Errorf("no answer from the budget workflow %s within %s: is a worker of task queue %s running?",
			access.NexudusBudgetID, timeout, s.TaskQueue)
	}
	return res, err
}

func (s *Shared) reserveOnce(ctx context.Context, r access.Reservation) (access.ReservationResult, error) {
	start := s.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       access.NexudusBudgetID,
		TaskQueue:                s.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            "Nexudus budget of the account",
		TypedSearchAttributes:    temporal.NewSearchAttributes(access.SAKind.ValueSet(access.KindBudget)),
	}, access.WorkflowNexudusBudget, s.Limits)
	h, err := s.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: access.UpdateReserve, Args: []any{r},
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	var res access.ReservationResult
	if err != nil {
		return res, err
	}
	err = h.Get(ctx, &res)
	return res, err
}
