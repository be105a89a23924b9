// Package rulestest holds one table of Nexudus records with, written out by hand, whether each gives access
// at AsOf and whether a backfill of that instant starts its workflow. The workflows' decision
// (LoadEntitlement then rules.GivesAccess), reconciliation's desired state and the backfill's selection are
// each tested against it over real HTTP to the Nexudus simulator, so they cannot drift apart.
package rulestest

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// AsOf is 12:00 in Madrid on the day the clocks go forward (a 23-hour day).
var AsOf = time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)

// Business is the one location of the table.
const Business = 5

// Config maps room 10, desk 30 and pass product 20 at a Madrid location with 15 minutes of lead and lag.
func Config() *config.Config {
	return &config.Config{Locations: []config.Location{{
		BusinessID: Business, Name: "Madrid", SaltoSite: "site", TimeZone: "Europe/Madrid",
		GrantLead: 15 * time.Minute, RevokeLag: 15 * time.Minute, NoAccessPolicy: config.PolicySuspend,
		VisitorGroups: []string{"g-visit"},
		Resources:     map[int64][]string{10: {"g-room"}},
		Passes:        map[int64][]string{20: {"g-day"}},
		Desks:         map[int64][]string{30: {"g-desk"}},
	}}}
}

// Dataset is what the records refer to, to seed the simulator with.
func Dataset() nexudussim.Dataset {
	return nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Base: nexudussim.Base{Id: Business}, Name: "Madrid", TimeZone: "Europe/Madrid"}},
		Resources: []nexudussim.Resource{{Base: nexudussim.Base{Id: 10}, BusinessId: Business, Name: "Sala"},
			{Base: nexudussim.Base{Id: 11}, BusinessId: Business, Name: "Unmapped"}},
		TimePasses: []nexudussim.TimePass{{Base: nexudussim.Base{Id: 20}, Name: "Day pass"},
			{Base: nexudussim.Base{Id: 21}, Name: "Unmapped pass"}},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{{Base: nexudussim.Base{Id: 30}, Name: "Desk", ItemType: 1,
			FloorPlanBusinessId: Business}},
		Coworkers: []nexudussim.Coworker{{Base: nexudussim.Base{Id: 100}, FullName: "Ana", Email: "ana@example.com",
			Active: true}},
	}
}

// Case is one record. Access: it gives access at AsOf; Start: a backfill of the instant AsOf starts its
// workflow (a tentative booking may still be confirmed).
type Case struct {
	Name          string
	Record        any
	Access, Start bool
}

func z(s string) nexudus.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return nexudus.NewTime(t)
}

// local is a Madrid wall-clock time, as in the bookings' *Local fields.
func local(s string) nexudus.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return nexudus.WallClock(t)
}

func booking(from, to string) nexudus.Booking {
	return nexudus.Booking{ResourceId: 10, CoworkerId: 100, FromTimeLocal: local(from), ToTimeLocal: local(to)}
}

func pass(product int) nexudus.CoworkerTimePass {
	return nexudus.CoworkerTimePass{BusinessId: Business, TimePassId: product, CoworkerId: 100}
}

func contract() nexudus.CoworkerContract {
	return nexudus.CoworkerContract{CoworkerId: 100, TariffName: "Desk", Active: true, StartDate: z("2026-03-01 00:00"),
		FloorPlanDeskIds: nexudus.IDList{30}}
}

func visitor(arrival string) nexudus.Visitor {
	return nexudus.Visitor{BusinessId: Business, CoworkerId: 100, FullName: "Vera", ExpectedArrival: z(arrival)}
}

// Cases is the table; times in Madrid are 2 hours ahead of UTC on AsOf.
func Cases() []Case {
	tentative := booking("2026-03-29 11:00", "2026-03-29 13:00")
	tentative.Tentative = true
	unmappedRoom := booking("2026-03-29 11:00", "2026-03-29 13:00")
	unmappedRoom.ResourceId = 11
	expiring, expired := pass(20), pass(20)
	expiring.ExpireDate, expired.ExpireDate = z("2026-03-29 18:00"), z("2026-03-29 09:00")
	usedToday, usedAfterMidnight, usedYesterday := pass(20), pass(20), pass(20)
	usedToday.Used, usedToday.UsedDate = true, z("2026-03-29 07:00")
	// 00:30 in Madrid, still the night before in UTC: the day of use is Madrid's.
	usedAfterMidnight.Used, usedAfterMidnight.UsedDate = true, z("2026-03-28 23:30")
	usedYesterday.Used, usedYesterday.UsedDate = true, z("2026-03-28 21:00")
	cancelSoon, cancelled, cancelledNoDate := contract(), contract(), contract()
	cancelSoon.CancellationDate = z("2026-03-29 09:50")
	cancelled.CancellationDate = z("2026-03-29 09:00")
	cancelledNoDate.Cancelled = true
	departed := visitor("2026-03-29 08:00")
	departed.DepartureDate = z("2026-03-29 09:30")
	return []Case{
		{"booking now", booking("2026-03-29 11:00", "2026-03-29 13:00"), true, true},
		{"booking starting within the lead", booking("2026-03-29 12:10", "2026-03-29 13:00"), true, true},
		{"booking starting after the lead", booking("2026-03-29 12:20", "2026-03-29 13:00"), false, false},
		{"booking ended within the lag", booking("2026-03-29 10:00", "2026-03-29 11:50"), true, true},
		{"booking ended before the lag", booking("2026-03-29 10:00", "2026-03-29 11:40"), false, false},
		{"booking across the clock change", booking("2026-03-29 01:30", "2026-03-29 12:30"), true, true},
		{"tentative booking", tentative, false, true},
		{"booking of an unmapped room", unmappedRoom, false, false},
		{"pass without expiry", pass(20), true, true},
		{"pass expiring tonight", expiring, true, true},
		{"pass expired this morning", expired, false, false},
		{"pass used up this morning", usedToday, true, true},
		{"pass used up at 00:30 Madrid time", usedAfterMidnight, true, true},
		{"pass used up yesterday", usedYesterday, false, false},
		{"pass of an unmapped product", pass(21), false, false},
		{"contract without cancellation", contract(), true, true},
		{"contract cancelled within the lag", cancelSoon, true, true},
		{"contract cancelled before the lag", cancelled, false, false},
		{"contract cancelled without a date", cancelledNoDate, false, false},
		{"visitor expected this afternoon", visitor("2026-03-29 15:00"), true, true},
		{"visitor expected tomorrow", visitor("2026-03-30 08:00"), false, false},
		{"visitor expected yesterday", visitor("2026-03-28 08:00"), false, false},
		{"visitor departed", departed, false, false},
	}
}

// Create writes a case's record to Nexudus and returns its reference.
func Create(ctx context.Context, nx *nexudus.Client, record any) (access.Ref, error) {
	var id int
	var err error
	var kind access.Kind
	switch r := record.(type) {
	case nexudus.Booking:
		kind = access.KindBooking
		id, err = nx.CreateBooking(ctx, r)
	case nexudus.CoworkerTimePass:
		kind = access.KindPass
		id, err = nx.CreateCoworkerTimePass(ctx, r)
	case nexudus.CoworkerContract:
		kind = access.KindContract
		id, err = nx.CreateContract(ctx, r)
	case nexudus.Visitor:
		kind = access.KindVisitor
		id, err = nx.CreateVisitor(ctx, r)
	default:
		return access.Ref{}, fmt.Errorf("rulestest: no record of type %T", record)
	}
	return access.Ref{Kind: kind, ID: int64(id)}, err
}

// Setup starts a Nexudus simulator on real HTTP, seeds it and writes every case's record to it; it returns a
// client of it (no rate limit: the table is small) and the cases by the reference of their record.
func Setup(t testing.TB) (*nexudus.Client, map[access.Ref]Case) {
	t.Helper()
	nx, _ := NewNexudus(t, Dataset())
	cases := map[access.Ref]Case{}
	for _, c := range Cases() {
		ref, err := Create(context.Background(), nx, c.Record)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		cases[ref] = c
	}
	return nx, cases
}

// NewNexudus starts a Nexudus simulator seeded with ds on real HTTP, and returns a client of it without a
// call budget (tests of rules, not of rates) and the simulator.
func NewNexudus(t testing.TB, ds nexudussim.Dataset) (*nexudus.Client, *nexudussim.Server) {
	t.Helper()
	sim := nexudussim.New(nexudussim.Options{Users: map[string]string{"u": "p"}, CallsPerMinute: -1, WritesPerMinute: -1})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	nx, err := nexudus.New(nexudus.Config{BaseURL: srv.URL, Username: "u", Password: "p", Auth: "basic", RequestsPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Seed(ds); err != nil {
		t.Fatal(err)
	}
	return nx, sim
}
