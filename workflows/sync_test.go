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
	records    map[access.Entity][]fakeRecord
	pollCalls  []time.Time // one per Nexudus call, at virtual time
	dispatched map[string]int
	failNext   int // DispatchChanges fails this many times (final error)
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
		w.dispatched[fmt.Sprintf("%s-%d", it.Entity, it.ID)]++
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

// ---- reconciliation ----

func (w *syncWorld) setPlan(n int) {
	w.plan = nil
	for i := 1; i <= n; i++ {
		w.plan = append(w.plan, access.ReconcileAction{Key: fmt.Sprintf("c%020d", i),
			Customer: access.CustomerKey{LocationID: locID, CoworkerID: int64(i)}, Add: []string{"room-a"},
			Repair: &access.Repair{Observed: nil, Reason: "test"}})
	}
}

func (w *syncWorld) PlanReconcile(_ context.Context, req access.PlanRequest) (access.PlanBatch, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.planCalls++
	w.planIDs[req.PlanID] = true
	i := sort.Search(len(w.plan), func(i int) bool { return w.plan[i].Key > req.After })
	end := min(i+req.Limit, len(w.plan))
	return access.PlanBatch{Actions: slices.Clone(w.plan[i:end]), More: end < len(w.plan),
		Totals: access.ReconcilePlan{Checked: 1000, Added: len(w.plan), Entitlements: 7}}, nil
}

func (w *syncWorld) ApplyReconcile(_ context.Context, req access.ApplyRequest) (access.ApplyResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.applyCalls++
	for _, a := range req.Actions {
		w.applied = append(w.applied, a.Key)
	}
	return access.ApplyResult{Repairs: len(req.Actions)}, nil
}

func runReconcile(t *testing.T, w *syncWorld, in access.ReconcileInput) access.ReconcileReport {
	t.Helper()
	w.env.ExecuteWorkflow(access.WorkflowReconcile, in)
	if err := w.env.GetWorkflowError(); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	var rep access.ReconcileReport
	if err := w.env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestReconcileAppliesEveryBatchOnce(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	rep := runReconcile(t, w, access.ReconcileInput{LocationID: locID, BatchSize: 3})
	if len(w.applied) != 10 || !slices.IsSorted(w.applied) || slices.Compact(slices.Clone(w.applied)) == nil {
		t.Fatalf("applied %v", w.applied)
	}
	if w.applyCalls != 4 || len(w.planIDs) != 1 {
		t.Errorf("%d apply calls, plans %v", w.applyCalls, w.planIDs)
	}
	if rep.Checked != 1000 || rep.Added != 10 || rep.Repairs != 10 || rep.Entitlements != 7 || rep.DryRun ||
		rep.Finished.IsZero() {
		t.Errorf("report %+v", rep)
	}
	v, err := w.env.QueryWorkflow(access.QueryReconcile)
	var queried access.ReconcileReport
	if err != nil || v.Get(&queried) != nil || queried.Repairs != 10 {
		t.Errorf("queried report %+v, %v", queried, err)
	}
}

func TestReconcileDryRunChangesNothing(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	rep := runReconcile(t, w, access.ReconcileInput{LocationID: locID, DryRun: true, BatchSize: 4})
	if w.applyCalls != 0 || len(rep.Plan) != 4 || !rep.DryRun || rep.Added != 10 || rep.Repairs != 0 {
		t.Errorf("apply calls %d, report %+v", w.applyCalls, rep)
	}
}

// A large location continues as new between batches; the new run carries the plan's id and where it stood,
// so every action is applied once across runs.
func TestReconcileContinueAsNewBetweenBatches(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.setPlan(10)
	in := access.ReconcileInput{LocationID: locID, BatchSize: 4, Tuning: access.Tuning{ContinueAsNewAfter: 50}}
	runs := 0
	for {
		runs++
		w.env.SetCurrentHistoryLength(100)
		w.env.ExecuteWorkflow(access.WorkflowReconcile, in)
		var can *workflow.ContinueAsNewError
		err := w.env.GetWorkflowError()
		if err == nil {
			break
		}
		if !errors.As(err, &can) || runs > 5 {
			t.Fatalf("run %d: %v", runs, err)
		}
		in = access.ReconcileInput{}
		if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
			t.Fatal(err)
		}
		if in.Progress == nil || in.Progress.After == "" {
			t.Fatalf("carried %+v", in)
		}
		w.newEnv(w.now())
	}
	var rep access.ReconcileReport
	if err := w.env.GetWorkflowResult(&rep); err != nil {
		t.Fatal(err)
	}
	if runs != 3 || len(w.applied) != 10 || len(slices.Compact(slices.Clone(w.applied))) != 10 || len(w.planIDs) != 1 {
		t.Fatalf("runs %d, applied %v, plans %v", runs, w.applied, w.planIDs)
	}
	if rep.Repairs != 10 {
		t.Errorf("report %+v", rep)
	}
}

// ---- presence ----

func (w *syncWorld) entry(user, lock string, exit bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.now()
	w.entries = append(w.entries, access.DoorEntry{Key: fmt.Sprintf("%s|%s|%s|%d", t.Format(time.RFC3339Nano), user,
		lock, len(w.entries)), At: t, UserID: user, LockID: lock, Exit: exit})
}

func (w *syncWorld) PollEntries(_ context.Context, req access.EntriesRequest) (access.EntriesResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out access.EntriesResult
	since := req.Since.Truncate(time.Second)
	for _, e := range w.entries {
		if e.At.Before(since) {
			continue
		}
		sec := e.At.Truncate(time.Second)
		switch {
		case sec.After(out.Newest):
			out.Newest, out.NewestKeys = sec, []string{e.Key}
		case sec.Equal(out.Newest):
			out.NewestKeys = append(out.NewestKeys, e.Key)
		}
		out.Entries = append(out.Entries, e)
	}
	return out, nil
}

func (w *syncWorld) ResolveUsers(_ context.Context, req access.ResolveUsersRequest) (map[string]int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int64{}
	for _, u := range req.Users {
		w.resolved[u.UserID]++
		if u.UserID == "pu-ada" {
			out[u.UserID] = coworkerID
		}
	}
	return out, nil
}

func (w *syncWorld) RecordPresence(_ context.Context, req access.PresenceRequest) (access.PresenceResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var r access.PresenceResult
	for _, ev := range req.Events {
		w.events = append(w.events, ev)
		switch {
		case !ev.Exit && !w.open[ev.CoworkerID]:
			w.open[ev.CoworkerID] = true
			r.CheckIns++
		case ev.Exit && w.open[ev.CoworkerID]:
			w.open[ev.CoworkerID] = false
			r.CheckOuts++
		default:
			r.Unchanged++
		}
	}
	return r, nil
}

// Entries in the cursor's second come back on every read: each is counted once, including one that arrives
// in that second after a read; users are matched once; entries of people who are not customers are ignored.
func TestPresenceCountsEachEntryOnce(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.after(10*time.Second, func() { w.entry("pu-ada", "door-in", false) })
	w.after(10*time.Second+200*time.Millisecond, func() { w.entry("pu-staff", "door-in", false) })
	w.after(31*time.Second, func() { w.entry("pu-ada", "door-in", false) }) // in again: unchanged
	w.after(31*time.Second+500*time.Millisecond, func() { w.entry("pu-ada", "door-in", true) })
	st := runUntil[access.PresenceState](t, w.env, 10*time.Minute, access.WorkflowPresence,
		access.PresenceInput{LocationID: locID})
	if len(w.events) != 3 || w.events[0].Exit || w.events[1].Exit || !w.events[2].Exit {
		t.Fatalf("events %+v", w.events)
	}
	if st.CheckIns != 1 || st.CheckOuts != 1 || st.Unchanged != 1 || st.Ignored != 1 || st.Entries != 4 {
		t.Errorf("state %+v", st)
	}
	if w.resolved["pu-ada"] != 1 || w.resolved["pu-staff"] != 1 {
		t.Errorf("users resolved %v", w.resolved)
	}
	if len(st.AtCursor) == 0 || st.Cursor.IsZero() {
		t.Errorf("cursor %s %v", st.Cursor, st.AtCursor)
	}
}

// Continue-As-New carries the cursor and the matches.
func TestPresenceContinueAsNewCarriesCursor(t *testing.T) {
	w := newSyncWorld(t, at(9, 0))
	w.after(5*time.Second, func() { w.entry("pu-ada", "door-in", false) })
	w.after(2*time.Minute, func() { w.env.SetCurrentHistoryLength(100) })
	w.env.ExecuteWorkflow(access.WorkflowPresence, access.PresenceInput{LocationID: locID,
		Tuning: access.Tuning{ContinueAsNewAfter: 50}})
	var can *workflow.ContinueAsNewError
	if err := w.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want Continue-As-New, got %v", err)
	}
	var next access.PresenceInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.State.Users["pu-ada"].CoworkerID != coworkerID || next.State.CheckIns != 1 {
		t.Fatalf("carried %+v", next.State)
	}
	w.newEnv(w.now())
	w.after(5*time.Second, func() { w.entry("pu-ada", "door-in", true) })
	next.Tuning = access.Tuning{}
	st := runUntil[access.PresenceState](t, w.env, 5*time.Minute, access.WorkflowPresence, next)
	if len(w.events) != 2 || st.CheckOuts != 1 || w.resolved["pu-ada"] != 1 {
		t.Errorf("events %+v, state %+v, resolved %v", w.events, st, w.resolved)
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
