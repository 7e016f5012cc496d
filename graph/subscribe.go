package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/graph/model"
)

// feed starts the goroutine that serves one subscription: it reads events
// from sub, turns those that pick returns ok for into values, and sends them
// on the returned channel, which gqlgen drains. The goroutine ends, closing
// the channel and the store subscription, when ctx ends (the client stopped
// or left), when the store ends sub (a slow subscriber is told why), or when
// pick fails. It never blocks on a send without also watching ctx.
func feed[T any](ctx context.Context, r *Resolver, sub archivist.Subscription,
	pick func(context.Context, archivist.Event) (T, bool, error)) <-chan T {
	out := make(chan T, 1)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-sub.C():
				if !ok {
					if err := sub.Err(); err != nil {
						endSubscription(ctx, r, err)
					}
					return
				}
				v, ok, err := pick(ctx, ev)
				if err != nil {
					endSubscription(ctx, r, err)
					return
				}
				if !ok {
					continue
				}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// endSubscription tells the client why its subscription ends. gqlgen sends
// such an error (as the protocol's error message) once the channel closes.
// It is presented here, as responses are, since gqlgen sends it as it is.
func endSubscription(ctx context.Context, r *Resolver, err error) {
	if ctx.Err() != nil || !overWebsocket(ctx) {
		return
	}
	if f := feedSink(ctx); f != nil {
		// A shared feed's: every subscriber of the feed is told.
		f.report(presentError(r.logger())(ctx, err))
		return
	}
	transport.AddSubscriptionError(ctx, presentError(r.logger())(ctx, err))
}

// subscribe opens a store subscription for new events.
func (r *Resolver) subscribe(ctx context.Context) (archivist.Subscription, error) {
	sub, err := r.events().Subscribe(ctx, 0)
	if err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, errors.New("event source returned no subscription")
	}
	return sub, nil
}

// feedLatest is feed for a subscription whose every value is the whole
// current state of one thing (a workflow): when values come faster than
// the client reads them, a value not yet taken is replaced by the newer
// one, so that a slow client skips intermediate states instead of the
// server computing a response for each. first, if given, is the state
// sent before any event.
func feedLatest[T any](ctx context.Context, r *Resolver, sub archivist.Subscription,
	pick func(context.Context, archivist.Event) (T, bool, error), first ...T) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		defer sub.Close()
		var pending T
		has := false
		if n := len(first); n > 0 {
			pending, has = first[n-1], true
		}
		// flush sends what is pending before the channel closes.
		flush := func() {
			if has {
				select {
				case out <- pending:
				case <-ctx.Done():
				}
			}
		}
		for {
			var send chan T
			if has {
				send = out
			}
			select {
			case <-ctx.Done():
				return
			case send <- pending:
				var zero T
				pending, has = zero, false
			case ev, ok := <-sub.C():
				if !ok {
					flush()
					if err := sub.Err(); err != nil {
						endSubscription(ctx, r, err)
					}
					return
				}
				v, ok, err := pick(ctx, ev)
				if err != nil {
					flush()
					endSubscription(ctx, r, err)
					return
				}
				if ok {
					pending, has = v, true
				}
			}
		}
	}()
	return out
}

// taskWithChanges serves taskUpdated(id, current: true): the task as it is,
// then its changes. The store subscription opens before the read, so a
// change between the two comes as an event; events the read already holds
// (they come first) are dropped, so a client never sees the task go back:
// one whose task is older than the last state sent, or as old and the same
// state (a store's clock may give two changes the same time, as a test's
// does). Like workflowUpdated, a client that reads slower than the task
// changes gets its latest state, not every one in between. It is never
// shared: each subscriber's first state is its own read.
func (r *Resolver) taskWithChanges(ctx context.Context, id string, filter *model.TaskFilter) (<-chan *archivist.Task, error) {
	sub, err := r.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	t, err := r.Store.GetTask(ctx, id)
	if err != nil {
		sub.Close()
		return nil, err
	}
	q := taskFilter(filter)
	last := t
	pick := func(_ context.Context, ev archivist.Event) (*archivist.Task, bool, error) {
		et := ev.Task
		if ev.Kind != archivist.EventTask || et == nil || ev.Type == archivist.EventTaskStaleReport || et.ID != id {
			return nil, false, nil
		}
		if et.UpdatedAt.Before(last.UpdatedAt) || (et.UpdatedAt.Equal(last.UpdatedAt) && sameTaskState(et, last)) {
			return nil, false, nil
		}
		last = et
		return et, q.Matches(et), nil
	}
	if !q.Matches(t) {
		return feedLatest(ctx, r, sub, pick), nil
	}
	return feedLatest(ctx, r, sub, pick, t), nil
}

// sameTaskState reports whether a and b are the same state of a task, as
// far as one change differs from the next.
func sameTaskState(a, b *archivist.Task) bool {
	return a.Status == b.Status && a.Attempt == b.Attempt && a.Failures == b.Failures && a.HeldBy == b.HeldBy && a.Progress == b.Progress &&
		a.ProgressMessage == b.ProgressMessage && a.NodeID == b.NodeID && a.CancelRequested == b.CancelRequested
}
