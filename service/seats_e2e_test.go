package service_test

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// customerState queries a customer workflow; ok is false while it cannot answer.
func (e *env) customerState(id string) (access.CustomerState, bool) {
	var st access.CustomerState
	v, err := e.tc.QueryWorkflow(e.ctx, id, "", access.QueryCustomer)
	if err != nil || v.Get(&st) != nil {
		return st, false
	}
	return st, true
}

// stateAttribute is the AccessState search attribute of a workflow, what the Web UI shows and filters on.
func (e *env) stateAttribute(id string) string {
	d, err := e.tc.DescribeWorkflowExecution(e.ctx, id, "")
	if err != nil {
		return ""
	}
	var s string
	if p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[access.SAState.GetName()]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

// problems are the access-control audit entries marked as problems on a coworker that mention about.
func (e *env) problems(coworker int, about string) int {
	n := 0
	for _, a := range e.nexsim.Audits() {
		if a.CoworkerId == coworker && a.IsProblem && strings.Contains(a.Description, about) {
			n++
		}
	}
	return n
}

func (e *env) reconcile() access.ReconcileReport {
	e.t.Helper()
	run, err := service.TriggerReconcile(e.ctx, e.tc, service.ReconcileOptions{LocationID: business})
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err := service.ReconcileResult(e.ctx, e.tc, run)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

// A customer suspended by the no-access policy gets access again while another user holds the site's only
// seat. Whatever Salto answers to the subscribe (the documented pattern: success, still suspended; or a
// refusal), the customer is not "active": their workflow and the Web UI say no-seat, Nexudus gets one
// access-control audit entry, reconciliation makes them try again without another entry, and the try after a
// seat is freed subscribes them.
func TestNoFreeSeatWhenSubscribingAgain(t *testing.T) {
	for _, answer := range []saltoks.SubscribeAnswer{saltoks.SubscribeStaysSuspended, saltoks.SubscribeRefused} {
		t.Run(string(answer), func(t *testing.T) {
			e := newEnv(t, envOptions{lead: time.Second, lag: time.Second})
			if err := e.salto.SetGuesses(saltoks.Guesses{SubscribeWithoutSeat: answer}); err != nil {
				t.Fatal(err)
			}
			if err := e.salto.SetSeats(site, 1); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100,
				FromTime: at(now.Add(-time.Minute)), ToTime: at(now.Add(2 * time.Second))}); err != nil {
				t.Fatal(err)
			}
			e.eventually("ana in the room", 10*time.Second, func() bool { return e.inGroup(ana, gRoom) })
			e.eventually("ana suspended after her booking (policy suspend)", 15*time.Second, func() bool {
				u, ok := e.salto.UserByEmail(site, ana)
				return ok && u.SubscriptionState == "suspended" && !e.inGroup(ana, gRoom)
			})
			// The freed seat goes to a member of staff.
			if _, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Dora", Email: "dora@example.com"}); err != nil {
				t.Fatal(err)
			}
			if u, _ := e.salto.UserByEmail(site, "dora@example.com"); u.SubscriptionState != "subscribed" {
				t.Fatalf("staff user: %s", u.SubscriptionState)
			}

			if _, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100,
				FromTime: at(time.Now().Add(-time.Minute)), ToTime: at(time.Now().Add(time.Hour))}); err != nil {
				t.Fatal(err)
			}
			id := access.CustomerKey{LocationID: business, CoworkerID: 100}.WorkflowID()
			e.eventually("ana's customer workflow in state no-seat", 15*time.Second, func() bool {
				st, ok := e.customerState(id)
				return ok && st.State == access.StateNoSeat && e.stateAttribute(id) == string(access.StateNoSeat)
			})
			if u, _ := e.salto.UserByEmail(site, ana); u.SubscriptionState != "suspended" {
				t.Fatalf("ana is %s without a free seat", u.SubscriptionState)
			}
			e.eventually("one access-control audit entry for ana", 10*time.Second, func() bool {
				return e.problems(100, "no free licence seat") == 1
			})

			// Reconciliation while no seat is free: ana tries again, and Nexudus gets no second entry.
			if rep := e.reconcile(); rep.Resubscribed != 1 {
				t.Fatalf("reconciliation asked %d customers to subscribe again, want 1: %+v", rep.Resubscribed, rep)
			}
			e.eventually("ana tried again", 10*time.Second, func() bool {
				st, _ := e.customerState(id)
				for _, c := range st.History {
					if c.Action == access.ActionNoSeat {
						return true
					}
				}
				return false
			})
			if n := e.problems(100, "no free licence seat"); n != 1 {
				t.Fatalf("%d audit entries after a retry, want still 1", n)
			}

			// The location buys a second seat; the next reconciliation subscribes ana.
			if err := e.salto.SetSeats(site, 2); err != nil {
				t.Fatal(err)
			}
			e.reconcile()
			e.eventually("ana subscribed and active", 15*time.Second, func() bool {
				u, _ := e.salto.UserByEmail(site, ana)
				st, _ := e.customerState(id)
				return u.SubscriptionState == "subscribed" && st.State == access.StateActive &&
					e.stateAttribute(id) == string(access.StateActive)
			})
			if !e.inGroup(ana, gRoom) {
				t.Error("ana is not in the room's group")
			}
			if n := e.problems(100, "no free licence seat"); n != 1 {
				t.Errorf("%d audit entries in all, want 1", n)
			}
		})
	}
}
