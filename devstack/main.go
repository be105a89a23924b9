// Command devstack runs the whole system in one process with nothing to configure: an embedded Temporal server
// persisted in SQLite with its Web UI, the Salto KS and Nexudus simulators seeded with a demo location, and the
// worker with its webhook receiver wired to them. Stop it with Ctrl-C; start it again and everything resumes.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"gopkg.in/yaml.v3"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// Options are the dev stack's flags.
type Options struct {
	DataDir      string
	IP           string
	TemporalPort int
	UIPort       int
	WebhookPort  int
	SaltoPort    int
	NexudusPort  int
	CodecPort    int
	Lead, Lag    time.Duration
	Demo         bool
	Traffic      time.Duration
	LogLevel     string
	Postgres     string // PostgreSQL URL for Temporal's data instead of the SQLite file
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; usage and errors go to out.
func parseFlags(args []string, out io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.DataDir, "data", ".devstack", "folder for the Temporal database, simulator state and tokens")
	fs.StringVar(&o.IP, "ip", "127.0.0.1", "address every server binds to")
	fs.IntVar(&o.TemporalPort, "temporal-port", 7233, "Temporal gRPC port")
	fs.IntVar(&o.UIPort, "ui-port", 8233, "Temporal Web UI port")
	fs.IntVar(&o.WebhookPort, "webhook-port", 8090, "Nexudus webhook receiver port")
	fs.IntVar(&o.SaltoPort, "salto-port", 8091, "Salto KS simulator port")
	fs.IntVar(&o.NexudusPort, "nexudus-port", 8092, "Nexudus simulator port")
	fs.IntVar(&o.CodecPort, "codec-port", 8093, "codec server port (the Web UI decrypts payloads through it)")
	fs.DurationVar(&o.Lead, "grant-lead", 1*time.Minute, "grant this long before a booking starts (production default 15m)")
	fs.DurationVar(&o.Lag, "revoke-lag", 1*time.Minute, "revoke this long after a booking ends (production default 15m)")
	fs.BoolVar(&o.Demo, "demo", true, "seed a demo location with purchases on the first start (see --no-demo)")
	noDemo := fs.Bool("no-demo", false, "start without demo data (the same as --demo=false, and the preferred form)")
	fs.DurationVar(&o.Traffic, "demo-traffic", 2*time.Minute, "create a new demo booking this often (0 = off)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	// Not a default from the environment: --help would print the password.
	fs.StringVar(&o.Postgres, "postgres", "", "keep Temporal's data in PostgreSQL instead of SQLite: "+
		"postgres://user:password@host:5432/temporal (default $NEXSALTO_TEMPORAL_POSTGRES)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *noDemo {
		o.Demo = false
	}
	if o.Postgres == "" {
		o.Postgres = os.Getenv("NEXSALTO_TEMPORAL_POSTGRES")
	}
	return o, nil
}

// Stack is a running dev stack.
type Stack struct {
	Temporal  *devserver.Server
	Client    client.Client
	Worker    *service.Worker
	Salto     *saltoks.Server
	Nexudus   *nexudussim.Server
	Config    *config.Config
	Webhook   string // base URL of the webhook receiver
	CodecURL  string // base URL of the codec server (without its token)
	SaltoURL  string
	NexusURL  string
	servers   []*http.Server
	stateDir  string
	cancelBg  context.CancelFunc
	bgStopped chan struct{}
	logger    *slog.Logger
}

func run(ctx context.Context, o Options, out io.Writer) error {
	s, err := Start(ctx, o, out)
	if err != nil {
		return err
	}
	s.printBanner(out, o)
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping…")
	return s.Stop()
}

// printBanner says where every part of the running stack is.
func (s *Stack) printBanner(out io.Writer, o Options) {
	where := o.DataDir
	if o.Postgres != "" {
		where += "; Temporal's in PostgreSQL" // never the URL: it holds the password
	}
	fmt.Fprintf(out, `
nexsalto dev stack is running (data in %s)

  Temporal Web UI      %s   (payloads decrypted through the codec server)
  Temporal gRPC        %s   (namespace %s, task queue %s; payloads encrypted with %s)
  Codec server         %s   (token in %s; CLI: --codec-endpoint %s --codec-auth "Bearer $(cat %s)")
  Webhook receiver     %s%s/{Action}
  Metrics              %s   (health: /healthz, /readyz)
  Salto KS simulator   %s   (admin: %s/admin/sites/%s/groups)
  Nexudus simulator    %s   (admin: %s/admin/state)

Operator CLI against this stack:
  SALTO_PASSWORD=devstack NEXUDUS_PASSWORD=devstack go run ./starter --config %s status

Press Ctrl-C to stop; start again to resume where it stopped.
`, where, s.Temporal.UIURL(), s.Temporal.HostPort(), s.Config.Temporal.Namespace, s.Config.Temporal.TaskQueue,
		s.Config.Temporal.Encryption.KeysFile, s.CodecURL, s.Config.Codec.TokenFile, s.CodecURL, s.Config.Codec.TokenFile,
		s.Webhook, s.Config.Webhooks.PathPrefix, s.Worker.MetricsURL(), s.SaltoURL, s.SaltoURL, demoSite, s.NexusURL, s.NexusURL,
		filepath.Join(o.DataDir, "starter.yaml"))
}

// Start brings every part up. On a new data folder it seeds the simulators and starts the demo.
func Start(ctx context.Context, o Options, out io.Writer) (*Stack, error) {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(o.LogLevel))
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if err := privateDataDir(o.DataDir); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	s := &Stack{stateDir: o.DataDir, logger: logger}
	temporalFile := filepath.Join(o.DataDir, "temporal.db")
	fresh := !exists(temporalFile)
	if o.Postgres != "" { // Temporal's data is in PostgreSQL: the folder is new without simulator state
		temporalFile, fresh = "", !exists(filepath.Join(o.DataDir, "nexudus-sim.json"))
	}
	secret, err := persistentSecret(filepath.Join(o.DataDir, "webhook-secret"))
	if err != nil {
		return nil, err
	}
	cdc, err := newStackCodec(o.DataDir, o.IP, o.CodecPort)
	if err != nil {
		return nil, err
	}

	// Simulators first: the worker needs them, and their state must be back before any workflow resumes.
	s.Salto = saltoks.New(saltoks.Options{Users: map[string]string{"system@canal-street.example": "devstack"},
		ConsistencyWindow: 2 * time.Second})
	s.Nexudus = nexudussim.New(nexudussim.Options{Users: map[string]string{"admin@canal-street.example": "devstack"},
		WebhookSecret: secret})
	if err := s.restoreSimulators(fresh); err != nil {
		return nil, err
	}
	if s.SaltoURL, err = s.serve(o.IP, o.SaltoPort, s.Salto.Handler()); err != nil {
		return nil, fmt.Errorf("salto simulator: %w", err)
	}
	if s.NexusURL, err = s.serve(o.IP, o.NexudusPort, s.Nexudus.Handler()); err != nil {
		s.shutdownServers()
		return nil, fmt.Errorf("nexudus simulator: %w", err)
	}

	s.Temporal, err = devserver.Start(ctx, devserver.Options{
		DataFile: temporalFile, Postgres: o.Postgres, IP: o.IP, FrontendPort: o.TemporalPort, UIPort: o.UIPort,
		SearchAttributes: access.SearchAttributes, UICodec: &devserver.UICodec{Endpoint: cdc.uiEndpoint()},
	})
	if err != nil {
		s.shutdownServers()
		return nil, err
	}
	// SQLite creates the database with the umask's mode; its journal and WAL files later copy the database's.
	if err := privateDataDir(o.DataDir); err != nil {
		s.shutdown()
		return nil, fmt.Errorf("data folder: %w", err)
	}
	cfg := &config.Config{
		Temporal: config.Temporal{Address: s.Temporal.HostPort()},
		Salto: config.Salto{APIURL: s.SaltoURL, TokenURL: s.SaltoURL + "/connect/token",
			AuthorizeURL: s.SaltoURL + "/connect/authorize", ClientID: saltoks.DefaultClientID,
			ClientSecret: saltoks.DefaultClientSecret, Username: "system@canal-street.example", Password: "devstack",
			TokenFile: filepath.Join(o.DataDir, "salto-token.json"), RequestsPerSecond: 20},
		Nexudus: config.Nexudus{BaseURL: s.NexusURL, Username: "admin@canal-street.example", Password: "devstack",
			TokenFile: filepath.Join(o.DataDir, "nexudus-token.json"), WebhookSecret: secret},
		Webhooks:  config.Webhooks{Listen: net.JoinHostPort(o.IP, strconv.Itoa(o.WebhookPort))},
		Locations: []config.Location{demoLocation(o.Lead, o.Lag)},
	}
	cdc.configure(cfg, s.Temporal.UIURL())
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		s.shutdown()
		return nil, err
	}
	s.Config = cfg
	if err := writeStarterConfig(filepath.Join(o.DataDir, "starter.yaml"), cfg); err != nil {
		s.shutdown()
		return nil, err
	}
	s.Client, err = cdc.dial(ctx, s.Temporal, cfg, logger)
	if err != nil {
		s.shutdown()
		return nil, err
	}
	if s.Worker, err = service.NewWorker(cfg, s.Client, logger); err != nil {
		s.shutdown()
		return nil, err
	}
	if err := s.Worker.Start(); err != nil {
		s.shutdown()
		return nil, err
	}
	s.Webhook = "http://" + s.Worker.WebhookAddr()
	s.CodecURL = cdc.url

	bg, cancel := context.WithCancel(context.Background())
	s.cancelBg, s.bgStopped = cancel, make(chan struct{})
	nx, err := service.NewNexudusClient(cfg.Nexudus)
	if err != nil {
		s.shutdown()
		return nil, err
	}
	if fresh && o.Demo {
		if err := s.registerWebhooks(ctx, nx); err != nil {
			s.shutdown()
			return nil, err
		}
		if err := startDemo(ctx, nx, s.Client, cfg.Temporal.TaskQueue, time.Now()); err != nil {
			s.shutdown()
			return nil, err
		}
	}
	go func() {
		defer close(s.bgStopped)
		if o.Demo && o.Traffic > 0 {
			go demoTraffic(bg, nx, o.Traffic, func(f string, a ...any) { logger.Info(fmt.Sprintf(f, a...)) })
		}
		// Save the simulators' state now and then, so that even a killed dev stack loses little.
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if err := s.saveSimulators(); err != nil {
					logger.Warn("saving simulator state", "Error", err)
				}
			}
		}
	}()
	return s, nil
}

// registerWebhooks subscribes the worker to every Nexudus action it handles, as an operator would in Nexudus.
func (s *Stack) registerWebhooks(ctx context.Context, nx *nexudus.Client) error {
	for _, a := range nexudus.Actions() {
		url := service.WebhookURL(s.Webhook, s.Config.Webhooks.PathPrefix, a, "")
		if _, err := nx.CreateWebhook(ctx, nexudus.Webhook{BusinessId: demoBusiness, Name: "nexsalto " + a.String(),
			Action: a, URL: url, Active: true}); err != nil {
			return fmt.Errorf("register webhook %s: %w", a, err)
		}
	}
	return nil
}

// Stop shuts everything down in the order that loses nothing: demo traffic, webhooks and worker, Temporal,
// then the simulators, whose state is saved last.
func (s *Stack) Stop() error {
	if s.cancelBg != nil {
		s.cancelBg()
		<-s.bgStopped
	}
	return s.shutdown()
}

func (s *Stack) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.Worker != nil {
		s.Worker.Stop(ctx)
	}
	if s.Client != nil {
		s.Client.Close()
	}
	var errs []error
	if s.Temporal != nil {
		errs = append(errs, s.Temporal.Stop())
	}
	s.Nexudus.Close()
	errs = append(errs, s.saveSimulators())
	s.shutdownServers()
	return errors.Join(errs...)
}

func (s *Stack) shutdownServers() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
}

func (s *Stack) serve(ip string, port int, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	addr := ln.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		// Bound to every address: the worker in this process reaches it on loopback, the one address a plain
		// http:// vendor URL is accepted on.
		return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port)), nil
	}
	return "http://" + addr.String(), nil
}

func (s *Stack) restoreSimulators(fresh bool) error {
	saltoFile, nexFile := filepath.Join(s.stateDir, "salto-sim.json"), filepath.Join(s.stateDir, "nexudus-sim.json")
	if fresh || !exists(saltoFile) || !exists(nexFile) {
		if err := seedSalto(s.Salto); err != nil {
			return fmt.Errorf("seed salto simulator: %w", err)
		}
		if err := seedNexudus(s.Nexudus); err != nil {
			return fmt.Errorf("seed nexudus simulator: %w", err)
		}
		return nil
	}
	raw, err := os.ReadFile(saltoFile)
	if err != nil {
		return err
	}
	if err := s.Salto.Restore(raw); err != nil {
		return err
	}
	raw, err = os.ReadFile(nexFile)
	if err != nil {
		return err
	}
	var ds nexudussim.Dataset
	if err := json.Unmarshal(raw, &ds); err != nil {
		return fmt.Errorf("nexudus simulator state: %w", err)
	}
	_, err = s.Nexudus.Seed(ds)
	return err
}

func (s *Stack) saveSimulators() error {
	snap, err := s.Salto.Snapshot()
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(s.stateDir, "salto-sim.json"), snap); err != nil {
		return err
	}
	raw, err := json.Marshal(s.Nexudus.State())
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.stateDir, "nexudus-sim.json"), raw)
}

// writeStarterConfig writes the stack's configuration for `starter`, secrets left out as always (the dev
// stack's passwords are printed at start).
func writeStarterConfig(path string, cfg *config.Config) error {
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := []byte("# Written by the dev stack at each start: the configuration of this stack, for the starter CLI.\n")
	return writeAtomic(path, append(header, raw...))
}

// persistentSecret returns the webhook signing secret of this data folder, creating it once.
func persistentSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return string(b), nil
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(buf)
	return secret, writeAtomic(path, []byte(secret))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// privateDataDir makes the data folder this user's only (0700, files 0600), also one an older version
// created: it holds the webhook secret, API tokens and the Temporal database, with names and access PINs.
func privateDataDir(dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(path, 0o700)
		case d.Type().IsRegular():
			return os.Chmod(path, 0o600)
		}
		return nil // a symlink: not ours to change
	})
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
