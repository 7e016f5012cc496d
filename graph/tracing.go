package graph

import (
	"context"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpg-archivist/archivist/tracing"
)

// traceOperations makes each operation a span (with tracing on): "graphql
// mutation SubmitTask", say, continuing the trace of the operation's
// extensions.traceparent when it has one (how a client over a WebSocket,
// whose headers a browser cannot set, passes its trace), else of the
// request's W3C traceparent header. A query's or mutation's span ends
// with its response; a subscription's covers its start (its events are
// the spans of what changed). Resolvers run in the span, so a submission
// stores it with its tasks.
type traceOperations struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = traceOperations{}

func (traceOperations) ExtensionName() string { return "Tracing" }

func (traceOperations) Validate(graphql.ExecutableSchema) error { return nil }

func (traceOperations) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if !tracing.Enabled() || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx)
	if tp, ok := op.Extensions["traceparent"].(string); ok && tp != "" {
		ctx = tracing.Resume(ctx, tp)
	} else if op.Headers != nil {
		ctx = tracing.Extract(ctx, propagation.HeaderCarrier(http.Header(op.Headers)))
	}
	typ, opName := "operation", op.OperationName
	if op.Operation != nil {
		typ = string(op.Operation.Operation)
		if opName == "" {
			opName = op.Operation.Name
		}
	}
	name := "graphql " + typ
	if opName != "" {
		name += " " + opName
	}
	ctx, span := tracing.Start(ctx, name, trace.SpanKindServer,
		tracing.KeyOpType.String(typ), tracing.KeyOperation.String(opName))
	rh := next(ctx)
	if typ == "subscription" {
		span.End()
		return rh
	}
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := rh(ctx)
		once.Do(func() {
			if resp != nil && len(resp.Errors) > 0 {
				tracing.End(span, resp.Errors)
				return
			}
			span.End()
		})
		return resp
	}
}
