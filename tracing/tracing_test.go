package tracing_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rpg-archivist/archivist/tracing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  func(string) string
		want bool
		err  string
	}{
		{"nothing set: off", env(), false, ""},
		{"an endpoint: on", env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), true, ""},
		{"a traces endpoint: on", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"), true, ""},
		{"otlp asked: on", env("OTEL_TRACES_EXPORTER", "otlp"), true, ""},
		{"none wins", env("OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4318"), false, ""},
		{"SDK disabled wins", env("OTEL_SDK_DISABLED", "TRUE", "OTEL_TRACES_EXPORTER", "otlp"), false, ""},
		{"an exporter it lacks", env("OTEL_TRACES_EXPORTER", "zipkin"), false, "OTEL_TRACES_EXPORTER=zipkin"},
		{"grpc refused", env("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), false, "http/protobuf"},
		{"the traces protocol first", env("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf",
			"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), true, ""},
	} {
		got, err := tracing.Wanted(tc.env)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Wanted = %v, %v; want %v, error with %q", tc.name, got, err, tc.want, tc.err)
		}
	}
}

func TestTraceID(t *testing.T) {
	for in, want := range map[string]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01": "4bf92f3577b34da6a3ce929d0e0e4736",
		"": "", "garbage": "",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01": "", // the invalid all-zero id
		"00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01": "",
	} {
		if got := tracing.TraceID(in); got != want {
			t.Errorf("TraceID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOff: with tracing off nothing is stored with a task, and a stored
// trace is not resumed.
func TestOff(t *testing.T) {
	if tracing.Enabled() {
		t.Fatal("on without Setup or Enable")
	}
	ctx, span := tracing.Start(context.Background(), "x", 0)
	span.End()
	if p := tracing.Parent(ctx); p != "" {
		t.Errorf("Parent = %q with tracing off", p)
	}
	if ctx := tracing.Resume(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); tracing.Parent(ctx) != "" {
		t.Error("Resume took a trace with tracing off")
	}
}

// TestParentAndLogs: a span's traceparent round-trips through Resume, and
// logs made in its context carry its trace and span ids.
func TestParentAndLogs(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	defer tracing.Enable(tp)()

	ctx, span := tracing.Start(context.Background(), "submit", 0)
	defer span.End()
	parent := tracing.Parent(ctx)
	sc := span.SpanContext()
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; parent != want {
		t.Fatalf("Parent = %q, want %q", parent, want)
	}
	child, cspan := tracing.Start(tracing.Resume(context.Background(), parent), "run", 0)
	defer cspan.End()
	if cspan.SpanContext().TraceID() != sc.TraceID() {
		t.Error("a span resumed from the traceparent is in another trace")
	}

	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewTextHandler(&buf, nil)))
	log.InfoContext(child, "in a trace")
	log.Info("no context")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "trace_id="+sc.TraceID().String()) ||
		!strings.Contains(lines[0], "span_id="+cspan.SpanContext().SpanID().String()) || strings.Contains(lines[1], "trace_id") {
		t.Errorf("logs:\n%s", buf.String())
	}
}
