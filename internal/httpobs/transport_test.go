package httpobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/nexsalto/nexsalto/metrics"
)

const (
	siteID = "0b5e0000-0000-4000-8000-000000000001"
	email  = "ana@example.com"
)

func counterValue(t *testing.T, vendor, op, status string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.VendorRequests.WithLabelValues(vendor, op, status).(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func durationCount(t *testing.T, vendor, op string) uint64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.VendorRequestDuration.WithLabelValues(vendor, op).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// A request made in a span's context is that span's client child, named by its template, carries the trace
// to the server in traceparent, counts into the vendor metrics, and keeps the query and ids out of the span.
func TestTransportSpanPropagationAndMetrics(t *testing.T) {
	gotParent := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotParent <- r.Header.Get("traceparent")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("test").Start(context.Background(), "activity")

	base := &http.Client{Timeout: 7 * time.Second}
	hc := Salto.Client(base)
	if hc.Timeout != base.Timeout || base.Transport != nil {
		t.Fatalf("Client: timeout %s (want %s), base transport %v (want untouched)", hc.Timeout, base.Timeout, base.Transport)
	}
	op := "GET /v1.2/sites/{id}/users"
	before, beforeN := counterValue(t, metrics.VendorSalto, op, "200"), durationCount(t, metrics.VendorSalto, op)
	u := srv.URL + "/v1.2/sites/" + siteID + "/users?$filter=" + url.QueryEscape("email eq '"+email+"'")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	parent.End()

	tpHeader := <-gotParent
	if want := parent.SpanContext().TraceID().String(); !strings.Contains(tpHeader, want) {
		t.Errorf("traceparent %q does not carry trace %s", tpHeader, want)
	}
	if d := counterValue(t, metrics.VendorSalto, op, "200") - before; d != 1 {
		t.Errorf("%s 200 counted %v times, want 1", op, d)
	}
	if d := durationCount(t, metrics.VendorSalto, op) - beforeN; d != 1 {
		t.Errorf("%s latency observed %d times, want 1", op, d)
	}

	var client sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindClient {
			client = s
		}
	}
	if client == nil {
		t.Fatal("no client span")
	}
	if client.Name() != op {
		t.Errorf("span name %q, want %q", client.Name(), op)
	}
	if client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span's parent is %s, want the activity span %s", client.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	if !strings.Contains(tpHeader, client.SpanContext().SpanID().String()) {
		t.Errorf("traceparent %q does not name the client span %s", tpHeader, client.SpanContext().SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range client.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
		for _, secret := range []string{siteID, email, "ana", "filter", "?"} {
			if strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("span attribute %s=%q holds %q", kv.Key, kv.Value.Emit(), secret)
			}
		}
	}
	for k, want := range map[string]string{"service.peer.name": "salto", "url.template": "/v1.2/sites/{id}/users",
		"url.full": srv.URL + "/v1.2/sites/{id}/users", "http.response.status_code": "200", "http.request.method": "GET"} {
		if attrs[k] != want {
			t.Errorf("span attribute %s = %q, want %q", k, attrs[k], want)
		}
	}
}

// A request that gets no answer counts with status "error" and its span says so.
func TestTransportNoAnswer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("test").Start(context.Background(), "activity")
	defer parent.End()

	op := "POST /api/token"
	before := counterValue(t, metrics.VendorNexudus, op, StatusError)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/api/token", strings.NewReader("grant_type=password"))
	if resp, err := Nexudus.Client(nil).Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("a request to a closed port succeeded")
	}
	if d := counterValue(t, metrics.VendorNexudus, op, StatusError) - before; d != 1 {
		t.Errorf("%s error counted %v times, want 1", op, d)
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != op || spans[0].Status().Code != codes.Error {
		t.Fatalf("spans %v, want one %q with an error status", spans, op)
	}
}
