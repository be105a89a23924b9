package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

func port(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(u.Host)
	n, _ := strconv.Atoi(p)
	return n
}

// The dev stack as the README promises it: one call brings up Temporal with its Web UI, the simulators and the
// worker; the demo's purchases reach Salto; a restart on the same folder keeps every workflow and the
// simulators' state.
func TestDevStackStartsServesTheUIAndResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole dev stack")
	}
	ctx := context.Background()
	o := Options{DataDir: t.TempDir(), IP: "127.0.0.1", Lead: 10 * time.Minute, Lag: time.Minute, Demo: true, LogLevel: "error"}
	s, err := Start(ctx, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.Temporal.UIURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("Web UI: %d %.100q", resp.StatusCode, page)
	}
	// Alice's bookings start within the lead: she is in the room's group as soon as the webhooks are through.
	alice := func() bool {
		u, ok := s.Salto.UserByEmail(demoSite, "alice@example.com")
		return ok && slices.Contains(s.Salto.GroupMembers(demoSite, groupAmsterdam), u.User.ID)
	}
	waitFor(t, "alice granted by the demo", 60*time.Second, alice)
	waitFor(t, "the office contract granted", 60*time.Second, func() bool {
		u, ok := s.Salto.UserByEmail(demoSite, "bruno@example.com")
		return ok && slices.Contains(s.Salto.GroupMembers(demoSite, groupOffice101), u.User.ID)
	})
	if _, err := s.Client.DescribeWorkflowExecution(ctx, "contract-1", ""); err != nil {
		t.Fatal(err)
	}
	checkCodec(t, s)
	checkBannerMetrics(t, s, o)
	o.TemporalPort, o.UIPort = port(t, "http://"+s.Temporal.HostPort()), port(t, s.Temporal.UIURL())
	o.WebhookPort, o.SaltoPort, o.NexudusPort = port(t, s.Webhook), port(t, s.SaltoURL), port(t, s.NexusURL)
	o.CodecPort = port(t, s.CodecURL)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	s, err = Start(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer func() { _ = s.Stop() }()
	if !alice() {
		t.Fatal("the Salto simulator lost its state across the restart")
	}
	d, err := s.Client.DescribeWorkflowExecution(ctx, "contract-1", "")
	if err != nil {
		t.Fatalf("contract workflow lost across the restart: %v", err)
	}
	if d.GetWorkflowExecutionInfo().GetCloseTime() != nil {
		t.Fatal("the open-ended contract's workflow closed")
	}
	if len(s.Nexudus.Bookings()) < 5 {
		t.Fatalf("the Nexudus simulator lost bookings: %d", len(s.Nexudus.Bookings()))
	}
	// The resumed system still reacts: a new booking through the Nexudus API reaches the same webhook URLs.
	nx, err := service.NewNexudusClient(s.Config.Nexudus)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Minute)
	if _, err := nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceBerlin, CoworkerId: 103,
		FromTime: nexudus.NewTime(start), ToTime: nexudus.NewTime(start.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dmitri granted after the restart", 60*time.Second, func() bool {
		u, ok := s.Salto.UserByEmail(demoSite, "dmitri@example.com")
		return ok && slices.Contains(s.Salto.GroupMembers(demoSite, groupBerlin), u.User.ID)
	})
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// checkBannerMetrics: what `go run ./devstack` prints names the metrics URL, and it serves the worker's
// metrics, ours and the Temporal SDK's, with the grants the demo made counted.
func checkBannerMetrics(t *testing.T, s *Stack, o Options) {
	t.Helper()
	var banner strings.Builder
	s.printBanner(&banner, o)
	var url string
	for _, line := range strings.Split(banner.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Metrics" {
			url = f[1]
		}
	}
	if !strings.HasPrefix(url, "http://") || !strings.HasSuffix(url, "/metrics") {
		t.Fatalf("no metrics URL in the banner:\n%s", banner.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{"nexsalto_webhooks_total{", "nexsalto_access_lateness_seconds_count{change=\"grant\"}",
		"nexsalto_temporal_"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d, no %s in\n%.2000s", url, resp.StatusCode, want, body)
		}
	}
}
