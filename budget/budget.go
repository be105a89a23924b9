// Package budget shares Nexudus' per-account budget between every worker of the account: a nexudus.Budget
// that reserves each call's instant from the NexudusBudget workflow (see workflows.NexudusBudget), starting it
// when it does not run yet. A process queues its waiting calls and asks for all of them in one update, one
// update at a time (lease.go): the workflow then sees one update per worker and round trip, not one per call.
package budget

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
)

// Shared is the account's budget as every worker sees it.
type Shared struct {
	Temporal  client.Client
	TaskQueue string
	// Limits start the budget workflow when none runs.
	Limits access.BudgetInput
	// ReserveTimeout bounds how long a batch waits for an answer (default 30 s): without a worker on TaskQueue
	// nobody answers.
	ReserveTimeout time.Duration
	// MaxBatch bounds the calls of one update (default 64).
	MaxBatch int

	mu      sync.Mutex
	waiting []*waiter // by priority, then arrival
	// busyUntil is when the budget said a kind of call may ask again: its waiters wait without asking.
	busyUntil map[access.Reservation]time.Time
	leasing   bool
	wake      chan struct{}
	// spare holds instants given to calls whose callers left before making them (timed out, cancelled): the
	// account's budget for them is spent either way, so the next caller of the process makes its call then.
	spare []spareInstant
	// sleeping are the callers waiting for their instant, which a spare earlier one may replace.
	sleeping map[*waiter]spareInstant
	stats    Stats
}

// Stats counts a process's updates to the budget workflow (tests and benchmarks read it).
type Stats struct {
	// Updates sent; Rejected, those the budget turned away whole (no call of theirs got an instant); Retried,
	// those the server refused for a moment (too many updates in flight, the workflow continuing as new).
	Updates, Rejected, Retried int64
	// Reused counts the instants of callers that left, taken by another caller.
	Reused int64
}

// spareInstant is an instant of the account's budget; write says it was reserved for a write (it then fits
// any call, a read's only a read).
type spareInstant struct {
	at    time.Time
	write bool
}

type waiter struct {
	r    access.Reservation
	done chan outcome // buffered: the leaser never blocks on a waiter that left
	ctx  context.Context
	// moved tells a sleeping waiter that it holds an earlier instant now (in sleeping).
	moved chan struct{}
}

type outcome struct {
	at  time.Time
	err error
}

// Wait reserves the call's instant and sleeps until it. A busy budget keeps lower priorities waiting until it
// says they may ask again. A priority out of writes for the day gets an error that says so.
func (s *Shared) Wait(ctx context.Context, write bool) error {
	r := access.Reservation{Write: write, Priority: access.Priority(nexudus.PriorityOf(ctx))}
	if r.Priority <= 0 {
		r.Priority = access.PriorityBackground
	}
	w := &waiter{r: r, done: make(chan outcome, 1), ctx: ctx, moved: make(chan struct{}, 1)}
	s.enqueue(w)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case o := <-w.done:
		if o.err != nil {
			return o.err
		}
		return s.sleep(w, spareInstant{at: o.at, write: r.Write})
	}
}

// Stats is what the process sent so far.
func (s *Shared) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Shared) enqueue(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
		s.busyUntil = map[access.Reservation]time.Time{}
		s.sleeping = map[*waiter]spareInstant{}
	}
	if s.takeSpare(w) {
		return
	}
	i := len(s.waiting)
	for i > 0 && s.waiting[i-1].r.Priority > w.r.Priority {
		i--
	}
	s.waiting = append(s.waiting, nil)
	copy(s.waiting[i+1:], s.waiting[i:])
	s.waiting[i] = w
	if !s.leasing {
		s.leasing = true
		go s.lease()
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
