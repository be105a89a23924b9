package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/dispatch"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/service"
)

type backfillOptions struct {
	from, to    string
	allCurrent  bool
	location    int64
	refresh     bool
	dryRun      bool
	concurrency int
}

func newBackfillCmd(a *app) *cobra.Command {
	var o backfillOptions
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Start the workflows of everything that gives access in a time window",
		Long: `Finds in Nexudus everything that gives access in a time window (default: from now for 7 days) or, with
--all-current, everything that gives access now or later, for one location (--location) or all of them:

  bookings          of mapped resources or desks, whose access (start - lead to end + lag) meets the window
  passes            coworker time passes of mapped pass products, not expired or used up
  contracts         active contracts with a mapped desk or office, not cancelled before the window
  visitors          expected in the window, at locations with a visitor access group

and starts the workflow of each one that has none. It is safe to run again:

  no workflow       started (the workflow reads the record and schedules access)
  running           skipped; with --refresh signalled to read the record again
  closed            skipped, so a finished entitlement is never resurrected; with --refresh a new run reads
                    the record again (and finishes at once if it has ended)

--dry-run prints the plan and changes nothing. The window never starts before now: what has already ended
needs no access. Nexudus is read within its rate limit, so a large backfill takes a while; a progress bar
(count, rate, ETA) shows on stderr when it is a terminal. Exit code 1 when any entity or listing failed.`,
		Example: `  starter backfill --dry-run
  starter backfill --from now --to +2d --location 1
  starter backfill --all-current --refresh --output json`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.allCurrent && (cmd.Flags().Changed("from") || cmd.Flags().Changed("to")) {
				return usagef("--all-current covers everything from now on: leave out --from and --to")
			}
			if o.concurrency < 1 || o.concurrency > 64 {
				return usagef("--concurrency must be between 1 and 64")
			}
			now := a.Now()
			win := rules.Window{From: now}
			if !o.allCurrent {
				from, err := parseWhen(o.from, now)
				if err != nil {
					return usagef("--from: %v", err)
				}
				to, err := parseWhen(o.to, now)
				if err != nil {
					return usagef("--to: %v", err)
				}
				if !to.After(from) {
					return usagef("--to (%s) must be after --from (%s)", to.Format(time.RFC3339), from.Format(time.RFC3339))
				}
				if !to.After(now) {
					return usagef("--to (%s) is in the past: nothing that has ended needs access", to.Format(time.RFC3339))
				}
				if from.Before(now) {
					from = now
				}
				win = rules.Window{From: from, To: to}
			}
			return a.backfill(cmd.Context(), o, win, now)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "now", "start of the window (now, +1d, 2026-05-01, 2026-05-01T09:00, RFC 3339)")
	f.StringVar(&o.to, "to", "+7d", "end of the window (same forms as --from)")
	f.BoolVar(&o.allCurrent, "all-current", false, "everything that gives access now or later, whatever its dates")
	f.Int64Var(&o.location, "location", 0, "only this Nexudus business id (default: every configured location)")
	f.BoolVar(&o.refresh, "refresh", false, "also make existing workflows (running or closed) read their record again")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be started, refreshed and skipped; change nothing")
	f.IntVar(&o.concurrency, "concurrency", 4, "Temporal calls in flight at once")
	return cmd
}

// candidate is one entity the backfill considers.
type candidate struct {
	Ref      access.Ref
	Location int64
	Summary  string
}

// Backfill actions, as reported per entity and in the summary.
const (
	actStarted   = "started"
	actRefreshed = "refreshed"
	actSkipped   = "skipped"
	actFailed    = "failed"
)

type backfillEntity struct {
	WorkflowID string      `json:"workflow_id"`
	Kind       access.Kind `json:"kind"`
	ID         int64       `json:"id"`
	Location   int64       `json:"location"`
	Summary    string      `json:"summary,omitempty"`
	// Action is what was done, or with dry_run what would be done.
	Action string `json:"action"`
	// Reason says why: the workflow's state before the backfill touched it.
	Reason string `json:"reason"`
	Error  string `json:"error,omitempty"`
}

type backfillSummary struct {
	Started   int `json:"started"`
	Refreshed int `json:"refreshed"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
}

type backfillReport struct {
	DryRun     bool             `json:"dry_run"`
	Refresh    bool             `json:"refresh"`
	AllCurrent bool             `json:"all_current"`
	From       time.Time        `json:"from"`
	To         *time.Time       `json:"to,omitempty"`
	Locations  []int64          `json:"locations"`
	Found      map[string]int   `json:"found"`
	Entities   []backfillEntity `json:"entities"`
	Summary    backfillSummary  `json:"summary"`
	// Errors are listings that failed: their entities were not considered.
	Errors []string `json:"errors,omitempty"`
}

func (a *app) backfill(ctx context.Context, o backfillOptions, win rules.Window, now time.Time) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	locs, err := a.locations(cfg, o.location)
	if err != nil {
		return err
	}
	tc, _, err := a.temporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	// The backfill's reads share the account's budget with the workers, behind what doors wait for.
	nx, err := service.NewAccountNexudusClient(cfg, tc)
	if err != nil {
		return err
	}
	ctx = nexudus.WithPriority(ctx, nexudus.Priority(access.PriorityPoll))

	rep := backfillReport{DryRun: o.dryRun, Refresh: o.refresh, AllCurrent: o.allCurrent, From: win.From,
		Found: map[string]int{}, Entities: []backfillEntity{}}
	if !win.To.IsZero() {
		rep.To = &win.To
	}
	for _, l := range locs {
		rep.Locations = append(rep.Locations, l.BusinessID)
	}
	if !a.json() {
		to := "open-ended (all current)"
		if !win.To.IsZero() {
			to = win.To.Format(time.RFC3339)
		}
		fmt.Fprintf(a.Stderr, "backfill: reading Nexudus for locations %s, window %s → %s\n",
			joinIDs(rep.Locations), win.From.Format(time.RFC3339), to)
	}
	cands, errs := collectCandidates(ctx, nx, cfg, locs, win, now)
	rep.Errors = errs
	for _, c := range cands {
		rep.Found[string(c.Ref.Kind)]++
	}
	if !a.json() {
		var parts []string
		for _, k := range access.Kinds {
			parts = append(parts, plural(rep.Found[string(k)], string(k), string(k)+"s"))
		}
		fmt.Fprintf(a.Stderr, "backfill: found %s\n", strings.Join(parts, ", "))
	}

	rep.Entities = a.processCandidates(ctx, tc, cfg.Temporal.TaskQueue, cands, o)
	for _, e := range rep.Entities {
		switch e.Action {
		case actStarted:
			rep.Summary.Started++
		case actRefreshed:
			rep.Summary.Refreshed++
		case actSkipped:
			rep.Summary.Skipped++
		default:
			rep.Summary.Failed++
		}
	}
	if a.json() {
		if err := writeJSON(a.Stdout, rep); err != nil {
			return err
		}
	} else {
		a.printBackfill(rep)
	}
	if rep.Summary.Failed > 0 || len(rep.Errors) > 0 {
		return errReported
	}
	return nil
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// processCandidates decides and acts on every candidate, a few at a time, and returns the outcomes in the
// candidates' order. A cancelled context fails the ones not yet done.
func (a *app) processCandidates(ctx context.Context, tc client.Client, taskQueue string, cands []candidate,
	o backfillOptions) []backfillEntity {
	out := make([]backfillEntity, len(cands))
	prog := a.newProgress(len(cands), o.dryRun)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(o.concurrency, max(len(cands), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = processOne(ctx, tc, taskQueue, cands[i], o)
				prog.done(out[i].Action)
			}
		}()
	}
feed:
	for i := range cands {
		select {
		case next <- i:
		case <-ctx.Done():
			for j := i; j < len(cands); j++ {
				out[j] = entityOf(cands[j])
				out[j].Action, out[j].Reason, out[j].Error = actFailed, "not processed", "interrupted"
			}
			break feed
		}
	}
	close(next)
	wg.Wait()
	prog.finish()
	return out
}

func entityOf(c candidate) backfillEntity {
	return backfillEntity{WorkflowID: c.Ref.WorkflowID(), Kind: c.Ref.Kind, ID: c.Ref.ID, Location: c.Location,
		Summary: c.Summary}
}

// processOne looks the workflow up and starts, refreshes or skips it. Between the look-up and the start a
// webhook may start the same workflow: StartEntitlement then only signals it, which is harmless.
func processOne(ctx context.Context, tc client.Client, taskQueue string, c candidate, o backfillOptions) backfillEntity {
	e := entityOf(c)
	fail := func(err error) backfillEntity {
		e.Action, e.Error = actFailed, err.Error()
		return e
	}
	status, exists, err := describe(ctx, tc, e.WorkflowID)
	if err != nil {
		e.Reason = "look-up failed"
		return fail(err)
	}
	switch {
	case !exists:
		e.Action, e.Reason = actStarted, "no workflow"
	case status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		e.Action, e.Reason = actSkipped, "running"
		if o.refresh {
			e.Action = actRefreshed
		}
	default:
		e.Action, e.Reason = actSkipped, "closed ("+executionStatus(status)+")"
		if o.refresh {
			e.Action = actRefreshed
		}
	}
	if o.dryRun || e.Action == actSkipped {
		return e
	}
	if err := dispatch.StartEntitlement(ctx, tc, taskQueue, c.Ref); err != nil {
		return fail(err)
	}
	return e
}

// progress shows the backfill's advance on stderr: a bar on a terminal, a plain line now and then otherwise.
type progress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	a      *app
	total  int
	n      int
	counts map[string]int
	dryRun bool
}

func (a *app) newProgress(total int, dryRun bool) *progress {
	p := &progress{a: a, total: total, counts: map[string]int{}, dryRun: dryRun}
	// The bar goes to stderr, so it does not disturb a JSON report on stdout either.
	if total > 0 && a.IsTerminal(a.Stderr) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(a.Stderr),
			progressbar.OptionSetDescription("backfill"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("entities"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) done(action string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.counts[action]++
	if p.bar != nil {
		_ = p.bar.Add(1)
		return
	}
	if p.a.json() || p.total == 0 {
		return
	}
	// Without a terminal: for logs of long runs a line every tenth of the way, and always one at the end.
	if (p.total >= 50 && p.n%(p.total/10) == 0) || p.n == p.total {
		fmt.Fprintf(p.a.Stderr, "backfill: %d/%d processed (%s)\n", p.n, p.total, p.line())
	}
}

func (p *progress) line() string {
	verb := func(s string) string {
		if p.dryRun && s != actFailed {
			return "would be " + s
		}
		return s
	}
	return fmt.Sprintf("%s %d, %s %d, %s %d, %s %d", verb(actStarted), p.counts[actStarted], verb(actRefreshed),
		p.counts[actRefreshed], verb(actSkipped), p.counts[actSkipped], actFailed, p.counts[actFailed])
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func (a *app) printBackfill(rep backfillReport) {
	w := a.Stdout
	verb := map[string]string{actStarted: "start", actRefreshed: "refresh", actSkipped: "skip", actFailed: "FAILED"}
	t := newTable(w)
	shown := 0
	for _, e := range rep.Entities {
		// A real run lists what it changed and what failed; a dry run lists its whole plan.
		if !rep.DryRun && e.Action == actSkipped {
			continue
		}
		action := e.Action
		if rep.DryRun && e.Action != actFailed {
			action = "would " + verb[e.Action]
		} else if e.Action == actFailed {
			action = verb[actFailed]
		}
		why := e.Reason
		if e.Error != "" {
			why += ": " + e.Error
		}
		t.row(action, e.WorkflowID, "location "+strconv.FormatInt(e.Location, 10), orDash(e.Summary), why)
		shown++
	}
	t.flush()
	if shown > 0 {
		fmt.Fprintln(w)
	}
	s := rep.Summary
	if rep.DryRun {
		fmt.Fprintf(w, "Dry run, nothing changed: would start %d, would refresh %d, would skip %d, failed %d\n",
			s.Started, s.Refreshed, s.Skipped, s.Failed)
	} else {
		fmt.Fprintf(w, "Backfill: started %d, refreshed %d, skipped %d, failed %d\n",
			s.Started, s.Refreshed, s.Skipped, s.Failed)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
}
