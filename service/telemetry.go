package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// SetupTracing exports traces over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable)
// is set, using the standard OTEL_* variables for everything else. A webhook, the signal it becomes, the
// workflow, its activities and their HTTP requests to Salto and Nexudus then form one trace. Without an
// endpoint tracing stays a no-op. The returned function flushes and stops the exporter.
func SetupTracing(ctx context.Context, serviceName string) (func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return noop, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res := resource.Default()
	if os.Getenv("OTEL_SERVICE_NAME") == "" { // the operator's name, when given, wins
		if res, err = resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", serviceName))); err != nil {
			return noop, err
		}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

// Log keys of the trace context, the ones the Temporal tracing interceptor gives workflow and activity log
// lines (next to the SDK's WorkflowID and RunID): one search for a trace id finds its lines from the webhook
// receiver to the activities.
const (
	LogTraceID = "TraceID"
	LogSpanID  = "SpanID"
)

// TraceLogHandler adds the trace and span ids of the span in a record's context (logger.InfoContext(ctx, ...))
// to every record that has one. Workflow and activity lines get theirs from the tracing interceptor instead:
// the SDK logs them without a context, so they are never tagged twice.
func TraceLogHandler(h slog.Handler) slog.Handler { return traceLogHandler{h} }

type traceLogHandler struct{ slog.Handler }

func (h traceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone() // the caller's record may share its attributes' storage
		r.AddAttrs(slog.String(LogTraceID, sc.TraceID().String()), slog.String(LogSpanID, sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceLogHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceLogHandler) WithGroup(name string) slog.Handler {
	return traceLogHandler{h.Handler.WithGroup(name)}
}
