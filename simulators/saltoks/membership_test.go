package saltoks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

func TestMembershipUsesPlatformIDs(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	s := e.site(saltoks.SiteSeed{})
	g, _ := e.sim.SeedAccessGroup(s.ID, saltoks.GroupSeed{Name: "Room 1", CustomerReference: "res-1"})
	u := e.user(s.ID, saltoks.UserSeed{FirstName: "M", Email: "m@example.com"})
	members := "/v1.2/sites/" + s.ID + "/access_groups/" + g.ID + "/users"
	e.expectError("POST", members, map[string]string{"user_id": u.ID}, 404, saltoks.CodeUserNotFound)
	e.decode("POST", members, map[string]string{"user_id": u.User.ID}, 201, nil)
	e.expectError("POST", members, map[string]string{"user_id": u.User.ID}, 409, saltoks.CodeAlreadyMember)
	var page struct{ Items []saltoks.Member }
	e.decode("GET", members, nil, 200, &page)
	if len(page.Items) != 1 || page.Items[0].ID != u.User.ID {
		t.Fatalf("members: %+v", page)
	}
	groups := e.sim.Groups(s.ID)
	if len(groups[0].Members) != 1 || *groups[0].Members[0].Email != "m@example.com" ||
		groups[0].Members[0].SiteUserID != u.ID {
		t.Fatalf("admin view: %+v", groups[0])
	}
	e.decode("DELETE", members+"/"+u.User.ID, nil, 204, nil)
	e.expectError("DELETE", members+"/"+u.User.ID, nil, 404, saltoks.CodeUserNotFound)
	e.expectError("POST", "/v1.2/sites/"+s.ID+"/access_groups/nope/users", map[string]string{"user_id": u.User.ID},
		404, saltoks.CodeGroupNotFound)

	// Deleting the user removes the membership too.
	e.decode("POST", members, map[string]string{"user_id": u.User.ID}, 201, nil)
	e.decode("DELETE", "/v1.2/sites/"+s.ID+"/users/"+u.ID, nil, 202, nil)
	if m := e.sim.GroupMembers(s.ID, g.ID); len(m) != 0 {
		t.Fatalf("members after delete: %v", m)
	}
}

// TestSeats runs with the refusing answer to a subscribe without a seat (a guess: see saltoks.Guesses).
func TestSeats(t *testing.T) {
	e := newEnv(t, saltoks.Options{Seats: 1, Guesses: saltoks.Guesses{SubscribeWithoutSeat: saltoks.SubscribeRefused}})
	s := e.site(saltoks.SiteSeed{})
	var a, b saltoks.SiteUser
	e.decode("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "A", "email": "a@example.com"}, 201, &a)
	e.decode("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "B", "email": "b@example.com"}, 201, &b)
	if a.SubscriptionState != "subscribed" || b.SubscriptionState != "suspended" {
		t.Fatalf("states: %s %s", a.SubscriptionState, b.SubscriptionState)
	}
	var guest saltoks.SiteUser
	e.decode("POST", "/v1.2/sites/"+s.ID+"/guests", map[string]any{"alias": "Visitor",
		"expires_at": time.Now().Add(time.Hour)}, 201, &guest)
	if guest.SubscriptionState != "subscribed" || guest.Roles[0].Name != "site_guest" || guest.ExpiresAt == nil {
		t.Fatalf("guest: %+v", guest)
	}
	sub := "/v1.2/sites/" + s.ID + "/users/" + b.ID + "/subscription"
	e.expectError("PATCH", sub, map[string]string{"state": "subscribed"}, 403, saltoks.CodeNoFreeSeat)
	e.expectError("PATCH", sub, map[string]string{"state": "active"}, 400, saltoks.CodeValidation)
	var site saltoks.Site
	e.decode("GET", "/v1.2/sites/"+s.ID, nil, 200, &site)
	if site.SubscribedUserAmount != 1 {
		t.Fatalf("subscribed_user_amount: %d", site.SubscribedUserAmount)
	}
	e.decode("DELETE", "/v1.2/sites/"+s.ID+"/users/"+a.ID, nil, 202, nil)
	e.decode("PATCH", sub, map[string]string{"state": "subscribed"}, 200, nil)
	e.decode("PATCH", "/v1.2/sites/"+s.ID+"/users/"+b.ID+"/subscription", map[string]string{"state": "suspended"},
		200, nil)
	if u, _ := e.sim.User(s.ID, b.ID); u.SubscriptionState != "suspended" {
		t.Fatalf("after suspend: %+v", u)
	}
}

func TestConsistencyWindowAndPIN(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, saltoks.Options{Clock: clock.Now, ConsistencyWindow: 30 * time.Second})
	s := e.site(saltoks.SiteSeed{PinEnabled: true})
	g, _ := e.sim.SeedAccessGroup(s.ID, saltoks.GroupSeed{Name: "G"})
	var u saltoks.SiteUser
	e.decode("POST", "/v1.2/sites/"+s.ID+"/users", map[string]any{"first_name": "N", "email": "n@example.com"}, 201, &u)
	members := "/v1.2/sites/" + s.ID + "/access_groups/" + g.ID + "/users"
	pin := "/v1.2/sites/" + s.ID + "/users/" + u.ID + "/pin"
	e.expectError("POST", members, map[string]string{"user_id": u.User.ID}, 404, saltoks.CodeUserNotFound)
	e.expectError("PUT", pin, map[string]any{}, 403, saltoks.CodeNoPermission)
	clock.Advance(31 * time.Second)
	e.decode("POST", members, map[string]string{"user_id": u.User.ID}, 201, nil)
	status, _, b := e.do("PUT", pin, map[string]any{})
	var p1 string
	if status != 200 || json.Unmarshal(b, &p1) != nil || len(p1) != 6 {
		t.Fatalf("PIN must be a bare JSON string of six digits: %d %s", status, b)
	}
	_, _, b = e.do("PUT", pin, map[string]any{"expiry_date": clock.Now().Add(time.Hour)})
	var p2 string
	_ = json.Unmarshal(b, &p2)
	if p2 == p1 || e.sim.UserPIN(s.ID, u.ID) != p2 {
		t.Fatalf("PIN must rotate: %s %s", p1, p2)
	}
	e.expectError("PUT", pin, map[string]any{"expiry_date": clock.Now().Add(-time.Hour)}, 400, saltoks.CodeValidation)

	noPin := e.site(saltoks.SiteSeed{})
	v := e.user(noPin.ID, saltoks.UserSeed{FirstName: "V"})
	e.expectError("PUT", "/v1.2/sites/"+noPin.ID+"/users/"+v.ID+"/pin", nil, 403, saltoks.CodeNoPermission)
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, saltoks.Options{PageSize: 3})
	s := e.site(saltoks.SiteSeed{})
	g, _ := e.sim.SeedAccessGroup(s.ID, saltoks.GroupSeed{Name: "G"})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			u, err := e.sim.SeedUser(s.ID, saltoks.UserSeed{FirstName: "U", Email: string(rune('a'+i)) + "@example.com"})
			if err != nil {
				t.Error(err)
				return
			}
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1.2/sites/"+s.ID+"/access_groups/"+g.ID+"/users",
				strings.NewReader(`{"user_id":"`+u.User.ID+`"}`))
			req.Header.Set("Authorization", "Bearer "+e.tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Errorf("add: %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	if n := len(e.sim.GroupMembers(s.ID, g.ID)); n != 8 {
		t.Fatalf("members: %d", n)
	}
}
