package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/internal/logbuf"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// The end-to-end tests run the real pieces: an embedded Temporal server, both simulators over HTTP, the
// worker's own wiring, and the CLI in-process with captured output.

const (
	business    = 1
	coworkerAda = 42
	coworkerAl  = 43
	resRoomA    = 10
	resPhone    = 11
	passDay     = 5
	deskOne     = 20
)

// testSecrets are the environment the configuration reads its secrets from.
var testSecrets = map[string]string{
	config.EnvSaltoClientSecret:   saltoks.DefaultClientSecret,
	config.EnvSaltoPassword:       "system-password",
	config.EnvNexudusPassword:     "nexudus-password",
	config.EnvNexudusWebhookToken: "webhook-token",
	// The worker and the CLI encrypt every payload, as a configuration file must ask for.
	config.EnvEncryptionKeys: testKeys(),
}

// testKeys is a key set made for this test run, in NEXSALTO_ENCRYPTION_KEYS' one-line form.
func testKeys() string {
	k, err := codec.GenerateKey("starter-test")
	if err != nil {
		panic(err)
	}
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

type env struct {
	t          *testing.T
	now        time.Time
	salto      *saltoks.Server
	saltoURL   string
	nexudus    *nexudussim.Server
	nexudusURL string
	site       string
	groups     map[string]string // group name → id
	temporal   *devserver.Server
	tc         client.Client
	taskQueue  string
	dir        string
	logs       *logbuf.Buffer
}

// newSimulators starts both simulators and seeds one location: a Salto site with five access groups and a
// Nexudus business with resources, a pass product, a desk, two coworkers and entitlements around now.
func newSimulators(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, now: time.Now().UTC().Truncate(time.Second), groups: map[string]string{}, dir: t.TempDir(),
		logs: &logbuf.Buffer{}, taskQueue: "access"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker and SDK log:\n%s", e.logs.String())
		}
	})

	e.salto = saltoks.New(saltoks.Options{Users: map[string]string{"system": testSecrets[config.EnvSaltoPassword]}})
	ss := httptest.NewServer(e.salto.Handler())
	t.Cleanup(ss.Close)
	e.saltoURL = ss.URL
	site, err := e.salto.SeedSite(saltoks.SiteSeed{SiteUID: "main", CustomerReference: "Main", TimeZone: "Europe/Amsterdam"})
	if err != nil {
		t.Fatal(err)
	}
	e.site = site.ID
	for _, g := range []string{"Meeting Room A", "Phone Booth", "Day Pass", "Desk 1", "Visitors"} {
		ag, err := e.salto.SeedAccessGroup(e.site, saltoks.GroupSeed{Name: g,
			CustomerReference: strings.ToLower(strings.ReplaceAll(g, " ", "-"))})
		if err != nil {
			t.Fatal(err)
		}
		e.groups[g] = ag.ID
	}

	e.nexudus = nexudussim.New(nexudussim.Options{
		Users:          map[string]string{"admin": testSecrets[config.EnvNexudusPassword]},
		CallsPerMinute: -1, WritesPerMinute: -1,
	})
	t.Cleanup(e.nexudus.Close)
	ns := httptest.NewServer(e.nexudus.Handler())
	t.Cleanup(ns.Close)
	e.nexudusURL = ns.URL
	at := func(d time.Duration) nexudussim.Time { return nexudussim.At(e.now.Add(d)) }
	// Records last changed two days ago: a change poller (which reads recent changes) finds none of them, so
	// only the commands under test start workflows.
	base := func(id int) nexudussim.Base { return nexudussim.Base{Id: id, UpdatedOn: at(-48 * time.Hour)} }
	three := 3
	day := 24 * time.Hour
	_, err = e.nexudus.Seed(nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Base: base(business), Name: "Main", TimeZone: "Europe/Amsterdam"}},
		TimePasses: []nexudussim.TimePass{{Base: base(passDay), Name: "Day Pass"}},
		Resources: []nexudussim.Resource{
			{Base: base(resRoomA), BusinessId: business, Name: "Meeting Room A"},
			{Base: base(resPhone), BusinessId: business, Name: "Phone booth"},
		},
		Coworkers: []nexudussim.Coworker{
			{Base: base(coworkerAda), FullName: "Ada Lovelace", Email: "ada@example.com", Active: true,
				InvoicingBusinessId: business},
			{Base: base(coworkerAl), FullName: "Alan Turing", Email: "alan@example.com", Active: true,
				InvoicingBusinessId: business},
		},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{
			{Base: base(deskOne), Name: "Desk 1", ItemType: 2, FloorPlanBusinessId: business},
		},
		CoworkerContracts: []nexudussim.CoworkerContract{
			{Base: base(300), CoworkerId: coworkerAda, TariffName: "Dedicated desk", StartDate: at(-30 * day),
				Active: true, FloorPlanDeskIds: nexudussim.IDList{deskOne}},
		},
		CoworkerTimePasses: []nexudussim.CoworkerTimePass{
			{Base: base(200), CoworkerId: coworkerAl, BusinessId: business, TimePassId: passDay,
				ExpireDate: at(3 * day), RemainingUses: &three},
		},
		Bookings: []nexudussim.Booking{
			// In progress: granted at once.
			{Base: base(100), ResourceId: resRoomA, CoworkerId: coworkerAda, FromTime: at(-10 * time.Minute),
				ToTime: at(time.Hour)},
			// In the default window (7 days).
			{Base: base(101), ResourceId: resRoomA, CoworkerId: coworkerAl, FromTime: at(2 * day),
				ToTime: at(2*day + time.Hour)},
			// After the default window: only --all-current takes it.
			{Base: base(102), ResourceId: resRoomA, CoworkerId: coworkerAl, FromTime: at(10 * day),
				ToTime: at(10*day + time.Hour)},
			// An unmapped resource: gives no access, never a candidate.
			{Base: base(103), ResourceId: resPhone, CoworkerId: coworkerAl, FromTime: at(day),
				ToTime: at(day + time.Hour)},
			// Over before now.
			{Base: base(104), ResourceId: resRoomA, CoworkerId: coworkerAl, FromTime: at(-3 * time.Hour),
				ToTime: at(-2 * time.Hour)},
		},
		Visitors: []nexudussim.Visitor{
			{Base: base(400), BusinessId: business, FullName: "Grace Hopper", CoworkerId: coworkerAda,
				ExpectedArrival: at(day)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// withTemporal adds the embedded Temporal server and the worker, wired exactly as in production.
func (e *env) withTemporal() *env {
	t := e.t
	t.Helper()
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes})
	if err != nil {
		t.Fatal(err)
	}
	e.temporal = srv
	t.Cleanup(func() { _ = srv.Stop() })
	e.tc, err = srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tc.Close)

	cfg, err := config.Parse([]byte(e.configYAML(e.mainMapping())), func(k string) string { return testSecrets[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Webhooks.Listen = "127.0.0.1:0"
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	wtc, err := service.DialTemporal(ctx, cfg.Temporal, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wtc.Close)
	w, err := service.NewWorker(cfg, wtc, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Stop(sctx)
	})
	return e
}

// mainMapping maps every item the test data uses except the phone booth.
func (e *env) mainMapping() string {
	return fmt.Sprintf(`
    resources: {%d: [%q]}
    passes: {%d: [%q]}
    desks: {%d: [%q]}
    visitor_groups: [%q]`,
		resRoomA, e.groups["Meeting Room A"], passDay, e.groups["Day Pass"], deskOne, e.groups["Desk 1"],
		e.groups["Visitors"])
}

// configYAML is a whole configuration file for the simulators, with the given mapping for location 1.
// Lead and lag are one second, so nothing in the tests waits for them.
func (e *env) configYAML(mapping string) string {
	temporalAddr := "127.0.0.1:1" // nothing listens: commands that need Temporal fail fast without it
	if e.temporal != nil {
		temporalAddr = e.temporal.HostPort()
	}
	return fmt.Sprintf(`temporal:
  address: %q
  namespace: default
  task_queue: %q
salto:
  api_url: %q
  token_url: %q
  authorize_url: %q
  client_id: %q
  username: system
  requests_per_second: 200
nexudus:
  base_url: %q
  username: admin
  auth: basic
  requests_per_minute: 6000
sync:
  poll_lookback: 1m
  poll_interval: 1h
  reconcile_interval: 24h
locations:
  - business_id: %d
    name: Main
    salto_site: %q
    time_zone: Europe/Amsterdam
    grant_lead: 1s
    revoke_lag: 1s
    no_access_policy: keep%s
`, temporalAddr, e.taskQueue, e.saltoURL, e.saltoURL+"/connect/token", e.saltoURL+"/connect/authorize",
		saltoks.DefaultClientID, e.nexudusURL, business, e.site, mapping)
}

// writeConfig writes a configuration file and returns its path.
func (e *env) writeConfig(name, yaml string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// result is one CLI run.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs the command line in-process, as main does, with the test's secrets as environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCLIWith(t, env, false, args...)
}

func runCLIWith(t *testing.T, env map[string]string, terminal bool, args ...string) result {
	t.Helper()
	var out, errOut logbuf.Buffer
	d := deps{
		Stdout:     &out,
		Stderr:     &errOut,
		Getenv:     func(k string) string { return env[k] },
		Now:        time.Now,
		IsTerminal: func(io.Writer) bool { return terminal },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, d, args)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	t.Logf("starter %s → %s", strings.Join(args, " "), r)
	return r
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
