package activities

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/rules/rulestest"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// The workflows' decision (LoadEntitlement, then rules.GivesAccess at that instant) and reconciliation's
// desired state (its own filtered listings) agree with the hand-written table of rulestest, over real HTTP.
func TestWorkflowsAndReconcileAgreeOnTheRules(t *testing.T) {
	sim := nexudussim.New(nexudussim.Options{Users: map[string]string{"u": "p"}, CallsPerMinute: -1, WritesPerMinute: -1})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { sim.Close(); srv.Close() })
	nx, err := nexudus.New(nexudus.Config{BaseURL: srv.URL, Username: "u", Password: "p", Auth: "basic", RequestsPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Seed(rulestest.Dataset()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := &Activities{Config: rulestest.Config(), Nexudus: nx, Now: func() time.Time { return rulestest.AsOf }}
	cases := map[access.Ref]rulestest.Case{}
	for _, c := range rulestest.Cases() {
		ref, err := rulestest.Create(ctx, nx, c.Record)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		cases[ref] = c
	}

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
