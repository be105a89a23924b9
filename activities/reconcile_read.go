package activities

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/rules"
	"github.com/nexsalto/nexsalto/salto"
)

// filterPrecision widens reconciliation's date filters by a minute, for the precision of Nexudus' filters.
const filterPrecision = time.Minute

// snapshotGroups are read concurrently: each reads its own API, within that API's own budget, and writes its
// own fields of the snapshot.
var snapshotGroups = [][]string{
	{phaseCoworkers, phaseBookings, phasePasses, phaseContracts, phaseVisitors},
	{phaseUsers, phaseMembers},
	{phaseWorkflows},
}

// readSnapshot reads every phase not yet done into e.
func (a *Activities) readSnapshot(ctx context.Context, loc *config.Location, asOf time.Time, e *planEntry, beat func(reconcileBeat)) error {
	if asOf.IsZero() {
		asOf = a.now()
	}
	var mu sync.Mutex // guards e.done and the heartbeat
	progress := func(phase string, pages int, done bool) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			e.done[phase] = true
		}
		if beat != nil {
			beat(reconcileBeat{Done: slices.Sorted(maps.Keys(e.done)), Phase: phase, Pages: pages})
		}
	}
	isDone := func(phase string) bool {
		mu.Lock()
		defer mu.Unlock()
		return e.done[phase]
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(snapshotGroups))
	var wg sync.WaitGroup
	for i, group := range snapshotGroups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, phase := range group {
				if isDone(phase) {
					continue
				}
				if err := a.readPhase(ctx, loc, asOf, phase, &e.snap, func(pages int) { progress(phase, pages, false) }); err != nil {
					errs[i] = err
					cancel() // the other groups stop too: the attempt fails and is retried
					return
				}
				progress(phase, 0, true)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *Activities) readPhase(ctx context.Context, loc *config.Location, asOf time.Time, phase string, s *snapshot, progress func(int)) error {
	pages := 0
	page := func() { pages++; progress(pages) }
	switch phase {
	case phaseCoworkers:
		return a.readCoworkers(ctx, s, page)
	case phaseBookings, phasePasses, phaseContracts, phaseVisitors:
		return a.readEntitlements(ctx, loc, asOf, phase, s, page)
	case phaseUsers:
		return a.readUsers(ctx, loc, s, page)
	case phaseMembers:
		return a.readMembers(ctx, loc, s, page)
	case phaseWorkflows:
		return a.readRunning(ctx, loc, s, page)
	}
	return fmt.Errorf("unknown reconcile phase %q", phase)
}

func (a *Activities) readCoworkers(ctx context.Context, s *snapshot, page func()) error {
	emails, err := a.accountEmails.get(ctx, a.now, func(ctx context.Context) (map[string][]int64, error) {
		emails := map[string][]int64{}
		q := url.Values{"size": {strconv.Itoa(reconcilePageSize)}, "orderBy": {"Id"}}
		err := nexudus.ForEachPage(ctx, a.Nexudus, nexudus.PathCoworkers, q, func(p nexudus.Page[nexudus.Coworker]) error {
			s.Calls.Nexudus++
			for _, c := range p.Records {
				if e := normEmail(c.Email); e != "" && !slices.Contains(emails[e], int64(c.Id)) {
					emails[e] = append(emails[e], int64(c.Id))
				}
			}
			page()
			return nil
		})
		return emails, err
	}, page)
	if err != nil {
		return nexudusError("list coworkers", err)
	}
	s.Emails = emails
	return nil
}

// readEntitlements reads the records of one kind that may give access now and keeps those that do.
func (a *Activities) readEntitlements(ctx context.Context, loc *config.Location, asOf time.Time, phase string, s *snapshot, page func()) error {
	business := strconv.FormatInt(loc.BusinessID, 10)
	// Kept aside until the phase is complete: a phase that fails half-way is read again from the start.
	var found []access.Entitlement
	keep := func(e access.Entitlement) {
		// Actions are per customer: a visitor without a host has no customer to hang a refresh on.
		if ok, _ := rules.GivesAccess(e, asOf); ok && e.LocationID == loc.BusinessID && e.CoworkerID > 0 {
			found = append(found, e)
		}
	}
	base := func(kv ...string) url.Values {
		q := url.Values{"size": {strconv.Itoa(reconcilePageSize)}, "orderBy": {"Id"}}
		for i := 0; i+1 < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	var err error
	switch phase {
	case phaseBookings:
		fromEnd, toStart := rules.BookingBounds([]*config.Location{loc}, rules.At(asOf), filterPrecision)
		q := base("from_Booking_ToTime", nexudus.FormatFilterTime(fromEnd),
			"to_Booking_FromTime", nexudus.FormatFilterTime(toStart))
		err = readPages(ctx, a, nexudus.PathBookings, q, s, page, func(b nexudus.Booking) {
			keep(rules.Booking(a.Config, b, asOf))
		})
	case phasePasses:
		// Passes not yet expired; passes without expiry, unused or used recently enough to still give access.
		queries := []url.Values{
			base("CoworkerTimePass_BusinessId", business, "from_CoworkerTimePass_ExpireDate", nexudus.FormatFilterTime(asOf)),
			base("CoworkerTimePass_BusinessId", business, "CoworkerTimePass_ExpireDate", "null", "CoworkerTimePass_Used", "false"),
			base("CoworkerTimePass_BusinessId", business, "CoworkerTimePass_ExpireDate", "null", "CoworkerTimePass_Used", "true",
				"from_CoworkerTimePass_UsedDate", nexudus.FormatFilterTime(rules.PassUsedSince(loc, asOf, rules.ZoneMargin))),
		}
		seen := map[int]bool{}
		for _, q := range queries {
			err = readPages(ctx, a, nexudus.PathCoworkerTimePasses, q, s, page, func(p nexudus.CoworkerTimePass) {
				if !seen[p.Id] {
					seen[p.Id] = true
					keep(rules.Pass(a.Config, p, asOf))
				}
			})
			if err != nil {
				break
			}
		}
	case phaseContracts:
		// Active contracts; the list carries FloorPlanDeskIds, which is what the mapping needs.
		q := base("CoworkerContract_Active", "true")
		err = readPages(ctx, a, nexudus.PathCoworkerContracts, q, s, page, func(c nexudus.CoworkerContract) {
			keep(rules.Contract(a.Config, c, asOf))
		})
	case phaseVisitors:
		from, to := rules.VisitorBounds(loc, rules.At(asOf), filterPrecision)
		q := base("Visitor_BusinessId", business,
			"from_Visitor_ExpectedArrival", nexudus.FormatFilterTime(from),
			"to_Visitor_ExpectedArrival", nexudus.FormatFilterTime(to))
		err = readPages(ctx, a, nexudus.PathVisitors, q, s, page, func(v nexudus.Visitor) {
			keep(rules.Visitor(a.Config, v, asOf))
		})
	}
	if err != nil {
		return nexudusError("read "+phase, err)
	}
	s.Entitlements = append(s.Entitlements, found...)
	return nil
}

func readPages[T any](ctx context.Context, a *Activities, path string, q url.Values, s *snapshot, page func(), each func(T)) error {
	return nexudus.ForEachPage(ctx, a.Nexudus, path, q, func(p nexudus.Page[T]) error {
		s.Calls.Nexudus++
		for _, r := range p.Records {
			each(r)
		}
		page()
		return nil
	})
}

// visitorAlias matches the alias GrantVisitor gives a visitor's own Salto user.
var visitorAlias = regexp.MustCompile(`\(visitor \d+\)$`)

func (a *Activities) readUsers(ctx context.Context, loc *config.Location, s *snapshot, page func()) error {
	s.Users, s.Visitors = nil, map[string]bool{}
	err := a.Salto.ForEachUserPage(ctx, loc.SaltoSite, salto.ListOptions{}, func(users []salto.SiteUser) error {
		s.Calls.Salto++
		for _, u := range users {
			if isGuest(u) || visitorAlias.MatchString(u.Alias) {
				s.Visitors[u.PlatformID()] = true // a visitor's access belongs to its visitor workflow
				continue
			}
			s.Users = append(s.Users, siteUser{SiteUserID: u.ID, PlatformID: u.PlatformID(),
				Email: normEmail(u.User.Email), Alias: u.Alias, Suspended: u.Suspended()})
		}
		page()
		return nil
	})
	if err != nil {
		return saltoError(ctx, "list Salto users", err)
	}
	return nil
}

func isGuest(u salto.SiteUser) bool {
	for _, r := range u.Roles {
		if r.Name == "site_guest" {
			return true
		}
	}
	return false
}

func (a *Activities) readMembers(ctx context.Context, loc *config.Location, s *snapshot, page func()) error {
	members := map[string][]string{}
	for _, g := range loc.OwnedGroups() {
		ids := []string{}
		err := a.Salto.ForEachGroupMemberPage(ctx, loc.SaltoSite, g, func(p []string) error {
			s.Calls.Salto++
			ids = append(ids, p...)
			page()
			return nil
		})
		if err != nil {
			return saltoError(ctx, "list members of access group "+g, err)
		}
		members[g] = ids
	}
	s.Members = members
	return nil
}

// readRunning lists the running entitlement workflows of the location from Temporal's visibility store. It is
// eventually consistent: a workflow started a moment ago may be missing and is then told to read again, which
// costs one Nexudus read and changes nothing.
func (a *Activities) readRunning(ctx context.Context, loc *config.Location, s *snapshot, page func()) error {
	kinds := make([]string, len(access.Kinds))
	for i, k := range access.Kinds {
		kinds[i] = "'" + string(k) + "'"
	}
	query := fmt.Sprintf("%s = '%d' AND %s IN (%s) AND ExecutionStatus = 'Running'",
		access.SALocation.GetName(), loc.BusinessID, access.SAKind.GetName(), strings.Join(kinds, ", "))
	running := map[string]runningWorkflow{}
	if a.Temporal == nil {
		s.Running = running
		return nil
	}
	dc := converter.GetDefaultDataConverter()
	var token []byte
	for {
		resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: query, PageSize: 1000, NextPageToken: token})
		s.Calls.Temporal++
		if err != nil {
			return fmt.Errorf("list running entitlement workflows: %w", err)
		}
		for _, ex := range resp.GetExecutions() {
			var rw runningWorkflow
			fields := ex.GetSearchAttributes().GetIndexedFields()
			var state, customer string
			if p := fields[access.SAState.GetName()]; p != nil {
				_ = dc.FromPayload(p, &state)
			}
			if p := fields[access.SACustomer.GetName()]; p != nil {
				_ = dc.FromPayload(p, &customer)
			}
			rw.State = access.State(state)
			rw.Customer, _ = strconv.ParseInt(customer, 10, 64)
			running[ex.GetExecution().GetWorkflowId()] = rw
		}
		page()
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	s.Running = running
	return nil
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }
