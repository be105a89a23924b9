package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/logbuf"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func (e *env) workflowStatus(id string) (enums.WorkflowExecutionStatus, bool) {
	e.t.Helper()
	d, err := e.tc.DescribeWorkflowExecution(context.Background(), id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return 0, false
	}
	if err != nil {
		e.t.Fatalf("describe %s: %v", id, err)
	}
	return d.GetWorkflowExecutionInfo().GetStatus(), true
}

// Every entity the default backfill window (now → now+7d) selects from the seeded data.
var windowEntities = []string{"booking-100", "booking-101", "pass-200", "contract-300", "visitor-400"}

func TestBackfillStartsEachEntityOnceAndDryRunChangesNothing(t *testing.T) {
	e := newSimulators(t).withTemporal()
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))

	// A dry run lists the plan and starts nothing.
	r := runCLI(t, testSecrets, "--config", cfg, "backfill", "--dry-run")
	if r.code != exitOK {
		t.Fatalf("dry run: %s", r)
	}
	for _, id := range windowEntities {
		if !regexp.MustCompile(`would start\s+` + id + `\b`).MatchString(r.stdout) {
			t.Errorf("dry run does not plan to start %s", id)
		}
		if _, ok := e.workflowStatus(id); ok {
			t.Errorf("dry run started %s", id)
		}
	}
	for _, id := range []string{"booking-102", "booking-103", "booking-104"} {
		if strings.Contains(r.stdout, id) {
			t.Errorf("dry run considers %s, which is outside the window, unmapped or over", id)
		}
	}
	if !strings.Contains(r.stdout, "would start 5, would refresh 0, would skip 0, failed 0") {
		t.Errorf("dry run summary missing")
	}

	// The real run starts each entity once.
	r = runCLI(t, testSecrets, "--config", cfg, "backfill")
	if r.code != exitOK || !strings.Contains(r.stdout, "started 5, refreshed 0, skipped 0, failed 0") {
		t.Fatalf("backfill: %s", r)
	}
	if !strings.Contains(r.stderr, "5/5 processed") {
		t.Errorf("no plain progress line without a terminal")
	}
	for _, id := range windowEntities {
		if _, ok := e.workflowStatus(id); !ok {
			t.Errorf("backfill did not start %s", id)
		}
	}

	// A second run starts nothing: everything runs.
	r = runCLI(t, testSecrets, "--config", cfg, "--output", "json", "backfill")
	if r.code != exitOK {
		t.Fatalf("second backfill: %s", r)
	}
	var rep backfillReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--output json does not parse: %v", err)
	}
	if rep.Summary != (backfillSummary{Skipped: 5}) {
		t.Errorf("second backfill summary %+v, want 5 skipped", rep.Summary)
	}
	for _, en := range rep.Entities {
		if en.Action != actSkipped || en.Reason != "running" {
			t.Errorf("%s: %s (%s), want skipped (running)", en.WorkflowID, en.Action, en.Reason)
		}
	}

	// --refresh in a dry run plans to signal them all and still changes nothing; with a terminal the progress
	// bar takes the place of the plain lines.
	r = runCLIWith(t, testSecrets, true, "--config", cfg, "backfill", "--refresh", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "would refresh 5") || strings.Contains(r.stderr, "processed") {
		t.Fatalf("refresh dry run: %s", r)
	}

	// --all-current also takes the booking after the window, and only that one is new.
	r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "backfill", "--all-current")
	if r.code != exitOK {
		t.Fatalf("all-current: %s", r)
	}
	rep = backfillReport{}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary != (backfillSummary{Started: 1, Skipped: 5}) || rep.To != nil || !rep.AllCurrent {
		t.Errorf("all-current report %+v", rep)
	}
	if _, ok := e.workflowStatus("booking-102"); !ok {
		t.Errorf("all-current did not start booking-102")
	}
	if _, ok := e.workflowStatus("booking-104"); ok {
		t.Errorf("a booking that is over was started")
	}
}

func TestBackfillNeverResurrectsAClosedWorkflowWithoutRefresh(t *testing.T) {
	e := newSimulators(t).withTemporal()
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))
	if r := runCLI(t, testSecrets, "--config", cfg, "backfill"); r.code != exitOK {
		t.Fatalf("backfill: %s", r)
	}
	// An operator cancels one; its run closes.
	ctx := context.Background()
	if err := e.tc.CancelWorkflow(ctx, "booking-101", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "booking-101 closed", 30*time.Second, func() bool {
		s, _ := e.workflowStatus("booking-101")
		return s != enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	r := runCLI(t, testSecrets, "--config", cfg, "backfill")
	if r.code != exitOK || !strings.Contains(r.stdout, "started 0, refreshed 0, skipped 5, failed 0") {
		t.Fatalf("backfill after close: %s", r)
	}
	if s, _ := e.workflowStatus("booking-101"); s == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("a closed workflow was resurrected without --refresh")
	}
	r = runCLI(t, testSecrets, "--config", cfg, "backfill", "--refresh", "--dry-run")
	if !regexp.MustCompile(`would refresh\s+booking-101\s.*closed \(canceled\)`).MatchString(r.stdout) {
		t.Errorf("refresh dry run does not plan a new run of the closed workflow: %s", r)
	}

	// Nexudus throttles once: the client waits Retry-After and the backfill succeeds.
	if err := e.nexudus.SetFaults(nexudussim.Faults{ThrottleNext: 1, RetryAfter: 1}); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, testSecrets, "--config", cfg, "backfill"); r.code != exitOK {
		t.Errorf("backfill through a 409: %s", r)
	}
	// A listing that fails is reported and fails the run, while the rest is still processed.
	if err := e.nexudus.SetFaults(nexudussim.Faults{ErrorNext: 1}); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, testSecrets, "--config", cfg, "backfill")
	if r.code != exitFailure || !strings.Contains(r.stdout, "ERROR list bookings") ||
		!strings.Contains(r.stdout, "skipped 3, failed 0") {
		t.Errorf("backfill with a failed listing: %s", r)
	}
}

func TestUnknownLocationFails(t *testing.T) {
	e := newSimulators(t)
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))
	for _, args := range [][]string{{"backfill", "--location", "7"}, {"mapping", "check", "--location", "7"}} {
		r := runCLI(t, testSecrets, append([]string{"--config", cfg}, args...)...)
		if r.code != exitFailure || !strings.Contains(r.stderr, "location 7 is not in the configuration") {
			t.Errorf("unknown location: %s", r)
		}
	}
}

func TestResyncStartsTheWorkflowAndStatusShowsTheGrantedBooking(t *testing.T) {
	e := newSimulators(t).withTemporal()
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))

	r := runCLI(t, testSecrets, "--config", cfg, "resync", "booking", "100")
	if r.code != exitOK || !strings.Contains(r.stdout, "booking-100") {
		t.Fatalf("resync: %s", r)
	}
	if s, ok := e.workflowStatus("booking-100"); !ok || s != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("booking-100 not running after resync (found %v, status %v)", ok, s)
	}
	r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "resync", "pass", "200")
	var out map[string]any
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &out) != nil || out["workflow_id"] != "pass-200" {
		t.Fatalf("resync json: %s", r)
	}

	// The booking is in progress: the customer workflow adds Ada to the room's group in Salto.
	room := e.groups["Meeting Room A"]
	eventually(t, "Ada in the Meeting Room A group", time.Minute, func() bool {
		u, ok := e.salto.UserByEmail(e.site, "ada@example.com")
		if !ok {
			// Tag-only users carry no email: find her by alias.
			for _, x := range e.salto.Users(e.site) {
				if strings.Contains(x.Alias, "nexudus 42") {
					u, ok = x, true
				}
			}
		}
		return ok && slices.Contains(e.salto.GroupMembers(e.site, room), u.User.ID)
	})

	r = runCLI(t, testSecrets, "--config", cfg, "status", "customer", "1", "42")
	if r.code != exitOK {
		t.Fatalf("status customer: %s", r)
	}
	for _, want := range []string{"customer-1-42", "State:       active", "booking-100", "Meeting Room A", room} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status customer output lacks %q", want)
		}
	}
	if !regexp.MustCompile(room + `\s+Meeting Room A\s+yes\s+yes\s+yes\s+ok`).MatchString(r.stdout) {
		t.Errorf("the room's group is not shown as wanted, applied and in Salto")
	}

	r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "status", "customer", "1", "42")
	var cr customerReport
	if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &cr) != nil {
		t.Fatalf("status customer json: %s", r)
	}
	if _, ok := cr.State.Ledger["booking-100"]; !ok || cr.State.State != access.StateActive {
		t.Errorf("ledger %+v, state %s", cr.State.Ledger, cr.State.State)
	}
	found := false
	for _, g := range cr.Groups {
		if g.ID == room {
			found = g.Desired && g.InSalto != nil && *g.InSalto
		}
	}
	if !found {
		t.Errorf("json groups %+v lack the room's group as wanted and in Salto", cr.Groups)
	}

	// A customer without a workflow is a failure a script can see.
	r = runCLI(t, testSecrets, "--config", cfg, "status", "customer", "1", "999")
	if r.code != exitFailure || !strings.Contains(r.stderr, "customer-1-999: no workflow") {
		t.Errorf("unknown customer: %s", r)
	}

	// The system view counts by kind and state; visibility lags, so poll.
	eventually(t, "visibility to count the granted booking", 30*time.Second, func() bool {
		r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "status")
		var sr systemReport
		if r.code != exitOK || json.Unmarshal([]byte(r.stdout), &sr) != nil {
			t.Fatalf("status json: %s", r)
		}
		for _, k := range sr.Kinds {
			if k.Kind == "booking" && k.States["granted"] == 1 && k.Running == 1 {
				return true
			}
		}
		return false
	})
	r = runCLI(t, testSecrets, "--config", cfg, "status", "system", "--location", "1")
	if r.code != exitOK || !regexp.MustCompile(`booking\s+1\s+1\s+0\s+granted 1`).MatchString(r.stdout) {
		t.Errorf("status system text: %s", r)
	}
}

func TestMappingCheckFlagsMissingGroupAndSuggestsMatches(t *testing.T) {
	e := newSimulators(t)
	// The phone booth maps to a group id that does not exist (a typo of the real one), the day pass is not
	// mapped, and desk 99 does not exist in Nexudus.
	typo := e.groups["Phone Booth"][:len(e.groups["Phone Booth"])-1] + "x"
	mapping := fmt.Sprintf(`
    resources: {%d: [%q], %d: [%q]}
    desks: {%d: [%q], 99: [%q]}
    visitor_groups: [%q]`, resRoomA, e.groups["Meeting Room A"], resPhone, typo, deskOne, e.groups["Desk 1"],
		e.groups["Desk 1"], e.groups["Visitors"])
	cfg := e.writeConfig("config.yaml", e.configYAML(mapping))

	r := runCLI(t, testSecrets, "--config", cfg, "mapping", "check")
	if r.code != exitFailure {
		t.Fatalf("mapping check with a missing group: %s", r)
	}
	phone := regexp.MustCompile(`resource\s+11\s+Phone booth\s+` + regexp.QuoteMeta(typo) +
		`\s+MISSING GROUP ` + regexp.QuoteMeta(typo) + `: did you mean ` + e.groups["Phone Booth"] + ` \(Phone Booth\)`)
	if !phone.MatchString(r.stdout) {
		t.Errorf("missing group not flagged with its suggestion")
	}
	if !regexp.MustCompile(`pass\s+5\s+Day Pass\s+-\s+unmapped: suggest ` + e.groups["Day Pass"] + ` \(Day Pass\)`).
		MatchString(r.stdout) {
		t.Errorf("unmapped pass not listed with its suggestion")
	}
	if !regexp.MustCompile(`desk\s+99\s+-\s+.*not in Nexudus`).MatchString(r.stdout) {
		t.Errorf("stale desk mapping not flagged")
	}
	if !regexp.MustCompile(`resource\s+10\s+Meeting Room A\s+\S+ \(Meeting Room A\)\s+ok`).MatchString(r.stdout) {
		t.Errorf("a correct mapping is not ok")
	}
	if !strings.Contains(r.stdout, "Mapping check FAILED: 1 mapped group does not exist in Salto") {
		t.Errorf("no failure summary")
	}

	r = runCLI(t, testSecrets, "--config", cfg, "-o", "json", "mapping", "check", "--location", "1")
	var rep mappingReport
	if r.code != exitFailure || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("mapping check json: %s", r)
	}
	if rep.OK || rep.MissingGroups != 1 || rep.Unmapped != 1 || rep.Stale != 1 || len(rep.Locations) != 1 {
		t.Errorf("json report %+v", rep)
	}

	// The full mapping only leaves the phone booth unmapped: exit 0.
	good := e.writeConfig("good.yaml", e.configYAML(e.mainMapping()))
	r = runCLI(t, testSecrets, "--config", good, "mapping", "check")
	if r.code != exitOK || !strings.Contains(r.stdout, "0 missing groups, 1 unmapped item, 0 stale mappings") {
		t.Errorf("good mapping: %s", r)
	}
	if !strings.Contains(r.stdout, "Salto groups no mapping uses: "+e.groups["Phone Booth"]+" (Phone Booth)") {
		t.Errorf("unused Salto group not listed")
	}
}

func TestConnectSaltoStoresTheTokenWithoutPrintingIt(t *testing.T) {
	e := newSimulators(t)
	tokenFile := filepath.Join(e.dir, "salto-token.json")
	addr := freeAddr(t)
	yaml := strings.Replace(e.configYAML(e.mainMapping()), "  username: system\n",
		fmt.Sprintf("  redirect_url: http://%s/callback\n  token_file: %q\n", addr, tokenFile), 1)
	cfg := e.writeConfig("config.yaml", yaml)
	env := map[string]string{}
	for k, v := range testSecrets {
		if k != config.EnvSaltoPassword {
			env[k] = v
		}
	}
	env[EnvConfig] = cfg // the configuration found through the environment

	var out, errOut logbuf.Buffer
	d := deps{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }, Now: time.Now,
		IsTerminal: func(io.Writer) bool { return false }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, d, []string{"connect", "salto"}) }()

	urlRE := regexp.MustCompile(`https?://\S+/connect/authorize\?\S+`)
	eventually(t, "the authorize URL", 20*time.Second, func() bool { return urlRE.MatchString(out.String()) })
	// The simulator approves at once and redirects the "browser" back to the callback.
	resp, err := http.Get(urlRE.FindString(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("callback page answered %d", resp.StatusCode)
	}
	var code int
	defer func() { t.Logf("connect salto output:\n%s%s", out.String(), errOut.String()) }()
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatal("connect salto did not return")
	}
	if code != exitOK || !strings.Contains(out.String(), "The token is stored in "+tokenFile) {
		t.Fatalf("connect salto: exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	var tok map[string]any
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatalf("token file is not JSON: %v", err)
	}
	for _, v := range tok {
		if s, ok := v.(string); ok && len(s) > 16 && strings.Contains(out.String()+errOut.String(), s) {
			t.Errorf("a token value was printed")
		}
	}
}

func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.yaml")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--help"}, exitOK, ""},
		{[]string{"backfill", "--help"}, exitOK, ""},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"status", "--bogus"}, exitUsage, "unknown flag"},
		{[]string{"status", "customer", "1"}, exitUsage, "accepts 2 arg(s)"},
		{[]string{"status", "customer", "1", "x"}, exitUsage, `coworkerId "x" is not a positive number`},
		{[]string{"resync", "lease", "1"}, exitUsage, `kind "lease"`},
		{[]string{"resync", "booking", "0"}, exitUsage, "not a positive number"},
		{[]string{"mapping"}, exitUsage, "a subcommand is required"},
		{[]string{"connect", "bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"--output", "yaml", "status"}, exitUsage, "use text or json"},
		{[]string{"backfill", "--all-current", "--from", "now"}, exitUsage, "leave out --from and --to"},
		{[]string{"backfill", "--to", "-1h"}, exitUsage, "--to"},
		{[]string{"backfill", "--from", "tomorrow"}, exitUsage, "is not a time"},
		{[]string{"--config", missing, "status"}, exitFailure, "no such file"},
		{[]string{"--config", missing, "mapping", "check"}, exitFailure, "no such file"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("starter %s: %s\nwant exit %d and %q on stderr", strings.Join(tc.args, " "), r, tc.code, tc.msg)
		}
	}
	// The root help documents the exit codes.
	if r := runCLI(t, nil, "--help"); !strings.Contains(r.stdout, "Exit codes:") {
		t.Errorf("root help lacks the exit codes")
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	e := newSimulators(t)
	cfg := e.writeConfig("config.yaml", e.configYAML(e.mainMapping()))
	env := map[string]string{config.EnvSaltoPassword: testSecrets[config.EnvSaltoPassword]}
	r := runCLI(t, env, "--config", cfg, "mapping", "check")
	if r.code != exitFailure || !strings.Contains(r.stderr, "nexudus.password") {
		t.Errorf("missing secret: %s", r)
	}
	if strings.Contains(r.stderr+r.stdout, testSecrets[config.EnvSaltoPassword]) {
		t.Errorf("a secret was printed")
	}
}
