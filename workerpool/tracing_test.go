package workerpool_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/tracing"
)

// TestAttemptSpan: with tracing on, an attempt is a span of its task's
// trace (Task.Trace) with the task's id, type, attempt, node and outcome,
// and the handler's context holds it, so the handler's own spans nest
// under it. Not parallel: tracing is on for the whole process.
func TestAttemptSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	defer tracing.Enable(tp)()

	b := setup(t)
	b.reg.Register("traced.work", archivist.HandlerFunc(func(ctx context.Context, job *archivist.Job) (json.RawMessage, error) {
		_, span := tp.Tracer("handler").Start(ctx, "own work")
		span.End()
		return json.RawMessage(`"ok"`), nil
	}))
	b.start(t)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ids := b.submit(t, newTask("traced.work", `{}`, func(t *archivist.Task) { t.Trace = parent }))
	b.waitStatus(t, ids[0], 10*time.Second, archivist.TaskCompleted)

	var run, own sdktrace.ReadOnlySpan
	deadline := time.Now().Add(10 * time.Second)
	for run == nil && time.Now().Before(deadline) { // the attempt's span ends after its report
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "run traced.work":
				run = s
			case "own work":
				own = s
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if run == nil || own == nil {
		t.Fatalf("spans: run %v, own %v", run, own)
	}
	if got := run.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the attempt's trace is %s, want the task's", got)
	}
	if got := run.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !run.Parent().IsRemote() {
		t.Errorf("the attempt's parent is %s (remote %v), want the submission's span", got, run.Parent().IsRemote())
	}
	if run.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kind %s", run.SpanKind())
	}
	want := map[attribute.Key]string{
		tracing.KeyTaskID: ids[0], tracing.KeyTaskType: "traced.work", tracing.KeyNode: nodeID, tracing.KeyOutcome: "completed",
	}
	got := map[attribute.Key]string{}
	for _, kv := range run.Attributes() {
		got[kv.Key] = kv.Value.Emit()
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}
	if got[tracing.KeyAttempt] != "1" {
		t.Errorf("attempt %q", got[tracing.KeyAttempt])
	}
	if own.Parent().SpanID() != run.SpanContext().SpanID() {
		t.Errorf("the handler's span is not a child of the attempt's")
	}
}
