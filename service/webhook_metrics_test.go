package service_test

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/metrics"
)

// The listener's refusals count as webhooks of the action in the path; a refused health check or scrape
// is no webhook, and a path naming no action counts as "unknown", whatever it says.
func TestListenerRefusalsAreCountedByAction(t *testing.T) {
	c := config.Webhooks{PathPrefix: "/webhooks/nexudus", RatePerSecond: 0.01, RateBurst: 1}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	addr := serve(t, c, ok, quiet())
	limited := func(action string) float64 {
		var m dto.Metric
		if err := metrics.Webhooks.WithLabelValues(action, metrics.OutcomeRateLimited).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	update, unknown := limited("BookingUpdate"), limited("unknown")
	for _, path := range []string{"/webhooks/nexudus/BookingUpdate", "/webhooks/nexudus/BookingUpdate",
		"/webhooks/nexudus/7", "/healthz", "/webhooks/nexudus/ana@example.com"} {
		resp, err := http.Post("http://"+addr+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	// The first request passed; the other four were refused (429), three of them webhooks.
	if got := limited("BookingUpdate") - update; got != 2 {
		t.Errorf("rate_limited BookingUpdate grew by %v, want 2 (by name and by number)", got)
	}
	if got := limited("unknown") - unknown; got != 1 {
		t.Errorf("rate_limited unknown grew by %v, want 1", got)
	}
}
