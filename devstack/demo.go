package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// The demo location: one Nexudus business on one Salto site, with fixed ids so that a restarted dev stack and
// the README agree.
const (
	demoBusiness   = 1
	demoSite       = "5a170000-0000-4000-8000-000000000001"
	groupEntrance  = "5a170000-0000-4000-8000-0000000000a1"
	groupAmsterdam = "5a170000-0000-4000-8000-0000000000a2"
	groupBerlin    = "5a170000-0000-4000-8000-0000000000a3"
	groupDayPass   = "5a170000-0000-4000-8000-0000000000a4"
	groupOffice101 = "5a170000-0000-4000-8000-0000000000a5"
	groupDesks     = "5a170000-0000-4000-8000-0000000000a6"
	groupVisitors  = "5a170000-0000-4000-8000-0000000000a7"

	resourceAmsterdam = 10
	resourceBerlin    = 11
	timePassDay       = 20
	deskOffice101     = 30
	deskD1            = 31
)

var demoCoworkers = []nexudussim.Coworker{
	{FullName: "Alice Janssen", Email: "alice@example.com", AccessCardId: "04A1B2C3", Active: true},
	{FullName: "Bruno Costa", Email: "bruno@example.com", AccessCardId: "04B2C3D4", Active: true},
	{FullName: "Chiara Rossi", Email: "chiara@example.com", AccessCardId: "04C3D4E5", Active: true},
	{FullName: "Dmitri Volkov", Email: "dmitri@example.com", Active: true},
	{FullName: "Emma Schulz", Email: "emma@example.com", AccessCardId: "04E5F6A7", Active: true},
}

// demoLocation is the mapping of the demo location.
func demoLocation(lead, lag time.Duration) config.Location {
	entrance := func(g string) []string { return []string{g, groupEntrance} }
	return config.Location{
		BusinessID:     demoBusiness,
		Name:           "Canal Street Coworking",
		SaltoSite:      demoSite,
		TimeZone:       "Europe/Amsterdam",
		GrantLead:      lead,
		RevokeLag:      lag,
		NoAccessPolicy: config.PolicySuspend,
		MobileAccess:   true,
		VisitorPINs:    true,
		VisitorGroups:  []string{groupVisitors},
		Resources:      map[int64][]string{resourceAmsterdam: entrance(groupAmsterdam), resourceBerlin: entrance(groupBerlin)},
		Passes:         map[int64][]string{timePassDay: entrance(groupDayPass)},
		Desks:          map[int64][]string{deskOffice101: entrance(groupOffice101), deskD1: entrance(groupDesks)},
	}
}

// seedSalto creates the demo site, its doors and the access groups (each with a time schedule: a group without
// one never reaches a lock).
func seedSalto(sim *saltoks.Server) error {
	if _, err := sim.SeedSite(saltoks.SiteSeed{ID: demoSite, SiteUID: "canal-street", CustomerReference: "Canal Street Coworking",
		TimeZone: "Europe/Amsterdam", PinEnabled: true, Seats: 50}); err != nil {
		return err
	}
	locks := map[string]string{}
	for _, name := range []string{"Main entrance", "Meeting room Amsterdam", "Meeting room Berlin", "Office 101", "Desk area"} {
		l, err := sim.SeedLock(demoSite, saltoks.LockSeed{Name: name, CustomerReference: name, LockType: "escutcheon", Online: true})
		if err != nil {
			return err
		}
		locks[name] = l.ID
	}
	always := []saltoks.TimeSchedule{{Monday: true, Tuesday: true, Wednesday: true, Thursday: true, Friday: true,
		Saturday: true, Sunday: true, StartTime: "00:00:00", EndTime: "23:59:59"}}
	for _, g := range []struct{ id, name, lock string }{
		{groupEntrance, "Main entrance", "Main entrance"},
		{groupAmsterdam, "Meeting room Amsterdam", "Meeting room Amsterdam"},
		{groupBerlin, "Meeting room Berlin", "Meeting room Berlin"},
		{groupDayPass, "Day pass", "Desk area"},
		{groupOffice101, "Office 101", "Office 101"},
		{groupDesks, "Dedicated desks", "Desk area"},
		{groupVisitors, "Visitors", "Main entrance"},
		{"5a170000-0000-4000-8000-0000000000f1", "Cleaning staff (not ours)", "Main entrance"},
	} {
		if _, err := sim.SeedAccessGroup(demoSite, saltoks.GroupSeed{ID: g.id, Name: g.name, CustomerReference: g.name,
			LockIDs: []string{locks[g.lock]}, Schedules: always}); err != nil {
			return err
		}
	}
	// A member who is in Salto already, with no Nexudus purchase: the integration never touches groups it
	// does not own, and links her by email when she books.
	_, err := sim.SeedUser(demoSite, saltoks.UserSeed{FirstName: "Chiara", LastName: "Rossi", Alias: "Chiara Rossi",
		Email: "chiara@example.com", TagID: "04C3D4E5"})
	return err
}

// seedNexudus creates the location's catalogue: customers, rooms, the pass product, desks and offices.
func seedNexudus(sim *nexudussim.Server) error {
	ds := nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Base: nexudussim.Base{Id: demoBusiness}, Name: "Canal Street Coworking", TimeZone: "Europe/Amsterdam"}},
		Resources: []nexudussim.Resource{
			{Base: nexudussim.Base{Id: resourceAmsterdam}, BusinessId: demoBusiness, Name: "Meeting room Amsterdam", ResourceTypeId: 1},
			{Base: nexudussim.Base{Id: resourceBerlin}, BusinessId: demoBusiness, Name: "Meeting room Berlin", ResourceTypeId: 1},
			{Base: nexudussim.Base{Id: 12}, BusinessId: demoBusiness, Name: "Phone booth (not mapped)", ResourceTypeId: 2},
		},
		TimePasses: []nexudussim.TimePass{{Base: nexudussim.Base{Id: timePassDay}, Name: "Day pass"}},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{
			{Base: nexudussim.Base{Id: deskOffice101}, Name: "Office 101", ItemType: 1, FloorPlanBusinessId: demoBusiness},
			{Base: nexudussim.Base{Id: deskD1}, Name: "Dedicated desk D1", ItemType: 2, FloorPlanBusinessId: demoBusiness},
		},
	}
	for i, c := range demoCoworkers {
		c.Id = 100 + i
		c.InvoicingBusinessId = demoBusiness
		ds.Coworkers = append(ds.Coworkers, c)
	}
	_, err := sim.Seed(ds)
	return err
}

// startDemo makes the purchases through the Nexudus API, so that they reach the worker as webhooks, exactly as
// they would from the real Nexudus: bookings starting over the next minutes, an office contract, a visitor. The
// day pass is put on an account too; Nexudus sends no webhook for passes, so it is started directly.
func startDemo(ctx context.Context, nx *nexudus.Client, tc client.Client, taskQueue string, now time.Time) error {
	at := func(d time.Duration) nexudus.Time { return nexudus.NewTime(now.Add(d).Truncate(time.Minute)) }
	bookings := []nexudus.Booking{
		{ResourceId: resourceAmsterdam, CoworkerId: 100, FromTime: at(2 * time.Minute), ToTime: at(6 * time.Minute)},
		{ResourceId: resourceAmsterdam, CoworkerId: 100, FromTime: at(5 * time.Minute), ToTime: at(9 * time.Minute)},
		{ResourceId: resourceBerlin, CoworkerId: 101, FromTime: at(3 * time.Minute), ToTime: at(8 * time.Minute)},
		{ResourceId: resourceBerlin, CoworkerId: 102, FromTime: at(10 * time.Minute), ToTime: at(20 * time.Minute)},
		{ResourceId: 12, CoworkerId: 103, FromTime: at(4 * time.Minute), ToTime: at(30 * time.Minute)},
	}
	for _, b := range bookings {
		if _, err := nx.CreateBooking(ctx, b); err != nil {
			return fmt.Errorf("demo booking: %w", err)
		}
	}
	startOfMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if _, err := nx.CreateContract(ctx, nexudus.CoworkerContract{CoworkerId: 101, TariffName: "Private office",
		StartDate: nexudus.NewTime(startOfMonth), Active: true, FloorPlanDeskIds: nexudus.IDList{deskOffice101}}); err != nil {
		return fmt.Errorf("demo contract: %w", err)
	}
	if _, err := nx.CreateVisitor(ctx, nexudus.Visitor{BusinessId: demoBusiness, FullName: "Frank Visser",
		Email: "frank@example.org", CoworkerId: 100, ExpectedArrival: at(15 * time.Minute)}); err != nil {
		return fmt.Errorf("demo visitor: %w", err)
	}
	passID, err := nx.CreateCoworkerTimePass(ctx, nexudus.CoworkerTimePass{CoworkerId: 104, BusinessId: demoBusiness,
		TimePassId: timePassDay, TimePassName: "Day pass", ExpireDate: at(12 * time.Minute)})
	if err != nil {
		return fmt.Errorf("demo pass: %w", err)
	}
	return dispatch.StartEntitlement(ctx, tc, taskQueue, access.Ref{Kind: access.KindPass, ID: int64(passID)})
}

// demoTraffic keeps the demo alive: every interval a customer books a room starting a minute or two later, so
// grants and revokes keep happening while someone watches the Web UI.
func demoTraffic(ctx context.Context, nx *nexudus.Client, interval time.Duration, logf func(string, ...any)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			start := now.Add(time.Duration(1+rand.IntN(2)) * time.Minute).Truncate(time.Minute)
			b := nexudus.Booking{
				ResourceId: []int{resourceAmsterdam, resourceBerlin}[rand.IntN(2)],
				CoworkerId: 100 + rand.IntN(len(demoCoworkers)),
				FromTime:   nexudus.NewTime(start),
				ToTime:     nexudus.NewTime(start.Add(time.Duration(2+rand.IntN(4)) * time.Minute)),
			}
			id, err := nx.CreateBooking(ctx, b)
			if err != nil {
				logf("demo traffic: %v", err)
				continue
			}
			logf("demo: booking %d for coworker %d, %s–%s", id, b.CoworkerId, b.FromTime.Format("15:04"), b.ToTime.Format("15:04"))
		}
	}
}
