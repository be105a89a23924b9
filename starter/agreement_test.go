package main

import (
	"context"
	"testing"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/rules/rulestest"
)

// A backfill of one instant starts exactly the workflows the hand-written table of rulestest says may give
// access then (the same table the workflows and reconciliation are tested against), over real HTTP.
func TestBackfillAgreesWithTheRules(t *testing.T) {
	nx, cases := rulestest.Setup(t)
	ctx := context.Background()
	cfg := rulestest.Config()
	cands, errs := collectCandidates(ctx, nx, cfg, []*config.Location{&cfg.Locations[0]}, rules.At(rulestest.AsOf),
		rulestest.AsOf)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	started := map[access.Ref]bool{}
	for _, c := range cands {
		started[c.Ref] = true
	}
	for ref, c := range cases {
		if started[ref] != c.Start {
			t.Errorf("backfill of %s: started %v, the table says %v", c.Name, started[ref], c.Start)
		}
	}
}
