package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"golang.org/x/term"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
)

// Exit codes. Scripts rely on them, so they are part of the interface and listed in the root help.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed, or found problems (mapping check, backfill failures)
	exitUsage   = 2 // wrong command line: unknown command or flag, missing or malformed argument
)

// EnvConfig names the configuration file when --config is not given.
const EnvConfig = "NEXSALTO_CONFIG"

const (
	outputText = "text"
	outputJSON = "json"
)

// deps is what the commands take from the process: streams, environment, clock and terminal detection.
// main builds it from the process; tests build one with captured streams and their own environment, and
// otherwise run exactly the same code against real servers.
type deps struct {
	Stdout, Stderr io.Writer
	// Getenv supplies NEXSALTO_CONFIG and the secrets the configuration reads from the environment.
	Getenv func(string) string
	Now    func() time.Time
	// IsTerminal reports whether w is an interactive terminal; the backfill progress bar needs one.
	IsTerminal func(w io.Writer) bool
}

func processDeps() deps {
	return deps{
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Now:    time.Now,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
	}
}

// app is one invocation: the dependencies plus the global flags, and the clients built from them on demand.
type app struct {
	deps
	configPath string
	output     string
	cfg        *config.Config
}

// usageError marks a wrong command line (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errReported ends a command that has already printed why it failed (a report with problems): exit 1 without
// a second message.
var errReported = errors.New("failed (see the report above)")

// withUsage turns a cobra argument check into a usage error.
func withUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// noSubcommand is the RunE of a command that only groups subcommands: without one it is a usage error.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return usagef("%s: a subcommand is required", cmd.Name())
}

const rootLong = `starter is the operator's command line for nexsalto, which gives the customers of a coworking space
Salto KS door access that follows what they bought in Nexudus, through one Temporal workflow per booking, pass,
contract and visitor, and one per customer.

It reads the same configuration file as the worker (--config, default config.yaml or $NEXSALTO_CONFIG) and
takes secrets from the environment only (SALTO_CLIENT_SECRET, SALTO_PASSWORD, NEXUDUS_PASSWORD,
NEXUDUS_WEBHOOK_SECRET or NEXUDUS_WEBHOOK_TOKEN, TEMPORAL_API_KEY, NEXSALTO_ENCRYPTION_KEYS,
NEXSALTO_CODEC_TOKEN).

Exit codes:
  0  success
  1  failure: the command could not do its job, or found problems it reports
     (a mapping names a missing Salto group, a backfill entity failed)
  2  usage error: unknown command or flag, missing or malformed argument`

// newRootCmd builds the whole command tree. Errors are printed by run, not by cobra, so that every error
// goes to stderr once and maps to an exit code.
func newRootCmd(d deps) *cobra.Command {
	a := &app{deps: d}
	defaultConfig := "config.yaml"
	if v := d.Getenv(EnvConfig); v != "" {
		defaultConfig = v
	}
	root := &cobra.Command{
		Use:           "starter",
		Short:         "Operate nexsalto: connect Salto KS, resync, status, mapping check, backfill",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if a.output != outputText && a.output != outputJSON {
				return usagef("--output %q: use text or json", a.output)
			}
			return nil
		},
	}
	root.SetOut(d.Stdout)
	root.SetErr(d.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&a.configPath, "config", defaultConfig,
		"configuration file (env "+EnvConfig+")")
	root.PersistentFlags().StringVarP(&a.output, "output", "o", outputText, "output format of reports (resync, status, mapping check, backfill, reconcile): text or json")

	root.AddCommand(
		newConnectCmd(a),
		newResyncCmd(a),
		newStatusCmd(a),
		newMappingCmd(a),
		newBackfillCmd(a),
		newReconcileCmd(a),
		newCodecServerCmd(a),
	)
	return root
}

// run executes the command line and returns the exit code. Every error is printed here, once, to stderr.
func run(ctx context.Context, d deps, args []string) int {
	root := newRootCmd(d)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errReported) {
		return exitFailure
	}
	var ue usageError
	// cobra reports an unknown subcommand of the root itself with a plain error.
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ") {
		fmt.Fprintf(d.Stderr, "starter: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(d.Stderr, "starter: %v\n", err)
	return exitFailure
}

// config loads the configuration once per invocation.
func (a *app) config() (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	raw, err := os.ReadFile(a.configPath)
	if err != nil {
		return nil, fmt.Errorf("config: %w (use --config or %s)", err, EnvConfig)
	}
	cfg, err := config.ParseClient(raw, a.Getenv)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// logger takes the Temporal SDK's log lines: warnings and errors only, on stderr, so stdout stays a report.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// temporal dials Temporal; the caller closes the client.
func (a *app) temporal(ctx context.Context) (client.Client, *config.Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	c, err := service.DialTemporal(ctx, cfg.Temporal, a.logger())
	if err != nil {
		return nil, nil, err
	}
	return c, cfg, nil
}

func (a *app) salto() (*salto.Client, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return service.NewSaltoClient(cfg.Salto)
}

func (a *app) nexudus() (*nexudus.Client, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	return service.NewNexudusClient(cfg.Nexudus)
}

// location returns the configured location for a --location or argument value.
func (a *app) location(cfg *config.Config, id int64) (*config.Location, error) {
	l, ok := cfg.Location(id)
	if !ok {
		known := make([]string, 0, len(cfg.Locations))
		for _, l := range cfg.Locations {
			known = append(known, fmt.Sprint(l.BusinessID))
		}
		return nil, fmt.Errorf("location %d is not in the configuration (configured: %s)", id,
			strings.Join(known, ", "))
	}
	return l, nil
}

// locations returns the one location asked for, or all of them when id is 0.
func (a *app) locations(cfg *config.Config, id int64) ([]*config.Location, error) {
	if id != 0 {
		l, err := a.location(cfg, id)
		if err != nil {
			return nil, err
		}
		return []*config.Location{l}, nil
	}
	out := make([]*config.Location, 0, len(cfg.Locations))
	for i := range cfg.Locations {
		out = append(out, &cfg.Locations[i])
	}
	return out, nil
}

func (a *app) json() bool { return a.output == outputJSON }
