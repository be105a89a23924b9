package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

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
