package lifecycle

import "context"

// connectionLifetimeKey holds the context whose end closes the long-lived
// connections (WebSockets) opened under it.
type connectionLifetimeKey struct{}

// WithConnectionLifetime marks ctx, a server's base context, as the
// lifetime of the connections served under it that outlive their request
// (a WebSocket): they are closed when ctx ends, not when the request's
// handler returns.
func WithConnectionLifetime(ctx context.Context) context.Context {
	return context.WithValue(ctx, connectionLifetimeKey{}, ctx)
}

// ConnectionLifetime returns the lifetime WithConnectionLifetime set on a
// context ctx derives from, if any.
func ConnectionLifetime(ctx context.Context) (context.Context, bool) {
	life, ok := ctx.Value(connectionLifetimeKey{}).(context.Context)
	return life, ok
}
