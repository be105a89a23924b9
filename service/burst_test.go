package service_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
	"github.com/nexsalto/nexsalto/simulators/saltoks"
)

const addMemberCall = "POST /v1.2/sites/{site}/access_groups/{group}/users"

// postConcurrently posts body n times at once to url, signed, and returns the status codes.
func postConcurrently(t *testing.T, url, body string, n int) []int {
	t.Helper()
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
			if err != nil {
				return
			}
			for k, v := range signed(body) {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			codes[i] = resp.StatusCode
			_ = resp.Body.Close()
		}()
	}
	wg.Wait()
	return codes
}

// The same webhook delivered five times in a burst gives exactly one add-member call per group at Salto, for a
// customer whose Salto user exists: repeated deliveries only cause re-reads, never a second grant in flight.
// Several rounds, because the race this guards against showed once in a few runs.
func TestRepeatedWebhooksGiveOneSaltoCall(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Minute, lag: time.Minute, policy: config.PolicyKeep, noWebhooks: true, noSync: true})
	const rounds = 6
	first := 300
	var coworkers []nexudussim.Coworker
	for i := range rounds {
		id := first + i
		email := "burst" + strconv.Itoa(id) + "@example.com"
		coworkers = append(coworkers, nexudussim.Coworker{Base: nexudussim.Base{Id: id}, FullName: "Burst " + strconv.Itoa(id),
			Email: email, Active: true})
		if _, err := e.salto.SeedUser(site, saltoks.UserSeed{FirstName: "Burst", LastName: strconv.Itoa(id), Email: email}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now().Add(10 * time.Minute).Truncate(time.Minute)
	var bookings []nexudussim.Booking
	for i := range rounds {
		bookings = append(bookings, nexudussim.Booking{Base: nexudussim.Base{Id: 5000 + i}, ResourceId: boothID,
			CoworkerId: first + i, FromTime: nexudussim.At(start.Add(-20 * time.Minute)), ToTime: nexudussim.At(start)})
	}
	if _, err := e.nexsim.Seed(nexudussim.Dataset{Coworkers: coworkers, Bookings: bookings}); err != nil {
		t.Fatal(err)
	}
	url := e.hookURL + e.cfg.Webhooks.PathPrefix + "/" + nexudus.ActionBookingCreate.String()
	for i, b := range bookings {
		full, err := e.nx.GetBooking(e.ctx, b.Id)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal([]nexudus.Booking{full})
		if err != nil {
			t.Fatal(err)
		}
		before := e.salto.Stats().Calls[addMemberCall]
		for _, code := range postConcurrently(t, url, string(raw), 5) {
			if code != http.StatusOK {
				t.Fatalf("round %d: a delivery answered %d", i, code)
			}
		}
		email := coworkers[i].Email
		e.eventually("burst customer granted", 10*time.Second, func() bool { return e.inGroup(email, gBooth) })
		time.Sleep(1500 * time.Millisecond) // time for a second call, if one were coming
		if n := e.salto.Stats().Calls[addMemberCall] - before; n != 1 {
			t.Errorf("round %d: %d add-member calls for one booking delivered five times, want 1", i, n)
		}
	}
}
