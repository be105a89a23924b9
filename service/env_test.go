package service_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// env is the whole system on one machine: a real Temporal server, both simulators over real HTTP, and the
// worker with its webhook receiver, wired exactly as in production (service.NewWorker).
type env struct {
	t       *testing.T
	ctx     context.Context
	server  *devserver.Server
	tc      client.Client
	salto   *saltoks.Server
	nexsim  *nexudussim.Server
	nx      *nexudus.Client
	cfg     *config.Config
	worker  *service.Worker
	hookURL string
}

const (
	site       = "0b5e0000-0000-4000-8000-000000000001"
	gEntrance  = "0b5e0000-0000-4000-8000-0000000000a1"
	gRoom      = "0b5e0000-0000-4000-8000-0000000000a2"
	gDayPass   = "0b5e0000-0000-4000-8000-0000000000a3"
	gOffice    = "0b5e0000-0000-4000-8000-0000000000a4"
	gDesk      = "0b5e0000-0000-4000-8000-0000000000a5"
	gVisitors  = "0b5e0000-0000-4000-8000-0000000000a6"
	gBooth     = "0b5e0000-0000-4000-8000-0000000000a7"
	gNotOurs   = "0b5e0000-0000-4000-8000-0000000000f1"
	business   = 7
	roomID     = 10
	boothID    = 12 // mapped to one group only
	dayPassID  = 20
	officeID   = 30
	deskID     = 31
	hookSecret = "e2e-webhook-secret"
)

type envOptions struct {
	lead, lag time.Duration
	policy    config.NoAccessPolicy
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs a Temporal server")
	}
	if o.policy == "" {
		o.policy = config.PolicySuspend
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx}

	e.salto = saltoks.New(saltoks.Options{Users: map[string]string{"system": "pw"}})
	saltoHTTP := httptest.NewServer(e.salto.Handler())
	t.Cleanup(saltoHTTP.Close)
	e.nexsim = nexudussim.New(nexudussim.Options{Users: map[string]string{"admin": "pw"}, WebhookSecret: hookSecret,
		WebhookRetryDelay: 50 * time.Millisecond, CallsPerMinute: -1, WritesPerMinute: -1})
	nexHTTP := httptest.NewServer(e.nexsim.Handler())
	t.Cleanup(func() { e.nexsim.Close(); nexHTTP.Close() })
	e.seed()

	var err error
	e.server, err = devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.server.Stop() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e.tc, err = e.server.NewClient(ctx, client.Options{Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tc.Close)

	dir := t.TempDir()
	e.cfg = &config.Config{
		Temporal: config.Temporal{Address: e.server.HostPort()},
		Salto: config.Salto{APIURL: saltoHTTP.URL, TokenURL: saltoHTTP.URL + "/connect/token", ClientID: saltoks.DefaultClientID,
			ClientSecret: saltoks.DefaultClientSecret, Username: "system", Password: "pw",
			TokenFile: filepath.Join(dir, "salto.json"), RequestsPerSecond: 100},
		Nexudus: config.Nexudus{BaseURL: nexHTTP.URL, Username: "admin", Password: "pw", Auth: "basic",
			RequestsPerMinute: 6000, WebhookSecret: hookSecret},
		Webhooks: config.Webhooks{Listen: "127.0.0.1:0"},
		Locations: []config.Location{{
			BusinessID: business, SaltoSite: site, TimeZone: "Europe/Madrid", GrantLead: o.lead, RevokeLag: o.lag,
			NoAccessPolicy: o.policy, MobileAccess: true, VisitorPINs: true, VisitorGroups: []string{gVisitors},
			Resources: map[int64][]string{roomID: {gRoom, gEntrance}, boothID: {gBooth}},
			Passes:    map[int64][]string{dayPassID: {gDayPass, gEntrance}},
			Desks:     map[int64][]string{officeID: {gOffice, gEntrance}, deskID: {gDesk, gEntrance}},
		}},
	}
	e.cfg.ApplyDefaults()
	// Zero lead or lag means "default" to ApplyDefaults; the tests want them as given.
	e.cfg.Locations[0].GrantLead, e.cfg.Locations[0].RevokeLag = o.lead, o.lag
	if err := e.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e.worker, err = service.NewWorker(e.cfg, e.tc, logger)
	if err != nil {
		t.Fatal(err)
	}
	e.worker.WorkerOptions = worker.Options{}
	if err := e.worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		e.worker.Stop(sctx)
	})
	e.hookURL = "http://" + e.worker.WebhookAddr()
	if e.nx, err = service.NewNexudusClient(e.cfg.Nexudus); err != nil {
		t.Fatal(err)
	}
	for _, a := range nexudus.Actions() {
		if _, err := e.nx.CreateWebhook(ctx, nexudus.Webhook{BusinessId: business, Action: a, Active: true, Name: a.String(),
			URL: service.WebhookURL(e.hookURL, e.cfg.Webhooks.PathPrefix, a, "")}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) seed() {
	e.t.Helper()
	if _, err := e.salto.SeedSite(saltoks.SiteSeed{ID: site, SiteUID: "e2e", TimeZone: "Europe/Madrid", PinEnabled: true}); err != nil {
		e.t.Fatal(err)
	}
	for _, g := range []string{gEntrance, gRoom, gDayPass, gOffice, gDesk, gVisitors, gBooth, gNotOurs} {
		if _, err := e.salto.SeedAccessGroup(site, saltoks.GroupSeed{ID: g, Name: g[len(g)-2:], CustomerReference: g}); err != nil {
			e.t.Fatal(err)
		}
	}
	ds := nexudussim.Dataset{
		Businesses:     []nexudussim.Business{{Base: nexudussim.Base{Id: business}, Name: "E2E", TimeZone: "Europe/Madrid"}},
		Resources: []nexudussim.Resource{{Base: nexudussim.Base{Id: roomID}, BusinessId: business, Name: "Room"},
			{Base: nexudussim.Base{Id: boothID}, BusinessId: business, Name: "Booth"}},
		TimePasses:     []nexudussim.TimePass{{Base: nexudussim.Base{Id: dayPassID}, Name: "Day pass"}},
		FloorPlanDesks: []nexudussim.FloorPlanDesk{{Base: nexudussim.Base{Id: officeID}, Name: "Office", ItemType: 1, FloorPlanBusinessId: business}, {Base: nexudussim.Base{Id: deskID}, Name: "Desk", ItemType: 2, FloorPlanBusinessId: business}},
		Coworkers: []nexudussim.Coworker{
			{Base: nexudussim.Base{Id: 100}, FullName: "Ana Lopez", Email: "ana@example.com", AccessCardId: "A100", Active: true},
			{Base: nexudussim.Base{Id: 101}, FullName: "Ben Okafor", Email: "ben@example.com", AccessCardId: "B101", Active: true},
			{Base: nexudussim.Base{Id: 102}, FullName: "Cleo Park", Email: "cleo@example.com", Active: true},
		},
	}
	if _, err := e.nexsim.Seed(ds); err != nil {
		e.t.Fatal(err)
	}
}

// platformID is the Salto platform id of the user with that email, "" while none exists.
func (e *env) platformID(email string) string {
	u, ok := e.salto.UserByEmail(site, email)
	if !ok {
		return ""
	}
	return u.User.ID
}

// inGroup reports whether the user with that email is a member of the group now.
func (e *env) inGroup(email, group string) bool {
	id := e.platformID(email)
	return id != "" && slices.Contains(e.salto.GroupMembers(site, group), id)
}

// eventually polls cond until it holds or the deadline passes, and returns when it first held.
func (e *env) eventually(what string, within time.Duration, cond func() bool) time.Time {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("timed out after %s waiting for: %s", within, what)
	return time.Time{}
}

// never asserts cond stays false for d.
func (e *env) never(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			e.t.Fatalf("unexpected: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
