package workflows

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/nexsalto/nexsalto/access"
)

type reserved struct {
	name string
	at   time.Time
	err  error
}

// budgetWorld runs the budget workflow with 120 calls/min, 60 writes/min and 10 writes a day.
type budgetWorld struct {
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	got   []reserved
	n     int
}

func newBudgetWorld() *budgetWorld {
	var s testsuite.WorkflowTestSuite
	b := &budgetWorld{env: s.NewTestWorkflowEnvironment(), start: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	b.env.SetStartTime(b.start)
	return b
}

func (b *budgetWorld) reserve(name string, r access.Reservation) {
	b.n++
	b.env.UpdateWorkflow(access.UpdateReserve, strconv.Itoa(b.n), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { b.got = append(b.got, reserved{name: name, err: err}) },
		OnComplete: func(v any, err error) {
			res, _ := v.(access.ReservationResult)
			b.got = append(b.got, reserved{name: name, at: res.At, err: err})
		},
	}, r)
}

func (b *budgetWorld) run(t *testing.T) {
	t.Helper()
	b.env.RegisterDelayedCallback(b.env.CancelWorkflow, time.Hour)
	b.env.ExecuteWorkflow(NexudusBudget, access.BudgetInput{CallsPerMinute: 120, WritesPerMinute: 60, WritesPerDay: 10})
}

func (b *budgetWorld) result(t *testing.T, name string) reserved {
	t.Helper()
	for _, r := range b.got {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no answer for %s: %+v", name, b.got)
	return reserved{}
}

func errType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

// Calls are spaced 510 ms (2% under 120/min), writes 1.02 s; the poller and background work are told to wait
// while the queue ahead is long, urgent work never is.
func TestBudgetSpacesCallsAndPutsUrgentWorkFirst(t *testing.T) {
	b := newBudgetWorld()
	b.env.RegisterDelayedCallback(func() {
		for i := range 3 {
			b.reserve("read"+strconv.Itoa(i), access.Reservation{Priority: access.PriorityUrgent})
		}
		b.reserve("write", access.Reservation{Write: true, Priority: access.PriorityUrgent})
		b.reserve("write2", access.Reservation{Write: true, Priority: access.PriorityUrgent})
		for i := range 4 {
			b.reserve("more"+strconv.Itoa(i), access.Reservation{Priority: access.PriorityUrgent})
		}
		// The queue now reaches 4.6 s ahead.
		b.reserve("background", access.Reservation{Priority: access.PriorityBackground})
		b.reserve("poll", access.Reservation{Priority: access.PriorityPoll})
	}, time.Second)
	b.run(t)
	t0 := b.start.Add(time.Second)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	for name, want := range map[string]time.Time{"read0": ms(0), "read1": ms(510), "read2": ms(1020), "write": ms(1530),
		"write2": ms(2550), "more0": ms(3060), "more3": ms(4590), "poll": ms(5100)} {
		if r := b.result(t, name); r.err != nil || !r.at.Equal(want) {
			t.Errorf("%s: at %s (%v), want %s", name, r.at.Sub(t0), r.err, want.Sub(t0))
		}
	}
	if r := b.result(t, "background"); errType(r.err) != access.ErrBudgetBusy {
		t.Errorf("background work was not told to wait: %+v", r)
	}
}

// The daily write cap: presence (background) is refused writes from 80% of it, urgent writes (audits, PINs) go
// on to the cap; a new UTC day starts again.
func TestBudgetDailyWritesDegradePresenceFirst(t *testing.T) {
	b := newBudgetWorld()
	b.env.RegisterDelayedCallback(func() {
		for i := range 8 {
			b.reserve("audit"+strconv.Itoa(i), access.Reservation{Write: true, Priority: access.PriorityUrgent})
		}
	}, time.Second)
	b.env.RegisterDelayedCallback(func() {
		b.reserve("presence", access.Reservation{Write: true, Priority: access.PriorityBackground})
		b.reserve("audit8", access.Reservation{Write: true, Priority: access.PriorityUrgent})
		b.reserve("audit9", access.Reservation{Write: true, Priority: access.PriorityUrgent})
		b.reserve("audit10", access.Reservation{Write: true, Priority: access.PriorityUrgent})
	}, time.Minute)
	b.env.RegisterDelayedCallback(func() {
		b.reserve("presence tomorrow", access.Reservation{Write: true, Priority: access.PriorityBackground})
	}, 15*time.Hour)
	b.env.RegisterDelayedCallback(b.env.CancelWorkflow, 16*time.Hour)
	b.env.ExecuteWorkflow(NexudusBudget, access.BudgetInput{CallsPerMinute: 120, WritesPerMinute: 60, WritesPerDay: 10})
	if r := b.result(t, "presence"); errType(r.err) != access.ErrBudgetExhausted {
		t.Errorf("presence wrote at 80%% of the daily cap: %+v", r)
	}
	for _, name := range []string{"audit8", "audit9"} {
		if r := b.result(t, name); r.err != nil {
			t.Errorf("%s refused below the cap: %v", name, r.err)
		}
	}
	if r := b.result(t, "audit10"); errType(r.err) != access.ErrBudgetExhausted {
		t.Errorf("a write past the daily cap: %+v", r)
	}
	if r := b.result(t, "presence tomorrow"); r.err != nil {
		t.Errorf("the next UTC day did not start again: %v", r.err)
	}
}
