package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/nexsalto/nexsalto/metrics"
)

// observability is what the worker runs to be watched: the collector of the figures kept in Temporal, the
// health checks' view of its pollers and, with metrics.listen, a listener of its own.
type observability struct {
	// polling is true from the moment every Temporal worker started until one stops (Stop, or a fatal error
	// such as an unknown namespace, after which the SDK stops it by itself).
	polling   atomic.Bool
	collector *collector
	cancel    context.CancelFunc
	done      chan struct{}
	server    *http.Server
	listener  net.Listener
}

// workerOptions are WorkerOptions with the fatal-error hook that tells /readyz the pollers stopped.
func (w *Worker) workerOptions() worker.Options {
	opts := w.WorkerOptions
	prev := opts.OnFatalError
	opts.OnFatalError = func(err error) {
		w.obs.polling.Store(false)
		if prev != nil {
			prev(err)
		}
	}
	return opts
}

// startObservability starts the collector and, with metrics.listen, its listener.
func (w *Worker) startObservability() error {
	var local *localBudget
	if w.Nexudus != nil {
		local, _ = w.Nexudus.Config().Budget.(*localBudget)
	}
	c := newCollector(w.Temporal, w.Config, local, w.Logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()
	w.obs.collector, w.obs.cancel, w.obs.done = c, cancel, done
	addr := w.Config.Metrics.Listen
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		w.stopObservability(context.Background())
		return fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	w.observe(mux, true)
	w.obs.listener = ln
	w.obs.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(w.Logger.Handler(), slog.LevelWarn)}
	go func() {
		if err := w.obs.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.Logger.Error("metrics listener stopped", "Error", err)
		}
	}()
	return nil
}

func (w *Worker) stopObservability(ctx context.Context) {
	if w.obs.server != nil {
		_ = w.obs.server.Shutdown(ctx)
		w.obs.server, w.obs.listener = nil, nil
	}
	if w.obs.cancel != nil {
		w.obs.cancel()
		<-w.obs.done
		w.obs.cancel = nil
	}
}

// observe adds /healthz, /readyz and, when withMetrics, /metrics to mux. Both health checks answer a word,
// never why (see readyHandler).
func (w *Worker) observe(mux *http.ServeMux, withMetrics bool) {
	mux.HandleFunc("GET /healthz", liveHandler)
	mux.HandleFunc("GET /readyz", readyHandler(w.Temporal, w.obs.polling.Load, w.Logger))
	if !withMetrics {
		return
	}
	if w.obs.collector != nil {
		mux.Handle("GET /metrics", w.obs.collector.handler())
	} else {
		mux.Handle("GET /metrics", metrics.Handler())
	}
}

// MetricsURL is the URL of /metrics: on metrics.listen, else on the webhook listener; "" before Start.
func (w *Worker) MetricsURL() string {
	switch {
	case w.obs.listener != nil:
		return "http://" + w.obs.listener.Addr().String() + "/metrics"
	case w.listener != nil:
		return "http://" + w.listener.Addr().String() + "/metrics"
	}
	return ""
}
