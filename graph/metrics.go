package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
)

// OperationCounter counts the operations a handler serves (server.Metrics
// is one). It is called from every request at once, so it must be safe for
// concurrent use, and it must not block: it runs on the request's path.
type OperationCounter interface {
	// GraphQLRequest counts one operation: op is "query", "mutation",
	// "subscription", or "unknown" for a request refused before it named
	// an operation (a syntax error, say); failed: its response carried
	// errors.
	GraphQLRequest(op string, failed bool)
}

// countOperations installs c on srv: queries and mutations are counted by
// their response, so that one refused by a check counts as failed;
// subscriptions once, when they start, not at each event they send.
func countOperations(srv *handler.Server, c OperationCounter) {
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		op := "unknown"
		if graphql.HasOperationContext(ctx) {
			if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
				op = string(oc.Operation.Operation)
			}
		}
		if resp != nil && op != "subscription" {
			c.GraphQLRequest(op, len(resp.Errors) > 0)
		}
		return resp
	})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil && oc.Operation.Operation == "subscription" {
			c.GraphQLRequest("subscription", false)
		}
		return next(ctx)
	})
}
