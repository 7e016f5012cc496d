package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/rpg-archivist/archivist"
)

// feed starts the goroutine that serves one subscription: it reads events
// from sub, turns those that pick returns ok for into values, and sends them
// on the returned channel, which gqlgen drains. The goroutine ends, closing
// the channel and the store subscription, when ctx ends (the client stopped
// or left), when the store ends sub (a slow subscriber is told why), or when
// pick fails. It never blocks on a send without also watching ctx. The
// values in first, if any, are sent before any event (a subscription's
// current state).
func feed[T any](ctx context.Context, r *Resolver, sub archivist.Subscription,
	pick func(context.Context, archivist.Event) (T, bool, error), first ...T) <-chan T {
	out := make(chan T, 1)
	go func() {
		defer close(out)
		defer sub.Close()
		for _, v := range first {
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
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
