package salto_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

func TestPagingInBothEnvelopes(t *testing.T) {
	for _, relative := range []bool{false, true} {
		t.Run(fmt.Sprintf("relative=%v", relative), func(t *testing.T) {
			h := newHarness(t, saltoks.Options{PageSize: 3, RelativeNextLinks: relative})
			c := h.client(h.config())
			ctx := ctxT(t)
			for i := range 10 {
				if _, err := h.sim.SeedLock(h.site.ID, saltoks.LockSeed{Name: fmt.Sprintf("Door %02d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			h.sim.ResetStats()
			locks, err := c.ListLocks(ctx, h.site.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(locks) != 10 || locks[0].Name != "Door 00" || locks[9].Name != "Door 09" {
				t.Fatalf("locks: %+v", locks)
			}
			if n := h.sim.Calls("GET /v1.2/sites/{site}/locks"); n != 4 {
				t.Fatalf("lock pages: %d, want 4", n)
			}

			// Users: a bare array while they fit in one page, the envelope after.
			for i := range 2 {
				h.seedUser(fmt.Sprintf("u%d@example.com", i))
			}
			users, err := c.ListUsers(ctx, h.site.ID, salto.ListOptions{})
			if err != nil || len(users) != 2 || h.sim.Calls("GET /v1.2/sites/{site}/users") != 1 {
				t.Fatalf("bare users: %d %v", len(users), err)
			}
			for i := 2; i < 10; i++ {
				h.seedUser(fmt.Sprintf("u%d@example.com", i))
			}
			users, err = c.ListUsers(ctx, h.site.ID, salto.ListOptions{})
			if err != nil || len(users) != 10 || h.sim.Calls("GET /v1.2/sites/{site}/users") != 1+4 {
				t.Fatalf("enveloped users: %d %v", len(users), err)
			}
			seen := map[string]bool{}
			for _, u := range users {
				seen[u.User.Email] = true
			}
			if len(seen) != 10 {
				t.Fatalf("pages overlapped or skipped: %v", seen)
			}

			g := h.seedGroup("Members", "grp")
			for _, u := range users[:7] {
				if err := c.AddGroupMember(ctx, h.site.ID, g.ID, u.PlatformID()); err != nil {
					t.Fatal(err)
				}
			}
			ids, err := c.ListGroupMembers(ctx, h.site.ID, g.ID)
			if err != nil || len(ids) != 7 || ids[6] != users[6].PlatformID() {
				t.Fatalf("members: %v %v", ids, err)
			}
		})
	}
}

func TestNextLinkToAnotherHostIsRefused(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	var hits atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"items":[{"id":"l1"}],"next_page_link":"http://elsewhere.example/v1.2/sites/x/locks?$skip=1"}`)
	}))
	defer api.Close()
	cfg := h.config()
	cfg.APIURL = api.URL
	_, err := h.client(cfg).ListLocks(ctxT(t), "x")
	wantKind(t, err, salto.KindOther, "")
	if !strings.Contains(err.Error(), "refusing") || hits.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, hits.Load())
	}
}

func TestListEntriesOldestFirstFromTheCursor(t *testing.T) {
	h := newHarness(t, saltoks.Options{PageSize: 2})
	c := h.client(h.config())
	ctx := ctxT(t)
	u := h.seedUser("walker@example.com")
	lock, _ := h.sim.SeedLock(h.site.ID, saltoks.LockSeed{Name: "Main door"})
	base := time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC)
	for i := range 7 {
		if _, err := h.sim.SeedEntry(h.site.ID, saltoks.EntrySeed{UTCDateTime: base.Add(time.Duration(i) * time.Hour),
			UserID: u.User.ID, LockID: lock.ID, AccessBy: "tag"}); err != nil {
			t.Fatal(err)
		}
	}
	since := base.Add(2*time.Hour + 300*time.Millisecond) // truncated to the second: the 09:00 entry is included
	got, err := c.ListEntries(ctx, h.site.ID, since, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("entries: %d", len(got))
	}
	for i, e := range got {
		if !e.UTCDateTime.Equal(base.Add(time.Duration(2+i) * time.Hour)) {
			t.Fatalf("entry %d at %v: want ascending from the cursor", i, e.UTCDateTime)
		}
	}
	if got[0].UserID != u.User.ID || got[0].LockName != "Main door" || got[0].AccessBy != "tag" ||
		got[0].LocalDateTime != "2026-02-01T10:00:00" {
		t.Fatalf("entry fields: %+v", got[0])
	}
	all, err := c.ListEntries(ctx, h.site.ID, since, 0)
	if err != nil || len(all) != 5 || !all[4].UTCDateTime.Equal(base.Add(6*time.Hour)) {
		t.Fatalf("all since cursor: %d %v", len(all), err)
	}
}

func TestUsersAndTheTwoIDs(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	email := "ann@example.com"
	u, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "Ann", LastName: "Lee", Alias: "Ann L.",
		Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == "" || u.PlatformID() == "" || u.ID == u.PlatformID() || u.Suspended() || u.User.Email != email {
		t.Fatalf("created: %+v", u)
	}
	found, err := c.FindUserByEmail(ctx, h.site.ID, "ANN@example.com")
	if err != nil || found.ID != u.ID {
		t.Fatalf("find: %+v %v", found, err)
	}
	got, err := c.GetUser(ctx, h.site.ID, u.ID)
	if err != nil || got.User.ID != u.PlatformID() {
		t.Fatalf("get: %+v %v", got, err)
	}

	g := h.seedGroup("Room", "room-1")
	err = c.AddGroupMember(ctx, h.site.ID, g.ID, u.ID) // the site-user id is the wrong one here
	wantKind(t, err, salto.KindNotFound, salto.CodeUserNotFound)
	if err := c.AddGroupMember(ctx, h.site.ID, g.ID, u.PlatformID()); err != nil {
		t.Fatal(err)
	}
	if m := h.sim.GroupMembers(h.site.ID, g.ID); len(m) != 1 || m[0] != u.PlatformID() {
		t.Fatalf("members: %v", m)
	}

	pin, err := c.GeneratePIN(ctx, h.site.ID, u.ID, nil) // PINs take the site-user id
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{6}$`).MatchString(pin.Reveal()) || pin.Reveal() != h.sim.UserPIN(h.site.ID, u.ID) {
		t.Fatalf("PIN %q", pin.Reveal())
	}
	exp := time.Now().Add(24 * time.Hour)
	pin2, err := c.GeneratePIN(ctx, h.site.ID, u.ID, &exp)
	if err != nil || pin2 == pin {
		t.Fatalf("PIN must rotate: %v", err)
	}
	_, err = c.GeneratePIN(ctx, h.site.ID, u.PlatformID(), nil)
	wantKind(t, err, salto.KindNotFound, salto.CodeUserNotFound)

	usePin, alias := true, "Ann Lee"
	if err := c.PatchUser(ctx, h.site.ID, u.ID, salto.UserPatch{UsePin: &usePin, Alias: &alias}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetUser(ctx, h.site.ID, u.ID); !got.UsePin || got.Alias != alias || got.User.FirstName != "Ann" {
		t.Fatalf("patched: %+v", got)
	}
	if _, err := c.SetSubscription(ctx, h.site.ID, u.ID, salto.StateSuspended); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetUser(ctx, h.site.ID, u.ID); !got.Suspended() {
		t.Fatalf("not suspended: %+v", got)
	}
	_, err = c.SetSubscription(ctx, h.site.ID, u.ID, "paused")
	wantKind(t, err, salto.KindValidation, "")

	wantKind(t, c.DeleteUser(ctx, h.site.ID, u.PlatformID()), salto.KindNotFound, "")
	if err := c.DeleteUser(ctx, h.site.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteUser(ctx, h.site.ID, u.ID); !salto.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	_, err = c.FindUserByEmail(ctx, h.site.ID, email)
	if !salto.IsNotFound(err) || strings.Contains(err.Error(), email) {
		t.Fatalf("find after delete: %v", err)
	}
}

func TestTagOnlyUsersAndQuotedEmails(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	blank := "   "
	for _, email := range []*string{nil, &blank} {
		u, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{Alias: "Tag holder", TagID: "04A1B2"})
		if email != nil {
			u, err = c.CreateUser(ctx, h.site.ID, salto.NewUser{Alias: "Tag holder", TagID: "04A1B2", Email: email})
		}
		if err != nil {
			t.Fatalf("tag-only user (email %v): %v", email, err)
		}
		au, _ := h.sim.User(h.site.ID, u.ID)
		if au.User.Email != nil || u.TagID != "04A1B2" {
			t.Fatalf("tag-only user: %+v", au)
		}
	}
	quoted := "o'neil@example.com"
	if _, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "O", Email: &quoted}); err != nil {
		t.Fatal(err)
	}
	u, err := c.FindUserByEmail(ctx, h.site.ID, quoted)
	if err != nil || u.User.FirstName != "O" {
		t.Fatalf("quoted e-mail: %+v %v", u, err)
	}
}

func TestMembershipIsSafeToRepeat(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	u := h.seedUser("member@example.com")
	g := h.seedGroup("Desk 4", "desk-4")
	for range 2 {
		if err := c.AddGroupMember(ctx, h.site.ID, g.ID, u.User.ID); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := c.ListGroupMembers(ctx, h.site.ID, g.ID)
	if err != nil || len(ids) != 1 || ids[0] != u.User.ID {
		t.Fatalf("members after two adds: %v %v", ids, err)
	}
	for range 2 {
		if err := c.RemoveGroupMember(ctx, h.site.ID, g.ID, u.User.ID); err != nil {
			t.Fatal(err)
		}
	}
	if ids, _ := c.ListGroupMembers(ctx, h.site.ID, g.ID); len(ids) != 0 {
		t.Fatalf("members after two removes: %v", ids)
	}
	if n := h.sim.Stats().Responses[409]; n != 1 {
		t.Fatalf("the second add must have met the conflict: %d", n)
	}
}

func TestAccessGroupsGuestsAndSchedules(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	if _, err := c.FindAccessGroupByReference(ctx, h.site.ID, "pass-7"); !salto.IsNotFound(err) {
		t.Fatalf("missing group: %v", err)
	}
	g, err := c.CreateAccessGroup(ctx, h.site.ID, salto.NewAccessGroup{Name: "Day pass", CustomerReference: "pass-7"})
	if err != nil {
		t.Fatal(err)
	}
	h.seedGroup("Other", "pass-8")
	found, err := c.FindAccessGroupByReference(ctx, h.site.ID, "pass-7")
	if err != nil || found.ID != g.ID || found.Name != "Day pass" {
		t.Fatalf("find: %+v %v", found, err)
	}
	all, err := c.ListAccessGroups(ctx, h.site.ID, salto.ListOptions{})
	if err != nil || len(all) != 2 {
		t.Fatalf("groups: %v %v", all, err)
	}

	seeded, _ := h.sim.SeedAccessGroup(h.site.ID, saltoks.GroupSeed{Name: "Office hours",
		Schedules: []saltoks.TimeSchedule{{Monday: true, Friday: true, StartTime: "09:00:00", EndTime: "17:00:00",
			StartDate: "2026-01-01"}}})
	sched, err := c.GetGroupTimeSchedules(ctx, h.site.ID, seeded.ID)
	if err != nil || len(sched) != 1 || !sched[0].Friday || sched[0].Tuesday || sched[0].StartTime != "09:00:00" ||
		sched[0].StartDate != "2026-01-01" {
		t.Fatalf("schedules: %+v %v", sched, err)
	}
	if s, err := c.GetGroupTimeSchedules(ctx, h.site.ID, g.ID); err != nil || len(s) != 0 {
		t.Fatalf("no schedules: %+v %v", s, err)
	}

	until := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	guest, err := c.CreateGuest(ctx, h.site.ID, "Visitor of Ann", until)
	if err != nil {
		t.Fatal(err)
	}
	if guest.ExpiresAt == nil || !guest.ExpiresAt.Equal(until) || guest.Roles[0].Name != "site_guest" {
		t.Fatalf("guest: %+v", guest)
	}
}

// TestSeatsExhaustion runs with the simulator's refusing answer to a subscribe without a seat (a guess).
func TestSeatsExhaustion(t *testing.T) {
	h := newHarness(t, saltoks.Options{Seats: 1, Guesses: saltoks.Guesses{SubscribeWithoutSeat: saltoks.SubscribeRefused}})
	c := h.client(h.config())
	ctx := ctxT(t)
	e1, e2 := "one@example.com", "two@example.com"
	a, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "One", Email: &e1})
	if err != nil || a.Suspended() {
		t.Fatalf("first user: %+v %v", a, err)
	}
	b, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "Two", Email: &e2})
	if err != nil {
		t.Fatalf("creating without a free seat still succeeds: %v", err)
	}
	if !b.Suspended() {
		t.Fatalf("second user must come back suspended: %+v", b)
	}
	_, err = c.SetSubscription(ctx, h.site.ID, b.ID, salto.StateSubscribed)
	wantKind(t, err, salto.KindPermission, saltoks.CodeNoFreeSeat)
	if err := c.DeleteUser(ctx, h.site.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetSubscription(ctx, h.site.ID, b.ID, salto.StateSubscribed); err != nil {
		t.Fatalf("the deleted user's seat is free at once: %v", err)
	}
	site, _ := c.GetSite(ctx, h.site.ID)
	if site.SubscribedUserAmount != 1 {
		t.Fatalf("subscribed_user_amount %d", site.SubscribedUserAmount)
	}
}

func TestEventualConsistencyWindow(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, saltoks.Options{Clock: clock.Now, ConsistencyWindow: time.Minute})
	c := h.client(h.config())
	ctx := ctxT(t)
	email := "fresh@example.com"
	u, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "Fresh", Email: &email})
	if err != nil {
		t.Fatal(err)
	}
	g := h.seedGroup("G", "g")
	wantKind(t, c.AddGroupMember(ctx, h.site.ID, g.ID, u.PlatformID()), salto.KindNotFound, salto.CodeUserNotFound)
	_, err = c.GeneratePIN(ctx, h.site.ID, u.ID, nil)
	wantKind(t, err, salto.KindPermission, salto.CodeNoPermission)

	clock.Advance(61 * time.Second)
	if err := c.AddGroupMember(ctx, h.site.ID, g.ID, u.PlatformID()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GeneratePIN(ctx, h.site.ID, u.ID, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	cfg := salto.Config{APIURL: "https://api.example", ClientID: "id", ClientSecret: "client-secret-value",
		Username: "sys", Password: "password-value", TokenFile: "token.json"}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("config", "cfg", cfg, "ptr", &cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%v", &cfg), fmt.Sprintf("%s", cfg), logBuf.String()} {
		if strings.Contains(s, "client-secret-value") || strings.Contains(s, "password-value") {
			t.Fatalf("secret printed: %s", s)
		}
		if !strings.Contains(s, "api.example") {
			t.Fatalf("redaction hid everything: %s", s)
		}
	}
	pin := salto.PIN("123456")
	logBuf.Reset()
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("pin", "pin", pin)
	for _, s := range []string{fmt.Sprint(pin), fmt.Sprintf("%v %s %q %d %x %#v", pin, pin, pin, pin, pin, pin),
		fmt.Sprintf("%+v", struct{ P salto.PIN }{pin}), logBuf.String()} {
		if strings.Contains(s, "123456") || strings.Contains(s, "313233") {
			t.Fatalf("PIN printed: %s", s)
		}
	}
	if pin.Reveal() != "123456" {
		t.Fatal("Reveal")
	}
}

func TestConcurrentCallsShareOneToken(t *testing.T) {
	h := newHarness(t, saltoks.Options{PageSize: 2})
	c := h.client(h.config())
	ctx := ctxT(t)
	g := h.seedGroup("G", "g")
	var users []saltoks.SiteUser
	for i := range 6 {
		users = append(users, h.seedUser(fmt.Sprintf("c%d@example.com", i)))
	}
	errs := make(chan error, len(users))
	for _, u := range users {
		go func() { errs <- c.AddGroupMember(ctx, h.site.ID, g.ID, u.User.ID) }()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ids, err := c.ListGroupMembers(ctx, h.site.ID, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(users))
	for _, u := range users {
		want = append(want, u.User.ID)
	}
	sort.Strings(ids)
	sort.Strings(want)
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("members %v, want %v", ids, want)
	}
	if n := h.tokenCalls(); n != 1 {
		t.Fatalf("token calls: %d", n)
	}
}
