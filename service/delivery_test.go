package service_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// workflowExists reports whether any run of the workflow id exists (running or closed).
func (e *env) workflowExists(id string) bool {
	e.t.Helper()
	_, err := e.tc.DescribeWorkflowExecution(e.ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return true
}

// lastDelivery is the simulator's last delivery of action for record id.
func (e *env) lastDelivery(action nexudus.Action, id int) (nexudussim.Delivery, bool) {
	var out nexudussim.Delivery
	found := false
	for _, d := range e.nexsim.Deliveries() {
		if d.ActionName == action.String() && d.RecordId == id && d.Status != nexudussim.DeliveryQueued {
			out, found = d, true
		}
	}
	return out, found
}

// keepWebhooks leaves only the named actions registered, so a test shows what those webhooks alone do.
func (e *env) keepWebhooks(actions ...nexudus.Action) {
	e.t.Helper()
	hooks, err := e.nx.ListWebhooks(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range hooks {
		if !slices.Contains(actions, h.Action) {
			if err := e.nx.DeleteWebhook(e.ctx, h.Id); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// Bookings of a room the mapping does not name finish as soon as they have been read (skipped, with why): N
// unmapped bookings leave 0 running workflows. A later change of the mapping makes them matter again when the
// backfill (or reconciliation) starts them.
func TestUnmappedBookingsLeaveNoRunningWorkflow(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Minute, lag: time.Minute, policy: config.PolicyKeep, noSync: true})
	const unmappedRoom = 11
	if _, err := e.nexsim.Seed(nexudussim.Dataset{Resources: []nexudussim.Resource{
		{Base: nexudussim.Base{Id: unmappedRoom}, BusinessId: business, Name: "Meeting room 11"}}}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	start := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	var ids []string
	for i := range n {
		id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: unmappedRoom, CoworkerId: 100 + i%3,
			FromTime: at(start.Add(time.Duration(i) * time.Hour)), ToTime: at(start.Add(time.Duration(i)*time.Hour + 30*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, access.Ref{Kind: access.KindBooking, ID: int64(id)}.WorkflowID())
	}
	e.eventually("every unmapped booking read and finished", 20*time.Second, func() bool {
		for _, id := range ids {
			d, err := e.tc.DescribeWorkflowExecution(e.ctx, id, "")
			if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				return false
			}
		}
		return true
	})
	// The Web UI's "running" list (visibility) follows within moments.
	e.eventually("no booking workflow in the running list", 5*time.Second, func() bool {
		running, err := e.tc.CountWorkflow(e.ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "AccessKind = 'booking' AND ExecutionStatus = 'Running'"})
		return err == nil && running.GetCount() == 0
	})
	resp, err := e.tc.QueryWorkflow(e.ctx, ids[0], "", access.QueryEntitlement)
	if err != nil {
		t.Fatal(err)
	}
	var st access.EntitlementState
	if err := resp.Get(&st); err != nil {
		t.Fatal(err)
	}
	last := st.History[len(st.History)-1]
	if st.State != access.StateSkipped || !strings.Contains(last.Reason, "not mapped") {
		t.Errorf("state %s, last change %s %q: want skipped, saying the room is not mapped", st.State, last.Action, last.Reason)
	}

	// The operator maps the room and runs the backfill: the booking's workflow runs again and waits to grant.
	e.restartWorker(func(c *config.Config) { c.Locations[0].Resources[unmappedRoom] = []string{gRoom} })
	ref := access.Ref{Kind: access.KindBooking, ID: st.Entitlement.ID}
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, ref); err != nil {
		t.Fatal(err)
	}
	e.eventually("the newly mapped booking scheduled", 10*time.Second, func() bool {
		d, err := e.tc.DescribeWorkflowExecution(e.ctx, ref.WorkflowID(), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
}

// A delete never starts a run: a BookingDelete for a booking whose workflow has closed (or never ran) is
// answered 200 "ignored"; one for a running workflow reaches it, and it revokes.
func TestDeleteWebhookOnlySignalsARunningWorkflow(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, noSync: true})
	// A booking that ended yesterday, seeded (no webhook), then deleted by staff: nothing runs for it.
	old := nexudussim.Booking{Base: nexudussim.Base{Id: 7001}, ResourceId: roomID, CoworkerId: 100,
		FromTime: nexudussim.At(time.Now().Add(-26 * time.Hour)), ToTime: nexudussim.At(time.Now().Add(-25 * time.Hour))}
	if _, err := e.nexsim.Seed(nexudussim.Dataset{Bookings: []nexudussim.Booking{old}}); err != nil {
		t.Fatal(err)
	}
	if err := e.nx.DeleteBooking(e.ctx, old.Id); err != nil {
		t.Fatal(err)
	}
	var d nexudussim.Delivery
	e.eventually("BookingDelete delivered", 10*time.Second, func() bool {
		var ok bool
		d, ok = e.lastDelivery(nexudus.ActionBookingDelete, old.Id)
		return ok
	})
	if d.StatusCode != http.StatusOK {
		t.Fatalf("BookingDelete answered %d, want 200", d.StatusCode)
	}
	if id := (access.Ref{Kind: access.KindBooking, ID: int64(old.Id)}).WorkflowID(); e.workflowExists(id) {
		t.Errorf("a delete started %s", id)
	}
	body := `[{"Id":7002,"ResourceId":10,"CoworkerId":100}]`
	code, out := post(t, e.hookURL+e.cfg.Webhooks.PathPrefix+"/BookingDelete", body, signed(body))
	if code != http.StatusOK || out.Status != "ignored" {
		t.Errorf("delete of a booking nothing runs for: %d %+v, want 200 ignored", code, out)
	}

	// A running booking that is deleted loses its access at once.
	now := time.Now()
	id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(now), ToTime: at(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("ana granted", 10*time.Second, func() bool { return e.inGroup(ana, gRoom) })
	if err := e.nx.DeleteBooking(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.eventually("ana's access taken back after the delete", 10*time.Second, func() bool { return !e.inGroup(ana, gRoom) })
}

// A desk moved from one contract to another moves its access at once on the desk webhook alone: the contract
// that holds it now gains it, the one that held it loses it.
func TestDeskWebhookMovesAccess(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: 0, policy: config.PolicyKeep, noSync: true})
	since := at(time.Now().Add(-24 * time.Hour))
	a, err := e.nx.CreateContract(e.ctx, nexudus.CoworkerContract{CoworkerId: 100, TariffName: "Desk", StartDate: since,
		Active: true, FloorPlanDeskIds: nexudus.IDList{deskID}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.nx.CreateContract(e.ctx, nexudus.CoworkerContract{CoworkerId: 101, TariffName: "Desk", StartDate: since,
		Active: true, FloorPlanDeskIds: nexudus.IDList{officeID}})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("ana has the desk, ben the office", 10*time.Second, func() bool { return e.inGroup(ana, gDesk) && e.inGroup(ben, gOffice) })
	e.eventually("ana's contract visible as holding the desk", 10*time.Second, func() bool {
		n, err := e.tc.CountWorkflow(e.ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: "AccessDesks = '31' AND ExecutionStatus = 'Running'"})
		return err == nil && n.GetCount() == 1
	})
	// From here on only the desk webhooks reach the worker.
	e.keepWebhooks(nexudus.ActionFloorPlanDeskCreate, nexudus.ActionFloorPlanDeskUpdate, nexudus.ActionFloorPlanDeskDelete)
	ca, _ := e.nx.GetContract(e.ctx, a)
	ca.FloorPlanDeskIds = nil
	if err := e.nx.UpdateContract(e.ctx, ca); err != nil {
		t.Fatal(err)
	}
	cb, _ := e.nx.GetContract(e.ctx, b)
	cb.FloorPlanDeskIds = nexudus.IDList{officeID, deskID}
	if err := e.nx.UpdateContract(e.ctx, cb); err != nil {
		t.Fatal(err)
	}
	e.eventually("the desk moved from ana to ben", 10*time.Second, func() bool {
		return !e.inGroup(ana, gDesk) && e.inGroup(ben, gDesk) && e.inGroup(ben, gOffice)
	})
}

// A deleted customer loses access at once, with the location's no-access policy applied now; "Access control
// updated" re-reads the customer it names and is ignored when it names none.
func TestCustomerDeletedAndAccessControlUpdated(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicySuspend, noSync: true})
	now := time.Now()
	if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 102, FromTime: at(now), ToTime: at(now.Add(2 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	e.eventually("cleo granted", 10*time.Second, func() bool { return e.inGroup(cleo, gRoom) })

	customer := access.CustomerKey{LocationID: business, CoworkerID: 102}.WorkflowID()
	body := `[{"Id":55,"CoworkerId":102,"Description":"access control updated"}]`
	code, out := post(t, e.hookURL+e.cfg.Webhooks.PathPrefix+"/AccessControlUpdate", body, signed(body))
	if code != http.StatusOK || out.Status != "accepted" || !slices.Equal(out.Workflows, []string{customer}) {
		t.Errorf("AccessControlUpdate naming cleo: %d %+v, want 200 accepted to %s", code, out, customer)
	}
	body = `[{"Id":56,"Description":"something else"}]`
	code, out = post(t, e.hookURL+e.cfg.Webhooks.PathPrefix+"/AccessControlUpdate", body, signed(body))
	if code != http.StatusOK || out.Status != "ignored" {
		t.Errorf("AccessControlUpdate naming nobody: %d %+v, want 200 ignored", code, out)
	}

	if err := e.nx.DeleteCoworker(e.ctx, 102); err != nil {
		t.Fatal(err)
	}
	e.eventually("cleo out of every group and suspended at once", 10*time.Second, func() bool {
		u, ok := e.salto.UserByEmail(site, cleo)
		return ok && !e.inGroup(cleo, gRoom) && !e.inGroup(cleo, gEntrance) && u.SubscriptionState == "suspended"
	})
	d, ok := e.lastDelivery(nexudus.ActionCoworkerDelete, 102)
	if !ok || d.StatusCode != http.StatusOK {
		t.Errorf("CoworkerDelete delivery %+v, want answered 200", d)
	}
}
