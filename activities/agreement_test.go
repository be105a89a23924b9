package activities

import (
	"context"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/rules/rulestest"
)

// The workflows' decision (LoadEntitlement, then rules.GivesAccess at that instant) and reconciliation's
// desired state (its own filtered listings) agree with the hand-written table of rulestest, over real HTTP.
func TestWorkflowsAndReconcileAgreeOnTheRules(t *testing.T) {
	nx, cases := rulestest.Setup(t)
	ctx := context.Background()
	a := &Activities{Config: rulestest.Config(), Nexudus: nx, Now: func() time.Time { return rulestest.AsOf }}

	for ref, c := range cases {
		e, err := a.LoadEntitlement(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got, why := rules.GivesAccess(e, rulestest.AsOf); got != c.Access {
			t.Errorf("workflow of %s: access %v (%s), the table says %v", c.Name, got, why, c.Access)
		}
	}

	loc, _ := a.Config.Location(rulestest.Business)
	var s snapshot
	for _, phase := range []string{phaseBookings, phasePasses, phaseContracts, phaseVisitors} {
		if err := a.readEntitlements(ctx, loc, rulestest.AsOf, phase, &s, func() {}); err != nil {
			t.Fatal(err)
		}
	}
	desired := map[access.Ref]bool{}
	for _, e := range s.Entitlements {
		desired[e.Ref] = true
	}
	for ref, c := range cases {
		if desired[ref] != c.Access {
			t.Errorf("reconciliation of %s: desired %v, the table says %v", c.Name, desired[ref], c.Access)
		}
	}
}
