package saltoks_test

import (
	"testing"

	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// By default a subscribe without a free seat answers as a create without one does: success, the user in the
// body still suspended. A seat freed later lets the same call subscribe.
func TestSubscribeWithoutSeatStaysSuspendedByDefault(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	if g := e.sim.Guesses(); g.SubscribeWithoutSeat != saltoks.SubscribeStaysSuspended {
		t.Fatalf("default guesses %+v", g)
	}
	s := e.site(saltoks.SiteSeed{Seats: 1})
	holder := e.user(s.ID, saltoks.UserSeed{FirstName: "Holder", Email: "holder@example.com"})
	waiting := e.user(s.ID, saltoks.UserSeed{FirstName: "Waiting", Email: "waiting@example.com"})
	if waiting.SubscriptionState != "suspended" {
		t.Fatalf("second user on a one-seat site: %s", waiting.SubscriptionState)
	}
	sub := "/v1.2/sites/" + s.ID + "/users/" + waiting.ID + "/subscription"
	var got saltoks.SiteUser
	e.decode("PATCH", sub, map[string]string{"state": "subscribed"}, 200, &got)
	if got.ID != waiting.ID || got.SubscriptionState != "suspended" {
		t.Fatalf("answer without a seat: %+v, want the user, still suspended", got)
	}
	if u, _ := e.sim.User(s.ID, waiting.ID); u.SubscriptionState != "suspended" {
		t.Fatalf("state without a seat: %s", u.SubscriptionState)
	}
	e.decode("PATCH", "/v1.2/sites/"+s.ID+"/users/"+holder.ID+"/subscription", map[string]string{"state": "suspended"}, 200, nil)
	e.decode("PATCH", sub, map[string]string{"state": "subscribed"}, 200, &got)
	if got.SubscriptionState != "subscribed" {
		t.Fatalf("answer with a free seat: %+v", got)
	}
}

// The other plausible answer is a switch: 403 ErrorCode 2301, set at start or through the admin API, and the
// defaults come back with an empty body.
func TestSubscribeWithoutSeatRefusedIsASwitch(t *testing.T) {
	e := newEnv(t, saltoks.Options{Guesses: saltoks.Guesses{SubscribeWithoutSeat: saltoks.SubscribeRefused}})
	s := e.site(saltoks.SiteSeed{Seats: 1})
	e.user(s.ID, saltoks.UserSeed{FirstName: "Holder", Email: "holder@example.com"})
	waiting := e.user(s.ID, saltoks.UserSeed{FirstName: "Waiting", Email: "waiting@example.com"})
	sub := "/v1.2/sites/" + s.ID + "/users/" + waiting.ID + "/subscription"
	e.expectError("PATCH", sub, map[string]string{"state": "subscribed"}, 403, saltoks.CodeNoFreeSeat)

	var g saltoks.Guesses
	e.decode("PUT", "/admin/guesses", map[string]string{"subscribe_without_seat": "sometimes"}, 400, nil)
	e.decode("PUT", "/admin/guesses", map[string]string{}, 200, &g)
	if g.SubscribeWithoutSeat != saltoks.SubscribeStaysSuspended {
		t.Fatalf("after reset: %+v", g)
	}
	e.decode("PATCH", sub, map[string]string{"state": "subscribed"}, 200, nil)
	e.decode("PUT", "/admin/guesses", map[string]string{"subscribe_without_seat": "refused"}, 200, &g)
	e.expectError("PATCH", sub, map[string]string{"state": "subscribed"}, 403, saltoks.CodeNoFreeSeat)
}

// The seat limit can change while the simulator runs: a site with a licence for more users frees seats.
func TestSetSeats(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	s := e.site(saltoks.SiteSeed{})
	e.user(s.ID, saltoks.UserSeed{FirstName: "One", Email: "one@example.com"})
	if err := e.sim.SetSeats(s.ID, 1); err != nil {
		t.Fatal(err)
	}
	if u := e.user(s.ID, saltoks.UserSeed{FirstName: "Two", Email: "two@example.com"}); u.SubscriptionState != "suspended" {
		t.Fatalf("second user after SetSeats(1): %s", u.SubscriptionState)
	}
	e.decode("PUT", "/admin/sites/"+s.ID+"/seats", map[string]int{"seats": 3}, 204, nil)
	if u := e.user(s.ID, saltoks.UserSeed{FirstName: "Three", Email: "three@example.com"}); u.SubscriptionState != "subscribed" {
		t.Fatalf("third user after seats 3: %s", u.SubscriptionState)
	}
	e.decode("PUT", "/admin/sites/no-such-site/seats", map[string]int{"seats": 3}, 404, nil)
	e.decode("PUT", "/admin/sites/"+s.ID+"/seats", map[string]int{"seats": -1}, 400, nil)
}
