package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
)

// Reconciliation reads the truth on both sides into a snapshot, compares them in a pure function (buildPlan)
// and hands the differences to the workflows that own them: entitlement workflows are told to read Nexudus
// again, customer workflows get a repair signal. It never writes Salto itself.

// reconcilePageSize is the page size of reconciliation's Nexudus reads. Nexudus documents no maximum [G];
// the simulator caps sizes at 1000 like the largest page seen in public integrations.
const reconcilePageSize = 1000

// snapshot is what reconciliation reads for one location.
type snapshot struct {
	// Entitlements are those Nexudus gives at the location at AsOf (customers' and visitors').
	Entitlements []access.Entitlement
	// Emails maps a lower-case email to the coworkers with it.
	Emails map[string][]int64
	// Users are the site's Salto users that can be customers (guests and visitors' users left out).
	Users []siteUser
	// Visitors are the platform ids of guests and visitors' users: their access belongs to visitor workflows.
	Visitors map[string]bool
	// Members maps each owned group to its members' platform ids.
	Members map[string][]string
	// Running maps the running entitlement workflows of the location to their state and customer.
	Running map[string]runningWorkflow
	Calls   access.ReconcileCalls
}

type siteUser struct {
	SiteUserID, PlatformID, Email, Alias string
	Suspended                            bool
}

type runningWorkflow struct {
	State    access.State
	Customer int64
}

// The snapshot is read in phases. A phase's data is kept with the plan (in this worker's memory) as soon as it
// is complete, and the heartbeat names the phases done: a retried attempt on the same worker resumes with the
// first phase not done; one on another worker reads again.
const (
	phaseCoworkers = "nexudus coworkers"
	phaseBookings  = "nexudus bookings"
	phasePasses    = "nexudus passes"
	phaseContracts = "nexudus contracts"
	phaseVisitors  = "nexudus visitors"
	phaseUsers     = "salto users"
	phaseMembers   = "salto group members"
	phaseWorkflows = "running workflows"
)

// reconcileBeat is the heartbeat of PlanReconcile: which phases are done and where the current one stands.
type reconcileBeat struct {
	PlanID string
	Done   []string
	Phase  string
	Pages  int
}

// planEntry is one plan being built or cut into batches.
type planEntry struct {
	mu    sync.Mutex
	snap  snapshot
	done  map[string]bool
	plan  *access.ReconcilePlan
	built time.Time
}

// planCache keeps plans for the batches of a run. Entries expire: a run that outlives them (a very large
// location on a slow day) builds the plan again, which is correct because batches are cut by key.
type planCache struct {
	mu      sync.Mutex
	entries map[string]*planEntry
}

const planTTL = 2 * time.Hour

func (c *planCache) get(id string, now time.Time) *planEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*planEntry{}
	}
	maps.DeleteFunc(c.entries, func(_ string, e *planEntry) bool {
		return !e.built.IsZero() && now.Sub(e.built) > planTTL
	})
	e, ok := c.entries[id]
	if !ok {
		e = &planEntry{done: map[string]bool{}, built: now}
		c.entries[id] = e
	}
	return e
}

// BuildReconcilePlan reads both sides for a location and returns the whole plan; it changes nothing. The
// starter's dry run and the PlanReconcile activity both use it.
func (a *Activities) BuildReconcilePlan(ctx context.Context, locationID int64, asOf time.Time) (access.ReconcilePlan, error) {
	loc, ok := a.Config.Location(locationID)
	if !ok {
		return access.ReconcilePlan{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", locationID), nil)
	}
	e := &planEntry{done: map[string]bool{}}
	if err := a.readSnapshot(ctx, loc, asOf, e, nil); err != nil {
		return access.ReconcilePlan{}, err
	}
	return buildPlan(loc, asOf, e.snap), nil
}

// PlanReconcile returns the batch of the plan PlanID after After. The first call of a run reads the snapshot
// (heartbeating its progress); the following ones cut batches from the same plan.
func (a *Activities) PlanReconcile(ctx context.Context, req access.PlanRequest) (access.PlanBatch, error) {
	loc, ok := a.Config.Location(req.LocationID)
	if !ok {
		return access.PlanBatch{}, access.NewFinalError(access.ErrConfig,
			fmt.Sprintf("location %d is not in the configuration", req.LocationID), nil)
	}
	e := a.plans.get(req.PlanID, a.now())
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.plan == nil {
		var beat reconcileBeat
		if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &beat) == nil {
			kept := 0
			for _, p := range beat.Done {
				if e.done[p] {
					kept++
				}
			}
			activity.GetLogger(ctx).Info("reconcile plan: resuming", "PlanID", req.PlanID,
				"PhasesDone", len(beat.Done), "PhasesKept", kept)
		}
		if err := a.readSnapshot(ctx, loc, req.AsOf, e, func(b reconcileBeat) {
			if activity.IsActivity(ctx) {
				b.PlanID = req.PlanID
				activity.RecordHeartbeat(ctx, b)
			}
		}); err != nil {
			return access.PlanBatch{}, err
		}
		plan := buildPlan(loc, req.AsOf, e.snap)
		e.plan, e.built, e.snap = &plan, a.now(), snapshot{}
	}
	return cutBatch(*e.plan, req.After, req.Limit), nil
}

// cutBatch returns the actions after the key after, at most limit of them, with the plan's counts.
func cutBatch(p access.ReconcilePlan, after string, limit int) access.PlanBatch {
	if limit <= 0 {
		limit = access.DefaultReconcileBatch
	}
	i := sort.Search(len(p.Actions), func(i int) bool { return p.Actions[i].Key > after })
	end := min(i+limit, len(p.Actions))
	b := access.PlanBatch{Actions: slices.Clone(p.Actions[i:end]), More: end < len(p.Actions), Totals: p}
	b.Totals.Actions = nil
	if len(b.Totals.UnmatchedMembers) > 20 {
		b.Totals.UnmatchedMembers = b.Totals.UnmatchedMembers[:20]
	}
	return b
}

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
	if err != nil {
		return nexudusError("list coworkers", err)
	}
	s.Emails = emails
	return nil
}

// readEntitlements reads the records of one kind that may give access now and keeps those that do.
func (a *Activities) readEntitlements(ctx context.Context, loc *config.Location, asOf time.Time, phase string, s *snapshot, page func()) error {
	zone := loc.Zone()
	business := strconv.FormatInt(loc.BusinessID, 10)
	// Kept aside until the phase is complete: a phase that fails half-way is read again from the start.
	var found []access.Entitlement
	keep := func(e access.Entitlement) {
		if e.LocationID == loc.BusinessID && desiredNow(e, asOf) {
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
		// Bookings that overlap now, widened by the lead and lag (and a minute for the filter's precision).
		q := base("from_Booking_ToTime", nexudus.FormatFilterTime(asOf.Add(-loc.RevokeLag-time.Minute)),
			"to_Booking_FromTime", nexudus.FormatFilterTime(asOf.Add(loc.GrantLead+time.Minute)))
		err = readPages(ctx, a, nexudus.PathBookings, q, s, page, func(b nexudus.Booking) {
			keep(a.booking(access.Ref{Kind: access.KindBooking, ID: int64(b.Id)}, b, asOf))
		})
	case phasePasses:
		// Passes not yet expired; passes without expiry, unused or used recently (a used pass opens the
		// doors for the rest of its day).
		queries := []url.Values{
			base("CoworkerTimePass_BusinessId", business, "from_CoworkerTimePass_ExpireDate", nexudus.FormatFilterTime(asOf)),
			base("CoworkerTimePass_BusinessId", business, "CoworkerTimePass_ExpireDate", "null", "CoworkerTimePass_Used", "false"),
			base("CoworkerTimePass_BusinessId", business, "CoworkerTimePass_ExpireDate", "null", "CoworkerTimePass_Used", "true",
				"from_CoworkerTimePass_UsedDate", nexudus.FormatFilterTime(asOf.Add(-48*time.Hour))),
		}
		seen := map[int]bool{}
		for _, q := range queries {
			err = readPages(ctx, a, nexudus.PathCoworkerTimePasses, q, s, page, func(p nexudus.CoworkerTimePass) {
				if !seen[p.Id] {
					seen[p.Id] = true
					keep(a.pass(access.Ref{Kind: access.KindPass, ID: int64(p.Id)}, p, asOf))
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
			keep(a.contract(access.Ref{Kind: access.KindContract, ID: int64(c.Id)}, c, asOf))
		})
	case phaseVisitors:
		day := startOfDay(asOf, zone)
		q := base("Visitor_BusinessId", business,
			"from_Visitor_ExpectedArrival", nexudus.FormatFilterTime(day.Add(-time.Minute)),
			"to_Visitor_ExpectedArrival", nexudus.FormatFilterTime(endOfDay(asOf, zone).Add(loc.GrantLead+time.Minute)))
		err = readPages(ctx, a, nexudus.PathVisitors, q, s, page, func(v nexudus.Visitor) {
			keep(a.visitor(access.Ref{Kind: access.KindVisitor, ID: int64(v.Id)}, v, asOf))
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

// desiredNow says whether e gives access at now: the same rule as the entitlement workflows.
func desiredNow(e access.Entitlement, now time.Time) bool {
	return e.Status == access.StatusActive && len(e.Groups) > 0 && e.CoworkerID > 0 &&
		(e.Kind != access.KindVisitor || e.Visitor != nil) &&
		!now.Before(e.GrantAt) && (e.RevokeAt.IsZero() || now.Before(e.RevokeAt))
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

// customerAlias matches the alias EnsureSaltoUser gives the users it creates: "Name (nexudus 42)"
// (access.CreatedAlias).
var customerAlias = regexp.MustCompile(`\(nexudus (\d+)\)$`)

// matchCoworker finds the coworker a Salto user belongs to: by email (unambiguous only), else by the alias
// the activities give tag-only users.
func matchCoworker(u siteUser, emails map[string][]int64) (int64, bool) {
	if ids := emails[u.Email]; u.Email != "" && len(ids) == 1 {
		return ids[0], true
	}
	if m := customerAlias.FindStringSubmatch(u.Alias); m != nil {
		id, err := strconv.ParseInt(m[1], 10, 64)
		return id, err == nil && id > 0
	}
	return 0, false
}

// customerView gathers what both sides say about one customer.
type customerView struct {
	id       int64
	desired  map[string]bool
	ents     []access.Entitlement
	user     *siteUser
	viaEmail bool
	observed []string
	refresh  map[access.Ref]string
}

// buildPlan compares a snapshot and decides, for each customer, what to repair. It is a pure function of its
// inputs, so the plan can be tested without any API.
func buildPlan(loc *config.Location, asOf time.Time, s snapshot) access.ReconcilePlan {
	plan := access.ReconcilePlan{LocationID: loc.BusinessID, AsOf: asOf, Entitlements: len(s.Entitlements),
		Calls: s.Calls}
	owned := loc.OwnedGroups()
	customers := map[int64]*customerView{}
	view := func(id int64) *customerView {
		c, ok := customers[id]
		if !ok {
			c = &customerView{id: id, desired: map[string]bool{}, refresh: map[access.Ref]string{}}
			customers[id] = c
		}
		return c
	}
	desired := map[string]bool{}
	for _, e := range s.Entitlements {
		desired[e.WorkflowID()] = true
		c := view(e.CoworkerID)
		if e.Kind != access.KindVisitor {
			// A visitor's group is its guest's, not its host's.
			for _, g := range e.Groups {
				c.desired[g] = true
			}
		}
		c.ents = append(c.ents, e)
		if s.Running[e.WorkflowID()].State != access.StateGranted {
			c.refresh[e.Ref] = "Nexudus gives access now that no running workflow grants"
		}
	}
	for id, rw := range s.Running {
		if rw.State != access.StateGranted || desired[id] || rw.Customer <= 0 {
			continue
		}
		if ref, err := access.ParseRef(id); err == nil {
			view(rw.Customer).refresh[ref] = "a workflow grants access that Nexudus no longer gives"
		}
	}
	// Memberships of the owned groups, by platform id.
	memberOf := map[string][]string{}
	for _, g := range owned {
		for _, id := range s.Members[g] {
			if !slices.Contains(memberOf[id], g) {
				memberOf[id] = append(memberOf[id], g)
			}
			plan.Members++
		}
	}
	matched := map[string]bool{}
	for i := range s.Users {
		u := &s.Users[i]
		id, ok := matchCoworker(*u, s.Emails)
		if !ok {
			continue
		}
		viaEmail := u.Email != "" && len(s.Emails[u.Email]) == 1
		c := view(id)
		// One Salto user per customer: the one found by email wins over one found by alias, as when the
		// customer workflow links it. A second one stays unmatched and is reported.
		if c.user == nil || (viaEmail && !c.viaEmail) {
			c.user, c.viaEmail = u, viaEmail
		}
	}
	for _, c := range customers {
		if c.user != nil {
			matched[c.user.PlatformID] = true
			c.observed = memberOf[c.user.PlatformID]
			slices.Sort(c.observed)
		}
	}
	aliases := map[string]string{}
	for _, u := range s.Users {
		aliases[u.PlatformID] = u.Alias
	}
	for _, id := range slices.Sorted(maps.Keys(memberOf)) {
		if !matched[id] && !s.Visitors[id] {
			plan.Unmatched++
			plan.UnmatchedMembers = append(plan.UnmatchedMembers, access.UnmatchedMember{PlatformUserID: id, Alias: aliases[id],
				Groups: memberOf[id]})
		}
	}
	policy := access.NoAccessPolicy(loc.NoAccessPolicy)
	for _, id := range slices.Sorted(maps.Keys(customers)) {
		c := customers[id]
		plan.Checked++
		want := slices.Sorted(maps.Keys(c.desired))
		var add, remove []string
		for _, g := range want {
			if !slices.Contains(c.observed, g) {
				add = append(add, g)
			}
		}
		for _, g := range c.observed {
			if !c.desired[g] {
				remove = append(remove, g)
			}
		}
		act := access.ReconcileAction{Key: customerKey(id), Customer: access.CustomerKey{LocationID: loc.BusinessID,
			CoworkerID: id}, Add: add, Remove: remove}
		nothingLeft := len(want) == 0
		if nothingLeft && c.user != nil {
			switch {
			case policy == access.PolicySuspend && !c.user.Suspended:
				act.Policy = access.PolicySuspend
			case policy == access.PolicyDelete:
				act.Policy = access.PolicyDelete
			}
		}
		var why []string
		if len(add) > 0 {
			why = append(why, "missing in Salto: "+strings.Join(add, ", "))
		}
		if len(remove) > 0 {
			why = append(why, "not given by Nexudus: "+strings.Join(remove, ", "))
		}
		if act.Policy != "" {
			why = append(why, "nothing left: "+string(act.Policy))
		}
		// Salto keeps the user suspended while Nexudus gives access: no free licence seat when the customer
		// last tried, or suspended by hand. Salto shows no seat limit, so trying again is the only way to find a
		// seat freed since; the customer workflow records the problem once per episode, not per try.
		resubscribe := !nothingLeft && c.user != nil && c.user.Suspended
		if resubscribe {
			why = append(why, "suspended in Salto while Nexudus gives access: subscribe again")
		}
		if len(add) > 0 || len(remove) > 0 || act.Policy != "" || resubscribe {
			r := &access.Repair{AsOf: asOf, Owned: owned, Observed: c.observed, NothingLeft: nothingLeft,
				Reason: "reconciliation: " + strings.Join(why, "; ")}
			if c.user != nil {
				r.User = &access.SaltoUser{SiteID: loc.SaltoSite, SiteUserID: c.user.SiteUserID,
					PlatformUserID: c.user.PlatformID, Suspended: c.user.Suspended,
					Created: access.HasCreatedAlias(c.user.Alias, id)}
			}
			act.Repair = r
		}
		for _, ref := range slices.SortedFunc(maps.Keys(c.refresh), func(a, b access.Ref) int {
			return strings.Compare(a.WorkflowID(), b.WorkflowID())
		}) {
			act.Refresh = append(act.Refresh, ref)
			why = append(why, ref.WorkflowID()+": "+c.refresh[ref])
		}
		if act.Repair == nil && len(act.Refresh) == 0 {
			continue
		}
		act.Reason = strings.Join(why, "; ")
		plan.Added += len(add)
		plan.Removed += len(remove)
		plan.Refreshed += len(act.Refresh)
		if resubscribe {
			plan.Resubscribed++
		}
		switch act.Policy {
		case access.PolicySuspend:
			plan.Suspended++
		case access.PolicyDelete:
			plan.Deleted++
		}
		plan.Actions = append(plan.Actions, act)
	}
	return plan
}

// customerKey orders actions by coworker id.
func customerKey(id int64) string { return fmt.Sprintf("c%020d", id) }

// applyProgress is ApplyReconcile's heartbeat: a retried attempt skips the actions done.
type applyProgress struct {
	Done   int
	Result access.ApplyResult
}

// applyConcurrency is how many actions ApplyReconcile hands over at once: Temporal calls wait mostly on the
// server, so a few in flight shorten a large batch several times.
const applyConcurrency = 8

// ApplyReconcile hands each action to the workflows that own it: "changed" (SignalWithStart) to the
// entitlement workflows to refresh, then the repair signal to the customer workflow (SignalWithStart, so a
// member of an owned group without a customer workflow gets one). An action that Temporal refuses for good is
// counted as an error and the batch goes on; anything else fails the attempt, and the retry resumes after the
// last group of actions done (repeating one is harmless: a refresh is a re-read, a repair is idempotent).
func (a *Activities) ApplyReconcile(ctx context.Context, req access.ApplyRequest) (access.ApplyResult, error) {
	var p applyProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for p.Done < len(req.Actions) {
		chunk := req.Actions[p.Done:min(p.Done+applyConcurrency, len(req.Actions))]
		results := make([]access.ApplyResult, len(chunk))
		errs := make([]error, len(chunk))
		var wg sync.WaitGroup
		for i := range chunk {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = a.applyAction(ctx, chunk[i])
			}()
		}
		wg.Wait()
		for i := range chunk {
			if errs[i] != nil {
				return p.Result, errs[i]
			}
			p.Result.Refreshed += results[i].Refreshed
			p.Result.Repairs += results[i].Repairs
			for _, msg := range results[i].ErrorSamples {
				noteError(&p.Result, msg)
			}
		}
		p.Done += len(chunk)
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	}
	return p.Result, nil
}

func (a *Activities) applyAction(ctx context.Context, act access.ReconcileAction) (access.ApplyResult, error) {
	var r access.ApplyResult
	for _, ref := range act.Refresh {
		if err := StartEntitlement(ctx, a.Temporal, a.TaskQueue, ref); err != nil {
			if !permanent(err) {
				return r, fmt.Errorf("refresh %s: %w", ref, err)
			}
			r.ErrorSamples = append(r.ErrorSamples, ref.WorkflowID()+": "+err.Error())
			continue
		}
		r.Refreshed++
	}
	if act.Repair != nil {
		if err := a.signalWithStartCustomer(ctx, act.Customer, access.SignalRepair, *act.Repair); err != nil {
			if !permanent(err) {
				return r, err
			}
			r.ErrorSamples = append(r.ErrorSamples, act.Customer.WorkflowID()+": "+err.Error())
		} else {
			r.Repairs++
		}
	}
	return r, nil
}

// permanent reports a Temporal error that repeating the same call cannot fix.
func permanent(err error) bool {
	var invalid *serviceerror.InvalidArgument
	return errors.As(err, &invalid)
}

func noteError(r *access.ApplyResult, msg string) {
	r.Errors++
	if len(r.ErrorSamples) < 10 {
		r.ErrorSamples = append(r.ErrorSamples, msg)
	}
}

// signalWithStartCustomer delivers a signal to a customer workflow, starting it when none runs.
func (a *Activities) signalWithStartCustomer(ctx context.Context, key access.CustomerKey, signal string, payload any) error {
	tq := a.CustomerTaskQueue
	if tq == "" {
		tq = a.TaskQueue
	}
	opts := client.StartWorkflowOptions{
		ID:        key.WorkflowID(),
		TaskQueue: tq,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			access.SAKind.ValueSet(access.KindCustomer),
			access.SACustomer.ValueSet(strconv.FormatInt(key.CoworkerID, 10)),
			access.SALocation.ValueSet(strconv.FormatInt(key.LocationID, 10)),
		),
		StaticSummary: fmt.Sprintf("Customer %d at location %d", key.CoworkerID, key.LocationID),
		Priority:      temporal.Priority{PriorityKey: access.CustomerPriorityKey},
	}
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, key.WorkflowID(), signal, payload, opts,
		access.WorkflowCustomer, access.NewCustomerInput(key))
	if err != nil {
		return fmt.Errorf("signal %s to %s: %w", signal, key.WorkflowID(), err)
	}
	return nil
}
