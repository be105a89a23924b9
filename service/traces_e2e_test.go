package service_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/nexsalto/nexsalto/access"
	"github.com/nexsalto/nexsalto/config"
	"github.com/nexsalto/nexsalto/internal/logbuf"
	"github.com/nexsalto/nexsalto/metrics"
	"github.com/nexsalto/nexsalto/nexudus"
	"github.com/nexsalto/nexsalto/service"
)

// wireLog records the traceparent header of every request a vendor received.
type wireLog struct {
	mu   sync.Mutex
	seen map[string][]string // vendor → traceparent headers
}

func (w *wireLog) record(vendor string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		if w.seen == nil {
			w.seen = map[string][]string{}
		}
		w.seen[vendor] = append(w.seen[vendor], r.Header.Get("traceparent"))
		w.mu.Unlock()
		next.ServeHTTP(rw, r)
	})
}

// carried reports whether the vendor received a request of the trace.
func (w *wireLog) carried(vendor string, tid trace.TraceID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.seen[vendor] {
		if strings.Contains(h, "-"+tid.String()+"-") {
			return true
		}
	}
	return false
}

// operationLabel is what every vendor metric's operation must look like: a method and a path of API words
// and {id} only.
var operationLabel = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|OTHER) (/|(/([a-z_]+|v[0-9]+\.[0-9]+|\{id\}))+)$`)

// One trace from the webhook to the wire: a signed booking webhook's span, the entitlement workflow it starts,
// the customer workflow that workflow's activity starts, their activities, and the HTTP requests those send
// to Nexudus and Salto (the OAuth token request included), each a client span of its activity's span with
// the trace id in the traceparent header the vendor receives. Log lines of the webhook, the workflows and the
// activities carry the trace id; spans and metric labels carry no id or e-mail address.
func TestWebhookTraceReachesTheVendorRequests(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp) // before the client is dialled: its tracing interceptor takes the global tracer
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})
	var wire wireLog
	e := newEnv(t, envOptions{lead: time.Second, lag: time.Second, policy: config.PolicyKeep, noWorker: true,
		noWebhooks: true, noSync: true, saltoHandler: func(h http.Handler) http.Handler { return wire.record("salto", h) }})
	// Nexudus behind a recording proxy: what reaches the simulator is what left the worker.
	target, err := url.Parse(e.cfg.Nexudus.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(wire.record("nexudus", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)
	e.cfg.Nexudus.BaseURL = proxy.URL

	// The worker as production dials it (DialTemporal: tracing interceptor, encryption) and logs as the
	// worker command does, as JSON.
	logs := &logbuf.Buffer{}
	e.logger = slog.New(service.TraceLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	tc, err := service.DialTemporal(e.ctx, e.cfg.Temporal, e.logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	e.tc = tc
	e.startWorker()
	t.Cleanup(e.stopWorker)

	id, err := e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: roomID, CoworkerId: 100,
		FromTime: at(time.Now().Add(-time.Minute)), ToTime: at(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.nx.GetBooking(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	e.postWebhook(nexudus.ActionBookingCreate, b, hookSecret, "")
	e.eventually("ana in the room", 30*time.Second, func() bool { return e.inGroup(ana, gRoom) })

	var hook sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "webhook "+nexudus.ActionBookingCreate.String() {
			hook = s
		}
	}
	if hook == nil {
		t.Fatal("no webhook span")
	}
	tid := hook.SpanContext().TraceID()
	// The trace's spans, open ones too: the workflows' own spans end only when the workflows do.
	inTrace := func() map[trace.SpanID]sdktrace.ReadOnlySpan {
		m := map[trace.SpanID]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Started() {
			if s.SpanContext().TraceID() == tid {
				m[s.SpanContext().SpanID()] = s
			}
		}
		return m
	}
	// HTTP client spans are checked once ended (all their attributes set).
	vendorSpans := func(spans map[trace.SpanID]sdktrace.ReadOnlySpan, vendor string) (ops []string) {
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindClient && attr(s, "service.peer.name") == vendor && !s.EndTime().IsZero() {
				ops = append(ops, s.Name())
			}
		}
		return ops
	}
	want := map[string][]string{
		metrics.VendorSalto:   {"POST /connect/token", "POST /v1.2/sites/{id}/access_groups/{id}/users"},
		metrics.VendorNexudus: {"GET /api/spaces/coworkers/{id}"},
	}
	var spans map[trace.SpanID]sdktrace.ReadOnlySpan
	// A client span ends once its body is read: moments after the call's effect is visible.
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans = inTrace()
		missing := false
		for vendor, ops := range want {
			for _, op := range ops {
				if !slices.Contains(vendorSpans(spans, vendor), op) {
					missing = true
				}
			}
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s lacks some of %v; it holds:\n%s", tid, want, dumpSpans(spans))
		}
		time.Sleep(50 * time.Millisecond)
	}

	secrets := []string{site, gRoom, gEntrance, ana, e.platformID(ana), "?", "@"}
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient || attr(s, "service.peer.name") == "" || s.EndTime().IsZero() {
			continue
		}
		// The activity's span is the parent, and the webhook's is an ancestor.
		parent, ok := spans[s.Parent().SpanID()]
		if !ok || !strings.HasPrefix(parent.Name(), "RunActivity:") {
			t.Errorf("%s: parent %v is not an activity's span", s.Name(), parent)
		}
		if !descends(spans, s, hook.SpanContext().SpanID()) {
			t.Errorf("%s does not descend from the webhook's span", s.Name())
		}
		tmpl := attr(s, "url.template")
		if s.Name() != attr(s, "http.request.method")+" "+tmpl || !operationLabel.MatchString(s.Name()) {
			t.Errorf("span %q, url.template %q", s.Name(), tmpl)
		}
		for _, kv := range s.Attributes() {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(kv.Value.Emit(), secret) {
					t.Errorf("%s: attribute %s=%q holds %q", s.Name(), kv.Key, kv.Value.Emit(), secret)
				}
			}
		}
	}
	for _, vendor := range []string{metrics.VendorSalto, metrics.VendorNexudus} {
		if !wire.carried(vendor, tid) {
			t.Errorf("no request %s received carries trace %s in traceparent", vendor, tid)
		}
	}

	// Metrics: the calls counted, by templates only.
	counted := map[string]float64{}
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "nexsalto_vendor_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if !operationLabel.MatchString(l["operation"]) {
				t.Errorf("operation label %q", l["operation"])
			}
			counted[l["vendor"]+" "+l["operation"]] += m.GetCounter().GetValue()
		}
	}
	for vendor, ops := range want {
		for _, op := range ops {
			if counted[vendor+" "+op] == 0 {
				t.Errorf("%s %s not counted in nexsalto_vendor_requests_total", vendor, op)
			}
		}
	}

	// Logs: the webhook's line, a workflow's and an activity's, each with the trace id.
	var hookLine, workflowLine, activityLine bool
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil || l[service.LogTraceID] != tid.String() || l[service.LogSpanID] == "" {
			continue
		}
		switch {
		case l["msg"] == "webhook":
			hookLine = true
		case l["ActivityType"] != nil && l["WorkflowID"] != nil && l["RunID"] != nil:
			activityLine = true
		case l["WorkflowID"] != nil && l["RunID"] != nil:
			workflowLine = true
		}
	}
	if !hookLine || !workflowLine || !activityLine {
		t.Errorf("log lines with trace %s: webhook %v, workflow %v, activity %v", tid, hookLine, workflowLine, activityLine)
	}

	// A second booking of the same customer: its webhook's trace reaches the signal the customer workflow,
	// started by the first, handles; the Salto request that signal leads to is a child of that workflow's own
	// span, in the first trace (an activity's parent is the span of the workflow that runs it).
	second := time.Now()
	id, err = e.nx.CreateBooking(e.ctx, nexudus.Booking{ResourceId: boothID, CoworkerId: 100,
		FromTime: at(time.Now().Add(-time.Minute)), ToTime: at(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if b, err = e.nx.GetBooking(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.postWebhook(nexudus.ActionBookingCreate, b, hookSecret, "")
	e.eventually("ana in the booth", 30*time.Second, func() bool { return e.inGroup(ana, gBooth) })
	var hook2, grant2, add2 sdktrace.ReadOnlySpan
	e.eventually("the second booking's spans", 5*time.Second, func() bool {
		for _, s := range rec.Ended() {
			switch {
			case s.StartTime().Before(second):
			case s.Name() == hook.Name():
				hook2 = s
			case s.Name() == "HandleSignal:"+access.SignalGrant:
				grant2 = s
			case s.Name() == "POST /v1.2/sites/{id}/access_groups/{id}/users":
				add2 = s
			}
		}
		return hook2 != nil && grant2 != nil && add2 != nil
	})
	tid2 := hook2.SpanContext().TraceID()
	if tid2 == tid || grant2.SpanContext().TraceID() != tid2 {
		t.Errorf("second webhook's trace %s, its grant signal's %s (first trace %s)", tid2,
			grant2.SpanContext().TraceID(), tid)
	}
	if got := add2.SpanContext().TraceID(); got != tid {
		t.Errorf("the second grant's Salto request is in trace %s, want the customer workflow's (%s)", got, tid)
	}
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// descends reports whether ancestor is on s's chain of parents.
func descends(spans map[trace.SpanID]sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan, ancestor trace.SpanID) bool {
	for range len(spans) {
		p := s.Parent().SpanID()
		if p == ancestor {
			return true
		}
		var ok bool
		if s, ok = spans[p]; !ok {
			return false
		}
	}
	return false
}

func dumpSpans(spans map[trace.SpanID]sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	for id, s := range spans {
		b.WriteString("  " + id.String() + " ← " + s.Parent().SpanID().String() + "  " + s.Name() + "\n")
	}
	return b.String()
}
