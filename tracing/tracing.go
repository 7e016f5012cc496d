// Package tracing is Archivist's OpenTelemetry tracing: off by default,
// turned on by the standard OTEL_* environment, and exported over OTLP
// (HTTP, protobuf) to a collector, Jaeger, Tempo or any OTLP backend.
//
// A trace follows a task across the cluster: a GraphQL request that
// carries a W3C traceparent is continued (else it starts a trace); a
// submission stores its span's context with the task (Task.Trace), so the
// leader's placement and each attempt, on whichever node runs it and
// through any store, are spans of the submitter's trace; the handler gets
// the attempt's span in its context, so its own spans nest under it. A
// schedule's tick starts a trace of its own, and a workflow's steps are
// spans of the workflow's submission.
//
// Off, every function here costs one atomic load and returns: no span, no
// allocation.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of Archivist's spans.
const ScopeName = "github.com/rpg-archivist/archivist"

var (
	enabled atomic.Bool
	tracer  atomic.Pointer[trace.Tracer]
	prop    = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
)

// Enabled reports whether tracing is on in this process.
func Enabled() bool { return enabled.Load() }

func get() trace.Tracer {
	if t := tracer.Load(); t != nil {
		return *t
	}
	return noop.NewTracerProvider().Tracer(ScopeName)
}

// Service names the process in its traces' resource, and where the SDK's
// own errors go.
type Service struct {
	Name       string // default: OTEL_SERVICE_NAME, else "archivist"
	Version    string
	InstanceID string // the node's id
	// Logger gets the SDK's errors (an export the collector refused or did
	// not answer), at most one a minute; nil: slog.Default().
	Logger *slog.Logger
}

// Wanted reports whether the environment asks for tracing, and an error
// for a setting this package cannot honour. On: OTEL_TRACES_EXPORTER=otlp,
// or an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) with OTEL_TRACES_EXPORTER unset. Off:
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, and by default.
func Wanted(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	switch exp {
	case "none":
		return false, nil
	case "otlp":
	case "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return false, nil
		}
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: archivist exports traces over otlp only (or none)", exp)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if v != "http/protobuf" {
				return false, fmt.Errorf("%s=%s: archivist sends OTLP over HTTP (http/protobuf, port 4318 on a collector), not %s", name, v, v)
			}
			break
		}
	}
	return true, nil
}

// Setup turns tracing on when the environment asks for it (see Wanted):
// an OTLP/HTTP exporter configured by the OTEL_EXPORTER_OTLP_* variables,
// a batch span processor (OTEL_BSP_*), the sampler of OTEL_TRACES_SAMPLER
// (default: parent-based, always on), the resource of OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES, and the W3C trace-context and baggage
// propagators. It returns the function that flushes and stops it (a no-op
// when off) and whether it is on.
func Setup(ctx context.Context, getenv func(string) string, svc Service) (shutdown func(context.Context) error, on bool, err error) {
	noShutdown := func(context.Context) error { return nil }
	want, err := Wanted(getenv)
	if err != nil || !want {
		return noShutdown, false, err
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return noShutdown, false, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := svc.Name
	if name == "" {
		name = "archivist"
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	if svc.Version != "" {
		attrs = append(attrs, semconv.ServiceVersion(svc.Version))
	}
	if svc.InstanceID != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(svc.InstanceID))
	}
	// The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins
	// over these defaults.
	res, err := resource.Merge(resource.NewSchemaless(attrs...), resource.Environment())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return noShutdown, false, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	log := svc.Logger
	if log == nil {
		log = slog.Default()
	}
	otel.SetErrorHandler(&errorLog{log: log})
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)
	t := tp.Tracer(ScopeName)
	tracer.Store(&t)
	enabled.Store(true)
	return func(ctx context.Context) error {
		enabled.Store(false)
		tracer.Store(nil)
		return tp.Shutdown(ctx)
	}, true, nil
}

// Extract continues the trace of a request's headers (W3C traceparent,
// baggage) in ctx; carrier is, say, propagation.HeaderCarrier(r.Header).
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	if !enabled.Load() {
		return ctx
	}
	return prop.Extract(ctx, carrier)
}

// Start starts a span of ctx's trace (a new trace when it has none).
func Start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return get().Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// Parent is the W3C traceparent of ctx's span, to store with a task
// (Task.Trace); "" when tracing is off or ctx has no span.
func Parent(ctx context.Context) string {
	if !enabled.Load() {
		return ""
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c["traceparent"]
}

// Resume is ctx carrying the span context of a stored traceparent (a
// task's Trace) as its remote parent; ctx as it is when tracing is off or
// traceparent is "" or malformed.
func Resume(ctx context.Context, traceparent string) context.Context {
	if !enabled.Load() || traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// End ends span with err's status (nil: left unset, which is OK).
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Attribute keys of Archivist's spans.
const (
	KeyTaskID     = attribute.Key("archivist.task.id")
	KeyTaskType   = attribute.Key("archivist.task.type")
	KeyAttempt    = attribute.Key("archivist.task.attempt")
	KeyNode       = attribute.Key("archivist.node.id")
	KeyOutcome    = attribute.Key("archivist.task.outcome")
	KeyGroup      = attribute.Key("archivist.task.group")
	KeyWorkflowID = attribute.Key("archivist.workflow.id")
	KeyStepKey    = attribute.Key("archivist.workflow.step")
	KeySchedule   = attribute.Key("archivist.schedule.name")
	KeyOperation  = attribute.Key("graphql.operation.name")
	KeyOpType     = attribute.Key("graphql.operation.type")
)

// LogHandler adds trace_id and span_id to the records logged with a
// context that holds a span (slog's ...Context calls), so that logs and
// traces meet in the same tools. Off, it passes records through as they are.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if enabled.Load() && ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r = r.Clone()
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }

// StartAt starts an internal span of ctx's trace that began at start.
func StartAt(ctx context.Context, name string, start time.Time, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !enabled.Load() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return get().Start(ctx, name, trace.WithTimestamp(start), trace.WithAttributes(attrs...))
}

// Enable turns tracing on with a TracerProvider of the program's own (one
// that embeds Archivist and configures the SDK itself, or a test's), instead
// of Setup's; it returns the function that turns it off again. Archivist's
// spans then go wherever tp sends them.
func Enable(tp trace.TracerProvider) (disable func()) {
	t := tp.Tracer(ScopeName)
	tracer.Store(&t)
	enabled.Store(true)
	return func() {
		enabled.Store(false)
		tracer.Store(nil)
	}
}

// TraceID is the trace id of a W3C traceparent (a task's Trace): its 32
// hex digits, or "" when traceparent is not a valid one.
func TraceID(traceparent string) string {
	// version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2.
	if len(traceparent) < 55 || traceparent[2] != '-' || traceparent[35] != '-' {
		return ""
	}
	id := traceparent[3:35]
	if _, err := trace.TraceIDFromHex(id); err != nil {
		return ""
	}
	return id
}

// errorLog logs the SDK's errors, one a minute at most (a collector that
// is down would otherwise fill the log with one line per batch), saying how
// many it left out.
type errorLog struct {
	log     *slog.Logger
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func (e *errorLog) Handle(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if now := time.Now(); now.Sub(e.last) >= time.Minute {
		e.log.Warn("tracing: spans not exported", "err", err, "errors_not_logged", e.skipped)
		e.last, e.skipped = now, 0
		return
	}
	e.skipped++
}
