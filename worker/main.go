// Command worker runs the access workflows and activities against a Temporal service, and receives Nexudus
// webhooks. Configuration: a YAML file (--config) plus environment variables for secrets (see README).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/service"
)

func main() {
	cfgPath := flag.String("config", envOr("NEXSALTO_CONFIG", "config.yaml"), "configuration file")
	registerSA := flag.Bool("register-search-attributes", false,
		"add the search attributes the workflows use to the namespace if missing (needs operator rights; not on Temporal Cloud)")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	logJSON := flag.Bool("log-json", false, "log as JSON lines")
	debugListen := flag.String("debug-listen", "",
		"serve net/http/pprof (goroutine and heap profiles) on this loopback address, e.g. 127.0.0.1:6060; empty: off")
	flag.Parse()

	logger := newLogger(*logLevel, *logJSON)
	if *debugListen != "" {
		ln, err := listenDebug(*debugListen)
		if err != nil {
			fmt.Fprintln(os.Stderr, "--debug-listen:", err)
			os.Exit(2)
		}
		go serveDebug(ln, logger)
		logger.Info("debug listener", "Address", "http://"+ln.Addr().String()+"/debug/pprof/")
	}
	if err := run(*cfgPath, *registerSA, logger); err != nil {
		logger.Error("worker stopped", "Error", err)
		var cfgErr config.Errors
		if errors.As(err, &cfgErr) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(cfgPath string, registerSA bool, logger *slog.Logger) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdownTracing, err := service.SetupTracing(ctx, "nexsalto-worker")
	if err != nil {
		return err
	}
	defer func() { _ = shutdownTracing(context.Background()) }()
	tc, err := service.DialTemporal(ctx, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	if registerSA {
		if err := registerSearchAttributes(ctx, tc.OperatorService(), cfg.Temporal.Namespace); err != nil {
			return err
		}
	}
	w, err := service.NewWorker(cfg, tc, logger)
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	logger.Info("worker running", "Temporal", cfg.Temporal.Address, "Namespace", cfg.Temporal.Namespace,
		"TaskQueue", cfg.Temporal.TaskQueue, "Webhooks", "http://"+w.WebhookAddr()+cfg.Webhooks.PathPrefix+"/{Action}",
		"Encrypted", cfg.Temporal.Encryption.Enabled(), "CodecServer", w.CodecURL())
	<-ctx.Done()
	logger.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w.Stop(sctx)
	return nil
}

// registerSearchAttributes adds what is missing; an existing attribute of the right type is fine.
func registerSearchAttributes(ctx context.Context, op operatorservice.OperatorServiceClient, namespace string) error {
	have, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range access.SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// listenDebug listens for the debug endpoints, on a loopback address only. They are for operators who need a
// goroutine or heap profile of a running worker (a leak, a stuck call) without restarting it; they have no
// authentication and expose the process's internals (stacks, command line, arguments of calls), so they must
// never be reachable from the network the webhook receiver faces.
func listenDebug(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%q is not a loopback address (127.0.0.1, [::1] or localhost): the profiles are "+
			"unauthenticated", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	// "localhost" is resolved by the system: check what was actually bound.
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("%q resolved to %s, not a loopback address", addr, ln.Addr())
	}
	return ln, nil
}

// serveDebug serves net/http/pprof on a mux of its own: nothing else that registers on http.DefaultServeMux
// is exposed by accident.
func serveDebug(ln net.Listener, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // goroutine, heap, allocs, block, mutex, threadcreate
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		logger.Error("debug listener stopped", "Error", err)
	}
}

func newLogger(level string, asJSON bool) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if asJSON {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	// Lines logged with a span's context (the webhook receiver's) carry its trace id; workflow and activity
	// lines carry theirs and their workflow's id through the Temporal SDK.
	return slog.New(service.TraceLogHandler(h))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
