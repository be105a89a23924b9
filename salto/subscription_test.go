package salto_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// Without a free seat the simulator's default answers a subscribe as the notes document for a create: success,
// the user still suspended. The client hands that state back instead of an error-free "done".
func TestSubscribeWithoutSeatReturnsTheSuspendedUser(t *testing.T) {
	h := newHarness(t, saltoks.Options{Seats: 1})
	c := h.client(h.config())
	ctx := ctxT(t)
	h.seedUser("holder@example.com")
	email := "waiting@example.com"
	u, err := c.CreateUser(ctx, h.site.ID, salto.NewUser{FirstName: "Waiting", Email: &email})
	if err != nil || !u.Suspended() {
		t.Fatalf("created without a seat: %+v %v", u, err)
	}
	got, err := c.SetSubscription(ctx, h.site.ID, u.ID, salto.StateSubscribed)
	if err != nil {
		t.Fatalf("subscribe without a seat: %v", err)
	}
	if got.ID != u.ID || !got.Suspended() {
		t.Fatalf("subscribe without a seat returned %+v, want the user still suspended", got)
	}
}

// An answer without a body (the notes do not say there is one) is completed by reading the user back.
func TestSubscribeWithEmptyAnswerReadsTheUserBack(t *testing.T) {
	h := newHarness(t, saltoks.Options{Seats: 1})
	inner := h.sim.Handler()
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/subscription") {
			rec := httptest.NewRecorder()
			inner.ServeHTTP(rec, r)
			w.WriteHeader(rec.Code) // the status only, no body
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	c := h.client(h.config())
	ctx := ctxT(t)
	holder := h.seedUser("holder@example.com")
	waiting := h.seedUser("waiting@example.com")
	gets := h.sim.Calls("GET /v1.2/sites/{site}/users/{user}")
	got, err := c.SetSubscription(ctx, h.site.ID, waiting.ID, salto.StateSubscribed)
	if err != nil || !got.Suspended() || got.ID != waiting.ID {
		t.Fatalf("no seat, empty answer: %+v %v", got, err)
	}
	if n := h.sim.Calls("GET /v1.2/sites/{site}/users/{user}") - gets; n != 1 {
		t.Fatalf("%d reads back, want 1", n)
	}
	if _, err := c.SetSubscription(ctx, h.site.ID, holder.ID, salto.StateSuspended); err != nil {
		t.Fatal(err)
	}
	if got, err = c.SetSubscription(ctx, h.site.ID, waiting.ID, salto.StateSubscribed); err != nil || got.Suspended() {
		t.Fatalf("with a free seat, empty answer: %+v %v", got, err)
	}
}
