package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/metrics"
)

// openStates are the states a running workflow of each kind stays in. An entitlement publishes the states
// that end it as it ends, and only a booking waits for a confirmation (tentative), so those are not counted:
// each would cost a query to find nothing.
var openStates = func() map[string][]access.State {
	open := map[string][]access.State{access.KindCustomer: access.CustomerStates}
	for _, k := range access.Kinds {
		for _, s := range access.EntitlementStates {
			if !s.Ends() && (s != access.StateTentative || k == access.KindBooking) {
				open[string(k)] = append(open[string(k)], s)
			}
		}
	}
	return open
}()

// visibilityQPS paces the collector's visibility queries: Temporal allows a namespace 10 a second per
// frontend by default (frontend.namespaceRPS.visibility), and the webhook receiver's desk look-ups, the Web UI
// and the starter need theirs. The 15 counts of a refresh take 3 s.
const visibilityQPS = 5

// collector sets the gauges whose truth is in Temporal rather than in this process: open workflows by kind
// and state and the customers in trouble (from visibility and the last reconcile reports), and the shared
// Nexudus budget (from the budget workflow's query). It refreshes every interval and, on a scrape, when
// its figures are older than that: the scrape rate cannot turn into a query rate.
type collector struct {
	tc     client.Client
	cfg    *config.Config
	local  *localBudget // set with nexudus.budget local
	logger *slog.Logger
	every  time.Duration
	pace   *rate.Limiter // of visibility queries

	mu        sync.Mutex
	last      time.Time
	failing   map[string]bool
	samples   []budgetSample
	reconcile map[int64]reconcileSeen
}

type budgetSample struct {
	at              time.Time
	reserved, write int64
}

// reconcileSeen is the last completed reconcile run of a location that was read, so it is read once.
type reconcileSeen struct {
	runID     string
	unmatched int
}

func newCollector(tc client.Client, cfg *config.Config, local *localBudget, logger *slog.Logger) *collector {
	every := cfg.Metrics.RefreshInterval
	if every <= 0 {
		every = config.DefaultMetricsRefresh
	}
	return &collector{tc: tc, cfg: cfg, local: local, logger: logger, every: every,
		pace: rate.NewLimiter(visibilityQPS, 1), failing: map[string]bool{}, reconcile: map[int64]reconcileSeen{}}
}

// run refreshes until ctx ends.
func (c *collector) run(ctx context.Context) {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		c.refreshIfStale(ctx, true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handler serves /metrics with fresh figures.
func (c *collector) handler() http.Handler {
	h := metrics.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.refreshIfStale(r.Context(), false)
		h.ServeHTTP(w, r)
	})
}

// refreshIfStale refreshes the figures when they are older than half the interval (so that the ticker's own
// refresh is never skipped for a scrape that came a moment before). A scrape (wait false) never waits for a
// refresh under way, and gives its own a few seconds: it serves the figures it has rather than time out.
func (c *collector) refreshIfStale(ctx context.Context, wait bool) {
	timeout := max(c.every, 15*time.Second)
	if wait {
		c.mu.Lock()
	} else if !c.mu.TryLock() {
		return
	} else {
		timeout = 5 * time.Second
	}
	defer c.mu.Unlock()
	if time.Since(c.last) < c.every/2 {
		return
	}
	c.last = time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.note("workflow counts", c.countWorkflows(ctx))
	c.note("reconcile reports", c.countUnmatched(ctx))
	metrics.CustomersInTrouble.WithLabelValues(metrics.TroubleFinalError).Set(float64(metrics.FinalErrors.Count(time.Now())))
	c.note("Nexudus budget", c.budget(ctx))
}

// note logs a part's failure once, and its recovery: the gauges keep their last figures meanwhile.
func (c *collector) note(part string, err error) {
	switch {
	case err != nil && !c.failing[part]:
		c.logger.Warn("metrics: could not read "+part+" from Temporal; the figures stay as last read", "Error", err)
	case err == nil && c.failing[part]:
		c.logger.Info("metrics: " + part + " read again")
	}
	c.failing[part] = err != nil
}

// countWorkflows counts the running workflows of every kind by state. Visibility groups counts by
// ExecutionStatus only, so each state is a query of its own.
func (c *collector) countWorkflows(ctx context.Context) error {
	for kind, states := range openStates {
		for _, s := range states {
			n, err := c.count(ctx, fmt.Sprintf("ExecutionStatus = 'Running' AND %s = '%s' AND %s = '%s'",
				access.SAKind.GetName(), kind, access.SAState.GetName(), s))
			if err != nil {
				return err
			}
			metrics.Entitlements.WithLabelValues(kind, string(s)).Set(float64(n))
			if kind == access.KindCustomer && s == access.StateNoSeat {
				metrics.CustomersInTrouble.WithLabelValues(metrics.TroubleNoSeat).Set(float64(n))
			}
		}
	}
	return nil
}

func (c *collector) count(ctx context.Context, query string) (int64, error) {
	if err := c.pace.Wait(ctx); err != nil {
		return 0, err
	}
	resp, err := c.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// countUnmatched sums, over the configured locations, the members of owned groups that the last completed
// reconciliation (a dry run's too) matched to no Nexudus coworker. A location never reconciled counts 0.
func (c *collector) countUnmatched(ctx context.Context) error {
	total := 0
	for _, loc := range c.cfg.LocationIDs() {
		if err := c.pace.Wait(ctx); err != nil {
			return err
		}
		resp, err := c.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1,
			Query: fmt.Sprintf("%s = '%s' AND %s = '%s' AND ExecutionStatus = 'Completed'", access.SAKind.GetName(),
				access.KindReconcile, access.SALocation.GetName(), strconv.FormatInt(loc, 10))})
		if err != nil {
			return err
		}
		runs := resp.GetExecutions()
		if len(runs) == 0 {
			continue
		}
		ex := runs[0].GetExecution() // SQL visibility lists the latest closed first
		seen, ok := c.reconcile[loc]
		if !ok || seen.runID != ex.GetRunId() {
			var rep access.ReconcileReport
			if err := c.tc.GetWorkflow(ctx, ex.GetWorkflowId(), ex.GetRunId()).Get(ctx, &rep); err != nil {
				return fmt.Errorf("reconcile report %s: %w", ex.GetWorkflowId(), err)
			}
			seen = reconcileSeen{runID: ex.GetRunId(), unmatched: rep.Unmatched}
			c.reconcile[loc] = seen
		}
		total += seen.unmatched
	}
	metrics.CustomersInTrouble.WithLabelValues(metrics.TroubleUnmatched).Set(float64(total))
	return nil
}

// budget sets the Nexudus budget gauges: the account's from the budget workflow when it is shared, this
// process's own otherwise.
func (c *collector) budget(ctx context.Context) error {
	n := c.cfg.Nexudus
	limits := map[string]int{metrics.BudgetCallsMinute: n.RequestsPerMinute, metrics.BudgetWritesMinute: n.WritesPerMinute,
		metrics.BudgetWritesDay: n.WritesPerDay}
	for w, l := range limits {
		metrics.NexudusBudgetLimit.WithLabelValues(w).Set(float64(max(l, 0)))
	}
	now := time.Now()
	var used map[string]int64
	degraded := false // a local budget has no daily cap to degrade at
	if c.local != nil {
		used = c.local.used(now)
	} else {
		st, err := c.sharedBudget(ctx)
		if err != nil {
			return err
		}
		used, degraded = c.sharedUse(st, now), st.DegradedOn(now)
	}
	metrics.NexudusBudgetDegraded.Set(boolGauge(degraded))
	for w, u := range used {
		metrics.NexudusBudgetUsed.WithLabelValues(w).Set(float64(u))
	}
	return nil
}

// sharedBudget queries the budget workflow; none running yet (no Nexudus call so far) is a budget unspent.
func (c *collector) sharedBudget(ctx context.Context) (access.BudgetState, error) {
	var st access.BudgetState
	v, err := c.tc.QueryWorkflow(ctx, access.NexudusBudgetID, "", access.QueryBudget)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// sharedUse turns the budget workflow's running totals into the calls of the last minute: the difference
// with the latest sample at least a minute old (with none yet, the oldest one, a lower bound).
func (c *collector) sharedUse(st access.BudgetState, now time.Time) map[string]int64 {
	cur := budgetSample{at: now, reserved: st.Reserved, write: st.Writes}
	kept := c.samples[:0]
	for _, s := range c.samples {
		if now.Sub(s.at) > 2*time.Minute {
			continue
		}
		kept = append(kept, s)
	}
	c.samples = append(kept, cur)
	base := c.samples[0]
	for _, s := range c.samples {
		if now.Sub(s.at) >= time.Minute {
			base = s
		}
	}
	delta := func(a, b int64) int64 {
		if a < b { // the budget workflow started again from nothing
			return a
		}
		return a - b
	}
	return map[string]int64{metrics.BudgetCallsMinute: delta(cur.reserved, base.reserved),
		metrics.BudgetWritesMinute: delta(cur.write, base.write), metrics.BudgetWritesDay: int64(st.WritesOn(now))}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
