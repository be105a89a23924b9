package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/salto"
)

func newStatusCmd(a *app) *cobra.Command {
	var location int64
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show workflow counts by kind and state (status system) or one customer (status customer)",
		Long: `Without a subcommand (or with "system"): how many workflows of each kind there are, how many run or
failed, and how many are in each access state, from Temporal's visibility store. Visibility is eventually
consistent: a workflow started a second ago may not be counted yet.`,
		Example: `  starter status
  starter status --location 1 --output json
  starter status customer 1 42`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.systemStatus(cmd.Context(), location) },
	}
	cmd.Flags().Int64Var(&location, "location", 0, "count only the workflows of this Nexudus business id")
	system := &cobra.Command{
		Use:   "system",
		Short: "Workflow counts by kind and state",
		Args:  withUsage(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.systemStatus(cmd.Context(), location) },
	}
	system.Flags().Int64Var(&location, "location", 0, "count only the workflows of this Nexudus business id")
	cmd.AddCommand(system, newStatusCustomerCmd(a))
	return cmd
}

type kindCount struct {
	Kind    string         `json:"kind"`
	Total   int64          `json:"total"`
	Running int64          `json:"running"`
	Failed  int64          `json:"failed"`
	States  map[string]int `json:"states"`
	// NoState counts workflows that have not published a state yet (just started).
	NoState int64 `json:"no_state,omitempty"`
}

type systemReport struct {
	Location int64       `json:"location,omitempty"`
	Kinds    []kindCount `json:"kinds"`
	Note     string      `json:"note"`
}

// quote makes a visibility-query string literal. The values are our own kinds, states and ids, which never
// hold a quote; dropping one keeps the query well-formed whatever happens.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "") + "'" }

func (a *app) systemStatus(ctx context.Context, location int64) error {
	tc, cfg, err := a.temporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	if location != 0 {
		if _, err := a.location(cfg, location); err != nil {
			return err
		}
	}
	count := func(q string) (int64, error) {
		resp, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err != nil {
			return 0, fmt.Errorf("count workflows (%s): %w", q, err)
		}
		return resp.GetCount(), nil
	}
	rep := systemReport{Location: location,
		Note: "counts come from Temporal visibility, which can lag a few seconds behind"}
	kinds := make([]string, 0, len(access.Kinds)+1)
	for _, k := range access.Kinds {
		kinds = append(kinds, string(k))
	}
	kinds = append(kinds, access.KindCustomer)
	for _, k := range kinds {
		base := access.SAKind.GetName() + " = " + quote(k)
		if location != 0 {
			base += " AND " + access.SALocation.GetName() + " = " + quote(strconv.FormatInt(location, 10))
		}
		kc := kindCount{Kind: k, States: map[string]int{}}
		if kc.Total, err = count(base); err != nil {
			return err
		}
		if kc.Running, err = count(base + " AND ExecutionStatus = 'Running'"); err != nil {
			return err
		}
		if kc.Failed, err = count(base + " AND (ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut' OR " +
			"ExecutionStatus = 'Terminated')"); err != nil {
			return err
		}
		states := access.EntitlementStates
		if k == access.KindCustomer {
			states = access.CustomerStates
		}
		var withState int64
		for _, s := range states {
			n, err := count(base + " AND " + access.SAState.GetName() + " = " + quote(string(s)))
			if err != nil {
				return err
			}
			if n > 0 {
				kc.States[string(s)] = int(n)
			}
			withState += n
		}
		kc.NoState = max(kc.Total-withState, 0)
		rep.Kinds = append(rep.Kinds, kc)
	}
	if a.json() {
		return writeJSON(a.Stdout, rep)
	}
	t := newTable(a.Stdout, "KIND", "TOTAL", "RUNNING", "FAILED", "STATES")
	for _, kc := range rep.Kinds {
		states := access.EntitlementStates
		if kc.Kind == access.KindCustomer {
			states = access.CustomerStates
		}
		var parts []string
		for _, s := range states {
			if n := kc.States[string(s)]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", s, n))
			}
		}
		if kc.NoState > 0 {
			parts = append(parts, fmt.Sprintf("starting %d", kc.NoState))
		}
		t.row(kc.Kind, strconv.FormatInt(kc.Total, 10), strconv.FormatInt(kc.Running, 10),
			strconv.FormatInt(kc.Failed, 10), orDash(strings.Join(parts, ", ")))
	}
	t.flush()
	fmt.Fprintf(a.Stdout, "\n(%s)\n", rep.Note)
	return nil
}

func newStatusCustomerCmd(a *app) *cobra.Command {
	var changes int
	cmd := &cobra.Command{
		Use:   "customer <businessId> <coworkerId>",
		Short: "What a customer holds, which Salto groups they should be in and are in, and recent changes",
		Long: `Queries the customer workflow (customer-<businessId>-<coworkerId>) for its ledger: which entitlement
gives which access groups until when. Compares the groups the customer should be in with the groups Salto KS
lists them in (members of every access group the location's mapping owns), and shows the latest changes with
their reasons. Exit code 1 when the customer has no workflow or Salto cannot be read.`,
		Example: `  starter status customer 1 42
  starter status customer 1 42 --changes 50 --output json`,
		Args: withUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := parseID("businessId", args[0])
			if err != nil {
				return err
			}
			cw, err := parseID("coworkerId", args[1])
			if err != nil {
				return err
			}
			if changes < 0 {
				return usagef("--changes must not be negative")
			}
			return a.customerStatus(cmd.Context(), access.CustomerKey{LocationID: loc, CoworkerID: cw}, changes)
		},
	}
	cmd.Flags().IntVar(&changes, "changes", 10, "how many recent changes to show in text output (json has all)")
	return cmd
}

// groupStatus compares one access group: should the customer be in it, has the workflow put them there, and
// does Salto list them.
type groupStatus struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Desired bool   `json:"desired"`
	Applied bool   `json:"applied"`
	// InSalto is nil when Salto could not tell (no linked user, or the read failed).
	InSalto *bool  `json:"in_salto"`
	Blocked string `json:"blocked,omitempty"`
	Note    string `json:"note"`
}

type customerReport struct {
	WorkflowID string               `json:"workflow_id"`
	Location   int64                `json:"location"`
	Coworker   int64                `json:"coworker"`
	Execution  string               `json:"execution"`
	State      access.CustomerState `json:"state"`
	Groups     []groupStatus        `json:"groups"`
	SaltoError string               `json:"salto_error,omitempty"`
}

func (a *app) customerStatus(ctx context.Context, key access.CustomerKey, changes int) error {
	tc, cfg, err := a.temporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	loc, err := a.location(cfg, key.LocationID)
	if err != nil {
		return err
	}
	id := key.WorkflowID()
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%s: no workflow: the customer has not had access through nexsalto at this location "+
			"(or its workflow ended after a long idle time and was removed)", id)
	}
	if err != nil {
		return fmt.Errorf("describe %s: %w", id, err)
	}
	rep := customerReport{WorkflowID: id, Location: key.LocationID, Coworker: key.CoworkerID,
		Execution: executionStatus(desc.GetWorkflowExecutionInfo().GetStatus())}
	val, err := tc.QueryWorkflow(ctx, id, "", access.QueryCustomer)
	if err != nil {
		return fmt.Errorf("query %s: %w", id, err)
	}
	if err := val.Get(&rep.State); err != nil {
		return fmt.Errorf("query %s: unexpected answer: %w", id, err)
	}
	saltoErr := a.compareGroups(ctx, cfg, loc, &rep)
	if saltoErr != nil {
		rep.SaltoError = saltoErr.Error()
	}
	if a.json() {
		if err := writeJSON(a.Stdout, rep); err != nil {
			return err
		}
	} else {
		a.printCustomer(rep, loc.Zone(), changes)
	}
	if saltoErr != nil {
		return saltoErr
	}
	return nil
}

func executionStatus(s enums.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// compareGroups fills rep.Groups: every group the location owns, wanted or applied, with what Salto says. The
// Salto side is left unknown when the customer has no linked user or a read fails (returned).
func (a *app) compareGroups(ctx context.Context, cfg *config.Config, loc *config.Location, rep *customerReport) error {
	st := rep.State
	desired := map[string]bool{}
	for _, e := range st.Ledger {
		for _, g := range e.Groups {
			desired[g] = true
		}
	}
	ids := slices.Clone(loc.OwnedGroups())
	for g := range desired {
		ids = append(ids, g)
	}
	ids = append(ids, st.Applied...)
	slices.Sort(ids)
	ids = slices.Compact(ids)

	inSalto := map[string]*bool{}
	names := map[string]string{}
	known := map[string]bool{}
	var saltoErr error
	if st.User != nil && st.User.PlatformUserID != "" {
		saltoErr = func() error {
			sc, err := a.salto()
			if err != nil {
				return err
			}
			groups, err := sc.ListAccessGroups(ctx, loc.SaltoSite, salto.ListOptions{})
			if err != nil {
				return fmt.Errorf("list access groups of site %s: %w", loc.SaltoSite, err)
			}
			for _, g := range groups {
				names[g.ID] = groupLabel(g)
				known[g.ID] = true
			}
			for _, g := range ids {
				if !known[g] {
					continue // the mapping check reports groups that do not exist
				}
				members, err := sc.ListGroupMembers(ctx, loc.SaltoSite, g)
				if err != nil {
					return fmt.Errorf("list members of access group %s: %w", g, err)
				}
				in := slices.Contains(members, st.User.PlatformUserID)
				inSalto[g] = &in
			}
			return nil
		}()
	}
	for _, g := range ids {
		gs := groupStatus{ID: g, Name: names[g], Desired: desired[g], Applied: slices.Contains(st.Applied, g),
			InSalto: inSalto[g], Blocked: st.Blocked[g]}
		in := gs.InSalto != nil && *gs.InSalto
		switch {
		case gs.InSalto == nil && (gs.Desired || gs.Applied):
			switch {
			case st.User == nil || st.User.PlatformUserID == "":
				gs.Note = "no Salto user linked"
			case saltoErr == nil && !known[g]:
				gs.Note = "group does not exist in Salto"
			default:
				gs.Note = "unknown: Salto could not be read"
			}
		case gs.InSalto == nil:
			continue // owned but neither wanted nor known: nothing to say
		case gs.Desired && in:
			gs.Note = "ok"
		case gs.Desired && gs.Blocked != "":
			gs.Note = "missing: blocked by " + gs.Blocked
		case gs.Desired:
			gs.Note = "missing in Salto (pending, or drift)"
		case in:
			gs.Note = "extra: in Salto without an entitlement"
		default:
			continue
		}
		rep.Groups = append(rep.Groups, gs)
	}
	return saltoErr
}

func groupLabel(g salto.AccessGroup) string {
	if g.Name != "" {
		return g.Name
	}
	return g.CustomerReference
}

func (a *app) printCustomer(rep customerReport, zone *time.Location, changes int) {
	w := a.Stdout
	st := rep.State
	fmt.Fprintf(w, "Customer %d at location %d (%s, workflow %s)\n", rep.Coworker, rep.Location, rep.WorkflowID,
		rep.Execution)
	fmt.Fprintf(w, "State:       %s\n", orDash(string(st.State)))
	if st.User != nil {
		how := ", found in Salto (not marked as created by nexsalto)"
		if st.User.Created {
			how = ", created by nexsalto"
		}
		if st.User.Suspended {
			how += ", suspended"
		}
		fmt.Fprintf(w, "Salto user:  site user %s, platform user %s%s\n", st.User.SiteUserID, st.User.PlatformUserID,
			how)
	} else {
		fmt.Fprintln(w, "Salto user:  none linked")
	}
	if st.UserProblem != "" {
		fmt.Fprintf(w, "Problem:     %s\n", st.UserProblem)
	}
	if len(st.Foreign) > 0 {
		fmt.Fprintf(w, "Not ours:    also in %s; the no-access policy left the user as it is\n",
			strings.Join(st.Foreign, ", "))
	}

	fmt.Fprintln(w, "\nHolds:")
	if len(st.Ledger) == 0 {
		fmt.Fprintln(w, "  nothing")
	} else {
		t := newTable(w, "  ENTITLEMENT", "GROUPS", "UNTIL", "WHY")
		keys := make([]string, 0, len(st.Ledger))
		for k := range st.Ledger {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := st.Ledger[k]
			why := e.Summary
			if why == "" {
				why = e.Reason
			}
			until := fmtWhen(e.Until, zone)
			if e.Until.IsZero() {
				until = "open-ended"
			}
			t.row("  "+k, strings.Join(e.Groups, ","), until, why)
		}
		t.flush()
	}

	fmt.Fprintln(w, "\nAccess groups (should be in / put there by nexsalto / in Salto):")
	if len(rep.Groups) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		t := newTable(w, "  GROUP", "NAME", "SHOULD", "APPLIED", "IN SALTO", "NOTE")
		for _, g := range rep.Groups {
			in := "?"
			if g.InSalto != nil {
				in = yesNo(*g.InSalto)
			}
			t.row("  "+g.ID, orDash(g.Name), yesNo(g.Desired), yesNo(g.Applied), in, g.Note)
		}
		t.flush()
	}
	if rep.SaltoError != "" {
		fmt.Fprintf(w, "  Salto could not be read: %s\n", rep.SaltoError)
	}

	fmt.Fprintln(w, "\nRecent changes:")
	h := st.History
	if len(h) > changes {
		h = h[len(h)-changes:]
	}
	if len(h) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	t := newTable(w, "  WHEN", "ACTION", "ENTITLEMENT", "GROUPS", "REASON")
	for i := len(h) - 1; i >= 0; i-- { // newest first
		c := h[i]
		t.row("  "+fmtWhen(c.At, zone), string(c.Action), orDash(c.Entitlement), orDash(strings.Join(c.Groups, ",")),
			c.Reason)
	}
	t.flush()
}

// describe tells whether a workflow runs, has closed, or does not exist.
func describe(ctx context.Context, tc client.Client, id string) (enums.WorkflowExecutionStatus, bool, error) {
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, false, nil
	}
	if err != nil {
		return enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED, false, err
	}
	return desc.GetWorkflowExecutionInfo().GetStatus(), true, nil
}
