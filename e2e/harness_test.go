package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// The test world: location 1 ("Canal Street") on Salto site 1 with a meeting room, a day pass, a desk, a
// visitor group and two presence doors (in and out); location 2 on site 2 with one room and the delete policy.
const (
	loc1, loc2 = int64(1), int64(2)
	site1      = "5a170000-0000-4000-8000-000000000001"
	site2      = "5a170000-0000-4000-8000-000000000002"
	gEntrance  = "5a170000-0000-4000-8000-0000000000a1"
	gRoom      = "5a170000-0000-4000-8000-0000000000a2"
	gPass      = "5a170000-0000-4000-8000-0000000000a4"
	gDesk      = "5a170000-0000-4000-8000-0000000000a6"
	gVisitors  = "5a170000-0000-4000-8000-0000000000a7"
	gRoom2     = "5a170000-0000-4000-8000-0000000000b2"
	doorIn     = "5a170000-0000-4000-8000-0000000000d1"
	doorOut    = "5a170000-0000-4000-8000-0000000000d2"

	resourceRoom  = 10
	resourceRoom2 = 11
	timePassDay   = 20
	deskD1        = 31

	saltoUser, saltoPassword = "system@canal-street.example", "test-password"
	webhookSecret            = "test-webhook-secret"
)

// stack is everything running for one test.
type stack struct {
	t       testing.TB
	srv     *devserver.Server
	srvOpts devserver.Options
	gate    *gate
	tc      client.Client
	salto   *saltoks.Server
	nexudus *nexudussim.Server
	cfg     *config.Config
	worker  *service.Worker
	// nx and sc are a member of staff working in Nexudus and in Salto by hand: their writes go through the
	// real APIs (Nexudus writes fire webhooks).
	nx *nexudus.Client
	sc *salto.Client
}

type stackOptions struct {
	// sync settings; zero fields take the test defaults below.
	sync config.Sync
	// noSync keeps the worker from starting pollers, presence and schedules.
	noSync bool
	// nexudusPerMinute is the client's call budget (default 600); simPerMinute the simulator's (default the
	// same; negative: unlimited).
	nexudusPerMinute, simPerMinute int
	// saltoPerSecond is the Salto client's rate (default 50).
	saltoPerSecond float64
	lead, lag      time.Duration
	// nexudusGate puts the worker's way to the Nexudus API behind a gate (s.gate) that a test can close.
	nexudusGate bool
	// temporalFile keeps the embedded server's data in this SQLite file, so that restartServer resumes on it.
	temporalFile string
	// postgres keeps the embedded server's data in PostgreSQL instead (a devserver.Options.Postgres URL).
	postgres string
	// noWorker starts the server and the simulators but no in-process worker and registers no webhooks: the
	// fault tests run the real worker command as a child process, which they kill, and register its URLs.
	noWorker bool
}

func testLogger() *slog.Logger {
	if os.Getenv("E2E_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	ctx := context.Background()
	if o.nexudusPerMinute == 0 {
		o.nexudusPerMinute = 600
	}
	if o.simPerMinute == 0 {
		o.simPerMinute = o.nexudusPerMinute
	}
	if o.saltoPerSecond == 0 {
		o.saltoPerSecond = 50
	}
	if o.lead == 0 {
		o.lead = time.Second
	}
	if o.lag == 0 {
		o.lag = time.Second
	}
	s := &stack{t: t}
	s.salto = saltoks.New(saltoks.Options{Users: map[string]string{saltoUser: saltoPassword}})
	s.nexudus = nexudussim.New(nexudussim.Options{WebhookSecret: webhookSecret,
		CallsPerMinute: o.simPerMinute, WritesPerMinute: o.simPerMinute})
	saltoHTTP := httptest.NewServer(s.salto.Handler())
	nexHTTP := httptest.NewServer(s.nexudus.Handler())
	t.Cleanup(func() {
		s.nexudus.Close()
		nexHTTP.Close()
		saltoHTTP.Close()
	})
	s.seedSalto()
	s.seedNexudus()

	var err error
	s.srvOpts = devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes, DataFile: o.temporalFile,
		Postgres: o.postgres}
	s.srv, err = devserver.Start(ctx, s.srvOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.srv.Stop() })
	s.srvOpts.FrontendPort = s.srv.Port() // a restart comes back where the clients dial
	logger := testLogger()
	// Dialled as the worker command dials (reconnect settings included).
	enc := testEncryption(t) // every process of the test (harness, worker, child worker) shares the keys
	s.tc, err = service.DialTemporal(ctx, config.Temporal{Address: s.srv.HostPort(), Namespace: s.srv.Namespace(),
		Encryption: enc}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.tc.Close)

	sync := o.sync
	if sync.PollInterval == 0 {
		sync.PollInterval = time.Second
	}
	if sync.SafetyNetInterval == 0 {
		sync.SafetyNetInterval = sync.PollInterval // the tests of lost webhooks wait for the safety net
	}
	if sync.PollCallsPerMinute == 0 {
		sync.PollCallsPerMinute = o.nexudusPerMinute / 2
	}
	if sync.PollLookback == 0 {
		sync.PollLookback = time.Minute
	}
	if sync.ReconcileInterval == 0 {
		// Tests trigger reconciliation themselves; the Schedule must not interfere.
		sync.ReconcileInterval = 24 * time.Hour
	}
	if sync.PresenceInterval == 0 {
		sync.PresenceInterval = time.Second
	}
	s.cfg = &config.Config{
		Temporal: config.Temporal{Address: s.srv.HostPort(), Encryption: enc},
		Salto: config.Salto{APIURL: saltoHTTP.URL, TokenURL: saltoHTTP.URL + "/connect/token",
			ClientID: saltoks.DefaultClientID, ClientSecret: saltoks.DefaultClientSecret,
			Username: saltoUser, Password: saltoPassword, RequestsPerSecond: o.saltoPerSecond},
		Nexudus: config.Nexudus{BaseURL: nexHTTP.URL, Username: "admin", Password: "admin",
			WebhookSecret: webhookSecret, RequestsPerMinute: o.nexudusPerMinute},
		Webhooks: config.Webhooks{Listen: "127.0.0.1:0"},
		Sync:     sync,
		Locations: []config.Location{
			{BusinessID: loc1, Name: "Canal Street", SaltoSite: site1, TimeZone: "Europe/Amsterdam",
				GrantLead: o.lead, RevokeLag: o.lag, NoAccessPolicy: config.PolicySuspend,
				VisitorGroups: []string{gVisitors},
				Resources:     map[int64][]string{resourceRoom: {gRoom, gEntrance}},
				Passes:        map[int64][]string{timePassDay: {gPass, gEntrance}},
				Desks:         map[int64][]string{deskD1: {gDesk, gEntrance}},
				PresenceDoors: []string{doorIn}, PresenceExitDoors: []string{doorOut}},
			{BusinessID: loc2, Name: "Harbour", SaltoSite: site2, TimeZone: "Europe/Amsterdam",
				GrantLead: o.lead, RevokeLag: o.lag, NoAccessPolicy: config.PolicyDelete,
				Resources: map[int64][]string{resourceRoom2: {gRoom2}}},
		},
	}
	s.cfg.ApplyDefaults()
	if err := s.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.nx, err = service.NewNexudusClient(s.cfg.Nexudus); err != nil {
		t.Fatal(err)
	}
	if s.sc, err = service.NewSaltoClient(s.cfg.Salto); err != nil {
		t.Fatal(err)
	}
	if o.nexudusGate {
		// Staff (s.nx) reach Nexudus directly; the worker through a gate that can cut it off.
		s.gate = newGate(t, s.cfg.Nexudus.BaseURL)
		s.cfg.Nexudus.BaseURL = s.gate.url
	}
	if o.noWorker {
		return s
	}
	s.worker, err = service.NewWorker(s.cfg, s.tc, logger)
	if err != nil {
		t.Fatal(err)
	}
	s.worker.NoSyncWorkflows = o.noSync
	if err := s.worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.worker.Stop(ctx)
	})
	s.registerWebhooks(ctx, s.worker.WebhookAddr())
	return s
}

// registerWebhooks registers one URL per action, for location 1, as an operator does in Nexudus: addr is the
// receiver's host:port.
func (s *stack) registerWebhooks(ctx context.Context, addr string) {
	s.t.Helper()
	for _, a := range nexudus.Actions() {
		url := service.WebhookURL("http://"+addr, s.cfg.Webhooks.PathPrefix, a, "")
		if _, err := s.nx.CreateWebhook(ctx, nexudus.Webhook{Name: "nexsalto " + a.String(), Action: a, URL: url,
			Active: true}); err != nil {
			s.t.Fatal(err)
		}
	}
}

var always = []saltoks.TimeSchedule{{Monday: true, Tuesday: true, Wednesday: true, Thursday: true, Friday: true,
	Saturday: true, Sunday: true, StartTime: "00:00:00", EndTime: "23:59:59"}}

func (s *stack) seedSalto() {
	must := func(err error) {
		if err != nil {
			s.t.Fatal(err)
		}
	}
	for _, site := range []saltoks.SiteSeed{
		{ID: site1, SiteUID: "canal-street", CustomerReference: "Canal Street", TimeZone: "Europe/Amsterdam"},
		{ID: site2, SiteUID: "harbour", CustomerReference: "Harbour", TimeZone: "Europe/Amsterdam"},
	} {
		_, err := s.salto.SeedSite(site)
		must(err)
	}
	for _, l := range []saltoks.LockSeed{{ID: doorIn, Name: "Main entrance"}, {ID: doorOut, Name: "Exit"}} {
		_, err := s.salto.SeedLock(site1, l)
		must(err)
	}
	for _, g := range []struct{ site, id, name string }{
		{site1, gEntrance, "Main entrance"}, {site1, gRoom, "Meeting room"}, {site1, gPass, "Day pass"},
		{site1, gDesk, "Dedicated desks"}, {site1, gVisitors, "Visitors"}, {site2, gRoom2, "Harbour room"},
	} {
		_, err := s.salto.SeedAccessGroup(g.site, saltoks.GroupSeed{ID: g.id, Name: g.name, CustomerReference: g.name,
			Schedules: always})
		must(err)
	}
}

// Coworkers 100–109 exist in Nexudus; each test uses its own.
var people = []string{"Alice Janssen", "Bruno Costa", "Chiara Rossi", "Dmitri Volkov", "Emma Schulz",
	"Farid Haddad", "Greta Lind", "Hugo Martin", "Ines Duarte", "Jonas Berg"}

func email(coworker int) string { return "coworker" + strconv.Itoa(coworker) + "@example.com" }

func (s *stack) seedNexudus() {
	ds := nexudussim.Dataset{
		Businesses: []nexudussim.Business{
			{Base: nexudussim.Base{Id: int(loc1)}, Name: "Canal Street", TimeZone: "Europe/Amsterdam"},
			{Base: nexudussim.Base{Id: int(loc2)}, Name: "Harbour", TimeZone: "Europe/Amsterdam"},
		},
		Resources: []nexudussim.Resource{
			{Base: nexudussim.Base{Id: resourceRoom}, BusinessId: int(loc1), Name: "Meeting room", ResourceTypeId: 1},
			{Base: nexudussim.Base{Id: resourceRoom2}, BusinessId: int(loc2), Name: "Harbour room", ResourceTypeId: 1},
		},
		TimePasses: []nexudussim.TimePass{{Base: nexudussim.Base{Id: timePassDay}, Name: "Day pass"}},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{
			{Base: nexudussim.Base{Id: deskD1}, Name: "Desk D1", ItemType: 2, FloorPlanBusinessId: int(loc1)},
		},
	}
	for i, name := range people {
		ds.Coworkers = append(ds.Coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: 100 + i}, FullName: name,
			Email: email(100 + i), Active: true, InvoicingBusinessId: int(loc1)})
	}
	if _, err := s.nexudus.Seed(ds); err != nil {
		s.t.Fatal(err)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// user is the coworker's Salto user on a site, if any: the one with its email, or the tag-only user the
// worker created with the alias "… (nexudus <id>)".
func (s *stack) user(site string, coworker int) (saltoks.AdminUser, bool) {
	if u, ok := s.salto.UserByEmail(site, email(coworker)); ok {
		return u, true
	}
	suffix := "(nexudus " + strconv.Itoa(coworker) + ")"
	for _, u := range s.salto.Users(site) {
		if strings.HasSuffix(u.Alias, suffix) {
			return u, true
		}
	}
	return saltoks.AdminUser{}, false
}

// member reports whether the coworker's Salto user is in the group.
func (s *stack) member(site, group string, coworker int) bool {
	u, ok := s.user(site, coworker)
	if !ok {
		return false
	}
	for _, id := range s.salto.GroupMembers(site, group) {
		if id == u.User.ID {
			return true
		}
	}
	return false
}

func (s *stack) running(id string) bool {
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), id, "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus().String() == "Running"
}

// reconcile triggers a location's reconciliation and waits for its report.
func (s *stack) reconcile(location int64, dryRun bool) access.ReconcileReport {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := service.TriggerReconcile(ctx, s.tc, service.ReconcileOptions{LocationID: location, DryRun: dryRun,
		TaskQueue: s.cfg.Temporal.TaskQueue})
	if err != nil {
		s.t.Fatal(err)
	}
	rep, err := service.ReconcileResult(ctx, s.tc, run)
	if err != nil {
		s.t.Fatalf("reconcile %s: %v", run.WorkflowID, err)
	}
	return rep
}

// testEncryption writes a fresh key set for one test, as the dev stack does on its first start.
func testEncryption(t testing.TB) config.Encryption {
	t.Helper()
	keys, err := codec.NewKeyFile("test-1")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "encryption-keys.yaml")
	if err := os.WriteFile(file, keys, 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Encryption{KeysFile: file}
}
