package salto_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	if err := h.sim.SetFaults(saltoks.Faults{RateLimitRate: 1, RetryAfter: 7 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ListSites(ctx)
	e := wantKind(t, err, salto.KindRateLimited, "4290")
	if d, ok := salto.RetryAfter(err); !ok || d != 7*time.Second || e.Status != 429 || !salto.IsRetryable(err) {
		t.Fatalf("retry after %v %v: %+v", d, ok, e)
	}

	// A real token bucket on the server: a burst above it is refused with the wait it needs.
	if err := h.sim.SetFaults(saltoks.Faults{RequestsPerSecond: 1}); err != nil {
		t.Fatal(err)
	}
	var limited error
	for range 3 {
		if _, err := c.ListSites(ctx); err != nil {
			limited = err
		}
	}
	wantKind(t, limited, salto.KindRateLimited, "")
	if d, _ := salto.RetryAfter(limited); d < time.Second {
		t.Fatalf("retry after %v", d)
	}
}

func TestClientSideRateLimit(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	cfg := h.config()
	cfg.RequestsPerSecond = 20
	c := h.client(cfg)
	ctx := ctxT(t)
	start := time.Now()
	for range 5 {
		if _, err := c.ListSites(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Fatalf("5 calls at 20/s took %v", el)
	}
	// The server's bucket at the same rate never refuses a client that limits itself.
	if err := h.sim.SetFaults(saltoks.Faults{RequestsPerSecond: 20}); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := c.ListSites(ctx); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	cfg.RequestsPerSecond = 0.5
	slow := h.client(cfg)
	_, _ = slow.ListSites(ctx)
	_, err := slow.ListSites(short)
	wantKind(t, err, salto.KindTransient, "")
}

func TestErrorKindsFromTheSimulator(t *testing.T) {
	h := newHarness(t, saltoks.Options{Seats: 1})
	c := h.client(h.config())
	ctx := ctxT(t)
	user := h.seedUser("kind@example.com")
	group := h.seedGroup("G", "g")
	noPin, _ := h.sim.SeedSite(saltoks.SiteSeed{SiteUID: "nopin"})
	tagOnly, _ := h.sim.SeedUser(noPin.ID, saltoks.UserSeed{Alias: "tag"})

	_, err := c.GetSite(ctx, "ams-1")
	if e := wantKind(t, err, salto.KindValidation, salto.CodeBadParameter); e.Status != 400 {
		t.Fatalf("status %d", e.Status)
	}
	_, err = c.ListUsers(ctx, h.site.ID, salto.ListOptions{Filter: "alias eq 'x'"})
	wantKind(t, err, salto.KindValidation, salto.CodeBadParameter)
	_, err = c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "X", RoleIDs: []string{"no-such-role"}})
	wantKind(t, err, salto.KindValidation, salto.CodeValidation)
	err = salto.RawDo(ctx, c, "GET", "/v1.1/sites/"+h.site.ID+"/entries", [][2]string{{"$orderby", "lock_id"}}, nil)
	wantKind(t, err, salto.KindValidation, salto.CodeBadOrderBy)
	_, err = c.GetUser(ctx, h.site.ID, user.User.ID) // a platform id where a site-user id belongs
	if e := wantKind(t, err, salto.KindNotFound, salto.CodeUserNotFound); !salto.IsNotFound(err) || e.Status != 404 {
		t.Fatalf("not found: %+v", e)
	}
	_, err = c.GeneratePIN(ctx, noPin.ID, tagOnly.ID, nil)
	wantKind(t, err, salto.KindPermission, salto.CodeNoPermission)
	err = salto.RawDo(ctx, c, "POST", "/v1.2/sites/"+h.site.ID+"/access_groups/"+group.ID+"/users", nil,
		map[string]string{"user_id": user.User.ID})
	if err != nil {
		t.Fatal(err)
	}
	err = salto.RawDo(ctx, c, "POST", "/v1.2/sites/"+h.site.ID+"/access_groups/"+group.ID+"/users", nil,
		map[string]string{"user_id": user.User.ID})
	wantKind(t, err, salto.KindConflict, saltoks.CodeAlreadyMember)

	if err := h.sim.SetFaults(saltoks.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSites(ctx)
	wantKind(t, err, salto.KindTransient, saltoks.CodeInjectedFailure)
	if !salto.IsRetryable(err) {
		t.Fatal("a 503 is retryable")
	}
	if err := h.sim.SetFaults(saltoks.Faults{Latency: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.Timeout = 50 * time.Millisecond
	fast := h.client(cfg)
	_, err = fast.GetSite(ctx, h.site.ID)
	wantKind(t, err, salto.KindTransient, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout cause: %v", err)
	}
	_ = h.sim.SetFaults(saltoks.Faults{})

	cfg = h.config()
	cfg.APIURL = "http://" + freeAddr(t) // nothing listens there
	_, err = h.client(cfg).GetSite(ctx, h.site.ID)
	wantKind(t, err, salto.KindTransient, "")

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.ListSites(canceled)
	if salto.IsRetryable(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled call is not retryable: %v", err)
	}

	err = c.DeleteUser(ctx, h.site.ID, "")
	wantKind(t, err, salto.KindValidation, "")
}

func TestFaultInjectionThroughTheAdminAPI(t *testing.T) {
	h := newHarness(t, saltoks.Options{})
	c := h.client(h.config())
	ctx := ctxT(t)
	h.admin("DELETE", "/admin/stats", nil, nil)
	h.admin("PUT", "/admin/faults", map[string]any{"error_rate": 1}, nil)
	_, err := c.ListSites(ctx)
	wantKind(t, err, salto.KindTransient, "")
	h.admin("PUT", "/admin/faults", map[string]any{"error_rate": 0}, nil)
	if _, err := c.ListSites(ctx); err != nil {
		t.Fatal(err)
	}
	var st saltoks.Stats
	h.admin("GET", "/admin/stats", nil, &st)
	if st.Calls["GET /v1.2/sites"] != 2 || st.Responses[503] != 1 || st.Calls["POST /connect/token"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
	h.admin("DELETE", "/admin/stats", nil, nil)
	h.admin("GET", "/admin/stats", nil, &st)
	if st.Total != 0 {
		t.Fatalf("stats after reset: %+v", st)
	}
}
