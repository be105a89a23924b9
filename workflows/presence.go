package workflows

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// PresenceTracking checks customers in and out of Nexudus from the Salto entries of a location's presence
// doors: an opened door checks the customer in (a Nexudus check-in with Source 2, door access) unless one is
// open, an exit (exit_requested, or any entry at an exit door) closes the open one.
//
// Entries are read oldest first from a cursor on utc_date_time kept in workflow state (carried over
// Continue-As-New), so a restart resumes where it stopped. The filter has second precision and re-reads the
// cursor's second: the keys of the entries handled in that second are remembered and not counted twice.
// Salto users are matched to coworkers by the alias the activities give the users they create, or by email;
// the matches are cached in the state.
func PresenceTracking(ctx workflow.Context, in access.PresenceInput) error {
	w, err := newPresenceRun(ctx, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

type presenceRun struct {
	in        access.PresenceInput
	st        access.PresenceState
	loc       access.Location
	sa        saValues
	published bool
}

const (
	defaultPresenceInterval = 30 * time.Second
	// A match is checked again after this long (a new user, an email changed); "not a customer" sooner.
	presenceUserTTL   = 7 * 24 * time.Hour
	presenceNoUserTTL = time.Hour
)

func newPresenceRun(ctx workflow.Context, in access.PresenceInput) (*presenceRun, error) {
	if in.LocationID <= 0 {
		return nil, temporal.NewNonRetryableApplicationError("invalid location", access.ErrConfig, nil)
	}
	w := &presenceRun{in: in}
	if in.State != nil {
		w.st = *in.State
	}
	w.st.LocationID = in.LocationID
	if w.st.Users == nil {
		w.st.Users = map[string]access.PresenceUser{}
	}
	err := workflow.SetQueryHandler(ctx, access.QueryPresence, func() (access.PresenceState, error) { return w.st, nil })
	return w, err
}

func (w *presenceRun) run(ctx workflow.Context) error {
	for {
		loc, err := loadLocation(ctx, w.in.LocationID)
		if err != nil {
			if access.IsFinal(err) {
				workflow.GetLogger(ctx).Warn("presence tracking stops", "LocationID", w.in.LocationID, "Error", err)
				return nil
			}
			return err
		}
		w.loc = loc
		if len(loc.Sync.PresenceDoors) == 0 && len(loc.Sync.PresenceExitDoors) == 0 {
			workflow.GetLogger(ctx).Info("no presence doors: presence tracking stops", "LocationID", w.in.LocationID)
			return nil
		}
		more := w.poll(ctx)
		w.publish(ctx)
		wait := w.interval()
		if more {
			// A full read: more entries are waiting, read them soon.
			wait = time.Second
		}
		if err := workflow.NewTimerWithOptions(ctx, wait,
			workflow.TimerOptions{Summary: "next read of Salto entries"}).Get(ctx, nil); err != nil {
			return err
		}
		if continueAsNewDue(ctx, w.in.Tuning) {
			st := w.st
			return workflow.NewContinueAsNewError(ctx, access.WorkflowPresence,
				access.PresenceInput{LocationID: w.in.LocationID, State: &st, Tuning: w.in.Tuning})
		}
	}
}

func (w *presenceRun) interval() time.Duration {
	if d := w.loc.Sync.PresenceInterval; d > 0 {
		return d
	}
	return defaultPresenceInterval
}

func shortActivity(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 5, NonRetryableErrorTypes: access.FinalErrorTypes},
		Summary: summary,
	})
}

// poll handles the entries since the cursor and reports whether more are waiting. The cursor moves only once
// the entries before it are recorded in Nexudus.
func (w *presenceRun) poll(ctx workflow.Context) bool {
	now := workflow.Now(ctx)
	if w.st.Cursor.IsZero() {
		// Presence starts now: entries from before tracking was switched on are history.
		w.st.Cursor = now.Truncate(time.Second)
	}
	w.st.LastPoll = now
	res, err := fn(a.PollEntries).run(shortActivity(ctx, "read Salto entries since "+fmtTime(w.st.Cursor)),
		access.EntriesRequest{LocationID: w.in.LocationID, SiteID: w.loc.SiteID, Since: w.st.Cursor,
			Doors: w.loc.Sync.PresenceDoors, ExitDoors: w.loc.Sync.PresenceExitDoors})
	if err != nil {
		w.st.LastError = "read entries: " + errText(err)
		return false
	}
	fresh := w.fresh(res.Entries)
	if err := w.resolve(ctx, now, fresh); err != nil {
		w.st.LastError = "match users: " + errText(err)
		return false
	}
	var events []access.PresenceEvent
	for _, e := range fresh {
		cw := w.st.Users[e.UserID].CoworkerID
		if cw <= 0 {
			w.st.Ignored++
			continue
		}
		events = append(events, access.PresenceEvent{Key: e.Key, CoworkerID: cw, At: e.At, Exit: e.Exit})
	}
	if len(events) > 0 {
		// Check-ins must not be lost or doubled: the activity keeps trying, and resumes after the last event
		// done; each event is safe to repeat on its own (it looks for an open check-in first).
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Minute,
			HeartbeatTimeout:    2 * time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
				MaximumInterval: 5 * time.Minute, NonRetryableErrorTypes: access.FinalErrorTypes},
			Summary: fmt.Sprintf("record %d check-ins and check-outs in Nexudus", len(events)),
		})
		pr, err := fn(a.RecordPresence).run(actx, access.PresenceRequest{LocationID: w.in.LocationID, Events: events})
		if err != nil {
			w.st.LastError = "record presence: " + errText(err)
			return false
		}
		w.st.CheckIns += pr.CheckIns
		w.st.CheckOuts += pr.CheckOuts
		w.st.Unchanged += pr.Unchanged
	}
	w.st.Entries += len(fresh)
	w.st.LastError = ""
	switch {
	case res.Newest.After(w.st.Cursor):
		w.st.Cursor, w.st.AtCursor = res.Newest, slices.Clone(res.NewestKeys)
	case res.Newest.Equal(w.st.Cursor):
		w.st.AtCursor = normalizeGroups(append(w.st.AtCursor, res.NewestKeys...))
	}
	return res.Full
}

// fresh drops the entries of the cursor's second that were handled before.
func (w *presenceRun) fresh(entries []access.DoorEntry) []access.DoorEntry {
	var out []access.DoorEntry
	for _, e := range entries {
		sec := e.At.Truncate(time.Second)
		if sec.Before(w.st.Cursor) || (sec.Equal(w.st.Cursor) && slices.Contains(w.st.AtCursor, e.Key)) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// resolve matches the entries' users that the cache does not know (or knows for too long) to coworkers.
func (w *presenceRun) resolve(ctx workflow.Context, now time.Time, entries []access.DoorEntry) error {
	var ask []access.DoorEntry
	for _, e := range entries {
		u, ok := w.st.Users[e.UserID]
		ttl := presenceUserTTL
		if u.CoworkerID == 0 {
			ttl = presenceNoUserTTL
		}
		if (ok && now.Sub(u.Resolved) < ttl) || slices.ContainsFunc(ask, func(a access.DoorEntry) bool { return a.UserID == e.UserID }) {
			continue
		}
		ask = append(ask, access.DoorEntry{UserID: e.UserID, Alias: e.Alias})
	}
	// Matches unused for long are dropped, so the cache stays bounded by the people who come.
	deleteWhere(w.st.Users, func(_ string, u access.PresenceUser) bool { return now.Sub(u.Resolved) > 4*presenceUserTTL })
	if len(ask) == 0 {
		return nil
	}
	got, err := fn(a.ResolveUsers).run(shortActivity(ctx, fmt.Sprintf("match %d Salto users to coworkers", len(ask))),
		access.ResolveUsersRequest{LocationID: w.in.LocationID, SiteID: w.loc.SiteID, Users: ask})
	if err != nil {
		return err
	}
	for _, a := range ask {
		w.st.Users[a.UserID] = access.PresenceUser{CoworkerID: got[a.UserID], Resolved: now}
	}
	return nil
}

func (w *presenceRun) publish(ctx workflow.Context) {
	v := saValues{kind: access.KindPresence, location: strconv.FormatInt(w.in.LocationID, 10)}
	v.upsert(ctx, &w.sa, !w.published)
	w.published = true
	workflow.SetCurrentDetails(ctx, w.details())
}

//workflowcheck:ignore
func (w *presenceRun) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · doors %s · exit doors %s · every %s\n\n", access.PresenceWorkflowID(w.in.LocationID),
		fmtGroups(w.loc.Sync.PresenceDoors), fmtGroups(w.loc.Sync.PresenceExitDoors), w.interval())
	fmt.Fprintf(&b, "Entries %d · check-ins %d · check-outs %d · unchanged %d · not customers %d\n\n",
		w.st.Entries, w.st.CheckIns, w.st.CheckOuts, w.st.Unchanged, w.st.Ignored)
	fmt.Fprintf(&b, "Cursor %s · %d users matched\n", w.st.Cursor.UTC().Format(time.RFC3339), len(w.st.Users))
	if w.st.LastError != "" {
		fmt.Fprintf(&b, "\nLast error: %s\n", w.st.LastError)
	}
	return b.String()
}
