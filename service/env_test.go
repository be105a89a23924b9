package service_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/codec"
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
	t       testing.TB
	ctx     context.Context
	server  *devserver.Server
	tc      client.Client
	salto   *saltoks.Server
	nexsim  *nexudussim.Server
	nx      *nexudus.Client
	cfg     *config.Config
	worker  *service.Worker
	hookURL string
	logger  *slog.Logger
	noSync  bool
	// codec encrypts every payload of the worker and of tc (nil with envOptions.plain).
	codec *codec.Codec
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
	// saltoRPS and nexudusRPM are the worker's client budgets (default 100/s and 6000/min: out of the way).
	saltoRPS   float64
	nexudusRPM int
	// nexudusSimRPM is the Nexudus simulator's call budget per minute (default 0: unlimited).
	nexudusSimRPM int
	// saltoConsistency is the Salto simulator's consistency window after a user is created (default none).
	saltoConsistency time.Duration
	// logTo, when set, receives every log record of the worker and the Temporal client, as JSON lines.
	logTo io.Writer
	// saltoHandler wraps the Salto simulator's handler, e.g. to record when calls land.
	saltoHandler func(http.Handler) http.Handler
	// noWorker leaves the worker out: the benchmark runs its own (a separate process).
	noWorker bool
	// noWebhooks registers no webhooks in Nexudus: the benchmark posts them itself, and registering them
	// would spend the simulator's call budget.
	noWebhooks bool
	// noSync starts no change poller, reconcile Schedule or presence tracking: a benchmark of webhooks or
	// timers must not have the poller find its seeded records first.
	noSync bool
	// plain keeps payloads in clear (temporal.encryption.disabled): recorded replay histories are read by
	// the replay tests without keys.
	plain bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: runs a Temporal server")
	}
	if o.policy == "" {
		o.policy = config.PolicySuspend
	}
	if o.saltoRPS == 0 {
		o.saltoRPS = 100
	}
	if o.nexudusRPM == 0 {
		o.nexudusRPM = 6000
	}
	simRPM := -1 // the simulator's "unlimited"
	if o.nexudusSimRPM > 0 {
		simRPM = o.nexudusSimRPM
	}
	saltoHandler := o.saltoHandler
	if saltoHandler == nil {
		saltoHandler = func(h http.Handler) http.Handler { return h }
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, noSync: o.noSync}

	e.salto = saltoks.New(saltoks.Options{Users: map[string]string{"system": "pw"}, ConsistencyWindow: o.saltoConsistency})
	saltoHTTP := httptest.NewServer(saltoHandler(e.salto.Handler()))
	t.Cleanup(saltoHTTP.Close)
	e.nexsim = nexudussim.New(nexudussim.Options{Users: map[string]string{"admin": "pw"}, WebhookSecret: hookSecret,
		WebhookRetryDelay: 50 * time.Millisecond, CallsPerMinute: simRPM, WritesPerMinute: -1})
	nexHTTP := httptest.NewServer(e.nexsim.Handler())
	t.Cleanup(func() { e.nexsim.Close(); nexHTTP.Close() })
	e.seed()

	var err error
	// A SQLite file as in the dev stack, so that the benchmarks measure its server (and, in memory, SQLite's
	// rollback journal costs more CPU than the file's write-ahead log).
	e.server, err = devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes,
		DataFile: filepath.Join(t.TempDir(), "temporal.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.server.Stop() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if o.logTo != nil {
		logger = slog.New(slog.NewJSONHandler(o.logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e.logger = logger
	dir := t.TempDir()
	// As in production, every payload is encrypted, with a key set of the test's own (a file, so that a worker
	// started as a command from the YAML configuration finds it too).
	encryption := config.Encryption{Disabled: true}
	if !o.plain {
		encryption = config.Encryption{KeysFile: filepath.Join(dir, "encryption-keys.yaml")}
		keys, err := codec.NewKeyFile("e2e-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(encryption.KeysFile, keys, 0o600); err != nil {
			t.Fatal(err)
		}
		if e.codec, err = service.NewCodec(encryption); err != nil {
			t.Fatal(err)
		}
	}
	copts := client.Options{Logger: sdklog.NewStructuredLogger(logger)}
	service.EncryptPayloads(&copts, e.codec)
	e.tc, err = e.server.NewClient(ctx, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tc.Close)

	e.cfg = &config.Config{
		Temporal: config.Temporal{Address: e.server.HostPort(), Encryption: encryption},
		Salto: config.Salto{APIURL: saltoHTTP.URL, TokenURL: saltoHTTP.URL + "/connect/token", ClientID: saltoks.DefaultClientID,
			ClientSecret: saltoks.DefaultClientSecret, Username: "system", Password: "pw",
			TokenFile: filepath.Join(dir, "salto.json"), RequestsPerSecond: o.saltoRPS},
		Nexudus: config.Nexudus{BaseURL: nexHTTP.URL, Username: "admin", Password: "pw", Auth: "basic",
			RequestsPerMinute: o.nexudusRPM, WebhookSecret: hookSecret},
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
	// The tests' own Nexudus client does not share the worker's call budget.
	nxCfg := e.cfg.Nexudus
	nxCfg.RequestsPerMinute = -1 // none
	if e.nx, err = service.NewNexudusClient(nxCfg); err != nil {
		t.Fatal(err)
	}
	if o.noWorker {
		return e
	}
	e.startWorker()
	t.Cleanup(e.stopWorker)
	if !o.noWebhooks {
		e.registerWebhooks()
	}
	return e
}

// registerWebhooks points every Nexudus webhook action at the worker's receiver, replacing earlier ones.
func (e *env) registerWebhooks() {
	e.t.Helper()
	old, err := e.nx.ListWebhooks(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, h := range old {
		if err := e.nx.DeleteWebhook(e.ctx, h.Id); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, a := range nexudus.Actions() {
		if _, err := e.nx.CreateWebhook(e.ctx, nexudus.Webhook{BusinessId: business, Action: a, Active: true, Name: a.String(),
			URL: service.WebhookURL(e.hookURL, e.cfg.Webhooks.PathPrefix, a, "")}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// startWorker starts the worker, with its webhook receiver, from e.cfg.
func (e *env) startWorker() {
	e.t.Helper()
	var err error
	e.worker, err = service.NewWorker(e.cfg, e.tc, e.logger)
	if err != nil {
		e.t.Fatal(err)
	}
	e.worker.WorkerOptions = worker.Options{}
	e.worker.NoSyncWorkflows = e.noSync
	if err := e.worker.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.hookURL = "http://" + e.worker.WebhookAddr()
}

func (e *env) stopWorker() {
	if e.worker == nil {
		return
	}
	sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
	defer c()
	e.worker.Stop(sctx)
	e.worker = nil
}

// restartWorker stops the worker, lets change edit the configuration, and starts it again, as an operator
// would after changing config.yaml. Workflows carry on from their histories. Webhooks registered in Nexudus
// are pointed at the new receiver.
func (e *env) restartWorker(change func(*config.Config)) {
	e.t.Helper()
	e.stopWorker()
	change(e.cfg)
	if err := e.cfg.Validate(); err != nil {
		e.t.Fatal(err)
	}
	e.startWorker()
	if hooks, err := e.nx.ListWebhooks(e.ctx, nil); err != nil {
		e.t.Fatal(err)
	} else if len(hooks) > 0 {
		e.registerWebhooks()
	}
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
		Businesses: []nexudussim.Business{{Base: nexudussim.Base{Id: business}, Name: "E2E", TimeZone: "Europe/Madrid"}},
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

// history reads a workflow's whole history (latest run); on an error it returns what it read so far.
func (e *env) history(workflowID string) ([]*historypb.HistoryEvent, error) {
	var events []*historypb.HistoryEvent
	iter := e.tc.GetWorkflowHistory(e.ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
	return events, nil
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

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
