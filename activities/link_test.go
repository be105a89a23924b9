package activities

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

const (
	linkSite  = "5a170000-0000-4000-8000-000000000001"
	linkGroup = "5a170000-0000-4000-8000-0000000000a4"
)

// A link whose subscribe fails repeats only the subscribe: the user it found stays found, and neither Nexudus
// nor Salto's user search is asked again (a relink, which reads the coworker afresh, included).
func TestLinkRetryRepeatsOnlyTheCallThatFailed(t *testing.T) {
	a, nsim := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	a.Config.Locations[0].SaltoSite = linkSite
	var failSubscribe atomic.Int32
	failSubscribe.Store(2)
	ssim := saltoBehind(t, a, linkSite, linkGroup,
		saltoks.UserSeed{FirstName: "Ana", Email: "ana@example.com", SubscriptionState: "suspended"},
		failing(http.StatusServiceUnavailable, &failSubscribe, func(r *http.Request) bool {
			return r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/subscription")
		}))
	req := access.EnsureUserRequest{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: linkSite,
		Subscribe: true, Relink: true}
	for attempt := 1; attempt <= 2; attempt++ {
		if _, err := a.EnsureSaltoUser(context.Background(), req); err == nil {
			t.Fatalf("attempt %d succeeded although Salto refused the subscribe", attempt)
		}
	}
	u, err := a.EnsureSaltoUser(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if u.Suspended || u.SiteUserID == "" {
		t.Fatalf("linked %+v, want Ana's user subscribed", u)
	}
	calls := ssim.Stats().Calls
	if n := calls["GET /v1.2/sites/{site}/users"]; n != 1 {
		t.Errorf("the user was searched %d times over three attempts, want once", n)
	}
	if n := nsim.Stats().Calls["GET /api/spaces/coworkers/{id}"]; n != 1 {
		t.Errorf("the coworker was read %d times over three attempts, want once", n)
	}
	// Once linked, the next link starts afresh.
	if _, err := a.EnsureSaltoUser(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := ssim.Stats().Calls["GET /v1.2/sites/{site}/users"]; n != 2 {
		t.Errorf("a new link searched %d times in all, want 2: the finished link's progress was kept", n)
	}
}

// Salto creates the user but its answer is lost: the retry finds the user the lost answer was about instead
// of creating a second one.
func TestLinkAfterALostCreateAnswerMakesNoDuplicate(t *testing.T) {
	a, _ := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	a.Config.Locations[0].SaltoSite = linkSite
	ssim := saltoBehind(t, a, linkSite, linkGroup, saltoks.UserSeed{}, nil)
	if err := ssim.SetFaults(saltoks.Faults{LostAnswerRate: 1}); err != nil {
		t.Fatal(err)
	}
	req := access.EnsureUserRequest{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: linkSite,
		Subscribe: true}
	if _, err := a.EnsureSaltoUser(context.Background(), req); err == nil {
		t.Fatal("the create's answer was lost, yet the link succeeded")
	}
	u, err := a.EnsureSaltoUser(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	users := ssim.Users(linkSite)
	if len(users) != 1 || users[0].ID != u.SiteUserID {
		t.Fatalf("Salto holds %d users after the retry, want the one created: %+v", len(users), users)
	}
	if st := ssim.Stats(); st.Responses[0] != 1 || st.Calls["POST /v1.2/sites/{site}/users"] != 1 {
		t.Errorf("stats %+v: want one create, its answer lost", st)
	}
}

// A create refused with a 429 is tried again without looking the user up again (the lookup found none, and a
// 429 is a refusal); a create that failed with a 503 may have been carried out, so its retry looks again.
func TestLinkRetryAfterAFailedCreateLooksUpOnlyWhenItMustHaveBeenCarriedOut(t *testing.T) {
	for _, tc := range []struct {
		status      int
		lookupAgain bool
	}{{http.StatusTooManyRequests, false}, {http.StatusServiceUnavailable, true}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			a, _ := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
			a.Config.Locations[0].SaltoSite = linkSite
			var failCreate atomic.Int32
			failCreate.Store(1)
			ssim := saltoBehind(t, a, linkSite, linkGroup, saltoks.UserSeed{},
				failing(tc.status, &failCreate, func(r *http.Request) bool {
					return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/users")
				}))
			req := access.EnsureUserRequest{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: linkSite,
				Subscribe: true}
			if _, err := a.EnsureSaltoUser(context.Background(), req); err == nil {
				t.Fatal("the link succeeded although Salto refused the create")
			}
			lookups := ssim.Stats().Calls["GET /v1.2/sites/{site}/users"]
			if lookups == 0 {
				t.Fatal("no lookup before the create")
			}
			u, err := a.EnsureSaltoUser(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			again := ssim.Stats().Calls["GET /v1.2/sites/{site}/users"] - lookups
			if tc.lookupAgain && again != lookups {
				t.Errorf("the retry after a %d made %d lookups, want the %d of the first attempt again", tc.status, again, lookups)
			}
			if !tc.lookupAgain && again != 0 {
				t.Errorf("the retry after a %d looked the user up again (%d calls)", tc.status, again)
			}
			if users := ssim.Users(linkSite); len(users) != 1 || users[0].ID != u.SiteUserID {
				t.Fatalf("Salto holds %+v, want the one user created", users)
			}
		})
	}
}

// A visitor grant whose PIN cannot be written to Nexudus at once writes, on the retry, the PIN Salto already
// generated instead of generating another.
func TestVisitorGrantRetryWritesTheSamePIN(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	a, nsim := newLoader(t, now)
	a.Config.Locations[0].SaltoSite = linkSite
	ssim := saltoBehind(t, a, linkSite, linkGroup, saltoks.UserSeed{}, nil)
	ctx := context.Background()
	id, err := a.Nexudus.CreateVisitor(ctx, nexudus.Visitor{BusinessId: 5, FullName: "Vera Visit", CoworkerId: 100,
		ExpectedArrival: nexudus.NewTime(now.Add(2 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	g := access.VisitorGrant{Visitor: access.Ref{Kind: access.KindVisitor, ID: int64(id)}, SiteID: linkSite,
		GroupID: linkGroup, Alias: "Vera Visit", ValidUntil: time.Now().Add(12 * time.Hour).Truncate(time.Second), PIN: true}
	if err := nsim.SetFaults(nexudussim.Faults{ErrorNext: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GrantVisitor(ctx, g); err == nil {
		t.Fatal("the grant succeeded although Nexudus refused the PIN's write")
	}
	got, err := a.GrantVisitor(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if !got.PINIssued {
		t.Fatalf("grant %+v: no PIN issued", got)
	}
	calls := ssim.Stats().Calls
	if n := calls["PUT /v1.2/sites/{site}/users/{user}/pin"]; n != 1 {
		t.Errorf("%d PINs generated over two attempts, want 1", n)
	}
	if n := calls["POST /v1.2/sites/{site}/guests"]; n != 1 {
		t.Errorf("%d guests created over two attempts, want 1", n)
	}
	if v, _ := a.Nexudus.GetVisitor(ctx, id); v.VisitorCode.Reveal() == "" {
		t.Error("no PIN on the visitor record")
	}
}
