package service_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

// postWebhook posts a body as Nexudus would: a JSON array holding one record, signed when secret is set.
func (e *env) postWebhook(action nexudus.Action, record any, secret, token string) {
	e.t.Helper()
	body, err := json.Marshal([]any{record})
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodPost,
		service.WebhookURL(e.hookURL, e.cfg.Webhooks.PathPrefix, action, token), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(nexudus.SignatureHeader, nexudus.Sign([]byte(secret), body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("webhook answered %s", resp.Status)
	}
}

// A signed webhook's body is the booking's first read: the door opens without reading Nexudus. A webhook
// protected only by a token is not proof of its body (the docs say to re-read): the booking is read.
func TestSignedWebhookBodyIsTheFirstRead(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, noWebhooks: true, noSync: true})
	bookingReads := func() int { return e.nexsim.Stats().Calls["GET /api/spaces/bookings/{id}"] }
	book := func(coworker int) nexudus.Booking {
		id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: coworker,
			FromTime: at(time.Now().Add(-time.Minute)), ToTime: at(time.Now().Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.nx.GetBooking(e.ctx, id) // the whole record, as the webhook carries it
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	b := book(100)
	before := bookingReads()
	e.postWebhook(nexudus.ActionBookingCreate, b, hookSecret, "")
	e.eventually("ana in the room", 10*time.Second, func() bool { return e.inGroup(ana, gRoom) })
	if n := bookingReads() - before; n != 0 {
		t.Errorf("%d reads of the booking after a signed webhook, want 0", n)
	}

	e.restartWorker(func(c *config.Config) { c.Nexudus.WebhookSecret, c.Nexudus.WebhookToken = "", "hook-token" })
	b = book(101)
	before = bookingReads()
	e.postWebhook(nexudus.ActionBookingCreate, b, "", "hook-token")
	e.eventually("ben in the room", 10*time.Second, func() bool { return e.inGroup(ben, gRoom) })
	if n := bookingReads() - before; n != 1 {
		t.Errorf("%d reads of the booking after a token-only webhook, want 1", n)
	}
}
