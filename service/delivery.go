package service

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
)

// deliver signals what the record concerns and returns the workflows it reached.
//
// Creates and updates of entitlements get SignalWithStart: the workflow reads the entity again, so a repeated,
// reordered or late webhook only causes a re-read, and a run started for an entity that has already ended does
// nothing. A delete only concerns a workflow that runs: there is nothing to read, so starting a run would cost a
// Nexudus read and a workflow to learn that the record is gone.
//
// A signed webhook's body that holds the whole record goes with the signal (access.Observed): it stands for the
// workflow's read of Nexudus, which is what keeps a webhook within Nexudus' per-account budget.
func (h *Webhooks) deliver(ctx context.Context, rec nexudus.Record, signed bool) ([]string, error) {
	var kind access.Kind
	switch rec.Kind {
	case nexudus.KindBooking:
		kind = access.KindBooking
	case nexudus.KindCoworkerContract:
		kind = access.KindContract
	case nexudus.KindVisitor:
		kind = access.KindVisitor
	case nexudus.KindCoworker:
		if rec.Action.Deletes() {
			return h.customerDeleted(ctx, int64(rec.CoworkerId))
		}
		return h.coworkerChanged(ctx, int64(rec.CoworkerId))
	case nexudus.KindAccessControl:
		// A hint that a customer's access changed in Nexudus: read the customer again.
		if rec.CoworkerId <= 0 {
			return nil, nil
		}
		return h.coworkerChanged(ctx, int64(rec.CoworkerId))
	case nexudus.KindFloorPlanDesk:
		return h.deskChanged(ctx, rec)
	default:
		// Check-ins are written by us (presence tracking); nothing to do.
		return nil, nil
	}
	ref := access.Ref{Kind: kind, ID: int64(rec.Id)}
	if signed && h.Mapping != nil && !rec.Action.Deletes() {
		if e, ok := rules.Observe(h.Mapping, rec, time.Now()); ok && e.Ref == ref {
			obs := access.Observed{Entitlement: e, Source: "webhook " + rec.Action.String()}
			if err := dispatch.StartEntitlementObserved(ctx, h.Temporal, h.TaskQueue, obs); err != nil {
				return nil, err
			}
			return []string{ref.WorkflowID()}, nil
		}
	}
	return h.entitlementChanged(ctx, ref, rec.Action.Deletes())
}

// entitlementChanged tells ref's workflow to read its entity again: starting it when none runs, unless the
// record is gone.
func (h *Webhooks) entitlementChanged(ctx context.Context, ref access.Ref, gone bool) ([]string, error) {
	if gone {
		running, err := dispatch.SignalIfRunning(ctx, h.Temporal, ref.WorkflowID(), access.SignalChanged, nil)
		if err != nil || !running {
			return nil, err
		}
	} else if err := dispatch.StartEntitlement(ctx, h.Temporal, h.TaskQueue, ref); err != nil {
		return nil, err
	}
	return []string{ref.WorkflowID()}, nil
}

// deskChanged moves a desk's or office's access as a contract change does: the contracts the desk names now
// read their desks again (started when none runs, so a new holder gets access at once), and so do the running
// contract workflows that held it before (found by their AccessDesks search attribute), so the old holder
// loses it.
func (h *Webhooks) deskChanged(ctx context.Context, rec nexudus.Record) ([]string, error) {
	var d nexudus.FloorPlanDesk
	if err := rec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode desk %d: %w", rec.Id, err)
	}
	var reached []string
	seen := map[string]bool{}
	for _, id := range d.CoworkerContractIds {
		ref := access.Ref{Kind: access.KindContract, ID: int64(id)}
		got, err := h.entitlementChanged(ctx, ref, rec.Action.Deletes())
		if err != nil {
			return nil, err
		}
		for _, w := range got {
			seen[w] = true
		}
		reached = append(reached, got...)
	}
	holders, err := h.contractsHolding(ctx, rec.Id)
	if err != nil {
		return nil, err
	}
	for _, id := range holders {
		if seen[id] {
			continue
		}
		running, err := dispatch.SignalIfRunning(ctx, h.Temporal, id, access.SignalChanged, nil)
		if err != nil {
			return nil, err
		}
		if running {
			reached = append(reached, id)
		}
	}
	return reached, nil
}

// contractsHolding lists the running contract workflows whose contract holds the desk. Visibility lags writes by
// moments: a contract that started holding the desk a second ago may be missing, which the change poller and
// reconciliation then cover.
func (h *Webhooks) contractsHolding(ctx context.Context, desk int) ([]string, error) {
	query := fmt.Sprintf("%s = '%s' AND %s = '%d' AND ExecutionStatus = 'Running'",
		access.SAKind.GetName(), access.KindContract, access.SADesks.GetName(), desk)
	var ids []string
	var token []byte
	for {
		resp, err := h.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, NextPageToken: token, PageSize: 100})
		if err != nil {
			return nil, fmt.Errorf("list contracts holding desk %d: %w", desk, err)
		}
		for _, ex := range resp.GetExecutions() {
			ids = append(ids, ex.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// coworkerChanged refreshes the customer workflows of a coworker (new email or access card). A coworker
// without a running customer workflow has nothing to refresh.
func (h *Webhooks) coworkerChanged(ctx context.Context, coworkerID int64) ([]string, error) {
	return dispatch.SignalCustomers(ctx, h.Temporal, h.Locations, coworkerID, access.SignalRelink, nil)
}

// customerDeleted ends a deleted customer's access at every location now, with the no-access policy applied at
// once rather than at the next reconciliation.
func (h *Webhooks) customerDeleted(ctx context.Context, coworkerID int64) ([]string, error) {
	return dispatch.SignalCustomers(ctx, h.Temporal, h.Locations, coworkerID, access.SignalCustomerDeleted,
		access.CustomerDeleted{AsOf: time.Now().UTC()})
}
