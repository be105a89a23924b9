package activities

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// StartEntitlement tells an entitlement workflow to read its entity again, starting it when none runs
// (SignalWithStart). The id reuse policy stays ALLOW_DUPLICATE on purpose: a run started for an entity that
// already ended, was cancelled or deleted reads that first and finishes without giving access, so a late
// webhook or a poll never resurrects it. The webhook receiver, the change poller and reconciliation all start
// entitlements through here.
func StartEntitlement(ctx context.Context, c client.Client, taskQueue string, ref access.Ref) error {
	opts := client.StartWorkflowOptions{
		ID:        ref.WorkflowID(),
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			access.SAKind.ValueSet(string(ref.Kind)),
		),
		StaticSummary: fmt.Sprintf("Nexudus %s %d", ref.Kind, ref.ID),
	}
	_, err := c.SignalWithStartWorkflow(ctx, ref.WorkflowID(), access.SignalChanged, nil, opts,
		ref.Kind.WorkflowType(), access.EntitlementInput{Ref: ref})
	return err
}

// SignalIfRunning sends "changed" to a workflow that runs; running reports whether it did. Nothing is
// started: for a record that is gone there is nothing to read, so only a running workflow cares.
func SignalIfRunning(ctx context.Context, c client.Client, workflowID string) (running bool, err error) {
	err = c.SignalWorkflow(ctx, workflowID, "", access.SignalChanged, nil)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	return err == nil, err
}

// PollChanges reads, for each requested entity, the records Nexudus changed since the entity's cursor
// (from_{Entity}_UpdatedOn, oldest first), within MaxCalls calls, and says for each what the poller should do
// with it. The Nexudus client keeps every call inside the configured rate and waits out 409 throttling; a
// throttle longer than it waits ends the poll early with RetryAfter, returning what was read so far.
func (a *Activities) PollChanges(ctx context.Context, req access.PollRequest) (access.PollResult, error) {
	var out access.PollResult
	loc, ok := a.Config.Location(req.LocationID)
	if !ok {
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
			recs, hasNext, err := a.changedPage(ctx, loc, ent, cur, page, size)
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
func (a *Activities) changedPage(ctx context.Context, loc *config.Location, ent access.Entity, cur access.PollCursor,
	page, size int) ([]access.ChangedRecord, bool, error) {
	q := url.Values{}
	q.Set("from_"+string(ent)+"_UpdatedOn", nexudus.FormatFilterTime(cur.From))
	q.Set("orderBy", "UpdatedOn")
	q.Set("dir", "Ascending")
	business := strconv.FormatInt(loc.BusinessID, 10)
	var recs []access.ChangedRecord
	add := func(e nexudus.Entity, action access.DispatchAction) {
		recs = append(recs, access.ChangedRecord{ID: int64(e.Id), UpdatedOn: e.UpdatedOn.UTC(), Action: action})
	}
	switch ent {
	case access.EntityPass:
		q.Set("CoworkerTimePass_BusinessId", business)
		p, err := nexudus.ListPage[nexudus.CoworkerTimePass](ctx, a.Nexudus, nexudus.PathCoworkerTimePasses, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, access.DispatchStart)
		}
		return recs, p.HasNextPage, nil
	case access.EntityVisitor:
		q.Set("Visitor_BusinessId", business)
		p, err := nexudus.ListPage[nexudus.Visitor](ctx, a.Nexudus, nexudus.PathVisitors, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			add(r.Entity, access.DispatchStart)
		}
		return recs, p.HasNextPage, nil
	case access.EntityBooking:
		p, err := nexudus.ListPage[nexudus.Booking](ctx, a.Nexudus, nexudus.PathBookings, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			var desks []int
			if r.FloorPlanDeskId != nil {
				desks = []int{*r.FloorPlanDeskId}
			}
			add(r.Entity, a.dispatchFor(loc, a.bookingLocation(r.ResourceId, desks), true))
		}
		return recs, p.HasNextPage, nil
	case access.EntityContract:
		p, err := nexudus.ListPage[nexudus.CoworkerContract](ctx, a.Nexudus, nexudus.PathCoworkerContracts, q, page, size)
		if err != nil {
			return nil, false, err
		}
		for _, r := range p.Records {
			desks := r.DeskIDs()
			// A list record without desk ids may just be partial: one read of the record decides.
			add(r.Entity, a.dispatchFor(loc, a.bookingLocation(0, desks), len(desks) > 0))
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
		return recs, p.HasNextPage, nil
	}
	return nil, false, access.NewFinalError(access.ErrConfig, fmt.Sprintf("the poller does not read %q", ent), nil)
}

// bookingLocation is the configured location whose mapping names the resource or one of the desks (as
// LoadEntitlement decides), or 0.
func (a *Activities) bookingLocation(resource int, desks []int) int64 {
	for i := range a.Config.Locations {
		l := &a.Config.Locations[i]
		if len(l.Resources[int64(resource)]) > 0 {
			return l.BusinessID
		}
		for _, d := range desks {
			if len(l.Desks[int64(d)]) > 0 {
				return l.BusinessID
			}
		}
	}
	return 0
}

// dispatchFor decides for a record whose location is owner (0: mapped nowhere). A record mapped nowhere
// starts nothing, but a running workflow must still hear of it (a booking moved to an unmapped room); only the
// first configured location's poller sends that, so it is sent once. known is false when the list record may
// lack what the mapping needs: then the first location's poller starts the workflow, whose read decides.
func (a *Activities) dispatchFor(loc *config.Location, owner int64, known bool) access.DispatchAction {
	switch {
	case owner == loc.BusinessID:
		return access.DispatchStart
	case owner != 0:
		return access.DispatchSkip
	case len(a.Config.Locations) > 0 && a.Config.Locations[0].BusinessID != loc.BusinessID:
		return access.DispatchSkip
	case !known:
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
			id := access.CustomerKey{LocationID: req.LocationID, CoworkerID: it.ID}.WorkflowID()
			err = countSignal(ctx, &p.Result, a.Temporal, id)
		case it.Action == access.DispatchStart:
			if err = StartEntitlement(ctx, a.Temporal, a.TaskQueue, access.Ref{Kind: kind, ID: it.ID}); err == nil {
				p.Result.Started++
			}
		default:
			err = countSignal(ctx, &p.Result, a.Temporal, access.Ref{Kind: kind, ID: it.ID}.WorkflowID())
		}
		if err != nil {
			return p.Result, fmt.Errorf("dispatch %s %d: %w", it.Entity, it.ID, err)
		}
		p.Done = i + 1
		activity.RecordHeartbeat(ctx, p)
	}
	return p.Result, nil
}

func countSignal(ctx context.Context, r *access.DispatchResult, c client.Client, workflowID string) error {
	running, err := SignalIfRunning(ctx, c, workflowID)
	switch {
	case err != nil:
	case running:
		r.Signalled++
	default:
		r.NotRunning++
	}
	return err
}
