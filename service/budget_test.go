package service_test

import (
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

// The per-booking budget of the access workflows, counted on a real server with the real worker: for a
// customer whose Salto user exists and is known, an unchanged booking costs at most 2 Salto calls over its
// life, no Nexudus read (the signed webhook's body stands for it), and at most 30 history events.
func TestUnchangedBookingBudget(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep})
	book := func(from, to time.Time) int {
		id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: boothID, CoworkerId: 100, FromTime: at(from), ToTime: at(to)})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// A first booking links Ana's Salto user; the customer workflow keeps its ids.
	now := time.Now().Truncate(time.Second)
	book(now, now.Add(2*time.Second))
	e.eventually("first booking granted", 5*time.Second, func() bool { return e.inGroup(ana, gBooth) })
	e.eventually("first booking revoked", 10*time.Second, func() bool { return !e.inGroup(ana, gBooth) })
	time.Sleep(500 * time.Millisecond) // let the customer workflow settle
	e.salto.ResetStats()
	e.nexsim.ResetStats()
	deliveries := len(e.nexsim.Deliveries())

	now = time.Now().Truncate(time.Second)
	id := book(now.Add(3*time.Second), now.Add(5*time.Second))
	e.eventually("second booking granted", 10*time.Second, func() bool { return e.inGroup(ana, gBooth) })
	e.eventually("second booking revoked", 15*time.Second, func() bool { return !e.inGroup(ana, gBooth) })
	wfID := access.Ref{Kind: access.KindBooking, ID: int64(id)}.WorkflowID()
	e.eventually("booking workflow closed", 10*time.Second, func() bool {
		d, err := e.tc.DescribeWorkflowExecution(e.ctx, wfID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	time.Sleep(500 * time.Millisecond)

	saltoCalls := e.salto.Stats().Total
	webhooks := len(e.nexsim.Deliveries()) - deliveries
	reads := 0
	for call, n := range e.nexsim.Stats().Calls {
		if strings.HasPrefix(call, "GET ") {
			reads += n
		}
	}
	hist, err := e.history(wfID)
	if err != nil {
		t.Fatal(err)
	}
	events := len(hist)
	t.Logf("unchanged booking: %d Salto calls, %d Nexudus reads for %d webhook(s), %d history events", saltoCalls, reads, webhooks, events)
	if saltoCalls > 2 {
		t.Errorf("%d Salto calls, budget 2: %v", saltoCalls, e.salto.Stats().Calls)
	}
	if webhooks < 1 || reads > 0 {
		t.Errorf("%d Nexudus reads for %d webhooks, budget none: %v", reads, webhooks, e.nexsim.Stats().Calls)
	}
	if events > 30 {
		t.Errorf("%d history events, budget 30", events)
	}
}
