package activities

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
)

var asOf = time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)

func testLocation(policy config.NoAccessPolicy) *config.Location {
	return &config.Location{BusinessID: 1, SaltoSite: "site-1", NoAccessPolicy: policy,
		Resources:     map[int64][]string{10: {"entrance", "room"}},
		Passes:        map[int64][]string{20: {"entrance", "pass"}},
		Desks:         map[int64][]string{30: {"desk"}},
		VisitorGroups: []string{"visitors"}}
}

func ent(kind access.Kind, id, coworker int64, groups ...string) access.Entitlement {
	return access.Entitlement{Ref: access.Ref{Kind: kind, ID: id}, LocationID: 1, CoworkerID: coworker,
		Groups: groups, Status: access.StatusActive}
}

// testSnapshot: customer 100 is in line; 101 lacks the pass group; 102 has nothing left but sits in the room
// group; 103 is found by the alias of a tag-only user (its email is shared, so ambiguous); 105 has nothing
// and is suspended already; a member of staff is in the entrance group; workflows are missing or stale.
func testSnapshot() snapshot {
	return snapshot{
		Entitlements: []access.Entitlement{
			ent(access.KindBooking, 1, 100, "entrance", "room"),
			ent(access.KindPass, 2, 101, "entrance", "pass"),
			ent(access.KindVisitor, 3, 100, "visitors"),
		},
		Emails: map[string][]int64{"a@x": {100}, "b@x": {101}, "c@x": {102}, "shared@x": {103, 104}},
		Users: []siteUser{
			{SiteUserID: "s100", PlatformID: "p100", Email: "a@x"},
			{SiteUserID: "s101", PlatformID: "p101", Email: "b@x"},
			{SiteUserID: "s102", PlatformID: "p102", Email: "c@x"},
			{SiteUserID: "s103", PlatformID: "p103", Email: "shared@x", Alias: "Zoe (nexudus 103)"},
			{SiteUserID: "s105", PlatformID: "p105", Alias: "Yann (nexudus 105)", Suspended: true},
			{SiteUserID: "sstaff", PlatformID: "pstaff", Email: "staff@x", Alias: "Cleaner"},
		},
		Visitors: map[string]bool{"pguest": true},
		Members: map[string][]string{
			"entrance": {"p100", "p101", "pstaff"},
			"room":     {"p100", "p102"},
			"visitors": {"pguest"},
		},
		Running: map[string]runningWorkflow{
			"booking-1":  {State: access.StateGranted, Customer: 100},
			"pass-2":     {State: access.StateScheduled, Customer: 101},
			"contract-9": {State: access.StateGranted, Customer: 102},
		},
		Calls: access.ReconcileCalls{Nexudus: 7, Salto: 9, Temporal: 1},
	}
}

func TestBuildPlan(t *testing.T) {
	plan := buildPlan(testLocation(config.PolicySuspend), asOf, testSnapshot(), 0)
	byCustomer := map[int64]access.ReconcileAction{}
	var keys []string
	for _, a := range plan.Actions {
		byCustomer[a.Customer.CoworkerID] = a
		keys = append(keys, a.Key)
	}
	if !slices.IsSorted(keys) || len(plan.Actions) != 4 {
		t.Fatalf("actions %v", keys)
	}
	refs := func(a access.ReconcileAction) []string {
		var out []string
		for _, r := range a.Refresh {
			out = append(out, r.WorkflowID())
		}
		return out
	}

	// In line in Salto, but the visitor it hosts has no running workflow.
	if a := byCustomer[100]; a.Repair != nil || !slices.Equal(refs(a), []string{"visitor-3"}) {
		t.Errorf("100: %+v", a)
	}
	// Lacks the pass group; its pass workflow is not granting.
	a := byCustomer[101]
	if !slices.Equal(a.Add, []string{"pass"}) || len(a.Remove) != 0 || a.Repair == nil || a.Repair.NothingLeft ||
		!slices.Equal(a.Repair.Observed, []string{"entrance"}) || !slices.Equal(refs(a), []string{"pass-2"}) ||
		a.Repair.User == nil || a.Repair.User.PlatformUserID != "p101" || a.Repair.User.SiteID != "site-1" {
		t.Errorf("101: %+v %+v", a, a.Repair)
	}
	// Nothing left: out of the room, suspended, and the stale contract workflow reads Nexudus again.
	a = byCustomer[102]
	if !slices.Equal(a.Remove, []string{"room"}) || a.Policy != access.PolicySuspend || a.Repair == nil ||
		!a.Repair.NothingLeft || !slices.Equal(refs(a), []string{"contract-9"}) {
		t.Errorf("102: %+v", a)
	}
	// Matched by alias (its email is ambiguous), nothing left, still subscribed.
	if a := byCustomer[103]; a.Policy != access.PolicySuspend || a.Repair == nil || len(a.Repair.Observed) != 0 {
		t.Errorf("103: %+v", a)
	}
	if _, ok := byCustomer[105]; ok {
		t.Error("105 is suspended already: nothing to do")
	}
	// The visitor's guest is its visitor workflow's; the member of staff matches no coworker.
	if plan.Unmatched != 1 || plan.UnmatchedMembers[0].PlatformUserID != "pstaff" {
		t.Errorf("unmatched %+v", plan.UnmatchedMembers)
	}
	if plan.Checked != 5 || plan.Entitlements != 3 || plan.Members != 6 || plan.Added != 1 || plan.Removed != 1 ||
		plan.Suspended != 2 || plan.Deleted != 0 || plan.Refreshed != 3 || plan.Calls.Salto != 9 {
		t.Errorf("counts %+v", plan)
	}
}

func TestBuildPlanDeletePolicy(t *testing.T) {
	plan := buildPlan(testLocation(config.PolicyDelete), asOf, testSnapshot(), 0)
	if plan.Deleted != 3 || plan.Suspended != 0 {
		t.Errorf("deleted %d, suspended %d", plan.Deleted, plan.Suspended)
	}
	plan = buildPlan(testLocation(config.PolicyKeep), asOf, testSnapshot(), 0)
	if plan.Deleted != 0 || plan.Suspended != 0 || plan.Removed != 1 {
		t.Errorf("keep: %+v", plan)
	}
}

// The user found by email wins over one found by alias, as when the customer workflow links a user.
func TestBuildPlanPrefersEmailMatch(t *testing.T) {
	s := snapshot{
		Entitlements: []access.Entitlement{ent(access.KindBooking, 1, 100, "room")},
		Emails:       map[string][]int64{"a@x": {100}},
		Users: []siteUser{
			{SiteUserID: "old", PlatformID: "pold", Alias: "Ann (nexudus 100)"},
			{SiteUserID: "new", PlatformID: "pnew", Email: "a@x"},
		},
		Members: map[string][]string{"room": {"pnew"}},
		Running: map[string]runningWorkflow{"booking-1": {State: access.StateGranted, Customer: 100}},
	}
	plan := buildPlan(testLocation(config.PolicySuspend), asOf, s, 0)
	if len(plan.Actions) != 0 {
		t.Errorf("actions %+v", plan.Actions)
	}
}

func TestCutBatch(t *testing.T) {
	p := access.ReconcilePlan{Added: 3}
	for _, k := range []string{"c1", "c2", "c3", "c4", "c5"} {
		p.Actions = append(p.Actions, access.ReconcileAction{Key: k})
	}
	b := cutBatch(p, "", 2)
	if len(b.Actions) != 2 || b.Actions[1].Key != "c2" || !b.More || b.Totals.Actions != nil || b.Totals.Added != 3 {
		t.Errorf("first batch %+v", b)
	}
	b = cutBatch(p, "c4", 2)
	if len(b.Actions) != 1 || b.Actions[0].Key != "c5" || b.More {
		t.Errorf("last batch %+v", b)
	}
	if b = cutBatch(p, "c5", 2); len(b.Actions) != 0 || b.More {
		t.Errorf("past the end %+v", b)
	}
}

// The account's change poller starts what maps to a configured location (or may, when the list record lacks
// what the mapping needs) and only signals a running workflow of a record mapped nowhere.
func TestRouteChange(t *testing.T) {
	cfg := &config.Config{Locations: []config.Location{
		{BusinessID: 1, Resources: map[int64][]string{10: {"a"}}, Desks: map[int64][]string{30: {"d"}},
			Passes: map[int64][]string{20: {"p"}}},
		{BusinessID: 2, Resources: map[int64][]string{11: {"b"}}, VisitorGroups: []string{"v"}},
	}}
	for _, tc := range []struct {
		name   string
		record any
		known  bool
		want   access.DispatchAction
	}{
		{"a room of the first location", nexudus.Booking{ResourceId: 10}, true, access.DispatchStart},
		{"a room of the second", nexudus.Booking{ResourceId: 11}, true, access.DispatchStart},
		{"a room mapped nowhere", nexudus.Booking{ResourceId: 99}, true, access.DispatchSignal},
		{"a contract's desk", nexudus.CoworkerContract{FloorPlanDeskIds: nexudus.IDList{30}}, true, access.DispatchStart},
		{"a partial contract: its read decides", nexudus.CoworkerContract{}, false, access.DispatchStart},
		{"a pass of a configured location", nexudus.CoworkerTimePass{BusinessId: 1, TimePassId: 20}, true, access.DispatchStart},
		{"a pass of a location not configured", nexudus.CoworkerTimePass{BusinessId: 9, TimePassId: 20}, true, access.DispatchSignal},
		{"a visitor of the second location", nexudus.Visitor{BusinessId: 2}, true, access.DispatchStart},
	} {
		if got := route(locationOf(cfg, tc.record), tc.known); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestMatchCoworker(t *testing.T) {
	emails := map[string][]int64{"a@x": {1}, "shared@x": {2, 3}}
	for _, tc := range []struct {
		u    siteUser
		id   int64
		want bool
	}{
		{siteUser{Email: "a@x"}, 1, true},
		{siteUser{Email: "shared@x"}, 0, false},
		{siteUser{Email: "shared@x", Alias: "Bo (nexudus 3)"}, 3, true},
		{siteUser{Alias: "Visitor Bo (visitor 9)"}, 0, false},
		{siteUser{Alias: "Cleaner"}, 0, false},
	} {
		if id, ok := matchCoworker(tc.u, emails); ok != tc.want || id != tc.id {
			t.Errorf("%+v: %d %v", tc.u, id, ok)
		}
	}
}

// A retried PlanReconcile resumes with the phases an earlier attempt on this worker completed: here the
// Nexudus phases are done, so the retry reads only Salto (and Temporal), and the plan still covers them all.
func TestPlanReconcileResumesDonePhases(t *testing.T) {
	const (
		site  = "5a170000-0000-4000-8000-000000000001"
		group = "5a170000-0000-4000-8000-0000000000a4"
	)
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	a, nsim := newLoader(t, now)
	ssim := withSalto(t, a, site, group)
	a.Config.Locations[0].SaltoSite = site
	a.Config.Locations[0].Passes = map[int64][]string{20: {group}}
	a.Config.Locations[0].Resources, a.Config.Locations[0].Desks, a.Config.Locations[0].VisitorGroups = nil, nil, nil

	// What an earlier attempt read before it failed.
	e := a.plans.get("plan-1", now)
	for _, p := range []string{phaseCoworkers, phaseBookings, phasePasses, phaseContracts, phaseVisitors} {
		e.done[p] = true
	}
	pass := ent(access.KindPass, 7, 100, group)
	pass.LocationID = 5
	e.snap.Entitlements = []access.Entitlement{pass}
	e.snap.Emails = map[string][]int64{"ana@example.com": {100}}
	e.snap.Calls.Nexudus = 5
	nsim.ResetStats()

	b, err := a.PlanReconcile(context.Background(), access.PlanRequest{LocationID: 5, PlanID: "plan-1", AsOf: now, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if n := nsim.Stats().Total; n != 0 {
		t.Errorf("the retry read Nexudus again: %d calls", n)
	}
	if len(b.Actions) != 1 || b.Actions[0].Customer.CoworkerID != 100 || !slices.Equal(b.Actions[0].Add, []string{group}) ||
		b.Totals.Calls.Nexudus != 5 || b.Totals.Calls.Salto < 2 {
		t.Fatalf("batch %+v", b)
	}
	// The next batch of the same plan is cut from memory: no call at all.
	ssim.ResetStats()
	if b, err = a.PlanReconcile(context.Background(), access.PlanRequest{LocationID: 5, PlanID: "plan-1", AsOf: now,
		After: b.Actions[0].Key, Limit: 10}); err != nil || len(b.Actions) != 0 || ssim.Stats().Total != 0 {
		t.Errorf("second batch %+v, %v, %d Salto calls", b, err, ssim.Stats().Total)
	}
}

// A customer Nexudus gives access to whose Salto user is suspended (no free licence seat when it last tried):
// reconciliation asks its workflow to try again, even though its memberships are in line. The repair marks the
// users that carry the alias nexsalto gives the users it creates.
func TestBuildPlanAsksSuspendedCustomersToSubscribeAgain(t *testing.T) {
	s := testSnapshot()
	for i := range s.Users {
		if s.Users[i].SiteUserID == "s100" {
			s.Users[i].Suspended = true
			s.Users[i].Alias = "Ana (nexudus 100)"
		}
	}
	plan := buildPlan(testLocation(config.PolicySuspend), asOf, s, 0)
	var a access.ReconcileAction
	for _, x := range plan.Actions {
		if x.Customer.CoworkerID == 100 {
			a = x
		}
	}
	if a.Repair == nil || a.Repair.NothingLeft || len(a.Add) != 0 || len(a.Remove) != 0 || a.Policy != "" ||
		a.Repair.User == nil || !a.Repair.User.Suspended || !a.Repair.User.Created {
		t.Fatalf("100: %+v %+v", a, a.Repair)
	}
	if plan.Resubscribed != 1 {
		t.Errorf("resubscribed %d, want 1", plan.Resubscribed)
	}
	// 105 is suspended too, but Nexudus gives it nothing: not asked.
	for _, x := range plan.Actions {
		if x.Customer.CoworkerID == 105 {
			t.Errorf("105: %+v", x)
		}
	}
	// Found by e-mail without our alias: adopted, not created by us.
	for _, x := range plan.Actions {
		if x.Customer.CoworkerID == 101 && (x.Repair == nil || x.Repair.User.Created) {
			t.Errorf("101: %+v", x.Repair)
		}
	}
}
