package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
	"github.com/rpg-archivist/archivist/auth"
)

// Defaults of HandlerOptions.
const (
	DefaultMaxBodyBytes    = 2 << 20
	DefaultComplexityLimit = 40000
	DefaultMaxDepth        = 15
	DefaultQueryCacheSize  = 1000
	DefaultMaxTokens       = 3000
	DefaultKeepAlive       = 10 * time.Second
	DefaultInitTimeout     = 10 * time.Second
)

// HandlerOptions configure NewHandler. Zero values mean the defaults.
type HandlerOptions struct {
	// MaxBodyBytes bounds a POST body and a WebSocket message (default
	// DefaultMaxBodyBytes, 2 MiB: room for a task input of
	// archivist.MaxInputBytes and its metadata).
	MaxBodyBytes int64
	// ComplexityLimit bounds the complexity of an operation (default
	// DefaultComplexityLimit; negative: no limit): a field counts 1 plus its
	// children, a task's input, result and metadata 10 each, and the edges
	// of a page of tasks once per task the page may hold (first, default
	// 50). Introspection fields count like any other. The dashboard's
	// largest query (a page of 500 tasks) is about 10,000; archivist tasks
	// list -n 500 about 24,000.
	ComplexityLimit int
	// MaxSelections bounds the fields an operation selects once its
	// fragments are expanded, aliases and introspection included (default
	// DefaultMaxSelections; negative: no limit). It is checked before
	// validation, with each fragment counted once.
	MaxSelections int
	// MaxResponseBytes bounds the JSON data of one response (default
	// DefaultMaxResponseBytes; negative: no limit). Fields stop being
	// resolved once it is spent, and the response is replaced by a
	// RESPONSE_TOO_LARGE error before any of it is written.
	MaxResponseBytes int
	// MaxDepth bounds how deeply selections nest, introspection fields
	// counted (default DefaultMaxDepth, which the playground's
	// introspection query reaches exactly; negative: no limit).
	MaxDepth int
	// MaxTokens bounds the tokens of a query document (default
	// DefaultMaxTokens). Inputs go in variables, which do not count.
	MaxTokens int
	// QueryCacheSize is how many parsed and validated queries are kept
	// (default DefaultQueryCacheSize).
	QueryCacheSize int
	// QueryCacheBytes bounds the parsed queries kept by the memory they
	// hold, their text and syntax tree (default DefaultQueryCacheBytes);
	// the least recently used go first.
	QueryCacheBytes int64
	// DisableIntrospection turns off schema introspection (which the
	// playground needs) and "did you mean" suggestions in errors.
	DisableIntrospection bool
	// KeepAlive is the WebSocket keep-alive: how often the server sends ka
	// (graphql-ws) or ping (graphql-transport-ws, where a client that does
	// not answer within twice this is dropped). Default DefaultKeepAlive.
	KeepAlive time.Duration
	// InitTimeout is how long a WebSocket client has to send connection_init
	// (default DefaultInitTimeout).
	InitTimeout time.Duration
	// WebsocketInit, if set, checks connection_init (authentication, say).
	// To refuse a client, return an error and a context made with
	// transport.WithWebsocketCloseCode(ctx, 4401); a nil context is replaced
	// by the incoming one.
	WebsocketInit transport.WebsocketInitFunc
	// Keys, when it holds any, turns authentication on: every operation
	// needs a key of a role that allows it (HTTP: wrap the handler with
	// WithAuth; WebSocket: the key in connection_init, else close 4401).
	Keys *auth.Keyring
	// WebsocketOriginPatterns are the other origins (host patterns, as in
	// github.com/coder/websocket AcceptOptions) allowed to open a WebSocket
	// from a browser; the server's own origin always is.
	WebsocketOriginPatterns []string
	// MaxWebsockets bounds the WebSocket connections this handler serves at
	// once (default DefaultMaxWebsockets; negative: no limit). An upgrade
	// over it is refused before upgrading: 503, Retry-After and a
	// TOO_MANY_CONNECTIONS error. A closed connection frees its slot.
	MaxWebsockets int
	// MaxPendingWebsockets bounds the WebSockets one client address (as
	// RateLimit counts it) may hold open before they complete
	// connection_init, each for up to InitTimeout (default
	// DefaultMaxPendingWebsockets; negative: no limit). An upgrade over it
	// is refused before upgrading: 429, Retry-After and a
	// TOO_MANY_CONNECTIONS error.
	MaxPendingWebsockets int
	// MaxSubscriptionsPerConnection bounds the subscriptions open at once on
	// one WebSocket (default DefaultMaxSubscriptionsPerConnection; negative:
	// no limit). One over it fails with TOO_MANY_SUBSCRIPTIONS while the
	// connection and its other operations go on; completing or stopping one
	// frees its slot. Queries and mutations over a WebSocket do not count.
	MaxSubscriptionsPerConnection int
	// RateLimit is how many requests per second each client may make, on
	// average: HTTP requests (WebSocket upgrades included) and operations
	// started over a WebSocket. A client is its API key when it presents a
	// valid one, else its address (the connection's peer, an IPv6 /64;
	// X-Forwarded-For is not trusted, so a proxy in front counts as one
	// client). Over it, HTTP gets 429 with Retry-After and a RATE_LIMITED
	// error, and a WebSocket operation a RATE_LIMITED error (extensions
	// carry retryAfter, in seconds) while the connection stays. Zero (the
	// default) or negative: no rate limit, because a node without keys
	// listens on loopback, where every local client (the CLI, scripts,
	// benchmarks) is one address; a node open to others might use 20.
	RateLimit float64
	// RateBurst is how many requests a client may make at once before
	// RateLimit applies (default: RateLimit rounded up, at least 1).
	RateBurst int
	// MaxArgumentBytes bounds the arguments of one operation, about their
	// size in JSON, with every use of a variable counted at the variable's
	// size (default DefaultMaxArgumentBytes; negative: no limit). Over it,
	// the operation is refused with BAD_USER_INPUT before any argument is
	// read or anything stored.
	MaxArgumentBytes int64
	// PersistedQueries holds automatic persisted queries: a client may send
	// a query's SHA-256 alone once the query was sent in full. Give
	// StoreQueryCache(store) for a cluster, so that every node knows the
	// queries registered through any of them; nil keeps them in memory
	// (DefaultPersistedQueryBytes). Only a query that passed every check
	// (token limit, validation, depth, complexity, role) is stored.
	PersistedQueries graphql.Cache[string]
	// Metrics, if set, counts every operation the handler serves, refused
	// ones included (metrics.go).
	Metrics OperationCounter
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ComplexityLimit == 0 {
		o.ComplexityLimit = DefaultComplexityLimit
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxSelections == 0 {
		o.MaxSelections = DefaultMaxSelections
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = DefaultMaxTokens
	}
	if o.QueryCacheSize <= 0 {
		o.QueryCacheSize = DefaultQueryCacheSize
	}
	if o.MaxArgumentBytes == 0 {
		o.MaxArgumentBytes = DefaultMaxArgumentBytes
	}
	if o.QueryCacheBytes <= 0 {
		o.QueryCacheBytes = DefaultQueryCacheBytes
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = DefaultInitTimeout
	}
	if o.MaxWebsockets == 0 {
		o.MaxWebsockets = DefaultMaxWebsockets
	}
	if o.MaxPendingWebsockets == 0 {
		o.MaxPendingWebsockets = DefaultMaxPendingWebsockets
	}
	if o.MaxSubscriptionsPerConnection == 0 {
		o.MaxSubscriptionsPerConnection = DefaultMaxSubscriptionsPerConnection
	}
	if o.RateLimit > 0 && o.RateBurst <= 0 {
		o.RateBurst = max(1, int(math.Ceil(o.RateLimit)))
	}
	return o
}

// NewHandler returns the /graphql handler: POST and GET, and WebSocket with
// both the graphql-transport-ws and the older graphql-ws protocol (for
// subscriptions, and anything else). Every error carries extensions.code.
func NewHandler(r *Resolver, opts HandlerOptions) *handler.Server {
	opts = opts.withDefaults()
	logger := r.logger()

	es := NewExecutableSchema(Config{Resolvers: r})
	srv := handler.New(es)
	lim := newLimits(opts, r.clock)
	readLimit := opts.MaxBodyBytes
	// The keep-alive is the connections' own (a timer each), not gqlgen's
	// (a goroutine and a ticker each).
	var impl transport.WebsocketImplementation = batchedImplementation{
		AcceptOptions: websocket.AcceptOptions{OriginPatterns: opts.WebsocketOriginPatterns},
		KeepAlive:     opts.KeepAlive,
	}
	impl = unicodeImplementation{impl}
	initFunc := websocketInit(chainInit(opts.Keys, opts.WebsocketInit))
	var live *liveSockets
	if opts.Keys.Len() > 0 {
		// A reload of the keys closes the WebSockets of removed keys.
		live = newLiveSockets(opts.Keys, logger)
		impl = trackedImplementation{impl}
		initFunc = registerInit(live, initFunc)
	}
	ws := lim.websocket(transport.Websocket{
		Implementation:   impl,
		InitFunc:         initFunc,
		InitTimeout:      opts.InitTimeout,
		PayloadReadLimit: &readLimit,
		ErrorFunc: func(ctx context.Context, err error) {
			logger.DebugContext(ctx, "graphql: websocket error", "err", err)
		},
	})
	if live != nil {
		ws = trackedWebsocket{Transport: ws, live: live}
	}
	srv.AddTransport(handedOffWebsocket{Transport: ws, logger: logger})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(lim.http(checkedGET{}))
	srv.AddTransport(lim.http(limitedPOST{max: opts.MaxBodyBytes}))
	srv.AddTransport(unsupported{})

	queryCache := newDocCache(opts.QueryCacheSize, opts.QueryCacheBytes)
	srv.SetQueryCache(queryCache)
	// Validation of repeated fields grows with the square of their number:
	// a bound on tokens keeps a hostile query from costing seconds of CPU.
	srv.SetParserTokenLimit(opts.MaxTokens)
	srv.SetErrorPresenter(presentError(logger))
	srv.SetRecoverFunc(recoverPanic(logger))
	if opts.DisableIntrospection {
		srv.SetDisableSuggestion(true)
		srv.Use(noIntrospection{})
	} else {
		srv.Use(extension.Introspection{})
	}
	// The role first: a caller that may not run an operation costs no
	// more than its refusal (queryGuard refuses most before validation).
	srv.Use(roleCheck{keys: opts.Keys})
	srv.Use(transportRules{})
	if opts.MaxDepth > 0 {
		srv.Use(depthLimit{max: opts.MaxDepth})
	}
	if opts.ComplexityLimit > 0 {
		srv.Use(complexityLimit{max: opts.ComplexityLimit})
	}
	if opts.MaxArgumentBytes > 0 {
		srv.Use(argumentLimit{max: opts.MaxArgumentBytes})
	}
	srv.Use(singleRootField{})
	srv.Use(unicodeQuery{})
	lim.useRateLimit(srv)
	usePersistedQueries(srv, opts.PersistedQueries, opts.Keys, logger)
	// After the persisted query lookup, which supplies the query.
	srv.Use(queryGuard{keys: opts.Keys, maxTokens: opts.MaxTokens, maxSelections: opts.MaxSelections, cache: queryCache})
	// Last of the checks: it reserves a slot that a later refusal would leak.
	lim.useSubscriptionLimit(srv)
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(r.withLookups(ctx))
	})
	// A span per operation when tracing is on (one atomic load when off).
	srv.Use(traceOperations{})
	srv.Use(clientGone{})
	if opts.MaxResponseBytes > 0 {
		srv.Use(responseCap{max: opts.MaxResponseBytes})
	}
	// After every check of the operation, and the innermost response
	// interceptor: a subscriber of a shared feed is served from it.
	srv.Use(shareSubscriptions{hub: newShareHub(es, r, logger)})
	// Last: it counts the response as the client gets it, a refusal by any
	// check above included.
	if opts.Metrics != nil {
		countOperations(srv, opts.Metrics)
	}
	return srv
}

type websocketKey struct{}

// overWebsocket reports whether ctx belongs to a WebSocket connection.
func overWebsocket(ctx context.Context) bool {
	v, _ := ctx.Value(websocketKey{}).(bool)
	return v
}

// chainInit runs the key check (when keys are set) before the caller's.
func chainInit(keys *auth.Keyring, check transport.WebsocketInitFunc) transport.WebsocketInitFunc {
	if keys.Len() == 0 {
		return check
	}
	authCheck := authInit(keys)
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx, ack, err := authCheck(ctx, payload)
		if err != nil || check == nil {
			return ctx, ack, err
		}
		return check(ctx, payload)
	}
}

// websocketInit marks the connection's context as a WebSocket one and runs
// the caller's check, if any. gqlgen needs a non-nil context back even with
// an error (it reads the close code from it).
func websocketInit(check transport.WebsocketInitFunc) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		ctx = context.WithValue(ctx, websocketKey{}, true)
		if check == nil {
			initialised(ctx)
			return ctx, nil, nil
		}
		out, ack, err := check(ctx, payload)
		if out == nil {
			out = ctx
		}
		if err == nil {
			initialised(ctx)
		}
		return out, ack, err
	}
}

// initialised tells the limits that the WebSocket of ctx is no longer
// pending: its connection_init was accepted.
func initialised(ctx context.Context) {
	if c := wsConnFrom(ctx); c != nil && c.initialised != nil {
		c.initialised()
	}
}

// writeError answers a request that gqlgen's transports would answer with
// an error without a code.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{{
		Message:    fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": string(archivist.CodeBadUserInput)},
	}}})
}

// limitedPOST is transport.POST with a bounded body. A body announced as too
// large is refused with 413 before it is read; one that turns out too large
// fails as it is read.
type limitedPOST struct {
	transport.POST
	max int64
}

func (t limitedPOST) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	if r.ContentLength > t.max {
		writeError(w, http.StatusRequestEntityTooLarge, "request body is %d bytes; the limit is %d", r.ContentLength, t.max)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.max))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The server's body deadline (server.Config.BodyTimeout).
		writeError(w, http.StatusRequestTimeout, "request body not received in time")
		return
	}
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large: the limit is %d bytes", t.max)
		return
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD and store
	// the mangled text: refuse it instead.
	if !utf8.Valid(body) {
		writeError(w, http.StatusBadRequest, "request body is not valid UTF-8")
		return
	}
	// It would turn an escaped lone surrogate into U+FFFD the same way.
	if loneSurrogateJSON(body) {
		writeError(w, http.StatusBadRequest, "request body has %s", msgLoneSurrogate)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t.POST.Do(w, r, exec)
}

type getKey struct{}

// checkedGET is transport.GET with the checks that transport.GET answers
// without an error code made first: undecodable parameters here, and
// operations other than queries in transportRules.
type checkedGET struct{ transport.GET }

func (t checkedGET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the query string cannot be parsed")
		return
	}
	for name, vs := range params {
		for _, v := range vs {
			if !utf8.ValidString(v) {
				writeError(w, http.StatusBadRequest, "parameter %s is not valid UTF-8", archivist.Clip(name))
				return
			}
		}
	}
	for _, name := range []string{"variables", "extensions"} {
		if v := params.Get(name); v != "" {
			if loneSurrogateJSON([]byte(v)) {
				writeError(w, http.StatusBadRequest, "%s has %s", name, msgLoneSurrogate)
				return
			}
			var obj map[string]any
			if json.Unmarshal([]byte(v), &obj) != nil {
				writeError(w, http.StatusBadRequest, "%s must be a JSON object", name)
				return
			}
		}
	}
	t.GET.Do(w, r.WithContext(context.WithValue(r.Context(), getKey{}, true)), exec)
}

// unsupported answers every request that no other transport takes.
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	if r.Method == http.MethodPost {
		writeError(w, http.StatusUnsupportedMediaType, "a POST body must be application/json")
		return
	}
	w.Header().Set("Allow", "GET, POST, OPTIONS")
	writeError(w, http.StatusMethodNotAllowed, "use GET, POST or a WebSocket")
}

// transportRules refuses operations their transport cannot serve: a
// subscription needs a WebSocket (over plain HTTP gqlgen would hold the
// request until the first event and then end), and GET serves only queries.
type transportRules struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = transportRules{}

func (transportRules) ExtensionName() string { return "TransportRules" }

func (transportRules) Validate(graphql.ExecutableSchema) error { return nil }

func (transportRules) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	msg := ""
	switch {
	case op.Operation.Operation == ast.Subscription && !overWebsocket(ctx):
		msg = "subscriptions need a WebSocket (graphql-transport-ws or graphql-ws protocol)"
	case op.Operation.Operation != ast.Query && ctx.Value(getKey{}) != nil:
		msg = "GET serves only queries; send a mutation with POST"
	default:
		return nil
	}
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(archivist.CodeBadUserInput)}}
}

// depthLimit refuses operations whose selections nest deeper than max,
// introspection fields (__schema, __type and theirs) counted like others.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string { return "DepthLimit" }

func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(_ context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation == nil {
		return nil
	}
	memo := map[string]int{}
	if depth := selectionDepth(op.Operation.SelectionSet, memo); depth > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation nests %d levels deep, over the limit of %d", depth, d.max),
			Extensions: map[string]any{"code": codeDepthLimit},
		}
	}
	return nil
}

// selectionDepth is how many levels of fields set nests. Fragments are
// measured once each (memo), so that fragments spreading fragments cannot
// make this exponential; validation has already refused fragment cycles,
// and a fragment being measured counts as 0 should one slip through.
func selectionDepth(set ast.SelectionSet, memo map[string]int) int {
	deepest := 0
	for _, sel := range set {
		d := 0
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + selectionDepth(s.SelectionSet, memo)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, memo)
		case *ast.FragmentSpread:
			if s.Definition == nil {
				continue
			}
			var ok bool
			if d, ok = memo[s.Name]; !ok {
				memo[s.Name] = 0
				d = selectionDepth(s.Definition.SelectionSet, memo)
				memo[s.Name] = d
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
