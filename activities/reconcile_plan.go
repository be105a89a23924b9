package activities

import (
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
)

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
//
// The no-access policy is applied to at most policyLimit customers (0: all), see policyWindow.
func buildPlan(loc *config.Location, asOf time.Time, s snapshot, policyLimit int) access.ReconcilePlan {
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
	ids := slices.Sorted(maps.Keys(customers))
	applies := policyWindow(slices.DeleteFunc(slices.Clone(ids), func(id int64) bool {
		return policyDue(customers[id], policy) == ""
	}), policyLimit, asOf)
	for _, id := range ids {
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
		if p := policyDue(c, policy); p != "" && applies[id] {
			act.Policy = p
		} else if p != "" {
			plan.PolicyDeferred++
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

// policyDue is the no-access policy that applies to the customer now: none while Nexudus gives access, nor
// without a Salto user, nor to suspend a user already suspended.
func policyDue(c *customerView, policy access.NoAccessPolicy) access.NoAccessPolicy {
	if len(c.desired) > 0 || c.user == nil {
		return ""
	}
	switch {
	case policy == access.PolicySuspend && !c.user.Suspended, policy == access.PolicyDelete:
		return policy
	}
	return ""
}

// policyWindow picks the customers (ids, in order) one run applies the policy to: at most limit of them, in a
// window that starts where asOf falls (wrapping around), so that those the customer workflow leaves alone
// (a group nexsalto does not own holds them) do not take the share of every run. The others are counted as
// deferred and found again by the next run.
func policyWindow(ids []int64, limit int, asOf time.Time) map[int64]bool {
	out := make(map[int64]bool, min(len(ids), max(limit, 0)))
	if limit <= 0 || limit >= len(ids) {
		for _, id := range ids {
			out[id] = true
		}
		return out
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(asOf.UTC().Format(time.RFC3339Nano)))
	start := int(h.Sum64() % uint64(len(ids)))
	for i := range limit {
		out[ids[(start+i)%len(ids)]] = true
	}
	return out
}

// customerKey orders actions by coworker id.
func customerKey(id int64) string { return fmt.Sprintf("c%020d", id) }
