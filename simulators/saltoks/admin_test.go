package saltoks_test

import (
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

func TestFaultsThroughTheAdminAPI(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	e.site(saltoks.SiteSeed{})
	e.decode("DELETE", "/admin/stats", nil, 204, nil)
	e.decode("PUT", "/admin/faults", map[string]any{"error_rate": 2}, 400, nil)

	e.decode("PUT", "/admin/faults", map[string]any{"error_rate": 1}, 200, nil)
	e.expectError("GET", "/v1.2/sites", nil, 503, saltoks.CodeInjectedFailure)

	e.decode("PUT", "/admin/faults", map[string]any{"rate_limit_rate": 1, "retry_after_seconds": 3}, 200, nil)
	status, h, _ := e.do("GET", "/v1.2/sites", nil)
	if status != 429 || h.Get("Retry-After") != "3" {
		t.Fatalf("injected 429: %d %q", status, h.Get("Retry-After"))
	}

	e.decode("PUT", "/admin/faults", map[string]any{"requests_per_second": 1}, 200, nil)
	if status, _, _ := e.do("GET", "/v1.2/sites", nil); status != 200 {
		t.Fatalf("first call within the bucket: %d", status)
	}
	status, h, _ = e.do("GET", "/v1.2/sites", nil)
	if status != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("second call over 1/s: %d %q", status, h.Get("Retry-After"))
	}

	e.decode("PUT", "/admin/faults", map[string]any{"latency_ms": 60}, 200, nil)
	start := time.Now()
	if status, _, _ := e.do("GET", "/v1.2/sites", nil); status != 200 || time.Since(start) < 60*time.Millisecond {
		t.Fatalf("latency: %d after %s", status, time.Since(start))
	}
	var f map[string]any
	e.decode("GET", "/admin/faults", nil, 200, &f)
	if f["latency_ms"] != 60.0 || f["error_rate"] != 0.0 {
		t.Fatalf("faults: %v", f)
	}

	var st saltoks.Stats
	e.decode("GET", "/admin/stats", nil, 200, &st)
	if st.Calls["GET /v1.2/sites"] != 5 || st.Responses[429] != 2 || st.Responses[503] != 1 {
		t.Fatalf("stats: %+v", st)
	}
	e.decode("DELETE", "/admin/stats", nil, 204, nil)
	if e.sim.Stats().Total != 0 {
		t.Fatal("stats not reset")
	}
}

func TestAdminSeedingOverHTTP(t *testing.T) {
	e := newEnv(t, saltoks.Options{})
	e.tok = ""
	var s saltoks.AdminSite
	e.decode("POST", "/admin/sites", map[string]any{"site_uid": "ams", "time_zone": "Europe/Amsterdam",
		"pin_enabled": true, "seats": 5}, 201, &s)
	if s.Seats != 5 || s.ID == "" {
		t.Fatalf("site: %+v", s)
	}
	var l saltoks.Lock
	e.decode("POST", "/admin/sites/ams/locks", map[string]any{"name": "Entrance"}, 201, &l)
	var g saltoks.AccessGroup
	e.decode("POST", "/admin/sites/ams/groups", map[string]any{"name": "Day pass", "customer_reference": "pass-1",
		"lock_ids": []string{l.ID}, "schedules": []map[string]any{{"monday": true, "start_time": "08:00:00",
			"end_time": "18:00:00"}}}, 201, &g)
	var u saltoks.SiteUser
	e.decode("POST", "/admin/sites/"+s.ID+"/users", map[string]any{"first_name": "Q", "email": "q@example.com",
		"subscription_state": "suspended"}, 201, &u)
	var en saltoks.Entry
	e.decode("POST", "/admin/sites/ams/entries", map[string]any{"site_user_id": u.ID, "lock_id": l.ID,
		"utc_date_time": "2026-01-05T07:30:00Z"}, 201, &en)
	if en.UserID != u.User.ID || en.LockName != "Entrance" || en.UserFirstName != "Q" {
		t.Fatalf("entry: %+v", en)
	}
	var users []saltoks.AdminUser
	e.decode("GET", "/admin/sites/ams/users", nil, 200, &users)
	if len(users) != 1 || users[0].SubscriptionState != "suspended" {
		t.Fatalf("users: %+v", users)
	}
	var groups []saltoks.GroupView
	e.decode("GET", "/admin/sites/ams/groups", nil, 200, &groups)
	if len(groups) != 1 || len(groups[0].Schedules) != 1 || groups[0].LockIDs[0] != l.ID {
		t.Fatalf("groups: %+v", groups)
	}
	e.decode("GET", "/admin/sites/nope/groups", nil, 404, nil)
	e.decode("POST", "/admin/sites/ams/groups", map[string]any{"name": "Bad", "lock_ids": []string{"x"}}, 404, nil)
	e.decode("POST", "/admin/sites", map[string]any{"time_zone": "Mars/Olympus"}, 400, nil)

	// The seeded group's schedules are what the v1.1 call answers.
	e.tok = e.passwordToken("user_api.full_access")["access_token"].(string)
	var sched struct{ Items []saltoks.TimeSchedule }
	e.decode("GET", "/v1.1/sites/"+s.ID+"/access_groups/"+g.ID+"/time_schedules", nil, 200, &sched)
	if len(sched.Items) != 1 || !sched.Items[0].Monday || sched.Items[0].EndTime != "18:00:00" {
		t.Fatalf("time schedules: %+v", sched)
	}
}
