package nexudussim_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexsalto/nexsalto/nexudus"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

const secret = "whsec-test-0123456789"

// hook is one webhook request as the receiver saw it.
type hook struct {
	action    nexudus.Action
	body      []byte
	signature string
}

// receiver is a webhook endpoint with one URL per action (/hooks/{ActionName}), as the
// docs advise, since the body does not name the action.
type receiver struct {
	mu     sync.Mutex
	got    []hook
	status func(n int) int // answer for the n-th request (from 1)
	n      int
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: func(int) int { return http.StatusOK }}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		a, _ := nexudus.ActionByName(strings.TrimPrefix(req.URL.Path, "/hooks/"))
		r.mu.Lock()
		r.n++
		st := r.status(r.n)
		if st/100 == 2 {
			r.got = append(r.got, hook{action: a, body: body, signature: req.Header.Get(nexudus.SignatureHeader)})
		}
		r.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.got...)
}

func (r *receiver) url(a nexudus.Action) string { return r.srv.URL + "/hooks/" + a.String() }

type fixture struct {
	sim    *nexudussim.Server
	client *nexudus.Client
	rcv    *receiver
}

func newFixture(t *testing.T, opts nexudussim.Options, actions ...nexudus.Action) *fixture {
	t.Helper()
	opts.Users = map[string]string{"ops": "pw"}
	if opts.CallsPerMinute == 0 {
		opts.CallsPerMinute = -1
	}
	if opts.WritesPerMinute == 0 {
		opts.WritesPerMinute = -1
	}
	sim := nexudussim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	_, err := sim.Seed(nexudussim.Dataset{
		Businesses: []nexudussim.Business{{Name: "Lisboa", TimeZone: "Europe/Lisbon"}, {Name: "Porto", TimeZone: "Europe/Lisbon"}},
		Resources:  []nexudussim.Resource{{Name: "Room 1", BusinessId: 1}, {Name: "Room P", BusinessId: 2}},
		Coworkers:  []nexudussim.Coworker{{FullName: "Ada", Email: "ada@example.com", InvoicingBusinessId: 1}},
	})
	require.NoError(t, err)
	c, err := nexudus.New(nexudus.Config{BaseURL: srv.URL, Username: "ops", Password: "pw", RequestsPerMinute: -1})
	require.NoError(t, err)
	f := &fixture{sim: sim, client: c, rcv: newReceiver(t)}
	for _, a := range actions {
		_, err := c.CreateWebhook(context.Background(), nexudus.Webhook{BusinessId: 1, Name: a.String(), Action: a, URL: f.rcv.url(a)})
		require.NoError(t, err)
	}
	return f
}

func (f *fixture) flush(t *testing.T) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, f.sim.Flush(c))
}

// parse verifies and parses a received webhook the way a receiver must.
func parse(t *testing.T, h hook) nexudus.Record {
	t.Helper()
	require.NoError(t, nexudus.VerifySignature([]byte(secret), h.body, h.signature), "signature of %s", h.action)
	rec, err := nexudus.ParseWebhook(h.action, h.body)
	require.NoError(t, err)
	return rec
}

func TestWebhooksSentOnWrites(t *testing.T) {
	all := []nexudus.Action{
		nexudus.ActionBookingCreate, nexudus.ActionBookingUpdate, nexudus.ActionBookingDelete,
		nexudus.ActionCoworkerCreate, nexudus.ActionCoworkerUpdate,
		nexudus.ActionCoworkerContractActivate, nexudus.ActionCoworkerContractActivateFirst,
		nexudus.ActionCoworkerContractCancel, nexudus.ActionCoworkerContractRenew, nexudus.ActionCoworkerContractUpgradeDowngrade,
		nexudus.ActionVisitorRegistered, nexudus.ActionVisitorCheckedin,
		nexudus.ActionCheckinCreated, nexudus.ActionCheckinUpdated, nexudus.ActionCheckinDeleted,
	}
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret}, all...)
	ctx := context.Background()
	c := f.client
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

	bid, err := c.CreateBooking(ctx, nexudus.Booking{ResourceId: 1, CoworkerId: 1, FromTime: nexudus.NewTime(at), ToTime: nexudus.NewTime(at.Add(time.Hour))})
	require.NoError(t, err)
	b, err := c.GetBooking(ctx, bid)
	require.NoError(t, err)
	b.ToTime = nexudus.NewTime(at.Add(2 * time.Hour))
	require.NoError(t, c.UpdateBooking(ctx, b))
	require.NoError(t, c.DeleteBooking(ctx, bid))

	cw, err := c.CreateCoworker(ctx, nexudus.Coworker{FullName: "Grace", InvoicingBusinessId: 1})
	require.NoError(t, err)
	co, err := c.GetCoworker(ctx, cw)
	require.NoError(t, err)
	co.AccessCardId = "ABCD"
	require.NoError(t, c.UpdateCoworker(ctx, co))

	k1, err := c.CreateContract(ctx, nexudus.CoworkerContract{CoworkerId: 1, TariffId: 1, Active: true})
	require.NoError(t, err)
	k2, err := c.CreateContract(ctx, nexudus.CoworkerContract{CoworkerId: 1, TariffId: 2, Active: true})
	require.NoError(t, err)
	ct, err := c.GetContract(ctx, k2)
	require.NoError(t, err)
	ct.RenewalDate = nexudus.NewTime(at.AddDate(0, 1, 0))
	require.NoError(t, c.UpdateContract(ctx, ct)) // renew
	ct.TariffId = 3
	require.NoError(t, c.UpdateContract(ctx, ct)) // upgrade
	ct.Cancelled = true
	require.NoError(t, c.UpdateContract(ctx, ct)) // cancel

	vid, err := c.CreateVisitor(ctx, nexudus.Visitor{BusinessId: 1, FullName: "Guest", CoworkerId: 1})
	require.NoError(t, err)
	v, err := c.GetVisitor(ctx, vid)
	require.NoError(t, err)
	v.Email = "guest@example.com"
	require.NoError(t, c.UpdateVisitor(ctx, v)) // no webhook: not an arrival
	v.Arrived = true
	require.NoError(t, c.UpdateVisitor(ctx, v))

	cid, err := c.CreateCheckin(ctx, nexudus.Checkin{CoworkerId: 1, FromTime: nexudus.NewTime(at), Source: nexudus.SourceDoorAccess})
	require.NoError(t, err)
	_, err = c.CheckoutCheckin(ctx, cid, at.Add(time.Hour))
	require.NoError(t, err)

	// Passes and other location's bookings send nothing to these hooks.
	_, err = c.CreateBooking(ctx, nexudus.Booking{ResourceId: 2, FromTime: nexudus.NewTime(at), ToTime: nexudus.NewTime(at.Add(time.Hour))})
	require.NoError(t, err)

	f.flush(t)
	got := f.rcv.hooks()
	type seen struct {
		action nexudus.Action
		id     int
	}
	var order []seen
	for _, h := range got {
		rec := parse(t, h)
		assert.Equal(t, h.action.Kind(), rec.Kind)
		order = append(order, seen{h.action, rec.Id})
		switch h.action {
		case nexudus.ActionBookingUpdate:
			var bk nexudus.Booking
			require.NoError(t, rec.Decode(&bk))
			assert.Equal(t, "Room 1", bk.ResourceName, "webhooks carry the full record")
			assert.True(t, bk.ToTime.Equal(at.Add(2*time.Hour)))
		case nexudus.ActionCoworkerUpdate:
			assert.Equal(t, cw, rec.CoworkerId)
		case nexudus.ActionCoworkerContractCancel:
			var k nexudus.CoworkerContract
			require.NoError(t, rec.Decode(&k))
			assert.True(t, k.Cancelled)
		}
	}
	want := []seen{
		{nexudus.ActionBookingCreate, bid}, {nexudus.ActionBookingUpdate, bid}, {nexudus.ActionBookingDelete, bid},
		{nexudus.ActionCoworkerCreate, cw}, {nexudus.ActionCoworkerUpdate, cw},
		{nexudus.ActionCoworkerContractActivate, k1}, {nexudus.ActionCoworkerContractActivateFirst, k1},
		{nexudus.ActionCoworkerContractActivate, k2},
		{nexudus.ActionCoworkerContractRenew, k2}, {nexudus.ActionCoworkerContractUpgradeDowngrade, k2},
		{nexudus.ActionCoworkerContractCancel, k2},
		{nexudus.ActionVisitorRegistered, vid}, {nexudus.ActionVisitorCheckedin, vid},
		{nexudus.ActionCheckinCreated, cid}, {nexudus.ActionCheckinUpdated, cid},
	}
	// Delivery is ordered per URL, not across URLs: compare per action.
	perAction := func(s []seen) map[nexudus.Action][]int {
		m := map[nexudus.Action][]int{}
		for _, x := range s {
			m[x.action] = append(m[x.action], x.id)
		}
		return m
	}
	assert.Equal(t, perAction(want), perAction(order))

	require.NoError(t, c.DeleteCheckin(ctx, cid))
	f.flush(t)
	last := f.rcv.hooks()[len(f.rcv.hooks())-1]
	assert.Equal(t, nexudus.ActionCheckinDeleted, last.action)
	assert.Equal(t, cid, parse(t, last).Id)

	for _, d := range f.sim.Deliveries() {
		assert.Equal(t, nexudussim.DeliveryDelivered, d.Status, "%+v", d)
		assert.True(t, d.Signed)
		assert.Equal(t, 1, d.Attempts)
	}
}

func TestWebhookOrderPerURL(t *testing.T) {
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret}, nexudus.ActionBookingUpdate)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	id, err := f.client.CreateBooking(ctx, nexudus.Booking{ResourceId: 1, FromTime: nexudus.NewTime(at), ToTime: nexudus.NewTime(at.Add(time.Hour))})
	require.NoError(t, err)
	for i := 1; i <= 20; i++ {
		b, err := f.client.GetBooking(ctx, id)
		require.NoError(t, err)
		b.ToTime = nexudus.NewTime(at.Add(time.Duration(i+1) * time.Hour))
		require.NoError(t, f.client.UpdateBooking(ctx, b))
	}
	f.flush(t)
	got := f.rcv.hooks()
	require.Len(t, got, 20)
	for i, h := range got {
		var b nexudus.Booking
		require.NoError(t, parse(t, h).Decode(&b))
		assert.True(t, b.ToTime.Equal(at.Add(time.Duration(i+2)*time.Hour)), "delivery %d out of order", i)
	}
}

func TestWebhookSignatureRejection(t *testing.T) {
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret}, nexudus.ActionCoworkerCreate)
	_, err := f.client.CreateCoworker(context.Background(), nexudus.Coworker{FullName: "Eve", AccessPincode: "123456"})
	require.NoError(t, err)
	f.flush(t)
	got := f.rcv.hooks()
	require.Len(t, got, 1)
	h := got[0]
	require.NoError(t, nexudus.VerifySignature([]byte(secret), h.body, h.signature))

	tampered := []byte(strings.Replace(string(h.body), `"Eve"`, `"Mallory"`, 1))
	require.NotEqual(t, h.body, tampered)
	assert.ErrorIs(t, nexudus.VerifySignature([]byte(secret), tampered, h.signature), nexudus.ErrSignatureMismatch)
	assert.ErrorIs(t, nexudus.VerifySignature([]byte("another-secret"), h.body, h.signature), nexudus.ErrSignatureMismatch)
	assert.ErrorIs(t, nexudus.VerifySignature([]byte(secret), h.body, ""), nexudus.ErrSignatureMissing)

	// Without a secret the simulator sends no signature, and a receiver expecting one
	// refuses the body.
	unsigned := newFixture(t, nexudussim.Options{}, nexudus.ActionCoworkerCreate)
	_, err = unsigned.client.CreateCoworker(context.Background(), nexudus.Coworker{FullName: "Eve"})
	require.NoError(t, err)
	unsigned.flush(t)
	u := unsigned.rcv.hooks()
	require.Len(t, u, 1)
	assert.Empty(t, u[0].signature)
	assert.ErrorIs(t, nexudus.VerifySignature([]byte(secret), u[0].body, u[0].signature), nexudus.ErrSignatureMissing)
	assert.False(t, unsigned.sim.Deliveries()[0].Signed)
}

func TestLostWebhooksSwitch(t *testing.T) {
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret}, nexudus.ActionBookingCreate)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mk := func() int {
		id, err := f.client.CreateBooking(ctx, nexudus.Booking{ResourceId: 1, FromTime: nexudus.NewTime(at), ToTime: nexudus.NewTime(at.Add(time.Hour))})
		require.NoError(t, err)
		return id
	}
	f.sim.SetDropWebhooks(true)
	lost := mk()
	f.flush(t)
	assert.Empty(t, f.rcv.hooks(), "dropped webhooks never reach the receiver")

	f.sim.SetDropWebhooks(false)
	kept := mk()
	f.flush(t)
	got := f.rcv.hooks()
	require.Len(t, got, 1)
	assert.Equal(t, kept, parse(t, got[0]).Id)

	ds := f.sim.Deliveries()
	require.Len(t, ds, 2)
	assert.Equal(t, nexudussim.DeliveryDropped, ds[0].Status)
	assert.Equal(t, lost, ds[0].RecordId)
	assert.Equal(t, nexudussim.DeliveryDelivered, ds[1].Status)

	// The lost booking is still in Nexudus: polling finds it.
	b, err := f.client.GetBooking(ctx, lost)
	require.NoError(t, err)
	assert.Equal(t, lost, b.Id)
}

func TestWebhookRetriesThenDisables(t *testing.T) {
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret, WebhookAttempts: 3, WebhookRetryDelay: 5 * time.Millisecond,
		WebhookDisableAfter: 2}, nexudus.ActionCoworkerUpdate)
	ctx := context.Background()
	update := func(name string) {
		co, err := f.client.GetCoworker(ctx, 1)
		require.NoError(t, err)
		co.FullName = name
		require.NoError(t, f.client.UpdateCoworker(ctx, co))
		f.flush(t)
	}

	// A receiver that fails twice then recovers gets the webhook on the third try.
	f.rcv.mu.Lock()
	f.rcv.status = func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	f.rcv.mu.Unlock()
	update("Ada 1")
	require.Len(t, f.rcv.hooks(), 1)
	d := f.sim.Deliveries()[0]
	assert.Equal(t, nexudussim.DeliveryDelivered, d.Status)
	assert.Equal(t, 3, d.Attempts)

	// A receiver that always fails: two failed deliveries disable the webhook.
	f.rcv.mu.Lock()
	f.rcv.status = func(int) int { return http.StatusInternalServerError }
	f.rcv.mu.Unlock()
	update("Ada 2")
	assert.True(t, f.sim.Webhooks()[0].Active, "one failed delivery is not enough")
	update("Ada 3")
	hooks, err := f.client.ListWebhooks(ctx, nil)
	require.NoError(t, err)
	assert.False(t, hooks[0].Active, "disabled after consecutive failures, as Nexudus does")
	ds := f.sim.Deliveries()
	require.Len(t, ds, 3)
	for _, d := range ds[1:] {
		assert.Equal(t, nexudussim.DeliveryFailed, d.Status)
		assert.Equal(t, 3, d.Attempts)
		assert.Equal(t, 500, d.StatusCode)
	}

	update("Ada 4")
	assert.Len(t, f.sim.Deliveries(), 3, "a disabled webhook is not called")
}

func TestAdminWritesFireWebhooksSeedsDoNot(t *testing.T) {
	f := newFixture(t, nexudussim.Options{WebhookSecret: secret}, nexudus.ActionBookingCreate, nexudus.ActionBookingDelete)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	_, err := f.sim.Seed(nexudussim.Dataset{Bookings: []nexudussim.Booking{{ResourceId: 1, FromTime: nexudussim.At(at), ToTime: nexudussim.At(at.Add(time.Hour))}}})
	require.NoError(t, err)
	b, err := nexudussim.Save(f.sim, nexudussim.Booking{ResourceId: 1, FromTime: nexudussim.At(at), ToTime: nexudussim.At(at.Add(time.Hour))})
	require.NoError(t, err)
	require.NoError(t, nexudussim.Delete[nexudussim.Booking](f.sim, b.Id))
	f.flush(t)
	got := map[nexudus.Action][]int{}
	for _, h := range f.rcv.hooks() {
		got[h.action] = append(got[h.action], parse(t, h).Id)
	}
	// Only the saved booking, not the seeded one; create and delete use two URLs, so
	// their relative order is not promised.
	assert.Equal(t, map[nexudus.Action][]int{nexudus.ActionBookingCreate: {b.Id}, nexudus.ActionBookingDelete: {b.Id}}, got)
	assert.True(t, nexudussim.IsNotFound(nexudussim.Delete[nexudussim.Booking](f.sim, b.Id)))
}

// dotnetASCII is the test's own rendering of .NET's ASCIIEncoding: each non-ASCII rune
// (and each invalid byte) becomes '?'.
func dotnetASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r > 127 {
			return '?'
		}
		return r
	}, s)
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// Nexudus signs the ASCII-folded JSON text and sends the UTF-8: the simulator does the
// same by default, and signs the raw bytes only with the guess switch on.
func TestWebhookSignatureOfNonASCIIText(t *testing.T) {
	const name, company = "José Müller", "Café <Ltd> & Co 😀 €"
	cases := []struct {
		name   string
		opts   nexudussim.Options
		expect func(secret, body string) string
	}{
		{"documented, folded", nexudussim.Options{WebhookSecret: secret},
			func(sec, body string) string { return hmacHex(dotnetASCII(sec), dotnetASCII(body)) }},
		{"documented, non-ASCII secret folded too", nexudussim.Options{WebhookSecret: "clé-" + secret},
			func(sec, body string) string { return hmacHex(dotnetASCII(sec), dotnetASCII(body)) }},
		{"raw UTF-8 switch", nexudussim.Options{WebhookSecret: secret, WebhookSignsRawUTF8: true},
			func(sec, body string) string { return hmacHex(sec, body) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.opts, nexudus.ActionCoworkerCreate)
			_, err := f.client.CreateCoworker(context.Background(), nexudus.Coworker{FullName: name, CompanyName: company})
			require.NoError(t, err)
			f.flush(t)
			got := f.rcv.hooks()
			require.Len(t, got, 1)
			h := got[0]
			body := string(h.body)
			assert.Contains(t, body, `"FullName":"José Müller"`, "UTF-8 on the wire, not \\u escapes")
			assert.Contains(t, body, `"CompanyName":"Café <Ltd> & Co 😀 €"`, "no HTML escaping, as Json.NET")
			assert.NotContains(t, body, `\u003c`)
			assert.False(t, strings.HasSuffix(body, "\n"), "no trailing newline")
			assert.Equal(t, c.expect(c.opts.WebhookSecret, body), h.signature)
			assert.NotEqual(t, hmacHex(c.opts.WebhookSecret, dotnetASCII(body)), hmacHex(c.opts.WebhookSecret, body),
				"the body must hold non-ASCII text for this test to mean anything")
			require.NoError(t, nexudus.VerifySignature([]byte(c.opts.WebhookSecret), h.body, h.signature),
				"the receiver accepts either form")
			rec, err := nexudus.ParseWebhook(h.action, h.body)
			require.NoError(t, err)
			var co nexudus.Coworker
			require.NoError(t, rec.Decode(&co))
			assert.Equal(t, name, co.FullName)
		})
	}
}
