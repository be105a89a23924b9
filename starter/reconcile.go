package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/service"
)

func newReconcileCmd(a *app) *cobra.Command {
	var (
		location int64
		dryRun   bool
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Reconcile Salto KS with Nexudus now (--dry-run: print the plan, change nothing)",
		Long: `Runs a location's reconciliation now, the same run its Temporal Schedule makes every
sync.reconcile_interval: who should be in which owned access group is derived again from Nexudus and compared
with the groups' members in Salto KS; differences are repaired through the customer workflows, and customers
with nothing left get the location's no-access policy. A run already in progress is reported instead of
starting a second one.

With --dry-run the plan is computed in this process and printed: who would be added, removed, suspended or
deleted, and which entitlements would be read again. Nothing is changed.`,
		Example: `  starter reconcile --location 1234 --dry-run
  starter reconcile --location 1234
  starter reconcile --output json`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tc, cfg, err := a.temporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			locs, err := a.locations(cfg, location)
			if err != nil {
				return err
			}
			if dryRun {
				sc, err := a.salto()
				if err != nil {
					return err
				}
				nc, err := service.NewAccountNexudusClient(cfg, tc)
				if err != nil {
					return err
				}
				var plans []access.ReconcilePlan
				for _, l := range locs {
					plan, err := service.ReconcilePlan(ctx, cfg, tc, sc, nc, l.BusinessID)
					if err != nil {
						return fmt.Errorf("plan for location %d: %w", l.BusinessID, err)
					}
					plans = append(plans, plan)
				}
				if a.json() {
					return writeJSON(a.Stdout, plans)
				}
				for _, p := range plans {
					printPlan(a, p)
				}
				return nil
			}
			var reports []access.ReconcileReport
			failed := false
			for _, l := range locs {
				run, err := service.TriggerReconcile(ctx, tc, service.ReconcileOptions{LocationID: l.BusinessID,
					TaskQueue: cfg.Temporal.TaskQueue})
				if err != nil {
					return fmt.Errorf("reconcile location %d: %w", l.BusinessID, err)
				}
				if !a.json() {
					note := ""
					if run.AlreadyRunning {
						note = " (already running: waiting for it)"
					}
					fmt.Fprintf(a.Stderr, "location %d: %s%s\n", l.BusinessID, run.WorkflowID, note)
				}
				if wait == 0 {
					continue
				}
				wctx, cancel := context.WithTimeout(ctx, wait)
				rep, err := service.ReconcileResult(wctx, tc, run)
				cancel()
				if err != nil {
					return fmt.Errorf("waiting for %s: %w", run.WorkflowID, err)
				}
				failed = failed || rep.Errors > 0
				reports = append(reports, rep)
			}
			if a.json() {
				if err := writeJSON(a.Stdout, reports); err != nil {
					return err
				}
			} else {
				for _, r := range reports {
					printReport(a, r)
				}
			}
			if failed {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&location, "location", 0, "Nexudus business id (default: every configured location)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Minute, "wait this long for each run's report (0: start and return)")
	return cmd
}

func printPlan(a *app, p access.ReconcilePlan) {
	fmt.Fprintf(a.Stdout, "Location %d, plan as of %s (dry run: nothing changed)\n", p.LocationID, p.AsOf.Format(time.RFC3339))
	fmt.Fprintf(a.Stdout, "  checked %d customers, %d entitlements, %d group members; would add %d, remove %d, suspend %d, delete %d, refresh %d; %d unmatched members\n",
		p.Checked, p.Entitlements, p.Members, p.Added, p.Removed, p.Suspended, p.Deleted, p.Refreshed, p.Unmatched)
	if p.PolicyDeferred > 0 {
		fmt.Fprintf(a.Stdout, "  the no-access policy is due for %d more customers: left to the next runs (sync.reconcile_policy_limit)\n",
			p.PolicyDeferred)
	}
	if len(p.Actions) == 0 {
		fmt.Fprintln(a.Stdout, "  nothing to do")
		return
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CUSTOMER\tADD\tREMOVE\tPOLICY\tREFRESH\tWHY")
	for _, act := range p.Actions {
		refs := make([]string, len(act.Refresh))
		for i, r := range act.Refresh {
			refs[i] = r.WorkflowID()
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", act.Customer.WorkflowID(), dash(strings.Join(act.Add, ",")),
			dash(strings.Join(act.Remove, ",")), dash(string(act.Policy)), dash(strings.Join(refs, ",")), act.Reason)
	}
	_ = tw.Flush()
}

func printReport(a *app, r access.ReconcileReport) {
	fmt.Fprintf(a.Stdout, "Location %d reconciled in %s: checked %d, added %d, removed %d, suspended %d, deleted %d, refreshed %d, repairs %d, unmatched %d, errors %d\n",
		r.LocationID, r.Duration.Round(time.Millisecond), r.Checked, r.Added, r.Removed, r.Suspended, r.Deleted,
		r.Refreshed, r.Repairs, r.Unmatched, r.Errors)
	if r.PolicyDeferred > 0 {
		fmt.Fprintf(a.Stdout, "  no-access policy left to the next runs for %d customers (sync.reconcile_policy_limit)\n",
			r.PolicyDeferred)
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(a.Stdout, "  error: %s\n", e)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
