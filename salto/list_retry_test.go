package salto_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

// A page after the first that fails is read again in place: the pages already read are kept, and the list
// succeeds without starting over. The first page's failure goes to the caller at once.
func TestListPageFailureIsRetriedInPlace(t *testing.T) {
	h := newHarness(t, saltoks.Options{PageSize: 2})
	for i := range 7 {
		h.seedUser("user" + string(rune('a'+i)) + "@example.com")
	}
	var pageCalls, failed atomic.Int32
	failSecondPage := atomic.Int32{} // how many more times page 2 ($skip=2) fails
	failFirstPage := atomic.Bool{}
	sim := h.srv.Config.Handler
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/users") {
			pageCalls.Add(1)
			skip := r.URL.Query().Get("$skip")
			if (skip == "2" && failSecondPage.Add(-1) >= 0) || (skip == "" && failFirstPage.Load()) {
				failed.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"ErrorCode":"5030","Message":"injected"}`))
				return
			}
		}
		sim.ServeHTTP(w, r)
	}))
	defer api.Close()
	cfg := h.config()
	cfg.APIURL = api.URL
	c := h.client(cfg)
	ctx := ctxT(t)

	failSecondPage.Store(2)
	users, err := c.ListUsers(ctx, h.site.ID, salto.ListOptions{})
	if err != nil {
		t.Fatalf("list with a page failing twice: %v", err)
	}
	if len(users) != 7 || failed.Load() != 2 || pageCalls.Load() != 4+2 {
		t.Fatalf("%d users in %d page calls (%d failed); want 7 users, 4 pages + 2 repeats of the failed one",
			len(users), pageCalls.Load(), failed.Load())
	}

	pageCalls.Store(0)
	failSecondPage.Store(100) // never recovers: the list fails after the retries, with Salto's error
	_, err = c.ListUsers(ctx, h.site.ID, salto.ListOptions{})
	if !salto.IsRetryable(err) || pageCalls.Load() != 1+1+salto.PageRetries {
		t.Fatalf("err %v after %d page calls; want a retryable error after %d", err, pageCalls.Load(), 2+salto.PageRetries)
	}

	pageCalls.Store(0)
	failSecondPage.Store(0)
	failFirstPage.Store(true)
	_, err = c.ListUsers(ctx, h.site.ID, salto.ListOptions{})
	if !salto.IsRetryable(err) || pageCalls.Load() != 1 {
		t.Fatalf("first page failing: err %v after %d calls; want the error at once", err, pageCalls.Load())
	}
}
