package nexudus_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

func TestBookingLifecycle(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	madrid, err := time.LoadLocation("Europe/Madrid")
	require.NoError(t, err)
	from := time.Date(2026, 12, 2, 10, 0, 0, 0, madrid)

	id, err := c.CreateBooking(ctx(t), nexudus.Booking{ResourceId: 1, CoworkerId: 1,
		FromTime: nexudus.NewTime(from), ToTime: nexudus.NewTime(from.Add(2 * time.Hour)), Notes: "board meeting"})
	require.NoError(t, err)
	b, err := c.GetBooking(ctx(t), id)
	require.NoError(t, err)
	assert.Equal(t, "Meeting room Goya", b.ResourceName, "derived by Nexudus")
	assert.Equal(t, "board meeting", b.Notes)
	assert.True(t, b.FromTime.Zoned)
	assert.Equal(t, "2026-12-02T10:00:00", b.FromTimeLocal.String(), "local wall clock in Madrid")
	start, ok := b.Start(madrid)
	require.True(t, ok)
	assert.True(t, start.Equal(from))
	assert.Nil(t, b.FloorPlanDeskId)
	assert.NotEmpty(t, b.UniqueId)
	created := b.UpdatedOn

	e.clock.Advance(time.Hour)
	b.ToTime = nexudus.NewTime(from.Add(3 * time.Hour))
	desk := 1
	b.FloorPlanDeskId = &desk
	require.NoError(t, c.UpdateBooking(ctx(t), b))
	b2, err := c.GetBooking(ctx(t), id)
	require.NoError(t, err)
	assert.Equal(t, "2026-12-02T13:00:00", b2.ToTimeLocal.String())
	assert.Equal(t, 1, *b2.FloorPlanDeskId)
	assert.True(t, b2.UpdatedOn.After(created.Time), "UpdatedOn follows writes")
	assert.True(t, b2.CreatedOn.Equal(b.CreatedOn.Time))

	_, err = c.CreateBooking(ctx(t), nexudus.Booking{ResourceId: 1, FromTime: nexudus.NewTime(from), ToTime: nexudus.NewTime(from.Add(-time.Hour))})
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, 400, ne.Status)
	require.NotEmpty(t, ne.Errors)
	assert.Equal(t, "ToTime", ne.Errors[0].PropertyName)
	assert.False(t, nexudus.IsRetryable(err))

	require.NoError(t, c.DeleteBooking(ctx(t), id))
	_, err = c.GetBooking(ctx(t), id)
	assert.True(t, nexudus.IsNotFound(err))
	assert.True(t, nexudus.IsNotFound(c.DeleteBooking(ctx(t), id)))
}

func TestEntitiesRoundTrip(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)

	co, err := c.GetCoworker(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, "918273", co.AccessPincode.Reveal())
	assert.Equal(t, 1, co.InvoicingBusinessId)

	// Contracts: Desks only on the full record; the desks follow the contract.
	list, err := c.ListContracts(ctx(t), url.Values{"CoworkerContract_CoworkerId": {"1"}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Empty(t, list[0].Desks)
	assert.Equal(t, nexudus.IDList{1, 2}, list[0].FloorPlanDeskIds)
	ct, err := c.GetContract(ctx(t), list[0].Id)
	require.NoError(t, err)
	assert.Len(t, ct.Desks, 2)
	assert.Equal(t, "desk by the window", ct.Notes)
	d, err := c.GetFloorPlanDesk(ctx(t), 2)
	require.NoError(t, err)
	assert.Equal(t, nexudus.ItemOffice, d.ItemType)
	assert.Equal(t, 1, d.CoworkerId)

	ct.Cancelled = true
	ct.CancellationDate = nexudus.NewTime(e.clock.Now().Add(24 * time.Hour))
	require.NoError(t, c.UpdateContract(ctx(t), ct))
	d, err = c.GetFloorPlanDesk(ctx(t), 2)
	require.NoError(t, err)
	assert.Zero(t, d.CoworkerId, "a cancelled contract releases its desks")

	newContract, err := c.CreateContract(ctx(t), nexudus.CoworkerContract{CoworkerId: 2, TariffId: 3, Active: true,
		StartDate: nexudus.NewTime(e.clock.Now()), FloorPlanDeskIds: nexudus.IDList{1}})
	require.NoError(t, err)
	d, err = c.GetFloorPlanDesk(ctx(t), 1)
	require.NoError(t, err)
	assert.Equal(t, 2, d.CoworkerId)
	assert.True(t, d.CoworkerContractIds.Contains(newContract))
	nk, err := c.GetContract(ctx(t), newContract)
	require.NoError(t, err)
	require.Len(t, nk.Desks, 1)
	nk.FloorPlanDeskIds = nil // unassign the desk; the stale Desks must not keep it
	require.NoError(t, c.UpdateContract(ctx(t), nk))
	d, err = c.GetFloorPlanDesk(ctx(t), 1)
	require.NoError(t, err)
	assert.False(t, d.CoworkerContractIds.Contains(newContract))
	assert.Zero(t, d.CoworkerId)

	// Passes: created, used up, found by the incremental filter.
	three := 3
	pid, err := c.CreateCoworkerTimePass(ctx(t), nexudus.CoworkerTimePass{CoworkerId: 2, TimePassId: 1, RemainingUses: &three,
		ExpireDate: nexudus.NewTime(e.clock.Now().Add(30 * 24 * time.Hour))})
	require.NoError(t, err)
	p, err := c.GetCoworkerTimePass(ctx(t), pid)
	require.NoError(t, err)
	assert.Equal(t, "Day pass", p.TimePassName)
	assert.Equal(t, 1, p.BusinessId, "defaults to the customer's location")
	e.clock.Advance(5 * time.Minute)
	p.Used, p.UsedDate, p.RemainingUses = true, nexudus.NewTime(e.clock.Now()), new(int)
	require.NoError(t, c.UpdateCoworkerTimePass(ctx(t), p))
	changed, err := c.ListCoworkerTimePasses(ctx(t), url.Values{"from_CoworkerTimePass_UpdatedOn": {nexudus.FormatFilterTime(e.clock.Now())}})
	require.NoError(t, err)
	require.Len(t, changed, 1)
	assert.True(t, changed[0].Used)
	assert.Equal(t, 0, *changed[0].RemainingUses)

	// Visitors.
	vid, err := c.CreateVisitor(ctx(t), nexudus.Visitor{BusinessId: 1, FullName: "Grace Hopper", CoworkerId: 1,
		ExpectedArrival: nexudus.NewTime(e.clock.Now().Add(time.Hour))})
	require.NoError(t, err)
	v, err := c.GetVisitor(ctx(t), vid)
	require.NoError(t, err)
	assert.Len(t, v.VisitorCode.Reveal(), 6)
	v.Arrived = true
	require.NoError(t, c.UpdateVisitor(ctx(t), v))
	v, err = c.GetVisitor(ctx(t), vid)
	require.NoError(t, err)
	assert.True(t, v.Arrived)
	assert.False(t, v.ArrivalDate.IsZero())

	// Check-in, check-out, audit.
	cid, err := c.CreateCheckin(ctx(t), nexudus.Checkin{CoworkerId: 1, FromTime: nexudus.NewTime(e.clock.Now()), Source: nexudus.SourceDoorAccess})
	require.NoError(t, err)
	open, err := c.ListCheckins(ctx(t), url.Values{"Checkin_CoworkerId": {"1"}, "Checkin_ToTime": {"null"}})
	require.NoError(t, err)
	require.Len(t, open, 1)
	assert.Equal(t, 1, open[0].BusinessId)
	out, err := c.CheckoutCheckin(ctx(t), cid, e.clock.Now().Add(2*time.Hour))
	require.NoError(t, err)
	assert.False(t, out.ToTime.IsZero())
	require.Len(t, e.sim.Checkins(), 1)
	assert.False(t, e.sim.Checkins()[0].ToTime.IsZero())

	_, err = c.CreateAccessControlAudit(ctx(t), nexudus.CoworkerAccessControlAudit{CoworkerId: 1, Description: "Salto user suspended: no active plan", IsProblem: true})
	require.NoError(t, err)
	audits := e.sim.Audits()
	require.Len(t, audits, 1)
	assert.True(t, audits[0].IsProblem)

	// Businesses.
	biz, err := c.GetBusiness(ctx(t), 1)
	require.NoError(t, err)
	loc, err := biz.Location()
	require.NoError(t, err)
	assert.Equal(t, "Europe/Madrid", loc.String())
	res, err := c.ListResources(ctx(t), nil)
	require.NoError(t, err)
	require.Len(t, res, 1)
	tps, err := c.ListTimePasses(ctx(t), nil)
	require.NoError(t, err)
	require.Len(t, tps, 1)

	// Coworker create and update.
	nid, err := c.CreateCoworker(ctx(t), nexudus.Coworker{FullName: "Alan Turing", Email: "alan@example.com", Active: true})
	require.NoError(t, err)
	nc, err := c.GetCoworker(ctx(t), nid)
	require.NoError(t, err)
	nc.AccessCardId = "0FFEE123"
	require.NoError(t, c.UpdateCoworker(ctx(t), nc))
	sc, ok := e.sim.Coworker(nid)
	require.True(t, ok)
	assert.Equal(t, "0FFEE123", sc.AccessCardId)
}

func TestWebhookRegistration(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	id, err := c.CreateWebhook(ctx(t), nexudus.Webhook{BusinessId: 1, Name: "booking updates", Action: nexudus.ActionBookingUpdate,
		URL: "https://hooks.example.com/webhooks/nexudus/BookingUpdate"})
	require.NoError(t, err)
	hooks, err := c.ListWebhooks(ctx(t), nil)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.Equal(t, id, hooks[0].Id)
	assert.Equal(t, nexudus.ActionBookingUpdate, hooks[0].Action)
	assert.True(t, hooks[0].Active)

	_, err = c.CreateWebhook(ctx(t), nexudus.Webhook{Action: nexudus.ActionBookingUpdate, URL: "not a url"})
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, "URL", ne.Errors[0].PropertyName)
	require.NoError(t, c.DeleteWebhook(ctx(t), id))
}

func TestErrorBodyShapes(t *testing.T) {
	e := newEnv(t, nexudussim.Options{})
	c := e.client(t, nil)
	_, err := c.CreateCoworkerTimePass(ctx(t), nexudus.CoworkerTimePass{CoworkerId: 42, TimePassId: 1})
	var ne *nexudus.Error
	require.ErrorAs(t, err, &ne)
	b, _ := json.Marshal(ne.Errors)
	assert.Contains(t, string(b), "CoworkerId")
	assert.Contains(t, ne.Error(), "CoworkerId: Coworker 42 does not exist.")
	assert.Contains(t, ne.Error(), "POST /api/billing/coworkertimepasses")
}
