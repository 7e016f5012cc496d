package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
)

// Shared subscriptions. A thousand dashboards subscribed to taskUpdated ask
// the node for the same thing a thousand times: the same document, the same
// variables, the same role. Such subscriptions share one feed: one store
// subscription, whose events are resolved, executed against the selection
// and encoded once, by a bare executor of the same schema; every subscriber
// reads the encoded responses from the feed. Each subscriber still
// goes through every check an operation goes through (role, limits, cost, its
// connection's subscription count) and its resolver still checks its
// arguments (a task id that does not exist is refused to that subscriber);
// only then does it join the feed instead of opening its own store
// subscription. The feed keeps its recent responses in a buffer all its
// subscribers read, each at its own position; one that falls
// subscriberLag responses behind (as many as the store lets a subscriber
// lag) is ended as the store ends a slow subscriber
// (archivist.ErrSlowSubscriber); the feed and the others go on. An error that ends the feed (the store
// ended its subscription) ends every subscriber with that error.
//
// Only subscriptions whose every response depends on nothing but the event
// and the operation are shared: those that start from a snapshot of their
// own (workflowUpdated sends the workflow as it is first, scheduleUpdated
// keeps the schedules it last sent) are not.

// sharedFields are the root subscription fields that can be shared.
var sharedFields = map[string]bool{
	"taskUpdated":   true,
	"nodeUpdated":   true,
	"configUpdated": true,
	"alertUpdated":  true,
}

// subscriberLag is how many responses a shared subscriber may lag behind
// its feed before it is ended as too slow (store.Options.SubscriberBuffer's
// default: the store's bus allows as many events).
const subscriberLag = 4096

// shareHub holds the feeds of one handler, by key.
type shareHub struct {
	exec   *executor.Executor
	logger *slog.Logger

	mu    sync.Mutex
	feeds map[string]*sharedFeed
}

func newShareHub(es graphql.ExecutableSchema, r *Resolver, logger *slog.Logger) *shareHub {
	exec := executor.New(es)
	exec.SetErrorPresenter(presentError(logger))
	exec.SetRecoverFunc(recoverPanic(logger))
	exec.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(r.withLookups(ctx))
	})
	return &shareHub{exec: exec, logger: logger, feeds: map[string]*sharedFeed{}}
}

// feeds returns the number of feeds running (for tests).
func (h *shareHub) running() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.feeds)
}

// sharedFeed is one feed and its subscribers.
type sharedFeed struct {
	hub *shareHub
	key string

	mu      sync.Mutex
	members map[*shareMember]struct{}
	started bool
	// stopped: its subscription is cancelled and it takes no new
	// subscriber; ended: it gives no more responses.
	stopped bool
	ended   bool
	cancel  context.CancelFunc
	// errs are the errors the feed's resolver reported as it ended; endErrs
	// those that ended it (set with ended).
	errs    gqlerror.List
	endErrs gqlerror.List
	// buf holds the recent responses: buf[0] is the one at position base;
	// pos is base+len(buf), the position of the next one. It grows to
	// 2×subscriberLag at most, then keeps its last subscriberLag.
	buf  []*graphql.Response
	base uint64
	// wake is closed when a response is added or the feed ends, and
	// replaced: subscribers waiting for the next response wait on it.
	wake chan struct{}
}

// shareMember is one subscriber of a feed.
type shareMember struct {
	feed *sharedFeed
	// next is the position of the next response it takes (used by its
	// subscription's goroutine only, under the feed's lock).
	next uint64
}

// shareSlot is what the shareSubscriptions interceptor puts in a
// subscription's context: the hub, and the membership its resolver takes.
type shareSlot struct {
	hub    *shareHub
	member *shareMember
}

type shareSlotKey struct{}

// feedSinkKey marks a feed's own context: errors its resolver reports
// (endSubscription) go to the feed, not to a transport.
type feedSinkKey struct{}

// shareSubscriptions is the operation interceptor that lets a shareable
// subscription's resolver join a feed, and the response interceptor that
// serves a joined subscriber from its feed. It must be the innermost
// response interceptor, and come after every check of the operation.
type shareSubscriptions struct{ hub *shareHub }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = shareSubscriptions{}

func (shareSubscriptions) ExtensionName() string { return "SharedSubscriptions" }

func (shareSubscriptions) Validate(graphql.ExecutableSchema) error { return nil }

func (s shareSubscriptions) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if overWebsocket(ctx) && graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx); op.Operation != nil && op.Operation.Operation == ast.Subscription {
			ctx = context.WithValue(ctx, shareSlotKey{}, &shareSlot{hub: s.hub})
		}
	}
	return next(ctx)
}

func (shareSubscriptions) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	slot, _ := ctx.Value(shareSlotKey{}).(*shareSlot)
	if slot == nil || slot.member == nil {
		return next(ctx)
	}
	resp, errs := slot.member.take(ctx)
	if resp == nil {
		if ctx.Err() == nil {
			for _, err := range errs {
				transport.AddSubscriptionError(ctx, err)
			}
		}
		return nil
	}
	// The executor and the interceptors around may set fields of the
	// response: each subscriber gets its own, sharing the encoded data.
	c := *resp
	return &c
}

// take waits for the subscriber's next response: nil when ctx ends or the
// feed ends (with the errors that ended it), or when the subscriber fell
// too far behind (with the error that says so; it leaves the feed).
func (m *shareMember) take(ctx context.Context) (*graphql.Response, gqlerror.List) {
	f := m.feed
	for {
		f.mu.Lock()
		pos := f.base + uint64(len(f.buf))
		switch {
		case m.next < f.base || pos-m.next > subscriberLag:
			f.mu.Unlock()
			m.leave()
			return nil, gqlerror.List{presentError(f.hub.logger)(ctx, archivist.ErrSlowSubscriber)}
		case m.next < pos:
			resp := f.buf[m.next-f.base]
			m.next++
			f.mu.Unlock()
			return resp, nil
		case f.ended:
			errs := f.endErrs
			f.mu.Unlock()
			return nil, errs
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// joinShared makes the subscription of ctx a subscriber of the feed for its
// operation, starting the feed if it is the first, and reports whether it
// did: its resolver then returns no channel of its own (gqlgen never reads
// it; the responses come from the feed). It reports false for a
// subscription that cannot be shared, or when the feed could not start.
func joinShared(ctx context.Context) bool {
	slot, _ := ctx.Value(shareSlotKey{}).(*shareSlot)
	if slot == nil || slot.member != nil || !graphql.HasOperationContext(ctx) {
		return false
	}
	op := graphql.GetOperationContext(ctx)
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !sharedFields[fc.Field.Name] || len(op.Operation.SelectionSet) != 1 {
		return false
	}
	key, ok := shareKey(ctx, op)
	if !ok {
		return false
	}
	m := slot.hub.join(ctx, key, op)
	if m == nil {
		return false
	}
	slot.member = m
	context.AfterFunc(ctx, m.leave)
	return true
}

// shareKey is what subscriptions that may share a feed have in common: the
// caller's role, the operation's name, its document and its variables.
func shareKey(ctx context.Context, op *graphql.OperationContext) (string, bool) {
	vars, err := json.Marshal(op.Variables) // maps are encoded sorted: one text per value
	if err != nil {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(op.RawQuery) + len(vars) + len(op.OperationName) + 8)
	b.WriteString(auth.From(ctx).Role.String())
	b.WriteByte(0)
	b.WriteString(op.OperationName)
	b.WriteByte(0)
	b.Write(vars)
	b.WriteByte(0)
	b.WriteString(op.RawQuery)
	return b.String(), true
}

// join adds a subscriber to the feed of key, starting it from ctx and op
// when it is new. Locks: the hub's, then a feed's.
func (h *shareHub) join(ctx context.Context, key string, op *graphql.OperationContext) *shareMember {
	h.mu.Lock()
	f := h.feeds[key]
	if f != nil {
		f.mu.Lock()
		if f.stopped { // stopping: its successor starts now
			f.mu.Unlock()
			f = nil
		}
	}
	if f == nil {
		f = &sharedFeed{hub: h, key: key, members: map[*shareMember]struct{}{}}
		h.feeds[key] = f
		f.mu.Lock()
	}
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	m := &shareMember{feed: f, next: f.base + uint64(len(f.buf))}
	f.members[m] = struct{}{}
	h.mu.Unlock()
	defer f.mu.Unlock()
	if !f.started {
		f.started = true
		f.start(ctx, op)
	}
	return m
}

// start runs the feed's own subscription, from the first subscriber's
// context (its role and connection values, not its lifetime) and
// operation, until its last subscriber leaves. Called with f.mu held.
func (f *sharedFeed) start(ctx context.Context, op *graphql.OperationContext) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	fctx = context.WithValue(fctx, shareSlotKey{}, (*shareSlot)(nil))
	fctx = context.WithValue(fctx, feedSinkKey{}, f)
	fop := &graphql.OperationContext{
		RawQuery: op.RawQuery, Variables: op.Variables, OperationName: op.OperationName, Doc: op.Doc,
		Extensions: op.Extensions, Headers: op.Headers, Operation: op.Operation,
		DisableIntrospection: op.DisableIntrospection, RecoverFunc: op.RecoverFunc,
		ResolverMiddleware: op.ResolverMiddleware, RootResolverMiddleware: op.RootResolverMiddleware,
		Stats: op.Stats,
	}
	responses, rctx := f.hub.exec.DispatchOperation(fctx, fop)
	go f.run(rctx, responses)
}

// run executes the feed's responses and hands each to every subscriber.
func (f *sharedFeed) run(ctx context.Context, responses graphql.ResponseHandler) {
	var endErrs gqlerror.List
	defer func() {
		if r := recover(); r != nil {
			f.hub.logger.Error("graphql: shared subscription feed panicked", "panic", r)
			endErrs = gqlerror.List{presentError(f.hub.logger)(ctx, archivist.Errorf(archivist.CodeInternal, "the subscription's feed failed"))}
		}
		f.end(endErrs)
	}()
	for {
		resp := responses(ctx)
		if resp == nil {
			return
		}
		if resp.Data == nil && len(resp.Errors) > 0 {
			endErrs = resp.Errors
			return
		}
		// The schema's executor reuses its buffer for the next response.
		shared := &graphql.Response{Data: bytes.Clone(resp.Data), Errors: resp.Errors}
		f.broadcast(shared)
	}
}

// broadcast adds resp for every subscriber, and wakes those waiting.
func (f *sharedFeed) broadcast(resp *graphql.Response) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) == 2*subscriberLag {
		// Keep the last subscriberLag: a subscriber behind those is too
		// slow anyway.
		n := copy(f.buf, f.buf[subscriberLag:])
		clear(f.buf[n:])
		f.buf = f.buf[:n]
		f.base += subscriberLag
	}
	f.buf = append(f.buf, resp)
	close(f.wake)
	f.wake = make(chan struct{})
}

// report records an error the feed's resolver gives as it ends.
func (f *sharedFeed) report(err *gqlerror.Error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// end ends the feed for its subscribers, with the errors that ended it
// (they take the responses before them first), and forgets the feed.
func (f *sharedFeed) end(errs gqlerror.List) {
	f.mu.Lock()
	f.endErrs = append(errs, f.errs...)
	f.ended = true
	f.stopLocked()
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

// stopLocked stops the feed's subscription and takes the feed out of the
// hub, so that the next subscriber starts a new one. Called with f.mu held.
func (f *sharedFeed) stopLocked() {
	if f.stopped {
		return
	}
	f.stopped = true
	if f.cancel != nil {
		f.cancel()
	}
	h := f.hub
	go func() {
		h.mu.Lock()
		if h.feeds[f.key] == f {
			delete(h.feeds, f.key)
		}
		h.mu.Unlock()
	}()
}

// leave takes a subscriber out of its feed (its subscription ended); the
// last one stops the feed.
func (m *shareMember) leave() {
	f := m.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.members[m]; !ok {
		return
	}
	delete(f.members, m)
	if len(f.members) == 0 {
		f.stopLocked()
	}
}

// feedSink returns the feed whose own context ctx is, if any.
func feedSink(ctx context.Context) *sharedFeed {
	f, _ := ctx.Value(feedSinkKey{}).(*sharedFeed)
	return f
}
