package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
)

const (
	ana  = "ana@example.com"
	ben  = "ben@example.com"
	cleo = "cleo@example.com"
)

// slack is how late a grant or revoke may land after its instant on a busy 2-core machine; the product
// target (under a second) is measured by the benchmark, not here.
const slack = 3 * time.Second

func at(t time.Time) nexudus.Time { return nexudus.NewTime(t) }

// A booking created in Nexudus reaches the worker as a signed webhook; its customer is put in the room's groups
// at start − lead and taken out at end + lag, and then suspended (no access left, policy suspend).
func TestBookingWebhookGrantsAndRevokesOnTime(t *testing.T) {
	lead, lag := 2*time.Second, 2*time.Second
	e := newEnv(t, envOptions{lead: lead, lag: lag, policy: config.PolicySuspend})
	start := time.Now().Add(6 * time.Second).Truncate(time.Second)
	end := start.Add(4 * time.Second)
	if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(start), ToTime: at(end)}); err != nil {
		t.Fatal(err)
	}
	e.never("granted before start − lead", time.Until(start.Add(-lead))-200*time.Millisecond, func() bool { return e.inGroup(ana, gRoom) })
	granted := e.eventually("ana in the room's groups", time.Until(start.Add(-lead))+slack, func() bool {
		return e.inGroup(ana, gRoom) && e.inGroup(ana, gEntrance)
	})
	revoked := e.eventually("ana out of the room's groups", time.Until(end.Add(lag))+slack, func() bool {
		return !e.inGroup(ana, gRoom) && !e.inGroup(ana, gEntrance)
	})
	if revoked.Before(end.Add(lag)) {
		t.Fatalf("revoked at %s, before end + lag %s", revoked.Format(time.StampMilli), end.Add(lag).Format(time.StampMilli))
	}
	t.Logf("grant %v after its instant, revoke %v after its instant", granted.Sub(start.Add(-lead)), revoked.Sub(end.Add(lag)))
	e.eventually("ana suspended once nothing is left", 10*time.Second, func() bool {
		u, ok := e.salto.UserByEmail(site, ana)
		return ok && u.SubscriptionState == "suspended"
	})
	u, _ := e.salto.UserByEmail(site, ana)
	if u.TagID == nil || *u.TagID != "A100" {
		t.Errorf("Salto tag = %v, want the Nexudus access card A100", u.TagID)
	}
}

// Two overlapping bookings of one room: the customer keeps access until the last one ends; a booking moved
// later through the API moves the grant.
func TestOverlappingBookingsKeepAccessUntilTheLastEnds(t *testing.T) {
	lag := 1 * time.Second
	e := newEnv(t, envOptions{lead: time.Second, lag: lag, policy: config.PolicyKeep})
	now := time.Now().Truncate(time.Second)
	first := nexudus.Booking{ResourceId: roomID, CoworkerId: 101, FromTime: at(now.Add(2 * time.Second)), ToTime: at(now.Add(5 * time.Second))}
	second := nexudus.Booking{ResourceId: roomID, CoworkerId: 101, FromTime: at(now.Add(4 * time.Second)), ToTime: at(now.Add(11 * time.Second))}
	for _, b := range []nexudus.Booking{first, second} {
		if _, err := e.nx.CreateBooking(e.ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	e.eventually("ben in the room", 5*time.Second, func() bool { return e.inGroup(ben, gRoom) })
	// The first booking's revoke instant (5 s + lag) passes: ben must stay in.
	e.never("ben removed while his second booking runs", time.Until(now.Add(10*time.Second)), func() bool { return !e.inGroup(ben, gRoom) })
	e.eventually("ben out after the second booking", time.Until(now.Add(11*time.Second).Add(lag))+slack, func() bool { return !e.inGroup(ben, gRoom) })
	u, _ := e.salto.UserByEmail(site, ben)
	if u.SubscriptionState != "subscribed" {
		t.Errorf("policy keep: user is %s", u.SubscriptionState)
	}
}

// A booking cancelled (deleted in Nexudus) after its grant is revoked at once; one deleted before its grant
// never opens a door.
func TestCancelledBookings(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep})
	now := time.Now()
	running, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(now.Add(-time.Minute)), ToTime: at(now.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	future, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 102, FromTime: at(now.Add(time.Hour)), ToTime: at(now.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("ana granted", 5*time.Second, func() bool { return e.inGroup(ana, gRoom) })
	if err := e.nx.DeleteBooking(e.ctx, running); err != nil {
		t.Fatal(err)
	}
	if err := e.nx.DeleteBooking(e.ctx, future); err != nil {
		t.Fatal(err)
	}
	e.eventually("ana revoked after the cancellation", 5*time.Second, func() bool { return !e.inGroup(ana, gRoom) })
	e.eventually("the future booking's workflow closed", 10*time.Second, func() bool {
		d, err := e.tc.DescribeWorkflowExecution(e.ctx, access.Ref{Kind: access.KindBooking, ID: int64(future)}.WorkflowID(), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	if e.platformID(cleo) != "" {
		t.Error("a Salto user was created for a booking cancelled before its grant")
	}
}

// Passes have no webhook: the poller (or an operator's resync) starts their workflow. Access comes at once and
// goes at the pass's expiry.
func TestPassGrantedAtOnceAndRevokedAtExpiry(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyDelete})
	expires := time.Now().Add(5 * time.Second).Truncate(time.Second)
	id, err := e.nx.CreateCoworkerTimePass(e.ctx, nexudus.CoworkerTimePass{CoworkerId: 102, BusinessId: business,
		TimePassId: dayPassID, TimePassName: "Day pass", ExpireDate: at(expires)})
	if err != nil {
		t.Fatal(err)
	}
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindPass, ID: int64(id)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("cleo has the day pass", 5*time.Second, func() bool { return e.inGroup(cleo, gDayPass) && e.inGroup(cleo, gEntrance) })
	e.eventually("cleo's pass revoked at expiry", time.Until(expires)+slack, func() bool { return !e.inGroup(cleo, gDayPass) })
	e.eventually("cleo's Salto user deleted (policy delete)", 10*time.Second, func() bool { return e.platformID(cleo) == "" })
}

// A contract gives its office from its start; a desk change moves access (the shared entrance stays); a
// cancellation date in the future revokes on that date.
func TestContractDeskChangeAndFutureCancellation(t *testing.T) {
	lag := time.Second
	e := newEnv(t, envOptions{lead: time.Second, lag: lag, policy: config.PolicyKeep})
	id, err := e.nx.CreateContract(e.ctx, nexudus.CoworkerContract{CoworkerId: 101, TariffName: "Office",
		StartDate: at(time.Now().Add(-24 * time.Hour)), Active: true, FloorPlanDeskIds: nexudus.IDList{officeID}})
	if err != nil {
		t.Fatal(err)
	}
	e.eventually("ben has the office", 5*time.Second, func() bool { return e.inGroup(ben, gOffice) && e.inGroup(ben, gEntrance) })
	c, err := e.nx.GetContract(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c.FloorPlanDeskIds = nexudus.IDList{deskID}
	if err := e.nx.UpdateContract(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	e.eventually("ben moved from the office to the desk", 5*time.Second, func() bool {
		return e.inGroup(ben, gDesk) && !e.inGroup(ben, gOffice) && e.inGroup(ben, gEntrance)
	})
	cancelAt := time.Now().Add(4 * time.Second).Truncate(time.Second)
	c, _ = e.nx.GetContract(e.ctx, id)
	c.CancellationDate = at(cancelAt)
	if err := e.nx.UpdateContract(e.ctx, c); err != nil {
		t.Fatal(err)
	}
	e.never("revoked before the cancellation date", time.Until(cancelAt.Add(lag))-300*time.Millisecond, func() bool { return !e.inGroup(ben, gDesk) })
	e.eventually("revoked on the cancellation date", time.Until(cancelAt.Add(lag))+slack, func() bool {
		return !e.inGroup(ben, gDesk) && !e.inGroup(ben, gEntrance)
	})
}

// A visitor gets a Salto guest in the visitor group with a PIN that reaches the Nexudus visitor record, and loses
// it after departure.
func TestVisitorPINReachesNexudusAndAccessEndsAtDeparture(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep})
	id, err := e.nx.CreateVisitor(e.ctx, nexudus.Visitor{BusinessId: business, FullName: "Vera Visitor", CoworkerId: 100,
		ExpectedArrival: at(time.Now().Add(-time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	var guestID string
	e.eventually("a guest in the visitor group", 10*time.Second, func() bool {
		for _, m := range e.salto.GroupMembers(site, gVisitors) {
			guestID = m
			return true
		}
		return false
	})
	var siteUserID string
	for _, u := range e.salto.Users(site) {
		if u.User.ID == guestID {
			siteUserID = u.ID
		}
	}
	var pin string
	e.eventually("the PIN written to the Nexudus visitor", 10*time.Second, func() bool {
		v, ok := e.nexsim.Visitor(id)
		pin = e.salto.UserPIN(site, siteUserID)
		return ok && v.VisitorCode != "" && v.VisitorCode == pin
	})
	v, err := e.nx.GetVisitor(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	v.Arrived, v.ArrivalDate, v.DepartureDate = true, at(time.Now().Add(-time.Minute)), at(time.Now())
	if err := e.nx.UpdateVisitor(e.ctx, v); err != nil {
		t.Fatal(err)
	}
	// Nexudus sends no webhook on departure; the poller (or a resync) signals the visitor's workflow.
	if err := dispatch.StartEntitlement(e.ctx, e.tc, e.cfg.Temporal.TaskQueue, access.Ref{Kind: access.KindVisitor, ID: int64(id)}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the visitor's access removed after departure", 10*time.Second, func() bool {
		return len(e.salto.GroupMembers(site, gVisitors)) == 0
	})
	assertNoPINInHistory(t, e, access.Ref{Kind: access.KindVisitor, ID: int64(id)}.WorkflowID(), pin)
}

// assertNoPINInHistory reads the whole workflow history and fails if the PIN appears anywhere in it.
func assertNoPINInHistory(t *testing.T, e *env, workflowID, pin string) {
	t.Helper()
	if len(pin) < 4 {
		t.Fatalf("PIN %q is too short to search for", pin)
	}
	hist, err := e.history(workflowID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range hist {
		// Payloads are JSON: a leaked PIN would stand quoted. (Unquoted, six digits also occur by chance in
		// timestamps and ids.)
		if text := ev.String(); strings.Contains(text, `\"`+pin+`\"`) || strings.Contains(text, `"`+pin+`"`) {
			t.Fatalf("PIN found in the history of %s: event %d", workflowID, ev.GetEventId())
		}
	}
}
