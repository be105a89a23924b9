package service_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
	nexudussim "github.com/nexsalto/nexsalto/simulators/nexudus"
)

// dotnetSignature is the test's own rendering of the documented signature: uppercase hex
// HMAC-SHA256 of the secret and the body passed through .NET's ASCIIEncoding, where each
// non-ASCII rune (and each invalid byte) is '?'.
func dotnetSignature(secret, body string) string {
	ascii := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r > 127 {
				return '?'
			}
			return r
		}, s)
	}
	return rawSignature(ascii(secret), ascii(body))
}

func rawSignature(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return strings.ToUpper(hex.EncodeToString(m.Sum(nil)))
}

// relayed is one webhook the relay passed on.
type relayed struct {
	action, body, signature string
	status                  int
}

// Webhooks for records holding "José Müller", "€" and an emoji, sent and signed by the Nexudus simulator as
// Nexudus documents (non-ASCII as '?' in the HMAC, UTF-8 on the wire), are accepted by the real receiver.
// A relay in front of the receiver records what the simulator sent.
func TestWebhookWithNonASCIITextIsAccepted(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Minute, lag: time.Minute, noWebhooks: true})
	receiver := e.hookURL + e.cfg.Webhooks.PathPrefix
	var mu sync.Mutex
	var seen []relayed
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest(http.MethodPost, receiver+r.URL.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		req.Header.Set(nexudus.SignatureHeader, r.Header.Get(nexudus.SignatureHeader))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer func() { _ = resp.Body.Close() }()
		mu.Lock()
		seen = append(seen, relayed{strings.TrimPrefix(r.URL.Path, "/"), string(body), r.Header.Get(nexudus.SignatureHeader), resp.StatusCode})
		mu.Unlock()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(relay.Close)
	for _, a := range []nexudus.Action{nexudus.ActionCoworkerCreate, nexudus.ActionBookingCreate} {
		if _, err := e.nx.CreateWebhook(e.ctx, nexudus.Webhook{BusinessId: business, Action: a, Active: true, Name: a.String(),
			URL: relay.URL + "/" + a.String()}); err != nil {
			t.Fatal(err)
		}
	}

	cw, err := e.nx.CreateCoworker(e.ctx, nexudus.Coworker{FullName: "José Müller", Email: "jose@example.com",
		CompanyName: "Café <Müller> & Söhne 😀", InvoicingBusinessId: business})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	bk, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100, FromTime: at(start),
		ToTime: at(start.Add(time.Hour)), Notes: "José Müller pays 20 € ☕️🚀"})
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := e.nexsim.Flush(fctx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	got := append([]relayed(nil), seen...)
	mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("relayed %d webhooks, want 2: %+v", len(got), got)
	}
	for _, h := range got {
		if !strings.Contains(h.body, "José Müller") {
			t.Errorf("%s: body lacks the UTF-8 name: %s", h.action, h.body)
		}
		// The documented signature, computed here, must reach the receiver's code and be accepted.
		want := dotnetSignature(hookSecret, h.body)
		if status, out := post(t, receiver+"/"+h.action, h.body, map[string]string{nexudus.SignatureHeader: want}); status != http.StatusOK {
			t.Errorf("%s signed the .NET way: receiver answered %d %+v", h.action, status, out)
		}
		if h.signature != want {
			t.Errorf("%s: simulator signed %s, want the documented %s", h.action, h.signature, want)
		}
		if h.status != http.StatusOK {
			t.Errorf("%s from the simulator: receiver answered %d", h.action, h.status)
		}
		// The raw-bytes form is accepted too, in case Nexudus ever signs the UTF-8 it sends.
		if status, out := post(t, receiver+"/"+h.action, h.body, map[string]string{nexudus.SignatureHeader: rawSignature(hookSecret, h.body)}); status != http.StatusOK {
			t.Errorf("%s signed over the raw bytes: receiver answered %d %+v", h.action, status, out)
		}
		// A signature made with another secret is refused, and the answer says why.
		status, out := post(t, receiver+"/"+h.action, h.body, map[string]string{nexudus.SignatureHeader: dotnetSignature("not-"+hookSecret, h.body)})
		if status != http.StatusUnauthorized || out.Status != "error" || !strings.Contains(out.Error, "signature does not match") {
			t.Errorf("%s with a bad signature: %d %+v, want 401 saying the signature does not match", h.action, status, out)
		}
	}
	ids := map[int]bool{cw: true, bk: true}
	for _, d := range e.nexsim.Deliveries() {
		if ids[d.RecordId] && (d.Status != nexudussim.DeliveryDelivered || d.StatusCode != http.StatusOK) {
			t.Errorf("delivery %+v, want delivered with 200", d)
		}
	}
	if _, err := e.tc.DescribeWorkflowExecution(e.ctx, "booking-"+strconv.Itoa(bk), ""); err != nil {
		t.Errorf("the accepted booking webhook started no workflow: %v", err)
	}
}

// A rejected signature is logged for the operator, with a hint and without the secret or the body.
func TestWebhookBadSignatureIsLoggedWithoutSecretOrBody(t *testing.T) {
	var logs bytes.Buffer
	const secret = "op-secret-5f2a"
	h := &service.Webhooks{Prefix: "/hooks", Secret: []byte(secret), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	hs := httptest.NewServer(h)
	defer hs.Close()
	body := `[{"Id":77,"FullName":"José Müller","AccessPincode":"918273"}]`
	cases := []struct{ name, signature, reason string }{
		{"wrong secret", dotnetSignature("other", body), "signature does not match"},
		{"missing", "", "signature missing"},
		{"malformed", "sha256=abc", "not a hex HMAC-SHA256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			status, out := post(t, hs.URL+"/hooks/CoworkerUpdate", body, map[string]string{nexudus.SignatureHeader: c.signature})
			if status != http.StatusUnauthorized || !strings.Contains(out.Error, c.reason) {
				t.Fatalf("got %d %+v, want 401 with %q", status, out, c.reason)
			}
			line := logs.String()
			for _, want := range []string{"level=WARN", "webhook signature rejected", "Action=CoworkerUpdate", c.reason,
				"BodyBytes=" + strconv.Itoa(len(body)), "NEXUDUS_WEBHOOK_SECRET", "disables a webhook"} {
				if !strings.Contains(line, want) {
					t.Errorf("log lacks %q: %s", want, line)
				}
			}
			for _, leak := range []string{secret, "918273", "Müller"} {
				if strings.Contains(line, leak) {
					t.Errorf("log leaks %q: %s", leak, line)
				}
			}
		})
	}
}
