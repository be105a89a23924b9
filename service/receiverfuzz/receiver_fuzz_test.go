package receiverfuzz

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

// Whatever arrives at the webhook receiver, it answers without a panic: a body Nexudus could not have sent is a
// 400 that says why, a wrong signature a 401, and a valid webhook is either taken (2xx) or, with Temporal out
// of reach as here, a 503 that makes Nexudus deliver it again. Never another 5xx.
func FuzzWebhookReceiver(f *testing.F) {
	// Nothing listens on port 1: every call to Temporal fails at once.
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(tc.Close)
	secret := []byte("fuzz-secret")
	h := &service.Webhooks{Temporal: tc, TaskQueue: "access", Prefix: "/webhooks/nexudus", Secret: secret,
		MaxBody: 1 << 16, Locations: []int64{1}, SignalTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Add(uint8(0), []byte(`[{"Id":7,"CoworkerId":100,"ResourceId":10}]`), true)
	f.Add(uint8(1), []byte(`[{"Id":1,"FullName":"José Müller 😀"}]`), true)
	f.Add(uint8(2), []byte(`not json`), true)
	f.Add(uint8(3), []byte(`[{"Id":3}]`), false)
	f.Add(uint8(4), []byte(``), true)
	all := nexudus.Actions()
	f.Fuzz(func(t *testing.T, which uint8, body []byte, signed bool) {
		action := all[int(which)%len(all)]
		req := httptest.NewRequest(http.MethodPost, service.WebhookURL("", h.Prefix, action, ""), bytes.NewReader(body))
		sig := "00"
		if signed {
			sig = nexudus.Sign(secret, body)
		}
		req.Header.Set(nexudus.SignatureHeader, sig)
		rw := httptest.NewRecorder()
		h.ServeHTTP(rw, req)
		_, parseErr := nexudus.ParseWebhook(action, body)
		switch code := rw.Code; {
		case !signed:
			if code != http.StatusUnauthorized {
				t.Errorf("unsigned webhook answered %d, want 401", code)
			}
		case parseErr != nil:
			if code != http.StatusBadRequest || !bytes.Contains(rw.Body.Bytes(), []byte(`"error"`)) {
				t.Errorf("invalid body (%v) answered %d %s, want 400 with the reason", parseErr, code, rw.Body.String())
			}
		case code != http.StatusOK && code != http.StatusServiceUnavailable:
			t.Errorf("valid webhook answered %d %s", code, rw.Body.String())
		}
	})
}
