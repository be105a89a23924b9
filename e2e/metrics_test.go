package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/salto"
	"github.com/nexsalto/nexsalto/service"
)

// metricsWorker starts the in-process worker of a stack made with noWorker, with figures read from Temporal
// refreshed every second, and registers its webhooks.
func metricsWorker(t *testing.T, s *stack, metricsListen string) *service.Worker {
	t.Helper()
	s.cfg.Metrics = config.Metrics{Listen: metricsListen, RefreshInterval: time.Second}
	if err := s.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := service.NewWorker(s.cfg, s.tc, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Stop(ctx)
	})
	s.worker = w
	s.registerWebhooks(context.Background(), w.WebhookAddr())
	return w
}

// scrape is one read of /metrics over HTTP, parsed.
type scrape map[string]*dto.MetricFamily

func scrapeMetrics(t testing.TB, url string) scrape {
	t.Helper()
	s, err := readMetrics(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readMetrics is scrapeMetrics for a goroutine that cannot fail the test.
func readMetrics(url string) (scrape, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return fams, nil
}

// series is the family's series whose labels include every pair of want ("name", "value", …).
func (s scrape) series(name string, want ...string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range s[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && labels[want[i]] == want[i+1]
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value sums the family's series whose labels include every pair of want (counters, gauges; a histogram's
// sample count).
func (s scrape) value(name string, want ...string) float64 {
	var sum float64
	for _, m := range s.series(name, want...) {
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// sum is a histogram's sum of observations over the matching series.
func (s scrape) sum(name string, want ...string) float64 {
	var total float64
	for _, m := range s.series(name, want...) {
		if m.Histogram != nil {
			total += m.GetHistogram().GetSampleSum()
		}
	}
	return total
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// During a real run, a signed webhook becomes a grant through the Salto simulator, reconciliation finds a
// member no coworker owns, and /metrics on the webhook listener shows all of it: every family, and the
// figures this test caused, as differences from a scrape taken before.
func TestMetricsDuringARealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := newStack(t, stackOptions{noWorker: true})
	ctx := context.Background()
	// A member of an owned group whom no Nexudus coworker matches, added by hand before the worker starts,
	// with a client outside the worker's instrumentation.
	sc := service.SaltoConfig(s.cfg.Salto)
	sc.HTTPClient = &http.Client{}
	staff, err := salto.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := staff.CreateUser(ctx, site1, salto.NewUser{FirstName: "Night", LastName: "Guard", Alias: "night guard"})
	if err != nil {
		t.Fatal(err)
	}
	if err := staff.AddGroupMember(ctx, site1, gEntrance, stranger.PlatformID()); err != nil {
		t.Fatal(err)
	}

	w := metricsWorker(t, s, "")
	url := w.MetricsURL()
	if !strings.HasPrefix(url, "http://"+w.WebhookAddr()+"/") {
		t.Fatalf("metrics URL %s, want it on the webhook listener %s", url, w.WebhookAddr())
	}
	if code, body := get(t, "http://"+w.WebhookAddr()+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/readyz: %d %q, want 200 \"ok\"", code, body)
	}
	const addMember = "POST /v1.2/sites/{site}/access_groups/{group}/users"
	simAddsBefore := s.salto.Calls(addMember)
	before := scrapeMetrics(t, url)

	// A delivery with a wrong signature: refused, and counted.
	hook := service.WebhookURL("http://"+w.WebhookAddr(), s.cfg.Webhooks.PathPrefix, nexudus.ActionBookingCreate, "")
	req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(`{"Id":1}`))
	req.Header.Set(nexudus.SignatureHeader, nexudus.Sign([]byte("not the secret"), []byte(`{"Id":1}`)))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if _ = resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrongly signed webhook: %s, want 401", resp.Status)
	}

	// A booking starting in 3 s (lead 1 s): the webhook schedules it, the timer grants it.
	const coworker = 108
	start := time.Now().Add(3 * time.Second).Truncate(time.Second)
	if _, err := s.nx.CreateBooking(ctx, nexudus.Booking{ResourceId: resourceRoom, CoworkerId: coworker,
		FromTime: nexudus.NewTime(start), ToTime: nexudus.NewTime(start.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the booking granted", func() bool {
		return s.member(site1, gRoom, coworker) && s.member(site1, gEntrance, coworker)
	})
	if rep := s.reconcile(loc1, false); rep.Unmatched != 1 {
		t.Fatalf("reconciliation found %d unmatched members, want the one added by hand", rep.Unmatched)
	}

	delta := func(now scrape, name string, labels ...string) float64 {
		return now.value(name, labels...) - before.value(name, labels...)
	}
	var now scrape
	var problems []string
	check := func(ok bool, format string) {
		if !ok {
			problems = append(problems, format)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		now = scrapeMetrics(t, url)
		problems = nil
		for _, f := range []string{"nexsalto_webhooks_total", "nexsalto_webhook_signature_failures_total",
			"nexsalto_vendor_requests_total", "nexsalto_vendor_request_duration_seconds",
			"nexsalto_access_lateness_seconds", "nexsalto_access_change_failures_total",
			"nexsalto_entitlements_open", "nexsalto_customers_in_trouble",
			"nexsalto_reconcile_drift_found_total", "nexsalto_reconcile_drift_repaired_total",
			"nexsalto_nexudus_budget_used", "nexsalto_nexudus_budget_limit",
			"nexsalto_temporal_num_pollers", "nexsalto_temporal_workflow_task_schedule_to_start_latency_seconds",
			"nexsalto_temporal_activity_execution_latency_seconds", "nexsalto_temporal_request_total",
			"go_goroutines", "go_gc_heap_live_bytes", "go_gc_heap_goal_bytes", "process_resident_memory_bytes"} {
			check(now[f] != nil, "no family "+f)
		}
		check(delta(now, "nexsalto_webhooks_total", "action", "BookingCreate", "outcome", "accepted") >= 1,
			"no accepted BookingCreate webhook counted")
		check(delta(now, "nexsalto_webhooks_total", "action", "BookingCreate", "outcome", "bad_signature") == 1,
			"the wrongly signed webhook not counted once as bad_signature")
		check(delta(now, "nexsalto_webhook_signature_failures_total") == 1, "signature failures did not grow by 1")
		adds := delta(now, "nexsalto_vendor_requests_total", "vendor", "salto",
			"operation", "POST /v1.2/sites/{id}/access_groups/{id}/users")
		check(adds >= 2 && adds == float64(s.salto.Calls(addMember)-simAddsBefore),
			"Salto group adds counted differently from what the simulator received")
		check(delta(now, "nexsalto_vendor_requests_total", "vendor", "nexudus") >= 1, "no Nexudus call counted")
		grants := delta(now, "nexsalto_access_lateness_seconds", "change", "grant")
		check(grants >= 2, "fewer than two grant lateness samples (one per group)")
		if grants > 0 {
			late := (now.sum("nexsalto_access_lateness_seconds", "change", "grant") -
				before.sum("nexsalto_access_lateness_seconds", "change", "grant")) / grants
			check(late < 5, "grants more than 5 s late on average")
		}
		check(now.value("nexsalto_entitlements_open", "kind", "booking", "state", "granted") == 1,
			"entitlements_open{booking,granted} is not 1")
		check(now.value("nexsalto_entitlements_open", "kind", "customer", "state", "active") == 1,
			"entitlements_open{customer,active} is not 1")
		check(now.value("nexsalto_customers_in_trouble", "reason", "unmatched") == 1, "unmatched is not 1")
		check(now.value("nexsalto_customers_in_trouble", "reason", "no_seat") == 0, "no_seat is not 0")
		check(delta(now, "nexsalto_reconcile_drift_found_total", "kind", "unmatched_member") == 1,
			"the unmatched member not counted once as drift found")
		check(now.value("nexsalto_nexudus_budget_limit", "window", "calls_minute") == float64(s.cfg.Nexudus.RequestsPerMinute),
			"budget limit is not requests_per_minute")
		check(now.value("nexsalto_nexudus_budget_used", "window", "calls_minute") > 0, "no Nexudus budget used")
		check(now.value("nexsalto_temporal_num_pollers", "task_queue", s.cfg.Temporal.TaskQueue,
			"poller_type", "workflow_task") > 0, "no workflow task poller on the task queue")
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("grant lateness: %.0f samples, %.3f s on average; budget used %v calls in the last minute",
		delta(now, "nexsalto_access_lateness_seconds", "change", "grant"),
		(now.sum("nexsalto_access_lateness_seconds", "change", "grant")-before.sum("nexsalto_access_lateness_seconds", "change", "grant"))/
			max(delta(now, "nexsalto_access_lateness_seconds", "change", "grant"), 1),
		now.value("nexsalto_nexudus_budget_used", "window", "calls_minute"))
}

// With metrics.listen set, /metrics moves to that listener; when Temporal goes away /readyz on both
// listeners says "unavailable" and nothing more, /healthz still "ok", and /metrics keeps answering.
func TestHealthChecksWhileTemporalIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := newStack(t, stackOptions{noWorker: true, noSync: true})
	w := metricsWorker(t, s, "127.0.0.1:0")
	metricsBase := strings.TrimSuffix(w.MetricsURL(), "/metrics")
	hookBase := "http://" + w.WebhookAddr()
	if metricsBase == hookBase {
		t.Fatalf("metrics on %s, want a listener of their own", metricsBase)
	}
	if code, _ := get(t, hookBase+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the webhook listener: %d, want 404 with metrics.listen set", code)
	}
	for _, base := range []string{metricsBase, hookBase} {
		if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ok\n" {
			t.Fatalf("%s/readyz with Temporal up: %d %q", base, code, body)
		}
	}
	if err := s.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "/readyz unavailable", func() bool {
		code, _ := get(t, metricsBase+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	for _, base := range []string{metricsBase, hookBase} {
		if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "unavailable\n" {
			t.Errorf("%s/readyz with Temporal down: %d %q, want 503 \"unavailable\" and nothing else", base, code, body)
		}
		if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s/healthz with Temporal down: %d %q, want 200 \"ok\"", base, code, body)
		}
	}
	if code, _ := get(t, metricsBase+"/metrics"); code != http.StatusOK {
		t.Errorf("/metrics with Temporal down: %d", code)
	}
}

// histogramQuantiles is a histogram's sample count and the upper bounds of the buckets holding its median and
// 99th percentile, over the series whose labels include every pair of want ("+Inf" past the last bound).
func (s scrape) histogramQuantiles(name string, want ...string) (n uint64, p50, p99 string) {
	counts := map[float64]uint64{}
	for _, m := range s.series(name, want...) {
		n += m.GetHistogram().GetSampleCount()
		for _, b := range m.GetHistogram().GetBucket() {
			counts[b.GetUpperBound()] += b.GetCumulativeCount()
		}
	}
	bounds := make([]float64, 0, len(counts))
	for b := range counts {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	at := func(q float64) string {
		for _, b := range bounds {
			if float64(counts[b]) >= q*float64(n) {
				return strconv.FormatFloat(b, 'g', -1, 64) + "s"
			}
		}
		return "+Inf"
	}
	return n, at(0.5), at(0.99)
}
