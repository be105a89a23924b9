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
	err  error // the single reservation's
	// busy and refused are a batch's outcomes without an instant.
	busy, refused bool
}

// budgetWorld runs the budget workflow with 120 calls/min, 60 writes/min and 10 writes a day.
type budgetWorld struct {
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	got   []reserved
	n     int
	// rejected counts the batches rejected whole.
	rejected int
}

func newBudgetWorld() *budgetWorld {
	var s testsuite.WorkflowTestSuite
	b := &budgetWorld{env: s.NewTestWorkflowEnvironment(), start: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	b.env.SetStartTime(b.start)
	return b
}

// reserve asks for one call's instant in a batch of its own.
func (b *budgetWorld) reserve(name string, r access.Reservation) {
	b.reserveCalls([]string{name}, []access.Reservation{r})
}

// reserveCalls asks for a batch, as a worker's leaser does.
func (b *budgetWorld) reserveCalls(names []string, rs []access.Reservation) {
	b.n++
	record := func(outs []access.ReservationOutcome) {
		for i, o := range outs {
			b.got = append(b.got, reserved{name: names[i], at: o.At, busy: o.RetryIn > 0, refused: o.Refused != ""})
		}
	}
	b.env.UpdateWorkflow(access.UpdateReserveCalls, strconv.Itoa(b.n), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) {
			b.rejected++
			var app *temporal.ApplicationError
			var outs []access.ReservationOutcome
			if !errors.As(err, &app) || app.Type() != access.ErrBudgetBusy || app.Details(&outs) != nil {
				for _, n := range names {
					b.got = append(b.got, reserved{name: n, err: err})
				}
				return
			}
			record(outs)
		},
		OnComplete: func(v any, err error) {
			outs, _ := v.([]access.ReservationOutcome)
			if err != nil {
				for _, n := range names {
					b.got = append(b.got, reserved{name: n, err: err})
				}
			}
			record(outs)
		},
	}, access.Reservations{Calls: rs})
}

// reserveOne uses the previous release's update, one call each.
func (b *budgetWorld) reserveOne(name string, r access.Reservation) {
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
		if r := b.result(t, name); !r.at.Equal(want) {
			t.Errorf("%s: at %s (%v), want %s", name, r.at.Sub(t0), r.err, want.Sub(t0))
		}
	}
	if r := b.result(t, "background"); !r.busy {
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
	if r := b.result(t, "presence"); !r.refused {
		t.Errorf("presence wrote at 80%% of the daily cap: %+v", r)
	}
	for _, name := range []string{"audit8", "audit9"} {
		if r := b.result(t, name); r.at.IsZero() {
			t.Errorf("%s refused below the cap: %+v", name, r)
		}
	}
	if r := b.result(t, "audit10"); !r.refused {
		t.Errorf("a write past the daily cap: %+v", r)
	}
	if r := b.result(t, "presence tomorrow"); r.at.IsZero() {
		t.Errorf("the next UTC day did not start again: %+v", r)
	}
}

// One update reserves a whole batch, its most urgent calls first whatever their order in it; a batch of which
// no call gets an instant is rejected (nothing in the history) with every call's outcome.
func TestBudgetReservesABatchUrgentFirst(t *testing.T) {
	b := newBudgetWorld()
	b.env.RegisterDelayedCallback(func() {
		var names []string
		var rs []access.Reservation
		for i := range 6 {
			names = append(names, "background"+strconv.Itoa(i))
			rs = append(rs, access.Reservation{Priority: access.PriorityBackground})
		}
		names = append(names, "door", "poll")
		rs = append(rs, access.Reservation{Priority: access.PriorityUrgent}, access.Reservation{Priority: access.PriorityPoll})
		b.reserveCalls(names, rs)
		// Now 2.04 s are reserved ahead: more than background work may queue.
		b.reserveCalls([]string{"late background"}, []access.Reservation{{Priority: access.PriorityBackground}})
	}, time.Second)
	b.run(t)
	t0 := b.start.Add(time.Second)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// door 0, poll 510, background 1020 and 1530; the next would be 2.04 s ahead, past background's 2 s.
	for name, want := range map[string]time.Time{"door": ms(0), "poll": ms(510), "background0": ms(1020),
		"background1": ms(1530)} {
		if r := b.result(t, name); !r.at.Equal(want) {
			t.Errorf("%s: at %s (%+v), want %s", name, r.at.Sub(t0), r, want.Sub(t0))
		}
	}
	for _, name := range []string{"background2", "background3", "background4", "background5", "late background"} {
		if r := b.result(t, name); !r.busy {
			t.Errorf("%s was not told to ask again: %+v", name, r)
		}
	}
	if b.rejected != 1 {
		t.Errorf("%d batches rejected whole, want 1 (the late background call's)", b.rejected)
	}
}

// Workers of the previous release reserve one call per update while they are rolled over: still answered.
func TestBudgetAnswersThePreviousReleasesSingleReservation(t *testing.T) {
	b := newBudgetWorld()
	b.env.RegisterDelayedCallback(func() {
		for i := range 6 {
			b.reserveOne("read"+strconv.Itoa(i), access.Reservation{Priority: access.PriorityUrgent})
		}
		b.reserveOne("background", access.Reservation{Priority: access.PriorityBackground})
	}, time.Second)
	b.run(t)
	if r := b.result(t, "read5"); r.err != nil || !r.at.Equal(b.start.Add(time.Second+2550*time.Millisecond)) {
		t.Errorf("read5: %+v", r)
	}
	if r := b.result(t, "background"); errType(r.err) != access.ErrBudgetBusy {
		t.Errorf("background work was not told to wait: %+v", r)
	}
}
