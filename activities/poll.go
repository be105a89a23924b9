package activities

import (
	"context"
	"fmt"
	"net/url"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
)

// PollChanges reads, for each requested entity, the records Nexudus changed since the entity's cursor
// (from_{Entity}_UpdatedOn, oldest first), within MaxCalls calls, and says for each what the poller should do
// with it. The Nexudus client keeps every call inside the configured rate and waits out 409 throttling; a
// throttle longer than it waits ends the poll early with RetryAfter, returning what was read so far.
//
// One poller reads for the whole Nexudus account (the lists are account-wide, and the account's budget is
// one): every change is routed to the location it belongs to (route). Its LocationID is the location whose
// poller it is, the first configured one.
func (a *Activities) PollChanges(ctx context.Context, req access.PollRequest) (access.PollResult, error) {
	ctx = withPriority(ctx, access.PriorityPoll)
	var out access.PollResult
	if _, ok := a.Config.Location(req.LocationID); !ok {
		return out, access.NewFinalError(access.ErrConfig, fmt.Sprintf("location %d is not in the configuration", req.LocationID), nil)
	}
	size := req.PageSize
	if size <= 0 {
		size = config.DefaultPollPageSize
	}
	for i, ent := range req.Entities {
		cur := req.Cursors[ent]
		ec := access.EntityChanges{Entity: ent}
		// Each entity after this one keeps one call of the budget.
		allowance := req.MaxCalls - (len(req.Entities) - i - 1)
		for page := max(cur.Page, 1); ; page++ {
			if out.Calls >= allowance {
				ec.More = true
				break
			}
			recs, hasNext, err := a.changedPage(ctx, ent, cur, page, size)
			out.Calls++
			if err != nil {
				if ctx.Err() != nil {
					return out, ctx.Err()
				}
				ec.Error = err.Error()
				if nexudus.IsThrottled(err) {
					out.RetryAfter = max(nexudus.RetryAfter(err), 1)
					out.Entities = append(out.Entities, ec)
					return out, nil
				}
				break
			}
			ec.Pages = page
			ec.Changes = append(ec.Changes, recs...)
			activity.RecordHeartbeat(ctx, fmt.Sprintf("%s page %d", ent, page))
			if !hasNext {
				break
			}
		}
		out.Entities = append(out.Entities, ec)
	}
	return out, nil
}

// changedPage reads one page of an entity's changes and decides each record's dispatch.
func (a *Activities) changedPage(ctx context.Context, ent access.Entity, cur access.PollCursor, page, size int) (
	[]access.ChangedRecord, bool, error) {
	q := url.Values{}
	q.Set("from_"+string(ent)+"_UpdatedOn", nexudus.FormatFilterTime(cur.From))
	q.Set("orderBy", "UpdatedOn")
	q.Set("dir", "Ascending")
	var recs []access.ChangedRecord
	add := func(e nexudus.Entity, action access.DispatchAction) {
		recs = append(recs, access.ChangedRecord{ID: int64(e.Id), UpdatedOn: e.UpdatedOn.UTC(), Action: action})
	}
	switch ent {
	case access.EntityPass:
		p, err := nexudus.ListPage[nexudus.CoworkerTimePass](ctx, a.Nexudus, nexudus.PathCoworkerTimePasses, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, route(locationOf(a.Config, r), true))
		}
		return recs, p.HasNextPage, nil
	case access.EntityVisitor:
		p, err := nexudus.ListPage[nexudus.Visitor](ctx, a.Nexudus, nexudus.PathVisitors, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, route(locationOf(a.Config, r), true))
		}
		return recs, p.HasNextPage, nil
	case access.EntityBooking:
		p, err := nexudus.ListPage[nexudus.Booking](ctx, a.Nexudus, nexudus.PathBookings, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, route(locationOf(a.Config, r), true))
		}
		return recs, p.HasNextPage, nil
	case access.EntityContract:
		p, err := nexudus.ListPage[nexudus.CoworkerContract](ctx, a.Nexudus, nexudus.PathCoworkerContracts, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			// A list record without desk ids may just be partial: one read of the record decides.
			add(r.Entity, route(locationOf(a.Config, r), len(r.DeskIDs()) > 0))
		}
		return recs, p.HasNextPage, nil
	case access.EntityCoworker:
		p, err := nexudus.ListPage[nexudus.Coworker](ctx, a.Nexudus, nexudus.PathCoworkers, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, access.DispatchSignal)
		}
		a.rememberCoworkers(p.Records)
		return recs, p.HasNextPage, nil
	}
	return nil, false, access.NewFinalError(access.ErrConfig, fmt.Sprintf("the poller does not read %q", ent), nil)
}

// locationOf is the business id of the record's location by the rules (rules.Locate), or 0.
func locationOf(cfg *config.Config, record any) int64 {
	if l, _ := rules.Locate(cfg, record); l != nil {
		return l.BusinessID
	}
	return 0
}

// route decides for a record whose location is owner (0: none configured, or nothing of it mapped). A record
// of a location starts its workflow; one mapped nowhere starts nothing, but a running workflow must still hear
// of it (a booking moved to an unmapped room). known is false when the list record may lack what the mapping
// needs: then the workflow is started and its read decides.
func route(owner int64, known bool) access.DispatchAction {
	if owner != 0 || !known {
		return access.DispatchStart
	}
	return access.DispatchSignal
}

// dispatchProgress is DispatchChanges' heartbeat: a retried attempt skips what was done.
type dispatchProgress struct {
	Done   int
	Result access.DispatchResult
}

// DispatchChanges passes each changed record on: SignalWithStart for entitlements, a "changed" signal to a
// running workflow for coworkers (their customer workflow at this location) and unmapped records. Progress
// is heartbeated, so a retried attempt continues after the last record handled.
func (a *Activities) DispatchChanges(ctx context.Context, req access.DispatchRequest) (access.DispatchResult, error) {
	var p dispatchProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for i := p.Done; i < len(req.Items); i++ {
		it := req.Items[i]
		var err error
		switch kind, ok := it.Entity.EntitlementKind(); {
		case it.Action == access.DispatchSkip:
		case !ok:
			// A coworker is a customer at every location: relink the customer workflows that run.
			var reached []string
			if reached, err = dispatch.SignalCustomers(ctx, a.Temporal, a.Config.LocationIDs(), it.ID,
				access.SignalRelink, access.Relink{UpdatedOn: it.UpdatedOn}); err == nil {
				p.Result.Signalled += len(reached)
				if len(reached) == 0 {
					p.Result.NotRunning++
				}
			}
		case it.Action == access.DispatchStart:
			if err = dispatch.StartEntitlementSeen(ctx, a.Temporal, a.TaskQueue, access.Ref{Kind: kind, ID: it.ID},
				it.UpdatedOn); err == nil {
				p.Result.Started++
			}
		default:
			// The change's UpdatedOn: a workflow that already holds it (a webhook brought it) reads nothing.
			err = countSignal(ctx, &p.Result, a.Temporal, access.Ref{Kind: kind, ID: it.ID}.WorkflowID(),
				access.SignalChanged, &access.Observed{Seen: it.UpdatedOn})
		}
		if err != nil {
			return p.Result, fmt.Errorf("dispatch %s %d: %w", it.Entity, it.ID, err)
		}
		p.Done = i + 1
		activity.RecordHeartbeat(ctx, p)
	}
	return p.Result, nil
}

func countSignal(ctx context.Context, r *access.DispatchResult, c client.Client, workflowID, signal string,
	payload any) error {
	running, err := dispatch.SignalIfRunning(ctx, c, workflowID, signal, payload)
	switch {
	case err != nil:
	case running:
		r.Signalled++
	default:
		r.NotRunning++
	}
	return err
}
