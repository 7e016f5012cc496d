package graph_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rpg-archivist/archivist/tracing"
)

// TestOperationSpanOverWebSocket: an operation over a WebSocket continues
// the trace of its extensions.traceparent (a browser cannot set the
// upgrade's headers), and the task it submits keeps that trace. Not
// parallel: tracing is on for the whole process.
func TestOperationSpanOverWebSocket(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	defer tracing.Enable(tp)()

	e := setup(t)
	c := e.dial(t, protoTransportWS)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	c.subscribeExt("1", `mutation Traced { submitTask(input: {type: "echo"}) { id traceId } }`, nil, map[string]any{"traceparent": parent})
	type submitted struct {
		SubmitTask struct {
			ID      string
			TraceID *string
		}
	}
	out := decodeNext[submitted](t, c.next("1"))
	if out.SubmitTask.TraceID == nil || *out.SubmitTask.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("traceId %v, want the client's trace", out.SubmitTask.TraceID)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range rec.Ended() {
			if s.Name() == "graphql mutation Traced" {
				if s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
					t.Errorf("the operation's parent is %s, want the client's span", s.Parent().SpanID())
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no span of the operation")
}
