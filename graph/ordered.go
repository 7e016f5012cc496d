package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Operations on one WebSocket start in the order they were sent: a
// subscription is open (its resolver has run, so its store subscription is
// open or its shared feed joined, and it gets every change made from then
// on) before the connection's next operation begins. gqlgen's transport
// reads a message, checks its operation, and runs it on a goroutine of its
// own, so without this a query sent after a subscription could be answered
// before the subscription was open.
//
// This is what lets a client read state without missing a change: after
// (re)subscribing, it sends a query over the same socket and reads (over
// HTTP or the socket) once that is answered. Every change after its read
// comes through its subscriptions; every change before, in what it read.
// The TypeScript client's opened() does this, and its watches and the
// dashboard wait for it before they read again after a reconnection.

// maxOpenWait bounds how long an operation waits for the subscriptions
// before it to open: a resolver stuck on an unreachable store does not
// stall its connection for longer (the order is then not kept).
var maxOpenWait = 5 * time.Second

// orderedExecutor is the executor of one WebSocket connection (see above).
type orderedExecutor struct {
	graphql.GraphExecutor

	mu sync.Mutex
	// opening holds the subscriptions created on this connection whose
	// resolver has not returned yet; each channel is closed when it has.
	opening map[*graphql.OperationContext]chan struct{}
}

func newOrderedExecutor(exec graphql.GraphExecutor) *orderedExecutor {
	return &orderedExecutor{GraphExecutor: exec, opening: map[*graphql.OperationContext]chan struct{}{}}
}

// CreateOperationContext is called on the connection's read loop, in the
// order of the messages: it waits for the subscriptions before to open.
func (e *orderedExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	e.waitOpen(ctx)
	var op *graphql.OperationContext
	var errs gqlerror.List
	onFreshStack(func() { op, errs = e.GraphExecutor.CreateOperationContext(ctx, params) })
	if len(errs) == 0 && op != nil && op.Operation != nil && op.Operation.Operation == ast.Subscription {
		e.mu.Lock()
		e.opening[op] = make(chan struct{})
		e.mu.Unlock()
	}
	return op, errs
}

// DispatchOperation runs on the operation's own goroutine. For a
// subscription, gqlgen's executor runs the root field's resolver before it
// returns: the subscription is open (or refused) then.
func (e *orderedExecutor) DispatchOperation(ctx context.Context, op *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	defer e.opened(op)
	var h graphql.ResponseHandler
	var hctx context.Context
	onFreshStack(func() { h, hctx = e.GraphExecutor.DispatchOperation(ctx, op) })
	return h, hctx
}

// onFreshStack runs f on a goroutine of its own and waits for it; a panic
// of f goes on in the caller. The connection's read loop and each
// subscription's goroutine live as long as they do; the stack that
// parsing, validating and starting an operation grows is let go with the
// goroutine that did it, rather than kept by them (Go shrinks a stack
// only to half at each collection, and only when a quarter is in use).
func onFreshStack(f func()) {
	done := make(chan struct{})
	var p any
	panicked := true
	go func() {
		defer close(done)
		defer func() {
			if panicked {
				p = recover()
			}
		}()
		f()
		panicked = false
	}()
	<-done
	if panicked {
		panic(p)
	}
}

func (e *orderedExecutor) opened(op *graphql.OperationContext) {
	e.mu.Lock()
	ch := e.opening[op]
	delete(e.opening, op)
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitOpen waits until every subscription created so far has opened, ctx
// ends, or maxOpenWait has passed.
func (e *orderedExecutor) waitOpen(ctx context.Context) {
	e.mu.Lock()
	if len(e.opening) == 0 {
		e.mu.Unlock()
		return
	}
	waits := make([]chan struct{}, 0, len(e.opening))
	for _, ch := range e.opening {
		waits = append(waits, ch)
	}
	e.mu.Unlock()
	timer := time.NewTimer(maxOpenWait)
	defer timer.Stop()
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		}
	}
}
