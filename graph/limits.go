package graph

import (
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist/auth"
)

// Defaults of the HandlerOptions limits.
const (
	DefaultMaxWebsockets                 = 1000
	DefaultMaxSubscriptionsPerConnection = 100
	DefaultMaxPendingWebsockets          = 16
)

// Codes of the errors the limits give.
const (
	codeTooManyConnections   = "TOO_MANY_CONNECTIONS"
	codeTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"
	codeRateLimited          = "RATE_LIMITED"
)

const (
	// websocketRetryAfter is what a client refused for want of a WebSocket
	// slot is told to wait: slots free as other clients leave, which
	// nothing announces.
	websocketRetryAfter = 5 * time.Second
	// maxRateBuckets bounds how many clients the rate limiter tracks (about
	// 200 bytes each). Beyond it the least recently seen is forgotten: a
	// client idle long enough to have a full bucket loses nothing, one
	// forgotten while partly drained starts again with a full one.
	maxRateBuckets = 10_000
)

// limits holds the state of the HandlerOptions limits for one handler.
type limits struct {
	conns   chan struct{} // a slot per open WebSocket; nil: no limit
	maxSubs int           // <= 0: no limit
	rate    *rateLimiter  // nil: no rate limit

	maxPending int // <= 0: no limit
	pendingMu  sync.Mutex
	pending    map[string]int // WebSockets not initialised yet, by client address
}

// takePending counts one more WebSocket from ip waiting for its
// connection_init, unless maxPending are already: then it reports false.
func (l *limits) takePending(ip string) bool {
	if l.maxPending <= 0 {
		return true
	}
	l.pendingMu.Lock()
	defer l.pendingMu.Unlock()
	if l.pending[ip] >= l.maxPending {
		return false
	}
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	l.pending[ip]++
	return true
}

func (l *limits) releasePending(ip string) {
	if l.maxPending <= 0 {
		return
	}
	l.pendingMu.Lock()
	defer l.pendingMu.Unlock()
	if l.pending[ip]--; l.pending[ip] <= 0 {
		delete(l.pending, ip)
	}
}

func newLimits(o HandlerOptions, now func() time.Time) *limits {
	l := &limits{maxSubs: o.MaxSubscriptionsPerConnection, maxPending: o.MaxPendingWebsockets}
	if o.MaxWebsockets > 0 {
		l.conns = make(chan struct{}, o.MaxWebsockets)
	}
	if o.RateLimit > 0 {
		l.rate = newRateLimiter(o.RateLimit, o.RateBurst, maxRateBuckets, now)
	}
	return l
}

// websocket wraps the WebSocket transport with the connection limit and
// the rate limit, both checked before upgrading.
func (l *limits) websocket(t transport.Websocket) graphql.Transport {
	return limitedWebsocket{Websocket: t, limits: l}
}

// http wraps an HTTP transport with the rate limit.
func (l *limits) http(t graphql.Transport) graphql.Transport {
	if l.rate == nil {
		return t
	}
	return rateLimitedHTTP{Transport: t, rate: l.rate}
}

// useRateLimit counts the operations of WebSocket connections against the
// rate limit. It comes before persisted queries, so that a refused
// operation costs no store lookup.
func (l *limits) useRateLimit(srv *handler.Server) {
	if l.rate != nil {
		srv.Use(operationRateLimit{rate: l.rate})
	}
}

// useSubscriptionLimit bounds the subscriptions of one WebSocket. It must
// come after every other extension that checks an operation: it reserves a
// slot that only an operation that then starts frees.
func (l *limits) useSubscriptionLimit(srv *handler.Server) {
	if l.maxSubs > 0 {
		srv.Use(subscriptionLimit{max: l.maxSubs})
	}
}

// wsConn is the state of one WebSocket connection that the limits keep, in
// the connection's context.
type wsConn struct {
	ip string // the rate limit key of a client without a valid key
	// initialised ends the connection's time as pending (once; nil for a
	// connection not counted).
	initialised func()

	mu sync.Mutex
	// subs are the connection's subscriptions: reserved by the check (nil
	// context) and then started (the operation's context, done when the
	// operation ends, however it ends).
	subs map[*graphql.OperationContext]context.Context
}

type wsConnKey struct{}

func wsConnFrom(ctx context.Context) *wsConn {
	c, _ := ctx.Value(wsConnKey{}).(*wsConn)
	return c
}

// reserve takes a subscription slot for op unless max are taken. An
// operation the client stopped has its context cancelled before the
// transport reads the next message, so a slot freed by a stop is free for
// the very next subscribe.
func (c *wsConn) reserve(op *graphql.OperationContext, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ctx := range c.subs {
		if ctx != nil && ctx.Err() != nil {
			delete(c.subs, k)
		}
	}
	if len(c.subs) >= max {
		return false
	}
	if c.subs == nil {
		c.subs = map[*graphql.OperationContext]context.Context{}
	}
	c.subs[op] = nil
	return true
}

// started ties op's slot to its context: the slot is free once the
// context is done (the client stopped the operation, or the connection
// ended), which reserve checks.
func (c *wsConn) started(op *graphql.OperationContext, ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[op]; ok {
		c.subs[op] = ctx
	}
}

// release frees op's slot at once: the operation has ended on the server's
// side (the transport sends complete only after this).
func (c *wsConn) release(op *graphql.OperationContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, op)
}

// limitedWebsocket is the WebSocket transport with a bounded number of open
// connections: an upgrade over it is refused with 503 before upgrading.
type limitedWebsocket struct {
	transport.Websocket
	limits *limits
}

func (t limitedWebsocket) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ip := clientIP(r.RemoteAddr)
	if !t.limits.rate.allowRequest(w, r, ip) {
		return
	}
	// Pending connections are bounded per address first, so that one
	// client cannot fill the node's slots with upgrades that never send
	// connection_init (each waits up to InitTimeout).
	if !t.limits.takePending(ip) {
		writeLimitError(w, http.StatusTooManyRequests, codeTooManyConnections, websocketRetryAfter,
			fmt.Sprintf("this client has %d WebSocket connections waiting for connection_init, the limit; initialise those first", t.limits.maxPending))
		return
	}
	release := sync.OnceFunc(func() { t.limits.releasePending(ip) })
	defer release()
	if t.limits.conns != nil {
		select {
		case t.limits.conns <- struct{}{}:
			defer func() { <-t.limits.conns }()
		default:
			writeLimitError(w, http.StatusServiceUnavailable, codeTooManyConnections, websocketRetryAfter,
				fmt.Sprintf("this node has %d WebSocket connections open, its limit; retry later or use another node", cap(t.limits.conns)))
			return
		}
	}
	// Websocket.Do returns once the connection is closed.
	ctx := context.WithValue(r.Context(), wsConnKey{}, &wsConn{ip: ip, initialised: release})
	t.Websocket.Do(w, r.WithContext(ctx), exec)
}

// subscriptionLimit bounds the subscriptions open at once on one WebSocket.
// One over the limit fails with TOO_MANY_SUBSCRIPTIONS; the connection and
// its other operations go on.
type subscriptionLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
} = subscriptionLimit{}

func (subscriptionLimit) ExtensionName() string { return "SubscriptionLimit" }

func (subscriptionLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (s subscriptionLimit) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return nil
	}
	c := wsConnFrom(ctx)
	if c == nil || c.reserve(op, s.max) {
		return nil
	}
	return &gqlerror.Error{
		Message:    fmt.Sprintf("this connection has %d subscriptions open, the limit: complete one first, or open another connection", s.max),
		Extensions: map[string]any{"code": codeTooManySubscriptions},
	}
}

func (subscriptionLimit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	c := wsConnFrom(ctx)
	if c == nil || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	c.started(op, ctx)
	responses := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := responses(ctx)
		if r == nil {
			c.release(op)
		}
		return r
	}
}

// operationRateLimit counts every operation a WebSocket starts against its
// client's rate limit (HTTP requests are counted by their transport).
type operationRateLimit struct{ rate *rateLimiter }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = operationRateLimit{}

func (operationRateLimit) ExtensionName() string { return "OperationRateLimit" }

func (operationRateLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l operationRateLimit) MutateOperationParameters(ctx context.Context, _ *graphql.RawParams) *gqlerror.Error {
	c := wsConnFrom(ctx)
	if c == nil {
		return nil
	}
	wait := l.rate.take(rateKey(auth.From(ctx), c.ip))
	if wait == 0 {
		return nil
	}
	secs := retryAfterSeconds(wait)
	return &gqlerror.Error{
		Message:    rateLimitedMessage(l.rate, secs),
		Extensions: map[string]any{"code": codeRateLimited, "retryAfter": secs},
	}
}

// rateLimitedHTTP is an HTTP transport whose requests count against their
// client's rate limit; one over it gets 429.
type rateLimitedHTTP struct {
	graphql.Transport
	rate *rateLimiter
}

func (t rateLimitedHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if t.rate.allowRequest(w, r, clientIP(r.RemoteAddr)) {
		t.Transport.Do(w, r, exec)
	}
}

// allowRequest takes a token for the client of r, or answers 429 and
// returns false. A nil limiter allows everything.
func (l *rateLimiter) allowRequest(w http.ResponseWriter, r *http.Request, ip string) bool {
	if l == nil {
		return true
	}
	wait := l.take(rateKey(auth.From(r.Context()), ip))
	if wait == 0 {
		return true
	}
	writeLimitError(w, http.StatusTooManyRequests, codeRateLimited, wait, rateLimitedMessage(l, retryAfterSeconds(wait)))
	return false
}

func rateLimitedMessage(l *rateLimiter, secs int) string {
	return fmt.Sprintf("rate limit exceeded (%g requests per second, bursts of %d): retry in %ds",
		l.rate, int(l.burst), secs)
}

// rateKey is whom a request counts against: its API key when it presented
// a valid one, else its client address.
func rateKey(p auth.Principal, ip string) string {
	if p.Authenticated && p.KeyHash != "" {
		return "key " + p.KeyHash
	}
	return "ip " + ip
}

// clientIP is the client address of a request as the rate limit counts it:
// the connection's peer (a proxy in front counts as one client; headers
// such as X-Forwarded-For are not trusted). IPv6 clients count by /64,
// which one host usually holds whole.
func clientIP(remoteAddr string) string {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = a
	} else {
		return remoteAddr
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// writeLimitError answers a request refused by a limit, before anything
// else is done with it: status, Retry-After and a GraphQL error whose
// extensions carry the code and retryAfter (seconds).
func writeLimitError(w http.ResponseWriter, status int, code string, retryAfter time.Duration, msg string) {
	secs := retryAfterSeconds(retryAfter)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{{
		Message:    msg,
		Extensions: map[string]any{"code": code, "retryAfter": secs},
	}}})
}

// retryAfterSeconds rounds d up to whole seconds, at least 1 (Retry-After
// counts seconds).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// rateLimiter is a token bucket per client: each holds up to burst tokens,
// refilled at rate per second; a request takes one. Buckets live in an LRU
// of at most maxKeys; a bucket idle long enough to be full again is the
// same as none, and is dropped as traffic passes.
type rateLimiter struct {
	rate    float64
	burst   float64
	refill  time.Duration // time to refill an empty bucket
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // of *bucket
	lru     list.List                // front: most recently used
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// newRateLimiter returns a limiter of rate requests per second per key and
// bursts of burst (burst <= 0: a second's worth, at least 1).
func newRateLimiter(rate float64, burst, maxKeys int, now func() time.Time) *rateLimiter {
	if burst <= 0 {
		burst = max(1, int(math.Ceil(rate)))
	}
	return &rateLimiter{
		rate:    rate,
		burst:   float64(burst),
		refill:  time.Duration(float64(burst) / rate * float64(time.Second)),
		maxKeys: maxKeys,
		now:     now,
		buckets: map[string]*list.Element{},
	}
}

// take takes a token from key's bucket and returns 0, or returns how long
// until one is there (and takes nothing).
func (l *rateLimiter) take(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget up to two buckets that have been idle long enough to be full:
	// enough to keep up with arrivals, so idle clients do not stay.
	for range 2 {
		el := l.lru.Back()
		if el == nil || el.Value.(*bucket).key == key || now.Sub(el.Value.(*bucket).last) < l.refill {
			break
		}
		l.remove(el)
	}
	el, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.remove(l.lru.Back())
		}
		el = l.lru.PushFront(&bucket{key: key, tokens: l.burst, last: now})
		l.buckets[key] = el
	} else {
		l.lru.MoveToFront(el)
	}
	b := el.Value.(*bucket)
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return max(wait, time.Nanosecond)
}

func (l *rateLimiter) remove(el *list.Element) {
	l.lru.Remove(el)
	delete(l.buckets, el.Value.(*bucket).key)
}

// size is how many buckets are kept.
func (l *rateLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
