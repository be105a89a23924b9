package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// Fakes for the change poller, reconciliation and presence tracking: a Nexudus change feed with the filter and
// paging semantics of the real API (from_{Entity}_UpdatedOn at minute precision, oldest first, pages of
// PageSize), a reconcile plan, and a Salto entry log with the entries filter's second precision.

type fakeRecord struct {
	ID        int64
	UpdatedOn time.Time
}

type syncWorld struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu  sync.Mutex
	loc access.Location
	// change poller
	records      map[access.Entity][]fakeRecord
	pollCalls    []time.Time                   // one per Nexudus call, at virtual time
	polled       map[access.Entity][]time.Time // when each entity was read, at virtual time
	dispatchedAt map[string]time.Time          // when each change was first passed on
	dispatched   map[string]int
	failNext     int // DispatchChanges fails this many times (final error)
	// reconciliation
	plan       []access.ReconcileAction
	planIDs    map[string]bool
	applied    []string
	planCalls  int
	applyCalls int
	// presence
	entries  []access.DoorEntry
	resolved map[string]int
	events   []access.PresenceEvent
	open     map[int64]bool
}

func newSyncWorld(t *testing.T, start time.Time) *syncWorld {
	w := &syncWorld{t: t, records: map[access.Entity][]fakeRecord{}, dispatched: map[string]int{},
		polled: map[access.Entity][]time.Time{}, dispatchedAt: map[string]time.Time{},
		planIDs: map[string]bool{}, resolved: map[string]int{}, open: map[int64]bool{},
		loc: access.Location{ID: locID, SiteID: siteID, Policy: access.PolicySuspend, Sync: access.SyncSettings{
			PollInterval: time.Minute, PollCallsPerMinute: 20, PollLookback: time.Hour, PollPageSize: 100,
			PresenceInterval: 30 * time.Second, PresenceDoors: []string{"door-in"}}}}
	w.newEnv(start)
	return w
}

func (w *syncWorld) newEnv(start time.Time) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(&recordingLogger{})
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	Register(env)
	env.RegisterActivity(w.LoadLocation)
	env.RegisterActivity(w.PollChanges)
	env.RegisterActivity(w.DispatchChanges)
	env.RegisterActivity(w.PlanReconcile)
	env.RegisterActivity(w.ApplyReconcile)
	env.RegisterActivity(w.PollEntries)
	env.RegisterActivity(w.ResolveUsers)
	env.RegisterActivity(w.RecordPresence)
	w.env = env
}

func (w *syncWorld) now() time.Time { return w.env.Now().UTC() }

func (w *syncWorld) after(d time.Duration, f func()) { w.env.RegisterDelayedCallback(f, d) }

func (w *syncWorld) LoadLocation(_ context.Context, id int64) (access.Location, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.loc, nil
}

// update changes a Nexudus record now (UpdatedOn = now, truncated to the second as Nexudus stores it).
func (w *syncWorld) update(e access.Entity, id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now().Truncate(time.Second)
	rs := slices.DeleteFunc(w.records[e], func(r fakeRecord) bool { return r.ID == id })
	w.records[e] = append(rs, fakeRecord{ID: id, UpdatedOn: now})
}

func (w *syncWorld) updateAt(e access.Entity, id int64, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rs := slices.DeleteFunc(w.records[e], func(r fakeRecord) bool { return r.ID == id })
	w.records[e] = append(rs, fakeRecord{ID: id, UpdatedOn: t})
}

func (w *syncWorld) PollChanges(_ context.Context, req access.PollRequest) (access.PollResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out access.PollResult
	for i, ent := range req.Entities {
		cur := req.Cursors[ent]
		from := cur.From.Truncate(time.Minute)
		var rows []fakeRecord
		for _, r := range w.records[ent] {
			if !r.UpdatedOn.Before(from) {
				rows = append(rows, r)
			}
		}
		sort.SliceStable(rows, func(a, b int) bool {
			if !rows[a].UpdatedOn.Equal(rows[b].UpdatedOn) {
				return rows[a].UpdatedOn.Before(rows[b].UpdatedOn)
			}
			return rows[a].ID < rows[b].ID
		})
		ec := access.EntityChanges{Entity: ent}
		w.polled[ent] = append(w.polled[ent], w.now())
		allowance := req.MaxCalls - (len(req.Entities) - i - 1)
		for page := max(cur.Page, 1); ; page++ {
			if out.Calls >= allowance {
				ec.More = true
				break
			}
			out.Calls++
			w.pollCalls = append(w.pollCalls, w.now())
			start := min((page-1)*req.PageSize, len(rows))
			end := min(start+req.PageSize, len(rows))
			for _, r := range rows[start:end] {
				ec.Changes = append(ec.Changes, access.ChangedRecord{ID: r.ID, UpdatedOn: r.UpdatedOn,
					Action: access.DispatchStart})
			}
			ec.Pages = page
			if end >= len(rows) {
				break
			}
		}
		out.Entities = append(out.Entities, ec)
	}
	return out, nil
}

func (w *syncWorld) DispatchChanges(_ context.Context, req access.DispatchRequest) (access.DispatchResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failNext > 0 {
		w.failNext--
		return access.DispatchResult{}, access.NewFinalError(access.ErrConfig, "temporal refused", nil)
	}
	for _, it := range req.Items {
		key := fmt.Sprintf("%s-%d", it.Entity, it.ID)
		w.dispatched[key]++
		if _, ok := w.dispatchedAt[key]; !ok {
			w.dispatchedAt[key] = w.now()
		}
	}
	return access.DispatchResult{Started: len(req.Items)}, nil
}

func (w *syncWorld) dispatches(e access.Entity, id int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dispatched[fmt.Sprintf("%s-%d", e, id)]
}

// maxCallsPerMinute is the most Nexudus calls made in any window of one minute.
func (w *syncWorld) maxCallsPerMinute() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	most := 0
	for i, t := range w.pollCalls {
		n := 0
		for _, u := range w.pollCalls[i:] {
			if u.Sub(t) < time.Minute {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// runUntil runs a long-running workflow and cancels it at start+d; it returns the queried state.
func runUntil[S any](t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, wf string, in any) S {
	t.Helper()
	var st S
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(queryOf(st))
		if err != nil {
			t.Errorf("query: %v", err)
		} else if err := v.Get(&st); err != nil {
			t.Errorf("query result: %v", err)
		}
		env.CancelWorkflow()
	}, d)
	env.ExecuteWorkflow(wf, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	return st
}

// ---- change poller ----

// Every change is passed on once: records updated before the lookback are not, a record updated twice is
// passed on twice, and the minute of overlap between reads re-reads records without passing them on again.
func TestPollerPassesEveryChangeOnce(t *testing.T) {
	start := at(9, 0)
	w := newSyncWorld(t, start)
	w.loc.Sync.PollPageSize = 2 // force paging
	w.updateAt(access.EntityPass, 1, start.Add(-30*time.Minute))
	w.updateAt(access.EntityPass, 2, start.Add(-2*time.Hour)) // before the lookback
	w.updateAt(access.EntityBooking, 3, start.Add(-10*time.Second))
	w.after(90*time.Second, func() {
		w.update(access.EntityPass, 4)
		w.update(access.EntityPass, 1) // changed again
	})
	w.after(150*time.Second, func() {
		for id := int64(10); id < 15; id++ { // five bookings in one second, over three pages
			w.update(access.EntityBooking, id)
		}
	})
	w.after(200*time.Second, func() { w.update(access.EntityBooking, 11) }) // after the poll at 180 s
	st := runUntil[access.PollerState](t, w.env, 10*time.Minute, access.WorkflowPoller,
		access.PollerInput{LocationID: locID})

	want := map[string]int{"CoworkerTimePass-1": 2, "CoworkerTimePass-2": 0, "Booking-3": 1, "CoworkerTimePass-4": 1,
		"Booking-10": 1, "Booking-11": 2, "Booking-12": 1, "Booking-13": 1, "Booking-14": 1}
	for k, n := range want {
		if got := w.dispatched[k]; got != n {
			t.Errorf("%s dispatched %d times, want %d", k, got, n)
		}
	}
	if st.Duplicates == 0 || st.Changes != 10 || st.LastError != "" {
		t.Errorf("state %+v", st)
	}
	// The cursor trails the newest change by a minute and forgets what is behind it.
	c := st.Cursors[access.EntityBooking]
	if !c.From.Equal(c.High.Truncate(time.Minute).Add(-time.Minute)) || len(c.Seen) != 6 {
		t.Errorf("booking cursor %+v", c)
	}
	if n := w.maxCallsPerMinute(); n > 20 {
		t.Errorf("%d Nexudus calls in one minute, budget 20", n)
	}
}

// A backlog larger than a poll's budget inside one minute: the poller pages on across polls without looping
// on the same page and without exceeding its budget.
func TestPollerBudgetAndBacklogInOneMinute(t *testing.T) {
	start := at(9, 0)
	w := newSyncWorld(t, start)
	w.loc.Sync.PollPageSize = 1
	w.loc.Sync.PollCallsPerMinute = 5
	for id := int64(1); id <= 30; id++ {
		w.updateAt(access.EntityPass, id, start.Add(-5*time.Minute))
	}
	st := runUntil[access.PollerState](t, w.env, 60*time.Minute, access.WorkflowPoller,
		access.PollerInput{LocationID: locID})
	for id := int64(1); id <= 30; id++ {
		if n := w.dispatches(access.EntityPass, id); n != 1 {
			t.Errorf("pass %d dispatched %d times", id, n)
		}
	}
	if n := w.maxCallsPerMinute(); n > 5 {
		t.Errorf("%d calls in one minute, budget 5", n)
	}
	if st.Calls > 60*5 {
		t.Errorf("%d calls in an hour", st.Calls)
	}
}

// A dispatch that fails leaves the cursor where it was: the next poll passes the same changes on.
func TestPollerDispatchFailureKeepsCursor(t *testing.T) {
	start := at(9, 0)
	w := newSyncWorld(t, start)
	w.failNext = 1
	w.updateAt(access.EntityVisitor, 7, start.Add(-time.Minute))
	st := runUntil[access.PollerState](t, w.env, 5*time.Minute, access.WorkflowPoller,
		access.PollerInput{LocationID: locID})
	if n := w.dispatches(access.EntityVisitor, 7); n != 1 {
		t.Errorf("visitor 7 dispatched %d times", n)
	}
	if st.LastError != "" || st.Changes != 1 {
		t.Errorf("state %+v", st)
	}
}

// Continue-As-New carries the cursors: the new run passes on only what is new.
func TestPollerContinueAsNewCarriesCursors(t *testing.T) {
	start := at(9, 0)
	w := newSyncWorld(t, start)
	w.updateAt(access.EntityPass, 1, start.Add(-10*time.Minute))
	w.updateAt(access.EntityBooking, 2, start.Add(-10*time.Second))
	w.after(3*time.Minute, func() { w.env.SetCurrentHistoryLength(100) })
	w.env.ExecuteWorkflow(access.WorkflowPoller, access.PollerInput{LocationID: locID,
		Tuning: access.Tuning{ContinueAsNewAfter: 50}})
	var can *workflow.ContinueAsNewError
	if err := w.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want Continue-As-New, got %v", err)
	}
	var next access.PollerInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.State.Polls == 0 || len(next.State.Cursors[access.EntityBooking].Seen) != 1 {
		t.Fatalf("carried %+v", next.State)
	}
	resume := w.now()
	w.newEnv(resume)
	w.after(30*time.Second, func() { w.update(access.EntityPass, 3) })
	next.Tuning = access.Tuning{}
	runUntil[access.PollerState](t, w.env, 5*time.Minute, access.WorkflowPoller, next)
	for id, n := range map[string]int{"CoworkerTimePass-1": 1, "Booking-2": 1, "CoworkerTimePass-3": 1} {
		if w.dispatched[id] != n {
			t.Errorf("%s dispatched %d times, want %d", id, w.dispatched[id], n)
		}
	}
}

// queryOf is the query that answers with a value of st's type.
func queryOf(st any) string {
	switch st.(type) {
	case access.PollerState:
		return access.QueryPoller
	case access.PresenceState:
		return access.QueryPresence
	case access.ReconcileReport:
		return access.QueryReconcile
	}
	panic(fmt.Sprintf("no query answers with a %T", st))
}
