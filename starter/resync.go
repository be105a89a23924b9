package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/dispatch"
)

func kindNames() string {
	names := make([]string, len(access.Kinds))
	for i, k := range access.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, "|")
}

func newResyncCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "resync <" + kindNames() + "> <id>",
		Short: "Make one entitlement read its Nexudus record again (starting its workflow if none runs)",
		Long: `Sends the "changed" signal to the workflow of one Nexudus booking, pass (a coworker time pass),
contract or visitor, starting the workflow when none is running, exactly as a webhook does. The workflow reads
the record from Nexudus and gives, changes or takes back access accordingly; an entity that has already ended
is read and left alone. Use it when a webhook was lost or after fixing the mapping.`,
		Example: `  starter resync booking 1234
  starter resync pass 77 --output json`,
		Args: withUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := access.Kind(strings.ToLower(args[0]))
			if !kind.Valid() {
				return usagef("kind %q: use one of %s", args[0], kindNames())
			}
			id, err := parseID(string(kind)+" id", args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			tc, cfg, err := a.temporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			ref := access.Ref{Kind: kind, ID: id}
			if err := dispatch.StartEntitlement(ctx, tc, cfg.Temporal.TaskQueue, ref); err != nil {
				return fmt.Errorf("resync %s: %w", ref.WorkflowID(), err)
			}
			if a.json() {
				return writeJSON(a.Stdout, map[string]any{
					"workflow_id": ref.WorkflowID(), "kind": kind, "id": id, "signal": access.SignalChanged,
				})
			}
			fmt.Fprintf(a.Stdout, "%s: signalled %q (started if it was not running)\n", ref.WorkflowID(),
				access.SignalChanged)
			return nil
		},
	}
}
