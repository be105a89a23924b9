package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/rules/rulestest"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// A backfill of one instant starts exactly the workflows the hand-written table of rulestest says may give
// access then (the same table the workflows and reconciliation are tested against), over real HTTP.
func TestBackfillAgreesWithTheRules(t *testing.T) {
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
	cases := map[access.Ref]rulestest.Case{}
	for _, c := range rulestest.Cases() {
		ref, err := rulestest.Create(ctx, nx, c.Record)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		cases[ref] = c
	}
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
