package workflows

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
)

// ChangePoller reads, for the whole Nexudus account (it runs as the first location's), what changed in Nexudus
// since its cursors and passes every change on to the location it belongs to:
// coworker time passes (Nexudus sends no webhook for them) and, as a safety net for lost webhooks, bookings,
// contracts, visitors and coworkers. An entitlement is signalled with SignalWithStart, so its workflow reads
// the entity again; a run started for an entity that already ended reads that and finishes, so a poll never
// resurrects access. A coworker change refreshes the customer workflow.
//
// Exactly once per change: the cursors live in workflow state (carried over Continue-As-New), each read
// overlaps the previous one by a minute (the filter's precision), and the keys (id, UpdatedOn) seen since the
// cursor are remembered, so a re-read record is not passed on twice and a restart misses nothing. A cursor
// moves only after its changes were dispatched.
//
// Nexudus allows 120 calls a minute: the poller spends at most PollCallsPerMinute of them, from a token bucket
// kept in its state, and the client waits out 409 throttling (longer throttles postpone the next poll).
func ChangePoller(ctx workflow.Context, in access.PollerInput) error {
	w, err := newPollerRun(ctx, in)
	if err != nil {
		return err
	}
	return w.run(ctx)
}

type pollerRun struct {
	in        access.PollerInput
	st        access.PollerState
	loc       access.Location
	sa        saValues
	published bool
}

func newPollerRun(ctx workflow.Context, in access.PollerInput) (*pollerRun, error) {
	if in.LocationID <= 0 {
		return nil, temporal.NewNonRetryableApplicationError("invalid location", access.ErrConfig, nil)
	}
	w := &pollerRun{in: in}
	if in.State != nil {
		w.st = *in.State
	}
	w.st.LocationID = in.LocationID
	if w.st.Cursors == nil {
		w.st.Cursors = map[access.Entity]access.PollCursor{}
	}
	err := workflow.SetQueryHandler(ctx, access.QueryPoller, func() (access.PollerState, error) { return w.st, nil })
	return w, err
}

// How long the poller's activities may take. (A sync setting its location leaves zero takes access' default.)
const (
	pollAttemptTimeout   = 5 * time.Minute
	dispatchTotalTimeout = 30 * time.Minute
)

func (w *pollerRun) run(ctx workflow.Context) error {
	for {
		loc, err := loadLocation(ctx, w.in.LocationID)
		if err != nil {
			if access.IsFinal(err) {
				// The location left the configuration: nothing to poll any more.
				workflow.GetLogger(ctx).Warn("change poller stops", "LocationID", w.in.LocationID, "Error", err)
				return nil
			}
			return err
		}
		w.loc = loc
		began := workflow.Now(ctx)
		retryAfter := w.poll(ctx)
		w.publish(ctx)
		// Polls start an interval apart, however long the last one took (a pass waits at most an interval
		// for the read that finds it); at least a second apart, unless Nexudus asked for longer.
		wait := max(w.interval()-workflow.Now(ctx).Sub(began), time.Second, retryAfter)
		if err := workflow.NewTimerWithOptions(ctx, wait,
			workflow.TimerOptions{Summary: "next poll of Nexudus"}).Get(ctx, nil); err != nil {
			return err
		}
		if continueAsNewDue(ctx, w.in.Tuning) {
			st := w.st
			return workflow.NewContinueAsNewError(ctx, access.WorkflowPoller,
				access.PollerInput{LocationID: w.in.LocationID, State: &st, Tuning: w.in.Tuning})
		}
	}
}

func (w *pollerRun) interval() time.Duration {
	if d := w.loc.Sync.PollInterval; d > 0 {
		return d
	}
	return access.DefaultPollInterval
}

func (w *pollerRun) safetyNetInterval() time.Duration {
	if d := w.loc.Sync.SafetyNetInterval; d > 0 {
		return d
	}
	return access.DefaultSafetyNetInterval
}

// due says whether a poll at now reads e: passes at every poll, what webhooks report too once a safety-net
// interval has passed since its last complete read (a backlog is read on at every poll).
func (w *pollerRun) due(e access.Entity, now time.Time) bool {
	read := w.st.Cursors[e].Read
	return !e.ReportedByWebhook() || read.IsZero() || now.Sub(read) >= w.safetyNetInterval()
}

func (w *pollerRun) budget() int {
	if n := w.loc.Sync.PollCallsPerMinute; n > 0 {
		return n
	}
	return access.DefaultPollCallsPerMinute
}

// refill adds the calls earned since the last refill, capped at one minute's worth, and returns how many whole
// calls this poll may make.
func (w *pollerRun) refill(now time.Time) int {
	perMinute := float64(w.budget())
	if w.st.Refilled.IsZero() {
		w.st.Credits = perMinute
	} else {
		w.st.Credits = min(perMinute, w.st.Credits+perMinute*now.Sub(w.st.Refilled).Minutes())
	}
	w.st.Refilled = now
	return int(w.st.Credits)
}

// poll reads the changes and dispatches them; it returns how long Nexudus asked to wait, if it throttled.
func (w *pollerRun) poll(ctx workflow.Context) time.Duration {
	now := workflow.Now(ctx)
	calls := w.refill(now)
	if calls < 1 {
		return 0
	}
	// Entities take turns at the head of the poll, so a budget smaller than their number serves all of them.
	n := len(access.PolledEntities)
	ents := make([]access.Entity, 0, n)
	for i := range n {
		if e := access.PolledEntities[(w.st.Next+i)%n]; len(ents) < calls && w.due(e, now) {
			ents = append(ents, e)
		}
	}
	w.st.Next = (w.st.Next + 1) % n
	lookback := w.loc.Sync.PollLookback
	if lookback <= 0 {
		lookback = access.DefaultPollLookback
	}
	req := access.PollRequest{LocationID: w.in.LocationID, Cursors: map[access.Entity]access.PollCursor{},
		Entities: ents, MaxCalls: calls, PageSize: w.loc.Sync.PollPageSize}
	if req.PageSize <= 0 {
		req.PageSize = access.DefaultPollPageSize
	}
	for _, e := range ents {
		cur, ok := w.st.Cursors[e]
		if !ok {
			// A new poller reads back a while: changes made while no poller ran are passed on too.
			cur = access.PollCursor{From: now.Add(-lookback).Truncate(time.Minute), Page: 1}
			w.st.Cursors[e] = cur
		}
		req.Cursors[e] = access.PollCursor{From: cur.From, Page: cur.Page}
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: pollAttemptTimeout,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: 3, NonRetryableErrorTypes: access.FinalErrorTypes},
		Summary: fmt.Sprintf("read Nexudus changes (%d calls at most)", calls),
	})
	res, err := fn(a.PollChanges).run(actx, req)
	if err != nil {
		w.st.LastError = "poll: " + errText(err)
		workflow.GetLogger(ctx).Warn("polling Nexudus failed", "Error", err)
		return 0
	}
	w.st.Polls++
	w.st.Calls += res.Calls
	w.st.Credits = max(0, w.st.Credits-float64(res.Calls))
	w.st.LastPoll = now

	items, fresh := w.dedup(res)
	if len(items) > 0 {
		dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout:    pollAttemptTimeout,
			ScheduleToCloseTimeout: dispatchTotalTimeout,
			HeartbeatTimeout:       time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
				MaximumInterval: time.Minute, NonRetryableErrorTypes: access.FinalErrorTypes},
			Summary: fmt.Sprintf("pass %d Nexudus changes on", len(items)),
		})
		dr, err := fn(a.DispatchChanges).run(dctx, access.DispatchRequest{LocationID: w.in.LocationID, Items: items})
		if err != nil {
			// The cursors stay: the next poll reads these changes again and dispatches them again (a repeated
			// "changed" costs one re-read, a lost one would cost access).
			w.st.LastError = "dispatch: " + errText(err)
			return res.RetryAfter
		}
		w.st.Started += dr.Started
		w.st.Signalled += dr.Signalled
	}
	w.st.Changes += fresh
	w.advance(res, now)
	return res.RetryAfter
}

// dedup returns the changes not handled before, in the order read, and how many there are.
func (w *pollerRun) dedup(res access.PollResult) ([]access.Dispatch, int) {
	var items []access.Dispatch
	fresh := 0
	for _, ec := range res.Entities {
		seen := w.st.Cursors[ec.Entity].Seen
		batch := map[string]bool{}
		for _, rec := range ec.Changes {
			key := rec.Key()
			if _, dup := seen[key]; dup || batch[key] {
				w.st.Duplicates++
				continue
			}
			batch[key] = true
			fresh++
			if rec.Action != access.DispatchSkip {
				items = append(items, access.Dispatch{Entity: ec.Entity, ID: rec.ID, Action: rec.Action,
					UpdatedOn: rec.UpdatedOn})
			}
		}
	}
	return items, fresh
}

// advance moves each entity's cursor past what was read and dispatched, and notes when an entity was read to
// the end.
func (w *pollerRun) advance(res access.PollResult, now time.Time) {
	var errs []string
	for _, ec := range res.Entities {
		cur := w.st.Cursors[ec.Entity]
		if cur.Seen == nil {
			cur.Seen = map[string]time.Time{}
		}
		for _, rec := range ec.Changes {
			cur.Seen[rec.Key()] = rec.UpdatedOn
			if rec.UpdatedOn.After(cur.High) {
				cur.High = rec.UpdatedOn
			}
		}
		if ec.Error != "" {
			// What was read is remembered; the position stays, so the next poll reads the rest.
			errs = append(errs, string(ec.Entity)+": "+ec.Error)
			w.st.Cursors[ec.Entity] = cur
			continue
		}
		from := cur.From
		if !cur.High.IsZero() {
			from = maxTime(cur.From, cur.High.Truncate(time.Minute).Add(-time.Minute))
		}
		if !ec.More {
			cur.Read = now
		}
		switch {
		case ec.More && ec.Pages == 0:
			// Nothing was read.
		case !ec.More || from.After(cur.From):
			cur.From, cur.Page = from, 1
		case ec.Pages > max(cur.Page, 1):
			// Out of budget inside one minute's changes: continue there, re-reading the last page in case
			// records moved between pages meanwhile.
			cur.Page = ec.Pages
		default:
			cur.Page = max(cur.Page, 1) + 1
		}
		deleteWhere(cur.Seen, func(_ string, t time.Time) bool { return t.Before(cur.From) })
		w.st.Cursors[ec.Entity] = cur
	}
	w.st.LastError = strings.Join(errs, "; ")
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (w *pollerRun) publish(ctx workflow.Context) {
	v := saValues{kind: access.KindPoller, location: strconv.FormatInt(w.in.LocationID, 10)}
	v.upsert(ctx, &w.sa, !w.published)
	w.published = true
	workflow.SetCurrentDetails(ctx, w.details())
}

// details is the markdown shown in the Web UI.
//
//workflowcheck:ignore
func (w *pollerRun) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** · passes every %s, the rest (webhooks' safety net) every %s · %d Nexudus calls a "+
		"minute\n\n", access.PollerWorkflowID(w.in.LocationID), w.interval(), w.safetyNetInterval(), w.budget())
	fmt.Fprintf(&b, "Polls %d · calls %d · changes %d · duplicates %d · started %d · signalled %d\n\n",
		w.st.Polls, w.st.Calls, w.st.Changes, w.st.Duplicates, w.st.Started, w.st.Signalled)
	for _, e := range slices.Sorted(maps.Keys(w.st.Cursors)) {
		c := w.st.Cursors[e]
		fmt.Fprintf(&b, "- %s: from %s (page %d), newest %s\n", e, fmtTime(c.From), max(c.Page, 1), fmtTime(c.High))
	}
	if w.st.LastError != "" {
		fmt.Fprintf(&b, "\nLast error: %s\n", w.st.LastError)
	}
	return b.String()
}
