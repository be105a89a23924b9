package activities

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// withSalto gives a a Salto KS simulator over real HTTP with one site, one access group and Ana's user.
func withSalto(t *testing.T, a *Activities, site, group string) *saltoks.Server {
	return saltoBehind(t, a, site, group, saltoks.UserSeed{FirstName: "Ana", Email: "ana@example.com"}, nil)
}

// saltoBehind is withSalto with Ana's user as given (none when FirstName is empty), and the simulator behind
// wrap, which may answer some requests itself.
func saltoBehind(t *testing.T, a *Activities, site, group string, ana saltoks.UserSeed,
	wrap func(http.Handler) http.Handler) *saltoks.Server {
	t.Helper()
	ssim := saltoks.New(saltoks.Options{Users: map[string]string{"system": "pw"}})
	h := ssim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ssrv := httptest.NewServer(h)
	t.Cleanup(ssrv.Close)
	if _, err := ssim.SeedSite(saltoks.SiteSeed{ID: site, SiteUID: "madrid", PinEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := ssim.SeedAccessGroup(site, saltoks.GroupSeed{ID: group, Name: "Day pass"}); err != nil {
		t.Fatal(err)
	}
	if ana.FirstName != "" {
		if _, err := ssim.SeedUser(site, ana); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := salto.New(salto.Config{APIURL: ssrv.URL, TokenURL: ssrv.URL + "/connect/token",
		ClientID: saltoks.DefaultClientID, ClientSecret: saltoks.DefaultClientSecret, Username: "system", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	a.Salto = sc
	return ssim
}

// A customer linked again (a new customer run after the last one finished idle) costs no Nexudus read while
// the coworker is cached; a relink (the coworker changed) reads it again.
func TestLinkReadsTheCoworkerOnce(t *testing.T) {
	const site, group = "5a170000-0000-4000-8000-000000000001", "5a170000-0000-4000-8000-0000000000a4"
	a, nsim := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	withSalto(t, a, site, group)
	a.Config.Locations[0].SaltoSite = site
	reads := func() int { return nsim.Stats().Calls["GET /api/spaces/coworkers/{id}"] }
	req := access.EnsureUserRequest{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: site, Subscribe: true}
	for i, relink := range []bool{false, false, true} {
		req.Relink = relink
		before := reads()
		u, err := a.EnsureSaltoUser(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if u.SiteUserID == "" {
			t.Fatalf("link %d found no user", i)
		}
		want := map[bool]int{true: 1, false: 0}[relink || i == 0]
		if got := reads() - before; got != want {
			t.Errorf("link %d (relink %v): %d coworker reads, want %d", i, relink, got, want)
		}
	}
}

// A relink for a change this worker already holds the record of (the change poller read it, then signalled)
// costs no read; one for a newer change, or of unknown age, reads.
func TestRelinkReadsOnlyWhenTheCachedRecordIsOlder(t *testing.T) {
	const site, group = "5a170000-0000-4000-8000-000000000001", "5a170000-0000-4000-8000-0000000000a4"
	a, nsim := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	withSalto(t, a, site, group)
	a.Config.Locations[0].SaltoSite = site
	reads := func() int { return nsim.Stats().Calls["GET /api/spaces/coworkers/{id}"] }
	cw, err := a.Nexudus.GetCoworker(context.Background(), 100) // what the poller's listing holds
	if err != nil {
		t.Fatal(err)
	}
	a.rememberCoworkers([]nexudus.Coworker{cw})
	changed := cw.UpdatedOn.Time
	req := access.EnsureUserRequest{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: site,
		Subscribe: true, Relink: true}
	for _, c := range []struct {
		asOf time.Time
		want int
	}{{changed, 0}, {changed.Add(-time.Minute), 0}, {changed.Add(time.Second), 1}, {time.Time{}, 1}} {
		req.RelinkAsOf = c.asOf
		before := reads()
		if _, err := a.EnsureSaltoUser(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		if got := reads() - before; got != c.want {
			t.Errorf("relink as of %s (record of %s): %d reads, want %d", c.asOf, changed, got, c.want)
		}
	}
}
