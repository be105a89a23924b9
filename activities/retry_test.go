package activities

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// A group add that Salto fails with 503s is made again inside the attempt while its deadline leaves room:
// with room, the attempt succeeds after the failures; with a deadline too close for another try, it fails at
// once with Salto's error, for the workflow's retry.
func TestGroupAddIsRetriedInPlaceWithinTheDeadline(t *testing.T) {
	a, _ := newLoader(t, time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	var fail, adds atomic.Int32
	ssim := saltoBehind(t, a, linkSite, linkGroup, saltoks.UserSeed{FirstName: "Ana", Email: "ana@example.com"},
		failing(http.StatusServiceUnavailable, &fail, func(r *http.Request) bool {
			add := r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/access_groups/")
			if add {
				adds.Add(1)
			}
			return add
		}))
	ana := ssim.Users(linkSite)[0]
	c := access.GroupChange{Customer: access.CustomerKey{LocationID: 5, CoworkerID: 100}, SiteID: linkSite,
		GroupID: linkGroup, PlatformUserID: ana.User.ID}

	fail.Store(3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.AddToGroup(ctx, c); err != nil {
		t.Fatalf("add after 3 failures with 10 s to go: %v", err)
	}
	if adds.Load() != 4 || len(ssim.GroupMembers(linkSite, linkGroup)) != 1 {
		t.Fatalf("%d adds, members %v; want 4 tries and Ana in the group", adds.Load(), ssim.GroupMembers(linkSite, linkGroup))
	}

	adds.Store(0)
	fail.Store(1)
	short, cancel2 := context.WithTimeout(context.Background(), inPlaceRoom/2)
	defer cancel2()
	if err := a.AddToGroup(short, c); err == nil || adds.Load() != 1 {
		t.Fatalf("err %v after %d adds; want Salto's failure after the one try the deadline allows", err, adds.Load())
	}
}

// failing wraps a Salto simulator so that the next *n requests that match answer status with a Salto error
// body instead of reaching it.
func failing(status int, n *atomic.Int32, match func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) && n.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(`{"ErrorCode":"5000","Message":"try again"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
