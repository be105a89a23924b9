package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
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
	// Another delivery: the one above, accepted already, would be answered "duplicate".
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/hooks/BookingCreate", strings.NewReader(`[{"Id": 8, "ResourceId": 10}]`))
	req.Header.Set(service.TokenHeader, "t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("with Temporal down: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// flaky fails the next `fail` SignalWithStart calls, as Temporal does while it is out of reach.
type flaky struct {
	client.Client
	fail atomic.Int32
}

func (f *flaky) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
	options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error) {
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("temporal unavailable")
	}
	return f.Client.SignalWithStartWorkflow(ctx, workflowID, signalName, signalArg, options, workflow, workflowArgs...)
}

// A delivery already accepted comes again (a replay, or Nexudus delivering twice) within the replay window:
// it is answered 200 "duplicate" and signals nothing. A delivery answered 5xx is not remembered, so Nexudus'
// retry of it is processed. The receiver is the worker's own (Worker.Handler, from the configuration).
func TestWebhookReplaysAreAnsweredDuplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Temporal server")
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{UIPort: -1, SearchAttributes: access.SearchAttributes})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	tc, err := srv.NewClient(ctx, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	signals := func(workflowID string) int {
		t.Helper()
		n := 0
		iter := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatal(err)
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
				n++
			}
		}
		return n
	}
	receiver := func(tc client.Client, change func(*config.Config)) string {
		cfg := &config.Config{Nexudus: config.Nexudus{WebhookSecret: hookSecret}}
		if change != nil {
			change(cfg)
		}
		cfg.ApplyDefaults()
		hs := httptest.NewServer((&service.Worker{Config: cfg, Temporal: tc, Logger: quiet()}).Handler())
		t.Cleanup(hs.Close)
		return hs.URL + cfg.Webhooks.PathPrefix
	}
	expect := func(what string, status int, out service.Outcome, wantStatus int, want string) {
		t.Helper()
		if status != wantStatus || out.Status != want {
			t.Fatalf("%s: %d %+v, want %d %s", what, status, out, wantStatus, want)
		}
	}

	f := &flaky{Client: tc}
	base := receiver(f, nil)
	body := `[{"Id":9101,"ResourceId":10,"CoworkerId":100,"UpdatedOn":"2026-12-01T09:00:00Z"}]`
	f.fail.Store(1)
	status, out := post(t, base+"/BookingUpdate", body, signed(body))
	expect("while Temporal fails", status, out, http.StatusServiceUnavailable, "error")
	status, out = post(t, base+"/BookingUpdate", body, signed(body))
	expect("Nexudus' retry of the 503'd delivery", status, out, http.StatusOK, "accepted")
	if n := signals("booking-9101"); n != 1 {
		t.Fatalf("%d signals after the accepted delivery, want 1", n)
	}
	status, out = post(t, base+"/BookingUpdate", body, signed(body))
	expect("the same delivery again", status, out, http.StatusOK, "duplicate")
	lower := map[string]string{nexudus.SignatureHeader: strings.ToLower(signed(body)[nexudus.SignatureHeader])}
	status, out = post(t, base+"/BookingUpdate", body, lower)
	expect("the same delivery, signature in lowercase", status, out, http.StatusOK, "duplicate")
	if n := signals("booking-9101"); n != 1 {
		t.Errorf("%d signals after the replays, want still 1", n)
	}
	// The same body on another action's URL is a delivery of its own (a delete may carry the last update's
	// body), and so is a changed body.
	status, out = post(t, base+"/BookingDelete", body, signed(body))
	expect("the same body as a BookingDelete", status, out, http.StatusOK, "accepted")
	changed := strings.Replace(body, "09:00:00Z", "09:05:00Z", 1)
	status, out = post(t, base+"/BookingUpdate", changed, signed(changed))
	expect("a changed body", status, out, http.StatusOK, "accepted")
	if n := signals("booking-9101"); n != 3 {
		t.Errorf("%d signals, want 3", n)
	}

	// A delivery only a token protects is known by its action and body.
	tokenBase := receiver(tc, func(c *config.Config) { c.Nexudus.WebhookSecret, c.Nexudus.WebhookToken = "", "replay-token" })
	tb := `[{"Id":9102,"ResourceId":10}]`
	status, out = post(t, tokenBase+"/BookingCreate?token=replay-token", tb, nil)
	expect("token delivery", status, out, http.StatusOK, "accepted")
	status, out = post(t, tokenBase+"/BookingCreate", tb, map[string]string{service.TokenHeader: "replay-token"})
	expect("token delivery again", status, out, http.StatusOK, "duplicate")
	if n := signals("booking-9102"); n != 1 {
		t.Errorf("%d signals for the token delivery, want 1", n)
	}

	// Past the window (webhooks.replay_window) the delivery is processed again; a negative window turns it off.
	shortBase := receiver(tc, func(c *config.Config) { c.Webhooks.ReplayWindow = 300 * time.Millisecond })
	sb := `[{"Id":9103,"ResourceId":10}]`
	for i, want := range []string{"accepted", "duplicate", "", "accepted"} {
		if want == "" {
			time.Sleep(400 * time.Millisecond)
			continue
		}
		status, out = post(t, shortBase+"/BookingCreate", sb, signed(sb))
		expect("short window, delivery "+string(rune('1'+i)), status, out, http.StatusOK, want)
	}
	offBase := receiver(tc, func(c *config.Config) { c.Webhooks.ReplayWindow = -1 })
	for range 2 {
		status, out = post(t, offBase+"/BookingCreate", sb, signed(sb))
		expect("replay protection off", status, out, http.StatusOK, "accepted")
	}

	// /healthz with Temporal up: "ok", nothing else.
	resp, err := http.Get(strings.TrimSuffix(base, "/webhooks/nexudus") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(hb) != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 \"ok\"", resp.StatusCode, hb)
	}
}

// A body that does not belong to the URL's action, or that Nexudus could not have sent, is a 400 that says why,
// and starts nothing.
func TestWebhookReceiverRefusesWhatNexudusCannotSend(t *testing.T) {
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"}) // any call to Temporal would be a 503
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	hs := httptest.NewServer(&service.Webhooks{Temporal: tc, TaskQueue: "access", Prefix: "/hooks", Secret: []byte(hookSecret),
		Logger: quiet(), SignalTimeout: 100 * time.Millisecond})
	defer hs.Close()
	booking := `[{"Id":4021,"ResourceId":10,"ResourceName":"Room","CoworkerId":100,"FromTime":"2026-12-01T10:00:00Z"}]`
	for _, c := range []struct{ name, action, body, reason string }{
		{"booking to VisitorRegistered", "VisitorRegistered", booking, "a Booking record (it has ResourceId) posted to VisitorRegistered"},
		{"booking to CoworkerContractCancel", "CoworkerContractCancel", booking, "posted to CoworkerContractCancel, which carries a CoworkerContract"},
		{"invalid UTF-8", "CoworkerUpdate", "[{\"Id\":1,\"FullName\":\"Jos\xe9\"}]", "not valid UTF-8"},
		{"lowercase id", "BookingUpdate", `[{"id":4021,"ResourceId":10}]`, `"id" is not "Id"`},
		{"id above Int32", "BookingUpdate", `[{"Id":2147483648,"ResourceId":10}]`, "outside 1..2147483647"},
		{"id 0", "BookingUpdate", `[{"Id":0,"ResourceId":10}]`, "no Id"},
		{"negative id", "BookingUpdate", `[{"Id":-1,"ResourceId":10}]`, "outside 1..2147483647"},
	} {
		status, out := post(t, hs.URL+"/hooks/"+c.action, c.body, signed(c.body))
		if status != http.StatusBadRequest || out.Status != "error" || !strings.Contains(out.Error, c.reason) {
			t.Errorf("%s: %d %+v, want 400 saying %q", c.name, status, out, c.reason)
		}
	}
	// The same booking on its own action's URL gets past parsing: to Temporal, out of reach here.
	if status, out := post(t, hs.URL+"/hooks/BookingCreate", booking, signed(booking)); status != http.StatusServiceUnavailable {
		t.Errorf("the booking on BookingCreate: %d %+v, want 503", status, out)
	}
}
