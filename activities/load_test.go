package activities

import (
	"context"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules/rulestest"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// LoadEntitlement over real HTTP against the Nexudus simulator, in a location whose time zone is not UTC.
func newLoader(t *testing.T, now time.Time) (*Activities, *nexudussim.Server) {
	t.Helper()
	nx, sim := rulestest.NewNexudus(t, nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Base: nexudussim.Base{Id: 5}, Name: "Madrid", TimeZone: "Europe/Madrid"}},
		Resources: []nexudussim.Resource{{Base: nexudussim.Base{Id: 10}, BusinessId: 5, Name: "Sala Norte"},
			{Base: nexudussim.Base{Id: 11}, BusinessId: 5, Name: "Unmapped"}},
		TimePasses:     []nexudussim.TimePass{{Base: nexudussim.Base{Id: 20}, Name: "Day pass"}},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{{Base: nexudussim.Base{Id: 30}, Name: "Office", ItemType: 1, FloorPlanBusinessId: 5}},
		Coworkers:      []nexudussim.Coworker{{Base: nexudussim.Base{Id: 100}, FullName: "Ana", Email: "ana@example.com", Active: true}},
	})
	cfg := &config.Config{Locations: []config.Location{{
		BusinessID: 5, SaltoSite: "site", TimeZone: "Europe/Madrid", GrantLead: 15 * time.Minute, RevokeLag: 15 * time.Minute,
		NoAccessPolicy: config.PolicySuspend, VisitorPINs: true, VisitorGroups: []string{"g-visit"},
		Resources: map[int64][]string{10: {"g-room", "g-entrance", "g-room"}},
		Passes:    map[int64][]string{20: {"g-day"}},
		Desks:     map[int64][]string{30: {"g-office"}},
	}}}
	return &Activities{Config: cfg, Nexudus: nx, Now: func() time.Time { return now }}, sim
}

func TestLoadBooking(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a, sim := newLoader(t, now)
	ctx := context.Background()
	create := func(b nexudus.Booking) int64 {
		id, err := a.Nexudus.CreateBooking(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return int64(id)
	}
	start, end := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	id := create(nexudus.Booking{ResourceId: 10, CoworkerId: 100, FromTime: nexudus.NewTime(start), ToTime: nexudus.NewTime(end)})
	e, err := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: id})
	if err != nil {
		t.Fatal(err)
	}
	if e.LocationID != 5 || e.CoworkerID != 100 || e.Status != access.StatusActive {
		t.Fatalf("entitlement %+v", e)
	}
	if !slices.Equal(e.Groups, []string{"g-entrance", "g-room"}) {
		t.Errorf("groups %v: want sorted, without duplicates", e.Groups)
	}
	if !e.GrantAt.Equal(start.Add(-15*time.Minute)) || !e.RevokeAt.Equal(end.Add(15*time.Minute)) {
		t.Errorf("grant %s revoke %s", e.GrantAt, e.RevokeAt)
	}
	// The summary speaks the location's wall clock (Madrid is UTC+1 in December).
	if e.Summary != "Sala Norte, 1 Dec 10:00–11:00" {
		t.Errorf("summary %q", e.Summary)
	}

	tentative := create(nexudus.Booking{ResourceId: 10, CoworkerId: 100, FromTime: nexudus.NewTime(start), ToTime: nexudus.NewTime(end), Tentative: true})
	if e, _ := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: tentative}); e.Status != access.StatusTentative {
		t.Errorf("tentative booking: %s", e.Status)
	}
	past := create(nexudus.Booking{ResourceId: 10, CoworkerId: 100, FromTime: nexudus.NewTime(now.Add(-2 * time.Hour)), ToTime: nexudus.NewTime(now.Add(-time.Hour))})
	if e, _ := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: past}); e.Status != access.StatusExpired {
		t.Errorf("ended booking: %s", e.Status)
	}
	unmapped := create(nexudus.Booking{ResourceId: 11, CoworkerId: 100, FromTime: nexudus.NewTime(start), ToTime: nexudus.NewTime(end)})
	if e, _ := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: unmapped}); len(e.Groups) != 0 {
		t.Errorf("unmapped resource gives groups %v", e.Groups)
	}
	if err := a.Nexudus.DeleteBooking(ctx, int(id)); err != nil {
		t.Fatal(err)
	}
	if e, err := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: id}); err != nil || e.Status != access.StatusDeleted {
		t.Errorf("deleted booking: %s %v", e.Status, err)
	}
	// Exactly one Nexudus read per load.
	sim.ResetStats()
	_, _ = a.LoadEntitlement(ctx, access.Ref{Kind: access.KindBooking, ID: tentative})
	if n := sim.Stats().Total; n != 1 {
		t.Errorf("%d Nexudus calls for one load", n)
	}
}

func TestLoadPass(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) // 11:00 in Madrid
	a, _ := newLoader(t, now)
	ctx := context.Background()
	create := func(p nexudus.CoworkerTimePass) access.Entitlement {
		p.CoworkerId, p.BusinessId, p.TimePassId = 100, 5, 20
		id, err := a.Nexudus.CreateCoworkerTimePass(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		e, err := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindPass, ID: int64(id)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	expiry := now.Add(48 * time.Hour)
	e := create(nexudus.CoworkerTimePass{ExpireDate: nexudus.NewTime(expiry)})
	if e.Status != access.StatusActive || !e.GrantAt.IsZero() || !e.RevokeAt.Equal(expiry) || !slices.Equal(e.Groups, []string{"g-day"}) {
		t.Errorf("valid pass: %+v", e)
	}
	// Used today: access until the end of the day it was used (midnight in Madrid = 23:00 UTC).
	e = create(nexudus.CoworkerTimePass{ExpireDate: nexudus.NewTime(expiry), Used: true, UsedDate: nexudus.NewTime(now.Add(-time.Hour))})
	if want := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC); e.Status != access.StatusActive || !e.RevokeAt.Equal(want) {
		t.Errorf("pass used today: %s until %s, want active until %s", e.Status, e.RevokeAt, want)
	}
	zero := 0
	e = create(nexudus.CoworkerTimePass{RemainingUses: &zero, UsedDate: nexudus.NewTime(now.Add(-30 * time.Hour))})
	if e.Status != access.StatusExpired {
		t.Errorf("pass used up yesterday: %s", e.Status)
	}
	e = create(nexudus.CoworkerTimePass{ExpireDate: nexudus.NewTime(now.Add(-time.Minute))})
	if e.Status != access.StatusExpired {
		t.Errorf("expired pass: %s", e.Status)
	}
}

func TestLoadContract(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a, _ := newLoader(t, now)
	ctx := context.Background()
	load := func(c nexudus.CoworkerContract) access.Entitlement {
		c.CoworkerId = 100
		id, err := a.Nexudus.CreateContract(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		e, err := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindContract, ID: int64(id)})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	started := nexudus.NewTime(now.Add(-24 * time.Hour))
	e := load(nexudus.CoworkerContract{StartDate: started, Active: true, FloorPlanDeskIds: nexudus.IDList{30}})
	if e.Status != access.StatusActive || e.LocationID != 5 || !e.RevokeAt.IsZero() || !slices.Equal(e.Groups, []string{"g-office"}) {
		t.Errorf("active contract: %+v", e)
	}
	cancel := now.Add(72 * time.Hour)
	e = load(nexudus.CoworkerContract{StartDate: started, Active: true, Cancelled: true, CancellationDate: nexudus.NewTime(cancel), FloorPlanDeskIds: nexudus.IDList{30}})
	if e.Status != access.StatusActive || !e.RevokeAt.Equal(cancel.Add(15*time.Minute)) {
		t.Errorf("contract cancelled with a future date: %s until %s", e.Status, e.RevokeAt)
	}
	e = load(nexudus.CoworkerContract{StartDate: started, Active: false, FloorPlanDeskIds: nexudus.IDList{30}})
	if e.Status != access.StatusExpired {
		t.Errorf("inactive contract: %s", e.Status)
	}
	e = load(nexudus.CoworkerContract{StartDate: nexudus.NewTime(now.Add(24 * time.Hour)), Active: false, FloorPlanDeskIds: nexudus.IDList{30}})
	if e.Status != access.StatusActive || e.GrantAt.IsZero() {
		t.Errorf("contract starting tomorrow: %s from %s", e.Status, e.GrantAt)
	}
}

func TestLoadVisitor(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a, _ := newLoader(t, now)
	ctx := context.Background()
	id, err := a.Nexudus.CreateVisitor(ctx, nexudus.Visitor{BusinessId: 5, FullName: "Vera", CoworkerId: 100,
		ExpectedArrival: nexudus.NewTime(now.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.LoadEntitlement(ctx, access.Ref{Kind: access.KindVisitor, ID: int64(id)})
	if err != nil {
		t.Fatal(err)
	}
	dayStart, dayEnd := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	if !e.GrantAt.Equal(dayStart) || !e.RevokeAt.Equal(dayEnd) || e.Visitor == nil || !e.Visitor.PIN || e.Visitor.GroupID != "g-visit" {
		t.Fatalf("visitor: %+v %+v", e, e.Visitor)
	}
	v, _ := a.Nexudus.GetVisitor(ctx, id)
	v.DepartureDate = nexudus.NewTime(now.Add(3 * time.Hour))
	if err := a.Nexudus.UpdateVisitor(ctx, v); err != nil {
		t.Fatal(err)
	}
	e, _ = a.LoadEntitlement(ctx, access.Ref{Kind: access.KindVisitor, ID: int64(id)})
	if !e.Visitor.Departed || !e.RevokeAt.Equal(now.Add(3*time.Hour+15*time.Minute)) {
		t.Errorf("departed visitor: until %s", e.RevokeAt)
	}
}

// The activities' names are recorded in every history: a renamed method would leave running workflows unable
// to replay. These are the names, written out.
func TestActivityNames(t *testing.T) {
	want := []string{"LoadEntitlement", "LoadLocation", "SignalCustomer", "EnsureSaltoUser", "AddToGroup",
		"RemoveFromGroup", "SetSubscription", "DeleteSaltoUser", "CheckUserHold", "GrantVisitor", "RevokeVisitor",
		"RecordProblem", "PollChanges", "DispatchChanges", "PlanReconcile", "ApplyReconcile", "PollEntries",
		"ResolveUsers", "RecordPresence"}
	var got []string
	for _, fn := range (&Activities{}).all() {
		// The SDK's rule for a method value: the last part of its name, without the "-fm" suffix.
		name := strings.TrimSuffix(runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name(), "-fm")
		got = append(got, name[strings.LastIndex(name, ".")+1:])
	}
	if !slices.Equal(got, want) {
		t.Errorf("activity names %v, want %v", got, want)
	}
}
