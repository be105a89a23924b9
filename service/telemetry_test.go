package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/nexsalto/nexsalto/service"
)

// A line logged with a span's context carries its trace and span ids; one without, and one logged the way
// the Temporal SDK logs (no context), carries none.
func TestTraceLogHandler(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(service.TraceLogHandler(slog.NewJSONHandler(&buf, nil))).With("Component", "test")
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("test").Start(context.Background(), "webhook")
	defer span.End()

	logger.InfoContext(ctx, "with span")
	logger.Info("without")
	logger.InfoContext(context.Background(), "background")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	for i, line := range lines {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l["Component"] != "test" {
			t.Errorf("line %d lost the logger's attributes: %s", i, line)
		}
		tid, sid := l[service.LogTraceID], l[service.LogSpanID]
		if i == 0 && (tid != span.SpanContext().TraceID().String() || sid != span.SpanContext().SpanID().String()) {
			t.Errorf("line with a span: %s", line)
		}
		if i > 0 && (tid != nil || sid != nil) {
			t.Errorf("line without a span has trace ids: %s", line)
		}
	}
}
