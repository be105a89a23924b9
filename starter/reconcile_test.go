package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
)

// A booking in progress whose webhook never came: the dry run lists it and changes nothing; the real run
// (through the location's Schedule) starts its workflow, and the customer gets the room.
func TestReconcileDryRunChangesNothingAndARunRepairs(t *testing.T) {
	e := newSimulators(t).withTemporal()
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))
	room := e.groups["Meeting Room A"]
	members := func() []string { return e.salto.GroupMembers(e.site, room) }
	before := slices.Clone(members())

	r := runCLI(t, testSecrets, "--config", cfg, "reconcile", "--location", "1", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "dry run: nothing changed") || !strings.Contains(r.stdout, "booking-100") {
		t.Fatalf("dry run: %s", r)
	}
	r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "reconcile", "--location", "1", "--dry-run")
	var plans []access.ReconcilePlan
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &plans) != nil || len(plans) != 1 || plans[0].Refreshed == 0 {
		t.Fatalf("dry run json: %s", r)
	}
	if _, ok := e.workflowStatus("booking-100"); ok {
		t.Fatal("the dry run started a workflow")
	}
	if !slices.Equal(before, members()) {
		t.Fatal("the dry run changed Salto")
	}

	r = runCLI(t, testSecrets, "--config", cfg, "reconcile", "--location", "1", "--wait", "2m")
	if r.code != exitOK || !strings.Contains(r.stdout, "Location 1 reconciled") {
		t.Fatalf("reconcile: %s", r)
	}
	if _, ok := e.workflowStatus("booking-100"); !ok {
		t.Fatal("reconciliation did not start the missing booking's workflow")
	}
	eventually(t, "the booking's customer in the room's group", time.Minute, func() bool { return len(members()) > len(before) })
}
