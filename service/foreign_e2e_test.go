package service_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// staffClient is a member of staff working in Salto by hand, through the real API (own token file).
func (e *env) staffClient() *salto.Client {
	e.t.Helper()
	cfg := e.cfg.Salto
	cfg.TokenFile = filepath.Join(e.t.TempDir(), "staff-token.json")
	c, err := service.NewSaltoClient(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Two Salto users exist before nexsalto sees their customers: Cleo's (the building manager, also in the
// "not ours" group that nexsalto's mapping does not name) and Ben's (migrated from Nexudus' own integration,
// in an owned group only). Both are matched by e-mail when their booking starts. When it ends, the policy
// suspends or deletes Ben's user, and leaves Cleo's as it is: still subscribed, still in her group, reported
// in Nexudus and shown as not-ours; reconciliation afterwards changes nothing and reports nothing again.
func TestPolicyLeavesUsersHeldByGroupsWeDoNotOwn(t *testing.T) {
	for _, policy := range []config.NoAccessPolicy{config.PolicySuspend, config.PolicyDelete} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: policy})
			sc := e.staffClient()
			cleoUser, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Cleo", LastName: "Park",
				Alias: "Cleo (building manager)", Email: cleo})
			if err != nil {
				t.Fatal(err)
			}
			benUser, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Ben", LastName: "Okafor",
				Alias: "Ben Okafor", Email: ben})
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.AddGroupMember(e.ctx, site, gNotOurs, cleoUser.User.ID); err != nil {
				t.Fatal(err)
			}
			if err := sc.AddGroupMember(e.ctx, site, gDesk, benUser.User.ID); err != nil {
				t.Fatal(err)
			}

			now := time.Now()
			for _, cw := range []int{101, 102} {
				if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: cw,
					FromTime: at(now.Add(-time.Minute)), ToTime: at(now.Add(2 * time.Second))}); err != nil {
					t.Fatal(err)
				}
			}
			e.eventually("both in the room", 10*time.Second, func() bool { return e.inGroup(cleo, gRoom) && e.inGroup(ben, gRoom) })

			switch policy {
			case config.PolicySuspend:
				e.eventually("ben's migrated user suspended", 20*time.Second, func() bool {
					u, ok := e.salto.UserByEmail(site, ben)
					return ok && u.SubscriptionState == "suspended"
				})
			case config.PolicyDelete:
				e.eventually("ben's migrated user deleted", 20*time.Second, func() bool { return e.platformID(ben) == "" })
			}
			cleoID := access.CustomerKey{LocationID: business, CoworkerID: 102}.WorkflowID()
			e.eventually("cleo's customer workflow in state not-ours", 20*time.Second, func() bool {
				st, ok := e.customerState(cleoID)
				return ok && st.State == access.StateNotOurs && e.stateAttribute(cleoID) == string(access.StateNotOurs)
			})
			e.eventually("one audit entry for cleo", 10*time.Second, func() bool {
				return e.problems(102, "not created by nexsalto") == 1
			})
			checkCleo := func(when string) {
				t.Helper()
				u, ok := e.salto.UserByEmail(site, cleo)
				if !ok || u.ID != cleoUser.ID || u.SubscriptionState != "subscribed" || !e.inGroup(cleo, gNotOurs) ||
					e.inGroup(cleo, gRoom) {
					t.Fatalf("%s: cleo's Salto user %+v (exists %v), in her group %v, in the room %v", when, u, ok,
						e.inGroup(cleo, gNotOurs), e.inGroup(cleo, gRoom))
				}
			}
			checkCleo("after the policy")
			st, _ := e.customerState(cleoID)
			if st.User == nil || st.User.Created || !slices.Equal(st.Foreign, []string{"f1 (" + gNotOurs + ")"}) {
				t.Errorf("cleo's workflow state: user %+v, foreign %v", st.User, st.Foreign)
			}

			// Reconciliation sees a customer with nothing left and a user still subscribed: it asks again, and
			// the workflow, having decided, neither checks nor reports again.
			before := time.Now()
			e.reconcile()
			e.eventually("cleo's workflow took the repair", 10*time.Second, func() bool {
				st, _ := e.customerState(cleoID)
				return slices.ContainsFunc(st.History, func(c access.Change) bool {
					return c.Action == access.ActionRepair && !c.At.Before(before.Add(-time.Second))
				})
			})
			e.never("a second audit entry for cleo", time.Second, func() bool { return e.problems(102, "not created by nexsalto") > 1 })
			checkCleo("after reconciliation")
			if e.problems(101, "") != 0 {
				t.Errorf("ben, only in owned groups, was reported: %+v", e.nexsim.Audits())
			}
		})
	}
}
