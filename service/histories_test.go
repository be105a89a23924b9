package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// TestRecordHistories records real histories of every workflow type for the replay tests in workflows/. It runs
// only when asked, after a deliberate change of workflow code has been released:
//
//	NEXSALTO_RECORD_HISTORIES=1 go test ./service -run TestRecordHistories
//
// Recorded files are kept forever: a later change that cannot replay them would break workflows that are
// sleeping in production (use workflow.GetVersion, or a revision in the workflow's input, instead).
func TestRecordHistories(t *testing.T) {
	if os.Getenv("NEXSALTO_RECORD_HISTORIES") == "" {
		t.Skip("set NEXSALTO_RECORD_HISTORIES=1 to record replay histories")
	}
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicySuspend, plain: true})
	now := time.Now().Truncate(time.Second)
	// A booking moved once, overlapping a second one of the same customer and room.
	moved, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(now.Add(2 * time.Second)), ToTime: at(now.Add(4 * time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(now.Add(3 * time.Second)), ToTime: at(now.Add(6 * time.Second))}); err != nil {
		t.Fatal(err)
	}
	b, _ := e.nx.GetBooking(e.ctx, moved)
	b.ToTime = at(now.Add(5 * time.Second))
	if err := e.nx.UpdateBooking(e.ctx, b); err != nil {
		t.Fatal(err)
	}
	pass, err := e.nx.CreateCoworkerTimePass(e.ctx, nexudus.CoworkerTimePass{CoworkerId: 102, BusinessId: business, TimePassId: dayPassID, ExpireDate: at(now.Add(4 * time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(pass)}); err != nil {
		t.Fatal(err)
	}
	contract, err := e.nx.CreateContract(e.ctx, nexudus.CoworkerContract{CoworkerId: 101, StartDate: at(now.Add(-time.Hour)), Active: true, FloorPlanDeskIds: nexudus.IDList{officeID}})
	if err != nil {
		t.Fatal(err)
	}
	visitor, err := e.nx.CreateVisitor(e.ctx, nexudus.Visitor{BusinessId: business, FullName: "Vera", CoworkerId: 100, ExpectedArrival: at(now)})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("office granted", 10*time.Second, func() bool { return e.inGroup(ben, gOffice) })
	c, _ := e.nx.GetContract(e.ctx, contract)
	c.FloorPlanDeskIds = nexudus.IDList{deskID}
	c.CancellationDate = at(now.Add(8 * time.Second))
	if err := e.nx.UpdateContract(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	e.eventually("everything revoked", 20*time.Second, func() bool {
		return !e.inGroup(ana, gRoom) && !e.inGroup(cleo, gDayPass) && !e.inGroup(ben, gDesk)
	})
	time.Sleep(2 * time.Second) // suspensions
	// Salto slower than a local attempt allows: Ana's next pass is subscribed and granted through the regular
	// activities the customer workflow falls back to, so that path is in a recorded history too.
	if err := e.salto.SetFaults(saltoks.Faults{Latency: 3500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	slow, err := e.nx.CreateCoworkerTimePass(e.ctx, nexudus.CoworkerTimePass{CoworkerId: 100, BusinessId: business, TimePassId: dayPassID, ExpireDate: at(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(slow)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("Ana's pass granted through Salto's slowness", 30*time.Second, func() bool { return e.inGroup(ana, gDayPass) })
	if err := e.salto.SetFaults(saltoks.Faults{}); err != nil {
		t.Fatal(err)
	}
	writeHistories(t, e, "", []string{
		access.Ref{Kind: access.KindBooking, ID: int64(moved)}.WorkflowID(),
		access.Ref{Kind: access.KindPass, ID: int64(pass)}.WorkflowID(),
		access.Ref{Kind: access.KindContract, ID: int64(contract)}.WorkflowID(),
		access.Ref{Kind: access.KindVisitor, ID: int64(visitor)}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 100}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 101}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 102}.WorkflowID(),
		access.NexudusBudgetID,
	})
}

// TestRecordEdgeHistories records the paths the main recording does not take: a customer without a free
// licence seat, a user held by a group we do not own (not-ours), a booking of an unmapped room that finishes at
// once, and a customer re-linked and then deleted in Nexudus.
//
//	NEXSALTO_RECORD_HISTORIES=1 go test ./service -run TestRecordEdgeHistories
func TestRecordEdgeHistories(t *testing.T) {
	if os.Getenv("NEXSALTO_RECORD_HISTORIES") == "" {
		t.Skip("set NEXSALTO_RECORD_HISTORIES=1 to record replay histories")
	}
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicySuspend, plain: true})
	booking := func(coworker, resource int, until time.Duration) int {
		t.Helper()
		id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: resource, CoworkerId: coworker,
			FromTime: at(time.Now().Add(-time.Minute)), ToTime: at(time.Now().Add(until))})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Cleo's user is held by a group the mapping does not name: the policy leaves it alone.
	cleoUser, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Cleo", Alias: "Cleo (building manager)", Email: cleo})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.staffClient().AddGroupMember(e.ctx, site, gNotOurs, cleoUser.User.ID); err != nil {
		t.Fatal(err)
	}
	booking(102, roomID, 2*time.Second)
	cleoID := access.CustomerKey{LocationID: business, CoworkerID: 102}.WorkflowID()
	e.eventually("cleo not ours", 20*time.Second, func() bool {
		st, ok := e.customerState(cleoID)
		return ok && st.State == access.StateNotOurs
	})

	// A booking of a room nobody mapped: its workflow reads it once and finishes.
	if _, err := e.nexsim.Seed(nexudussim.Dataset{Resources: []nexudussim.Resource{
		{Base: nexudussim.Base{Id: 99}, BusinessId: business, Name: "Attic"}}}); err != nil {
		t.Fatal(err)
	}
	unmapped := access.Ref{Kind: access.KindBooking, ID: int64(booking(101, 99, time.Hour))}
	e.eventually("the unmapped booking's workflow finished", 10*time.Second, func() bool {
		d, err := e.tc.DescribeWorkflowExecution(e.ctx, unmapped.WorkflowID(), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})

	// Ben has a pass; his coworker record changes (relink), then he is deleted in Nexudus.
	pass, err := e.nx.CreateCoworkerTimePass(e.ctx, nexudus.CoworkerTimePass{CoworkerId: 101, BusinessId: business,
		TimePassId: dayPassID, ExpireDate: at(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(pass)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("ben has the day pass", 10*time.Second, func() bool { return e.inGroup(ben, gDayPass) })
	benID := access.CustomerKey{LocationID: business, CoworkerID: 101}.WorkflowID()
	if _, err := dispatch.SignalIfRunning(e.ctx, e.tc, benID, access.SignalRelink, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch.SignalIfRunning(e.ctx, e.tc, benID, access.SignalCustomerDeleted,
		access.CustomerDeleted{AsOf: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	e.eventually("ben's access gone", 20*time.Second, func() bool { return !e.inGroup(ben, gDayPass) })
	// Ana is suspended after her booking; the freed seat goes to staff; her next booking finds none.
	if err := e.salto.SetSeats(site, 2); err != nil {
		t.Fatal(err)
	}
	booking(100, roomID, 2*time.Second)
	e.eventually("ana suspended", 20*time.Second, func() bool {
		u, ok := e.salto.UserByEmail(site, ana)
		return ok && u.SubscriptionState == "suspended"
	})
	if _, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Dora", Email: "dora@example.com"}); err != nil {
		t.Fatal(err)
	}
	booking(100, roomID, time.Hour)
	anaID := access.CustomerKey{LocationID: business, CoworkerID: 100}.WorkflowID()
	e.eventually("ana without a seat", 20*time.Second, func() bool {
		st, ok := e.customerState(anaID)
		return ok && st.State == access.StateNoSeat
	})

	time.Sleep(2 * time.Second)
	writeHistories(t, e, "edge-", []string{cleoID, anaID, benID, unmapped.WorkflowID()})
}

func writeHistories(t *testing.T, e *env, prefix string, ids []string) {
	t.Helper()
	dir := filepath.Join("..", "workflows", "testdata", "histories")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		events, err := e.history(id)
		if err != nil {
			t.Fatal(err)
		}
		h := historypb.History{Events: events}
		raw, err := protojson.MarshalOptions{Multiline: true}.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, time.Now().Format("2006-01-02")+"-"+prefix+id+".json")
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d events", name, len(h.Events))
	}
}
