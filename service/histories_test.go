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
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
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
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicySuspend})
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
	if err := service.StartOrSignal(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(pass)}); err != nil {
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
	if err := service.StartOrSignal(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(slow)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("Ana's pass granted through Salto's slowness", 30*time.Second, func() bool { return e.inGroup(ana, gDayPass) })
	if err := e.salto.SetFaults(saltoks.Faults{}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "workflows", "testdata", "histories")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		access.Ref{Kind: access.KindBooking, ID: int64(moved)}.WorkflowID(),
		access.Ref{Kind: access.KindPass, ID: int64(pass)}.WorkflowID(),
		access.Ref{Kind: access.KindContract, ID: int64(contract)}.WorkflowID(),
		access.Ref{Kind: access.KindVisitor, ID: int64(visitor)}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 100}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 101}.WorkflowID(),
		access.CustomerKey{LocationID: business, CoworkerID: 102}.WorkflowID(),
	} {
		events, err := e.history(id)
		if err != nil {
			t.Fatal(err)
		}
		h := historypb.History{Events: events}
		raw, err := protojson.MarshalOptions{Multiline: true}.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, time.Now().Format("2006-01-02")+"-"+id+".json")
		if err := os.WriteFile(name, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d events", name, len(h.Events))
	}
}
