package activities

import (
	"fmt"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

// A location's first reconciliation, 40 customers who kept their Salto users and have nothing left, policy
// suspend, at most 5 a run: each run suspends 5 and defers the rest, while the customer whose booking lacks
// its groups is repaired at every run whatever the limit. Runs go on as the customer workflows would answer
// them (the suspended ones drop out) and reach every customer, although the workflows never suspend the
// first 5 (a group nexsalto does not own holds them): a window that always began at the lowest ids would
// stop there for good.
func TestPlanSpreadsTheNoAccessPolicyOverRuns(t *testing.T) {
	s := snapshot{Emails: map[string][]int64{}, Members: map[string][]string{}, Running: map[string]runningWorkflow{},
		Entitlements: []access.Entitlement{ent(access.KindBooking, 1, 300, "entrance", "room")}}
	user := map[int64]int{}
	for _, id := range append([]int64{300}, ids(200, 240)...) {
		email := fmt.Sprintf("c%d@x", id)
		s.Emails[email] = []int64{id}
		user[id] = len(s.Users)
		s.Users = append(s.Users, siteUser{SiteUserID: fmt.Sprint("s", id), PlatformID: fmt.Sprint("p", id), Email: email})
	}
	held := map[int64]bool{200: true, 201: true, 202: true, 203: true, 204: true}
	loc := testLocation(config.PolicySuspend)
	runs := 0
	for left := 35; left > 0; runs++ {
		if runs == 15 {
			t.Fatalf("%d customers still not suspended after %d runs", left, runs)
		}
		plan := buildPlan(loc, asOf.Add(time.Duration(runs)*15*time.Minute), s, 5)
		due := left + len(held)
		if plan.Suspended != min(5, due) || plan.PolicyDeferred != due-plan.Suspended {
			t.Fatalf("run %d: %d suspended, %d deferred; want %d and %d", runs, plan.Suspended, plan.PolicyDeferred,
				min(5, due), due-min(5, due))
		}
		repaired := false
		for _, a := range plan.Actions {
			id := a.Customer.CoworkerID
			if id == 300 {
				repaired = len(a.Add) == 2 && a.Policy == ""
				continue
			}
			if a.Policy != access.PolicySuspend {
				t.Fatalf("run %d: customer %d: policy %q", runs, id, a.Policy)
			}
			if !held[id] {
				s.Users[user[id]].Suspended = true
				left--
			}
		}
		if !repaired {
			t.Fatalf("run %d: customer 300's missing groups not repaired: %+v", runs, plan.Actions)
		}
	}
	t.Logf("every customer suspended in %d runs of at most 5", runs)
	// No limit: everything at once.
	if plan := buildPlan(loc, asOf, s, 0); plan.Suspended != len(held) || plan.PolicyDeferred != 0 {
		t.Errorf("no limit: %d suspended, %d deferred", plan.Suspended, plan.PolicyDeferred)
	}
}

func ids(from, to int64) []int64 {
	var out []int64
	for id := from; id < to; id++ {
		out = append(out, id)
	}
	return out
}
