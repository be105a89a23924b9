// Package dispatch is the one client-side home for starting and signalling the access workflows: the webhook
// receiver, the change poller, reconciliation and the starter all hand a change to the workflow that owns it
// through here, so every start carries the same id, search attributes, summary and priority.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
)

// StartEntitlement tells an entitlement workflow to read its entity again, starting it when none runs
// (SignalWithStart). The id reuse policy stays ALLOW_DUPLICATE on purpose: a run started for an entity that
// already ended, was cancelled or deleted reads that first and finishes without giving access, so a late
// webhook or a poll never resurrects it.
func StartEntitlement(ctx context.Context, c client.Client, taskQueue string, ref access.Ref) error {
	return startEntitlement(ctx, c, taskQueue, ref, nil)
}

// StartEntitlementObserved is StartEntitlement with the entity a signed webhook described, so the workflow need
// not read it from Nexudus (see access.Observed).
func StartEntitlementObserved(ctx context.Context, c client.Client, taskQueue string, obs access.Observed) error {
	return startEntitlement(ctx, c, taskQueue, obs.Entitlement.Ref, obs)
}

// StartEntitlementSeen is StartEntitlement for a change the change poller listed, updated at seen: a running
// workflow that already holds the entity that new (a webhook brought it) does not read it again.
func StartEntitlementSeen(ctx context.Context, c client.Client, taskQueue string, ref access.Ref, seen time.Time) error {
	return startEntitlement(ctx, c, taskQueue, ref, access.Observed{Seen: seen})
}

// startEntitlement sends payload (nil: read Nexudus) with the signal.
func startEntitlement(ctx context.Context, c client.Client, taskQueue string, ref access.Ref, payload any) error {
	opts := client.StartWorkflowOptions{
		ID:        ref.WorkflowID(),
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			access.SAKind.ValueSet(string(ref.Kind)),
		),
		StaticSummary: fmt.Sprintf("Nexudus %s %d", ref.Kind, ref.ID),
	}
	_, err := c.SignalWithStartWorkflow(ctx, ref.WorkflowID(), access.SignalChanged, payload, opts,
		ref.Kind.WorkflowType(), access.EntitlementInput{Ref: ref})
	if err != nil {
		return fmt.Errorf("start or signal %s: %w", ref.WorkflowID(), err)
	}
	return nil
}

// SignalIfRunning sends a signal to a workflow that runs; running reports whether it did. Nothing is started:
// for a record that is gone there is nothing to read, and a customer without a workflow has nothing to
// refresh.
func SignalIfRunning(ctx context.Context, c client.Client, workflowID, signal string, payload any) (running bool, err error) {
	err = c.SignalWorkflow(ctx, workflowID, "", signal, payload)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("signal %s to %s: %w", signal, workflowID, err)
	}
	return true, nil
}

// SignalWithStartCustomer delivers a signal to a customer workflow, starting it when none runs.
func SignalWithStartCustomer(ctx context.Context, c client.Client, taskQueue string, key access.CustomerKey,
	signal string, payload any) error {
	opts := client.StartWorkflowOptions{
		ID:        key.WorkflowID(),
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			access.SAKind.ValueSet(access.KindCustomer),
			access.SACustomer.ValueSet(strconv.FormatInt(key.CoworkerID, 10)),
			access.SALocation.ValueSet(strconv.FormatInt(key.LocationID, 10)),
		),
		StaticSummary: fmt.Sprintf("Customer %d at location %d", key.CoworkerID, key.LocationID),
		Priority:      temporal.Priority{PriorityKey: access.CustomerPriorityKey},
	}
	_, err := c.SignalWithStartWorkflow(ctx, key.WorkflowID(), signal, payload, opts,
		access.WorkflowCustomer, access.NewCustomerInput(key))
	if err != nil {
		return fmt.Errorf("signal %s to %s: %w", signal, key.WorkflowID(), err)
	}
	return nil
}

// SignalCustomers signals the running customer workflows of a coworker at each of the locations and returns
// the ids of those reached.
func SignalCustomers(ctx context.Context, c client.Client, locations []int64, coworkerID int64, signal string,
	payload any) ([]string, error) {
	if coworkerID <= 0 {
		return nil, nil
	}
	var reached []string
	for _, loc := range locations {
		id := access.CustomerKey{LocationID: loc, CoworkerID: coworkerID}.WorkflowID()
		running, err := SignalIfRunning(ctx, c, id, signal, payload)
		if err != nil {
			return nil, err
		}
		if running {
			reached = append(reached, id)
		}
	}
	return reached, nil
}
