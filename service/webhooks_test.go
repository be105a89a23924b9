package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/devserver"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

func post(t *testing.T, url, body string, header map[string]string) (int, service.Outcome) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out service.Outcome
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return resp.StatusCode, out
}

func signed(body string) map[string]string {
	return map[string]string{nexudus.SignatureHeader: nexudus.Sign([]byte(hookSecret), []byte(body))}
}

// Every bad webhook gets a 4xx that says why, and starts nothing; a good one is acknowledged once Temporal has it.
func TestWebhookReceiverRejectsBadInputWithReasons(t *testing.T) {
	e := newEnv(t, envOptions{lead: time.Minute, lag: time.Minute})
	base := e.hookURL + e.cfg.Webhooks.PathPrefix
	good := `[{"Id": 4242, "ResourceId": 10, "CoworkerId": 100}]`
	cases := []struct {
		name, url, body string
		header          map[string]string
		status          int
		reason          string
	}{
		{"unknown action", base + "/BookingExploded", good, signed(good), 404, "unknown Nexudus webhook action"},
		{"no signature", base + "/BookingUpdate", good, nil, 401, "signature"},
		{"wrong signature", base + "/BookingUpdate", good, signed(good + " "), 401, "signature"},
		{"not JSON", base + "/BookingUpdate", `{{`, signed(`{{`), 400, "JSON"},
		{"not an array", base + "/BookingUpdate", `{"Id":1}`, signed(`{"Id":1}`), 400, "array"},
		{"empty array", base + "/BookingUpdate", `[]`, signed(`[]`), 400, "no record"},
		{"two records", base + "/BookingUpdate", `[{"Id":1},{"Id":2}]`, signed(`[{"Id":1},{"Id":2}]`), 400, "one record"},
		{"no id", base + "/BookingUpdate", `[{"ResourceId":1}]`, signed(`[{"ResourceId":1}]`), 400, "Id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, tc.url, tc.body, tc.header)
			if status != tc.status || out.Status != "error" || !strings.Contains(strings.ToLower(out.Error), strings.ToLower(tc.reason)) {
				t.Fatalf("got %d %+v, want %d with %q", status, out, tc.status, tc.reason)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		big := `[{"Id":1,"Notes":"` + strings.Repeat("x", int(e.cfg.Webhooks.MaxBodyBytes)) + `"}]`
		status, out := post(t, base+"/BookingUpdate", big, signed(big))
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d %+v", status, out)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(base + "/BookingUpdate")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
	if _, err := e.tc.DescribeWorkflowExecution(e.ctx, "booking-4242", ""); err == nil {
		t.Fatal("a rejected webhook started a workflow")
	}

	status, out := post(t, base+"/BookingUpdate", good, signed(good))
	if status != http.StatusOK || out.Status != "accepted" || len(out.Workflows) != 1 || out.Workflows[0] != "booking-4242" {
		t.Fatalf("valid webhook: %d %+v", status, out)
	}
	if _, err := e.tc.DescribeWorkflowExecution(e.ctx, "booking-4242", ""); err != nil {
		t.Fatalf("acknowledged webhook has no workflow: %v", err)
	}
	// The same webhook again, and an older one after it: harmless re-reads of the same workflow.
	for i := 0; i < 2; i++ {
		if status, out := post(t, base+"/BookingCreate", good, signed(good)); status != http.StatusOK {
			t.Fatalf("duplicate: %d %+v", status, out)
		}
	}
}

// With Temporal down the receiver answers 503 with Retry-After, so Nexudus delivers the webhook again and
// nothing is lost.
func TestWebhookReceiverAnswers503WhileTemporalIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Temporal server")
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	h := &service.Webhooks{Temporal: tc, TaskQueue: "access", Prefix: "/hooks", Token: "t0k3n", SignalTimeout: 2 * time.Second}
	hs := httptest.NewServer(h)
	defer hs.Close()
	body := `[{"Id": 7, "ResourceId": 10}]`
	if status, out := post(t, hs.URL+"/hooks/BookingCreate?token=t0k3n", body, nil); status != http.StatusOK {
		t.Fatalf("with Temporal up: %d %+v", status, out)
	}
	if status, _ := post(t, hs.URL+"/hooks/BookingCreate?token=wrong", body, nil); status != http.StatusUnauthorized {
		t.Fatalf("wrong URL token: %d", status)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/hooks/BookingCreate", strings.NewReader(body))
	req.Header.Set("X-Webhook-Token", "t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with Temporal down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
