package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/activities"
	"github.com/nexsalto/nexsalto/budget"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/httpobs"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/workflows"
)

// NewSaltoClient builds the Salto KS client from the configuration.
func NewSaltoClient(c config.Salto) (*salto.Client, error) { return salto.New(SaltoConfig(c)) }

// SaltoConfig is the client configuration of the configuration's salto section.
func SaltoConfig(c config.Salto) salto.Config {
	return salto.Config{
		APIURL:            c.APIURL,
		TokenURL:          c.TokenURL,
		AuthorizeURL:      c.AuthorizeURL,
		RedirectURL:       c.RedirectURL,
		ClientID:          c.ClientID,
		ClientSecret:      c.ClientSecret,
		Scopes:            c.Scopes,
		Username:          c.Username,
		Password:          c.Password,
		TokenFile:         c.TokenFile,
		RequestsPerSecond: c.RequestsPerSecond,
		// Every call, token requests included, is a span of the caller's trace and counts into the vendor
		// metrics (package httpobs).
		HTTPClient: httpobs.Salto.Client(nil),
		RateWaited: rateWaited("salto"),
	}
}

// NewNexudusClient builds a Nexudus client from the configuration, with a budget of its own (the starter).
func NewNexudusClient(c config.Nexudus) (*nexudus.Client, error) {
	return nexudus.New(NexudusConfig(c))
}

// NewAccountNexudusClient builds a Nexudus client that spends the account's budget: shared with every worker
// through the budget workflow (nexudus.budget: shared), or its own.
func NewAccountNexudusClient(cfg *config.Config, tc client.Client) (*nexudus.Client, error) {
	nc := NexudusConfig(cfg.Nexudus)
	if cfg.Nexudus.Budget == config.BudgetShared {
		nc.Budget = &budget.Shared{Temporal: tc, TaskQueue: access.BudgetTaskQueue(cfg.Temporal.TaskQueue),
			Limits: access.BudgetInput{CallsPerMinute: cfg.Nexudus.RequestsPerMinute,
				WritesPerMinute: cfg.Nexudus.WritesPerMinute, WritesPerDay: cfg.Nexudus.WritesPerDay}}
	} else {
		// The client's own pacing, counted for the budget metrics.
		nc.Budget = newLocalBudget(cfg.Nexudus.RequestsPerMinute)
	}
	return nexudus.New(nc)
}

// NexudusConfig is the client configuration of the configuration's nexudus section.
func NexudusConfig(c config.Nexudus) nexudus.Config {
	return nexudus.Config{
		BaseURL:           c.BaseURL,
		Username:          c.Username,
		Password:          c.Password,
		Auth:              c.Auth,
		TokenFile:         c.TokenFile,
		RequestsPerMinute: c.RequestsPerMinute,
		HTTPClient:        httpobs.Nexudus.Client(nil), // as Salto's: traced and counted
		RateWaited:        rateWaited("nexudus"),
	}
}

// Worker is the worker process: a Temporal worker with every workflow and activity, and the webhook receiver.
type Worker struct {
	Config   *config.Config
	Temporal client.Client
	Salto    *salto.Client
	Nexudus  *nexudus.Client
	Logger   *slog.Logger
	// WorkerOptions tune the Temporal worker (tests and benchmarks); zero is the SDK's defaults.
	WorkerOptions worker.Options
	// NoSyncWorkflows leaves the change pollers, presence tracking and reconcile Schedules alone at start (a
	// second worker process, or a test that starts them itself).
	NoSyncWorkflows bool

	workers  []worker.Worker
	server   *http.Server
	listener net.Listener
	codec    *CodecServer
	obs      observability
}

// NewWorker builds the clients from cfg when they are not given.
func NewWorker(cfg *config.Config, tc client.Client, logger *slog.Logger) (*Worker, error) {
	w := &Worker{Config: cfg, Temporal: tc, Logger: logger}
	var err error
	if w.Salto, err = NewSaltoClient(cfg.Salto); err != nil {
		return nil, fmt.Errorf("salto client: %w", err)
	}
	if w.Nexudus, err = NewAccountNexudusClient(cfg, tc); err != nil {
		return nil, fmt.Errorf("nexudus client: %w", err)
	}
	return w, nil
}

// Start registers everything, starts polling Temporal and starts serving webhooks. It returns once both run.
func (w *Worker) Start() error {
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	cfg := w.Config
	// Process-wide, and read when the first worker of the process starts (see config.Temporal).
	if n := cfg.Temporal.MaxCachedWorkflows; n > 0 {
		worker.SetStickyWorkflowCacheSize(n)
	}
	acts := &activities.Activities{
		Config: cfg, Salto: w.Salto, Nexudus: w.Nexudus, Temporal: w.Temporal, TaskQueue: cfg.Temporal.TaskQueue,
		CustomerTaskQueue: cfg.Temporal.CustomerTaskQueue,
	}
	// Two task queues, each with its own pollers: when many entitlements wake at once, the worker drains their
	// (sticky) backlog first, and customer tasks queued behind it would wait until it is gone. Both workers
	// register everything: customer workflows started before the split keep running on the first queue.
	opts := w.workerOptions()
	for _, tq := range []string{cfg.Temporal.TaskQueue, cfg.Temporal.CustomerTaskQueue} {
		tw := worker.New(w.Temporal, tq, opts)
		workflows.Register(tw)
		acts.Register(tw)
		if err := tw.Start(); err != nil {
			w.stopWorkers()
			return fmt.Errorf("start temporal worker on %s: %w", tq, err)
		}
		w.workers = append(w.workers, tw)
	}
	// The Salto work no door waits for, a few activities at a time: its backlog waits in Temporal.
	if q := cfg.Temporal.BackgroundTaskQueue; q != "" {
		bo := opts
		bo.MaxConcurrentActivityExecutionSize = max(cfg.Temporal.BackgroundActivitySlots, 1)
		bo.Interceptors = append(slices.Clone(opts.Interceptors), &activities.BackgroundInterceptor{})
		gw := worker.New(w.Temporal, q, bo)
		acts.Register(gw)
		if err := gw.Start(); err != nil {
			w.stopWorkers()
			return fmt.Errorf("start temporal worker on %s: %w", q, err)
		}
		w.workers = append(w.workers, gw)
	}
	// The account's Nexudus budget answers reservations on a queue of its own.
	bw := worker.New(w.Temporal, access.BudgetTaskQueue(cfg.Temporal.TaskQueue), opts)
	bw.RegisterWorkflowWithOptions(workflows.NexudusBudget, workflow.RegisterOptions{Name: access.WorkflowNexudusBudget})
	if err := bw.Start(); err != nil {
		w.stopWorkers()
		return fmt.Errorf("start temporal worker of the Nexudus budget: %w", err)
	}
	w.workers = append(w.workers, bw)
	w.obs.polling.Store(true)
	if !w.NoSyncWorkflows {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := StartSyncWorkflows(ctx, w.Temporal, cfg)
		cancel()
		if err != nil {
			w.stopWorkers()
			return fmt.Errorf("start change pollers, presence tracking and reconcile schedules: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Webhooks.Listen)
	if err != nil {
		w.stopWorkers()
		return fmt.Errorf("webhook receiver on %s: %w", cfg.Webhooks.Listen, err)
	}
	w.listener = ln
	// On a listener of its own: the webhook receiver faces Nexudus, the codec server only the Web UI's users.
	if cfg.Codec.Listen != "" {
		if w.codec, err = StartCodecServer(cfg, cfg.Codec.Listen, w.Logger); err != nil {
			_ = ln.Close()
			w.stopWorkers()
			return err
		}
	}
	if err := w.startObservability(); err != nil {
		w.stopCodec()
		_ = ln.Close()
		w.stopWorkers()
		return err
	}
	w.server = NewWebhookServer(cfg.Webhooks, w.Handler(), w.Logger)
	go func() {
		if err := w.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.Logger.Error("webhook receiver stopped", "Error", err)
		}
	}()
	return nil
}

// CodecURL is the codec server's base URL (without its token), "" when codec.listen is not set.
func (w *Worker) CodecURL() string {
	if w.codec == nil {
		return ""
	}
	return w.codec.URL()
}

// Handler serves the webhooks, the health checks and, unless metrics.listen is set, /metrics.
func (w *Worker) Handler() http.Handler {
	cfg := w.Config
	mux := http.NewServeMux()
	mux.Handle(cfg.Webhooks.PathPrefix+"/", &Webhooks{
		Temporal:  w.Temporal,
		TaskQueue: cfg.Temporal.TaskQueue,
		Prefix:    cfg.Webhooks.PathPrefix,
		Secret:    []byte(cfg.Nexudus.WebhookSecret),
		Token:     cfg.Nexudus.WebhookToken,
		Mapping:   cfg,
		MaxBody:   cfg.Webhooks.MaxBodyBytes,
		Locations: cfg.LocationIDs(),
		Logger:    w.Logger,
		// Replays refused within this window (a delivery already accepted).
		ReplayWindow:    cfg.Webhooks.ReplayWindow,
		ReplayCacheSize: cfg.Webhooks.ReplayCacheSize,
	})
	w.observe(mux, w.Config.Metrics.Listen == "")
	return mux
}

// WebhookAddr is the address the receiver listens on (useful with port 0).
func (w *Worker) WebhookAddr() string {
	if w.listener == nil {
		return ""
	}
	return w.listener.Addr().String()
}

// Stop stops the webhook receiver first (Nexudus retries what it cannot deliver) and then the worker.
func (w *Worker) Stop(ctx context.Context) {
	if w.server != nil {
		_ = w.server.Shutdown(ctx)
	}
	w.stopObservability(ctx)
	w.stopCodec()
	w.stopWorkers()
}

func (w *Worker) stopCodec() {
	if w.codec != nil {
		_ = w.codec.Close()
		w.codec = nil
	}
}

func (w *Worker) stopWorkers() {
	w.obs.polling.Store(false)
	for _, tw := range w.workers {
		tw.Stop()
	}
	w.workers = nil
}

// rateWaited observes a vendor request's wait for its rate limit, by the priority of the work that made it.
func rateWaited(vendor string) func(context.Context, time.Duration) {
	return func(ctx context.Context, waited time.Duration) {
		metrics.RateWait.WithLabelValues(vendor, access.Priority(nexudus.PriorityOf(ctx)).String()).Observe(waited.Seconds())
	}
}
