package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

func newMappingCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mapping",
		Short: "Check the Nexudus item → Salto access-group mapping (mapping check)",
		Args:  cobra.ArbitraryArgs,
		RunE:  noSubcommand,
	}
	var location int64
	check := &cobra.Command{
		Use:   "check",
		Short: "List Nexudus items and Salto access groups side by side and flag mapping problems",
		Long: `For each configured location (or --location), lists the Nexudus resources, time passes and floor-plan
desks of that business next to the access groups of its Salto site, and flags:

  MISSING GROUP    the mapping names an access group the Salto site does not have (exit code 1);
                   similar group names or ids are suggested
  unmapped         a Nexudus item no access group is mapped to (information: such items give no access);
                   groups with a similar name are suggested
  not in Nexudus   the mapping names an item Nexudus does not list for this business (a stale entry)

Suggestions compare normalised names word by word and forgive small typos; check them before use.
Time passes carry no business in Nexudus, so every location is checked against all of them.`,
		Example: `  starter mapping check
  starter mapping check --location 1 --output json`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.mappingCheck(cmd.Context(), location) },
	}
	check.Flags().Int64Var(&location, "location", 0, "check only this Nexudus business id")
	cmd.AddCommand(check)
	return cmd
}

// Item statuses of the mapping check.
const (
	mapOK           = "ok"
	mapMissingGroup = "missing-group"
	mapUnmapped     = "unmapped"
	mapNotInNexudus = "not-in-nexudus"
)

type mappedGroup struct {
	ID          string       `json:"id"`
	Name        string       `json:"name,omitempty"`
	Exists      bool         `json:"exists"`
	Suggestions []suggestion `json:"suggestions,omitempty"`
}

type mappingItem struct {
	Type        string        `json:"type"` // resource, pass, desk, visitors
	ID          int64         `json:"id,omitempty"`
	Name        string        `json:"name,omitempty"`
	InNexudus   bool          `json:"in_nexudus"`
	Groups      []mappedGroup `json:"groups,omitempty"`
	Status      string        `json:"status"`
	Suggestions []suggestion  `json:"suggestions,omitempty"`
}

type saltoGroup struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type locationMapping struct {
	BusinessID    int64         `json:"business_id"`
	Name          string        `json:"name,omitempty"`
	SaltoSite     string        `json:"salto_site"`
	SaltoGroups   []saltoGroup  `json:"salto_groups"`
	Items         []mappingItem `json:"items"`
	UnusedGroups  []saltoGroup  `json:"unused_groups,omitempty"`
	MissingGroups int           `json:"missing_groups"`
	Unmapped      int           `json:"unmapped_items"`
	Stale         int           `json:"stale_items"`
	Error         string        `json:"error,omitempty"`
}

type mappingReport struct {
	OK            bool              `json:"ok"`
	Locations     []locationMapping `json:"locations"`
	MissingGroups int               `json:"missing_groups"`
	Unmapped      int               `json:"unmapped_items"`
	Stale         int               `json:"stale_items"`
	Errors        int               `json:"errors"`
}

func (a *app) mappingCheck(ctx context.Context, only int64) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	locs, err := a.locations(cfg, only)
	if err != nil {
		return err
	}
	nx, err := a.nexudus()
	if err != nil {
		return err
	}
	sc, err := a.salto()
	if err != nil {
		return err
	}
	// Time passes belong to no business in the API: read them once for every location.
	passes, passErr := nx.ListTimePasses(ctx, nil)
	rep := mappingReport{}
	for _, l := range locs {
		lm := locationMapping{BusinessID: l.BusinessID, Name: l.Name, SaltoSite: l.SaltoSite}
		if passErr != nil {
			lm.Error = "list time passes: " + passErr.Error()
		} else if err := checkLocation(ctx, nx, sc, l, passes, &lm); err != nil {
			lm.Error = err.Error()
		}
		rep.MissingGroups += lm.MissingGroups
		rep.Unmapped += lm.Unmapped
		rep.Stale += lm.Stale
		if lm.Error != "" {
			rep.Errors++
		}
		rep.Locations = append(rep.Locations, lm)
	}
	rep.OK = rep.MissingGroups == 0 && rep.Errors == 0
	if a.json() {
		if err := writeJSON(a.Stdout, rep); err != nil {
			return err
		}
	} else {
		a.printMapping(rep)
	}
	if !rep.OK {
		return errReported
	}
	return nil
}

// checkLocation reads one location's items and groups and compares them with its mapping.
func checkLocation(ctx context.Context, nx *nexudus.Client, sc *salto.Client, l *config.Location,
	passes []nexudus.TimePass, lm *locationMapping) error {
	business := strconv.FormatInt(l.BusinessID, 10)
	resources, err := nx.ListResources(ctx, url.Values{"Resource_BusinessId": {business}})
	if err != nil {
		return fmt.Errorf("list resources: %w", err)
	}
	desks, err := nx.ListFloorPlanDesks(ctx, url.Values{"FloorPlanDesk_FloorPlanBusinessId": {business}})
	if err != nil {
		return fmt.Errorf("list floor-plan desks: %w", err)
	}
	groups, err := sc.ListAccessGroups(ctx, l.SaltoSite, salto.ListOptions{})
	if err != nil {
		return fmt.Errorf("list access groups of site %s: %w", l.SaltoSite, err)
	}
	byID := map[string]salto.AccessGroup{}
	cands := make([]candidateGroup, 0, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
		cands = append(cands, candidateGroup{ID: g.ID, Name: g.Name, Reference: g.CustomerReference})
		lm.SaltoGroups = append(lm.SaltoGroups, saltoGroup{ID: g.ID, Name: groupLabel(g)})
	}
	used := map[string]bool{}

	// check builds the row of one item, mapped or not.
	check := func(typ string, id int64, name string, inNexudus bool, mapped []string) mappingItem {
		it := mappingItem{Type: typ, ID: id, Name: name, InNexudus: inNexudus, Status: mapOK}
		for _, g := range mapped {
			used[g] = true
			mg := mappedGroup{ID: g}
			if sg, ok := byID[g]; ok {
				mg.Exists, mg.Name = true, groupLabel(sg)
			} else {
				mg.Suggestions = suggest(name, g, cands)
				it.Status = mapMissingGroup
				lm.MissingGroups++
			}
			it.Groups = append(it.Groups, mg)
		}
		switch {
		case it.Status == mapMissingGroup:
		case len(mapped) == 0:
			it.Status = mapUnmapped
			it.Suggestions = suggest(name, "", cands)
			lm.Unmapped++
		case !inNexudus:
			it.Status = mapNotInNexudus
			lm.Stale++
		}
		return it
	}
	// items adds the rows of one item type: every item Nexudus lists, then mapped ids it does not list.
	items := func(typ string, listed map[int64]string, mapping map[int64][]string) {
		ids := make([]int64, 0, len(listed)+len(mapping))
		for id := range listed {
			ids = append(ids, id)
		}
		for id := range mapping {
			if _, ok := listed[id]; !ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			name, inNexudus := listed[id]
			lm.Items = append(lm.Items, check(typ, id, name, inNexudus, mapping[id]))
		}
	}
	listed := map[int64]string{}
	for _, r := range resources {
		listed[int64(r.Id)] = r.Name
	}
	items("resource", listed, l.Resources)
	listed = map[int64]string{}
	for _, p := range passes {
		listed[int64(p.Id)] = p.Name
	}
	items("pass", listed, l.Passes)
	listed = map[int64]string{}
	for _, d := range desks {
		listed[int64(d.Id)] = d.Name
	}
	items("desk", listed, l.Desks)
	if len(l.VisitorGroups) > 0 {
		it := check("visitors", 0, "visitors", true, l.VisitorGroups)
		it.Name = ""
		lm.Items = append(lm.Items, it)
	}
	for _, g := range groups {
		if !used[g.ID] {
			lm.UnusedGroups = append(lm.UnusedGroups, saltoGroup{ID: g.ID, Name: groupLabel(g)})
		}
	}
	return nil
}

func fmtSuggestions(s []suggestion) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.GroupID
		if x.GroupName != "" {
			parts[i] += " (" + x.GroupName + ")"
		}
	}
	return strings.Join(parts, " or ")
}

func (a *app) printMapping(rep mappingReport) {
	w := a.Stdout
	for i, lm := range rep.Locations {
		if i > 0 {
			fmt.Fprintln(w)
		}
		title := fmt.Sprintf("Location %d", lm.BusinessID)
		if lm.Name != "" {
			title += " " + lm.Name
		}
		if lm.Error != "" {
			fmt.Fprintf(w, "%s, Salto site %s\n  ERROR: %s\n", title, lm.SaltoSite, lm.Error)
			continue
		}
		fmt.Fprintf(w, "%s, Salto site %s: %s\n", title, lm.SaltoSite,
			plural(len(lm.SaltoGroups), "access group", "access groups"))
		t := newTable(w, "  TYPE", "ID", "NEXUDUS NAME", "SALTO GROUPS", "STATUS")
		for _, it := range lm.Items {
			var gs []string
			var missing []string
			for _, g := range it.Groups {
				label := g.ID
				if g.Name != "" {
					label += " (" + g.Name + ")"
				}
				gs = append(gs, label)
				if !g.Exists {
					m := "MISSING GROUP " + g.ID
					if len(g.Suggestions) > 0 {
						m += ": did you mean " + fmtSuggestions(g.Suggestions) + "?"
					}
					missing = append(missing, m)
				}
			}
			status := it.Status
			switch it.Status {
			case mapMissingGroup:
				status = strings.Join(missing, "; ")
			case mapUnmapped:
				if len(it.Suggestions) > 0 {
					status += ": suggest " + fmtSuggestions(it.Suggestions)
				}
			case mapNotInNexudus:
				status = "not in Nexudus (stale mapping?)"
			}
			id := "-"
			if it.ID != 0 {
				id = strconv.FormatInt(it.ID, 10)
			}
			t.row("  "+it.Type, id, orDash(it.Name), orDash(strings.Join(gs, ", ")), status)
		}
		t.flush()
		if len(lm.UnusedGroups) > 0 {
			var gs []string
			for _, g := range lm.UnusedGroups {
				gs = append(gs, g.ID+" ("+orDash(g.Name)+")")
			}
			fmt.Fprintf(w, "  Salto groups no mapping uses: %s\n", strings.Join(gs, ", "))
		}
		fmt.Fprintf(w, "  %s, %s, %s\n", plural(lm.MissingGroups, "missing group", "missing groups"),
			plural(lm.Unmapped, "unmapped item", "unmapped items"), plural(lm.Stale, "stale mapping", "stale mappings"))
	}
	if !rep.OK {
		var why []string
		if rep.MissingGroups > 0 {
			why = append(why, plural(rep.MissingGroups, "mapped group does not exist in Salto",
				"mapped groups do not exist in Salto"))
		}
		if rep.Errors > 0 {
			why = append(why, plural(rep.Errors, "location could not be read", "locations could not be read"))
		}
		fmt.Fprintf(w, "\nMapping check FAILED: %s\n", strings.Join(why, ", "))
	}
}
